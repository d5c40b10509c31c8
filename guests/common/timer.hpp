// Guest time from the generic timer's virtual counter, and sleeping on the
// EL1 virtual timer. Lamina has no interrupt controller yet: it wakes a vCPU
// parked in WFI once CNTVCT >= CNTV_CVAL with the timer enabled, so the timer
// is armed with its interrupt masked and WFI is simply repeated until due.
#pragma once

#include <cstdint>

namespace guest {

inline constexpr std::uint64_t kNanosPerSecond = 1'000'000'000;

[[nodiscard]] std::uint64_t counter_hz();  // CNTFRQ_EL0
[[nodiscard]] std::uint64_t now_ticks();   // CNTVCT_EL0
[[nodiscard]] std::uint64_t ticks_to_ns(std::uint64_t ticks);
[[nodiscard]] std::uint64_t ns_to_ticks(std::uint64_t ns);
[[nodiscard]] std::uint64_t now_ns();

// Parks the vCPU in WFI until the virtual counter reaches `deadline`; returns
// the first counter value seen at or past it. The timer is left disabled.
std::uint64_t sleep_until_ticks(std::uint64_t deadline);

void sleep_ns(std::uint64_t ns);

// Disables the virtual timer and parks in WFI for good: Lamina never wakes
// the vCPU again, so its physical core goes to other vCPUs.
[[noreturn]] void idle_forever();

}  // namespace guest
