#include "stats.hpp"

#include <algorithm>

namespace lamina::load {

std::optional<double> nearest_rank(const std::vector<double>& sorted, int percent) {
    if (sorted.empty()) return std::nullopt;
    // rank = ceil(percent * n / 100) in integers, so 95% of 20 is exactly 19.
    const std::size_t n = sorted.size();
    const std::size_t rank = std::max<std::size_t>(1, (static_cast<std::size_t>(percent) * n + 99) / 100);
    return sorted[std::min(rank, n) - 1];
}

Percentiles percentiles_of(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    return {nearest_rank(values, 50), nearest_rank(values, 95), nearest_rank(values, 99)};
}

std::int64_t second_of(std::chrono::steady_clock::duration elapsed) {
    return std::chrono::floor<std::chrono::seconds>(elapsed).count() + 1;
}

void RunStats::record_sent(std::int64_t second) {
    ++seconds_[second].sent;
    ++sent_;
}

void RunStats::record_completion(std::int64_t second, Outcome outcome, double latency_ms) {
    Second& counts = seconds_[second];
    ++counts.completed;
    if (outcome == Outcome::ok) ++counts.ok;
    counts.latencies_ms.push_back(latency_ms);
    ++outcomes_[static_cast<std::size_t>(outcome)];
    all_latencies_ms_.push_back(latency_ms);
}

bool RunStats::has_activity(std::int64_t second) const { return seconds_.contains(second); }

SecondReport RunStats::take_second(std::int64_t second, std::uint64_t in_flight) {
    SecondReport report{.second = second, .in_flight = in_flight};
    const auto found = seconds_.find(second);
    if (found == seconds_.end()) return report;
    Second& counts = found->second;
    report.sent = counts.sent;
    report.completed = counts.completed;
    report.ok = counts.ok;
    report.errors = counts.completed - counts.ok;
    report.latency_ms = percentiles_of(std::move(counts.latencies_ms));
    seconds_.erase(found);
    return report;
}

Summary RunStats::summary(double duration_s) const {
    const auto count = [this](Outcome outcome) { return outcomes_[static_cast<std::size_t>(outcome)]; };
    Summary summary{
        .sent = sent_,
        .ok = count(Outcome::ok),
        .connect_errors = count(Outcome::connect_error),
        .resets = count(Outcome::reset),
        .timeouts = count(Outcome::timeout),
        .http_errors = count(Outcome::http_error),
        .latency_ms = percentiles_of(all_latencies_ms_),
        .duration_s = duration_s,
    };
    if (!all_latencies_ms_.empty())
        summary.max_ms = *std::max_element(all_latencies_ms_.begin(), all_latencies_ms_.end());
    return summary;
}

}  // namespace lamina::load
