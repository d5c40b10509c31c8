// What a run counts: per second of run time (for the progress lines) and over
// the whole run (for the summary), with exact latency percentiles.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

namespace lamina::load {

enum class Outcome {
    ok,             // a 2xx status
    http_error,     // another status, or a reply that is not HTTP
    connect_error,  // refused, unreachable, or no socket to be had
    reset,          // reset, or EOF before a full status line
    timeout,        // not complete within --timeout of its due time
};
inline constexpr std::size_t kOutcomeCount = 5;

// The nearest-rank percentile of sorted values: the smallest value with at
// least `percent`% of the values at or below it. nullopt when empty.
[[nodiscard]] std::optional<double> nearest_rank(const std::vector<double>& sorted, int percent);

struct Percentiles {
    std::optional<double> p50{}, p95{}, p99{};
};
[[nodiscard]] Percentiles percentiles_of(std::vector<double> values);

// The second of run time (from 1) that an instant `elapsed` after the start
// falls in: [0 s, 1 s) is second 1.
[[nodiscard]] std::int64_t second_of(std::chrono::steady_clock::duration elapsed);

// One progress line. Latencies are those of the requests completed in this
// second, whatever their outcome (a timeout counts its full wait).
struct SecondReport {
    std::int64_t second{0};
    std::uint64_t sent{0};
    std::uint64_t completed{0};
    std::uint64_t ok{0};
    std::uint64_t errors{0};
    Percentiles latency_ms{};
    std::uint64_t in_flight{0};
};

struct Summary {
    std::uint64_t sent{0};
    std::uint64_t ok{0};
    std::uint64_t connect_errors{0};
    std::uint64_t resets{0};
    std::uint64_t timeouts{0};
    std::uint64_t http_errors{0};
    Percentiles latency_ms{};  // over every completed request
    std::optional<double> max_ms{};
    double duration_s{0};

    [[nodiscard]] std::uint64_t errors() const { return connect_errors + resets + timeouts + http_errors; }
};

class RunStats {
public:
    void record_sent(std::int64_t second);
    void record_completion(std::int64_t second, Outcome outcome, double latency_ms);

    // Whether anything was sent or completed in `second` (and not yet taken).
    [[nodiscard]] bool has_activity(std::int64_t second) const;

    // `second`'s progress line. Its counts are forgotten: each line is
    // printed once, and a long run does not keep every second's latencies twice.
    [[nodiscard]] SecondReport take_second(std::int64_t second, std::uint64_t in_flight);

    [[nodiscard]] Summary summary(double duration_s) const;

private:
    struct Second {
        std::uint64_t sent{0};
        std::uint64_t completed{0};
        std::uint64_t ok{0};
        std::vector<double> latencies_ms;
    };

    // Keyed by second: an event may land in the next second before the
    // current second's line is printed.
    std::map<std::int64_t, Second> seconds_;
    std::uint64_t sent_{0};
    std::array<std::uint64_t, kOutcomeCount> outcomes_{};
    std::vector<double> all_latencies_ms_;
};

}  // namespace lamina::load
