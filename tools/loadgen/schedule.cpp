#include "schedule.hpp"

#include <charconv>
#include <cmath>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace lamina::load {

namespace {

[[nodiscard]] std::string_view trim(std::string_view text) {
    const std::size_t first = text.find_first_not_of(" \t");
    if (first == std::string_view::npos) return {};
    return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

// from_chars rather than stod: no locale, no leading spaces, no partial parses.
[[nodiscard]] std::optional<double> parse_number(std::string_view text) {
    double value = 0;
    const char* end = text.data() + text.size();
    const auto [stop, error] = std::from_chars(text.data(), end, value);
    if (text.empty() || error != std::errc{} || stop != end || !std::isfinite(value)) return std::nullopt;
    return value;
}

void check_phase(const Phase& phase, std::string_view where) {
    if (phase.rate < 0 || phase.rate > kHighestRate)
        throw std::invalid_argument(fmt::format("{}the rate must be from 0 to {:g} requests per second, not {:g}",
                                                where, kHighestRate, phase.rate));
    if (phase.seconds <= 0 || phase.seconds > kLongestPhaseSeconds)
        throw std::invalid_argument(fmt::format("{}the duration must be more than 0 and at most {:g} seconds, not {:g}",
                                                where, kLongestPhaseSeconds, phase.seconds));
}

[[nodiscard]] Phase parse_phase(std::string_view text, std::size_t number) {
    const std::string where = fmt::format("schedule phase {} \"{}\": ", number, text);
    const std::size_t colon = text.find(':');
    if (colon == std::string_view::npos)
        throw std::invalid_argument(where + "not RATE:SECONDS, e.g. 10:30 for 10 requests per second for 30 s");
    const std::string_view rate_text = trim(text.substr(0, colon));
    const std::string_view seconds_text = trim(text.substr(colon + 1));
    const std::optional<double> rate = parse_number(rate_text);
    if (!rate) throw std::invalid_argument(fmt::format("{}the rate \"{}\" is not a number", where, rate_text));
    const std::optional<double> seconds = parse_number(seconds_text);
    if (!seconds)
        throw std::invalid_argument(fmt::format("{}the duration \"{}\" is not a number", where, seconds_text));
    const Phase phase{*rate, *seconds};
    check_phase(phase, where);
    return phase;
}

}  // namespace

std::vector<Phase> parse_schedule(std::string_view text) {
    if (trim(text).empty()) throw std::invalid_argument("the schedule is empty: give RATE:SECONDS[,RATE:SECONDS...]");
    std::vector<Phase> phases;
    std::size_t start = 0;
    while (true) {
        const std::size_t comma = text.find(',', start);
        const std::string_view piece = text.substr(start, comma == std::string_view::npos ? comma : comma - start);
        phases.push_back(parse_phase(trim(piece), phases.size() + 1));
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    return phases;
}

Phase make_phase(double rate, double seconds) {
    if (!std::isfinite(rate) || !std::isfinite(seconds))
        throw std::invalid_argument("--rate and --duration must be finite numbers");
    const Phase phase{rate, seconds};
    check_phase(phase, "");
    return phase;
}

double total_seconds(const std::vector<Phase>& phases) {
    double total = 0;
    for (const Phase& phase : phases) total += phase.seconds;
    return total;
}

double due_offset(std::uint64_t k, double rate) { return static_cast<double>(k) / rate; }

std::uint64_t requests_in_phase(const Phase& phase) {
    // Requests k < rate * seconds. The product can land a rounding error above
    // a whole number (0.1 * 30 is 3.0000000000000004): shave a relative hair
    // off so such a phase does not gain a request due at its very end.
    const double product = phase.rate * phase.seconds;
    return static_cast<std::uint64_t>(std::ceil(product * (1 - 1e-12)));
}

std::uint64_t total_requests(const std::vector<Phase>& phases) {
    std::uint64_t total = 0;
    for (const Phase& phase : phases) total += requests_in_phase(phase);
    return total;
}

DueTimes::DueTimes(std::vector<Phase> phases) : phases_(std::move(phases)) {}

std::optional<double> DueTimes::next() {
    while (phase_ < phases_.size() && k_ >= requests_in_phase(phases_[phase_])) {
        phase_start_ += phases_[phase_].seconds;
        ++phase_;
        k_ = 0;
    }
    if (phase_ == phases_.size()) return std::nullopt;
    return phase_start_ + due_offset(k_++, phases_[phase_].rate);
}

}  // namespace lamina::load
