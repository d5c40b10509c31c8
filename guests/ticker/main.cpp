// ticker: a heartbeat in guest time, the witness that this VM keeps getting
// CPU time (and timer wake-ups) while other VMs misbehave.
//
// bootargs: period_ms=N (default 100)  ticks=N (default or 0: tick forever)
#include "bootargs.hpp"
#include "console.hpp"
#include "runtime.hpp"
#include "timer.hpp"

const char guest::role[] = "ticker";

void guest::run() {
    const auto period_ms = numeric_bootarg_or("period_ms", 100);
    const auto ticks = numeric_bootarg_or("ticks", 0);
    const bool forever = ticks == 0;
    constexpr std::uint64_t kLongestPeriodMs = 3'600'000;  // keeps ns arithmetic far from overflow
    if (period_ms == 0 || period_ms > kLongestPeriodMs) {
        Line{} << "FAIL bootarg period_ms must be 1.." << kLongestPeriodMs;
        return;
    }
    if (forever)
        Line{} << "period_ms " << period_ms << " ticks unlimited";
    else
        Line{} << "period_ms " << period_ms << " ticks " << ticks;

    // Deadlines are multiples of the period from one start time, so late
    // wake-ups do not accumulate into drift.
    const auto period = ns_to_ticks(period_ms * 1'000'000);
    const auto start = now_ticks();
    for (std::uint64_t tick = 1; forever || tick <= ticks; ++tick) {
        sleep_until_ticks(start + tick * period);
        Line{} << "tick " << tick;
    }
    Line{} << "done";
}
