// The load plan: phases of constant request rate, one after another, and
// when each request is due. Open loop: a request's due time depends only on
// the plan, never on how long earlier requests took.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace lamina::load {

struct Phase {
    double rate{0};     // requests per second; 0 is an idle phase
    double seconds{0};  // always > 0
};

// Limits that keep due times finite and the run's memory bounded.
inline constexpr double kHighestRate = 1e6;
inline constexpr double kLongestPhaseSeconds = 1e6;

// "RATE:SECONDS[,RATE:SECONDS...]", e.g. "10:1,0:1,10:1" (10/s for a second,
// a second idle, 10/s again). Throws std::invalid_argument with a message for
// the user.
[[nodiscard]] std::vector<Phase> parse_schedule(std::string_view text);

// The same checks for --rate R --duration S.
[[nodiscard]] Phase make_phase(double rate, double seconds);

[[nodiscard]] double total_seconds(const std::vector<Phase>& phases);

// Request k (from 0) of a phase at `rate` is due k / rate seconds after the
// phase starts.
[[nodiscard]] double due_offset(std::uint64_t k, double rate);

// How many requests a phase sends: every k whose due offset is before the
// phase ends, so 20/s for 3 s is 60 and 0.5/s for 3 s is 2 (at 0 s and 2 s).
[[nodiscard]] std::uint64_t requests_in_phase(const Phase& phase);
[[nodiscard]] std::uint64_t total_requests(const std::vector<Phase>& phases);

// Every request's due time in seconds since the run started, in order.
class DueTimes {
public:
    explicit DueTimes(std::vector<Phase> phases);

    // The next request's due time, or nullopt once the schedule is exhausted.
    [[nodiscard]] std::optional<double> next();

private:
    std::vector<Phase> phases_;
    std::size_t phase_{0};
    double phase_start_{0};
    std::uint64_t k_{0};  // the next request's number within phase_
};

}  // namespace lamina::load
