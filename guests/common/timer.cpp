#include "timer.hpp"

#include "arch.hpp"

namespace guest {

std::uint64_t counter_hz() { return arch::counter_frequency(); }

std::uint64_t now_ticks() { return arch::virtual_count(); }

// Whole seconds and the remainder are scaled separately so nothing overflows
// 64 bits for any counter value at any plausible frequency (< 2^32 Hz).
std::uint64_t ticks_to_ns(std::uint64_t ticks) {
    const auto hz = counter_hz();
    if (hz == 0) return 0;  // an unconfigured CNTFRQ: better 0 than a trap
    return ticks / hz * kNanosPerSecond + ticks % hz * kNanosPerSecond / hz;
}

std::uint64_t ns_to_ticks(std::uint64_t ns) {
    const auto hz = counter_hz();
    return ns / kNanosPerSecond * hz + ns % kNanosPerSecond * hz / kNanosPerSecond;
}

std::uint64_t now_ns() { return ticks_to_ns(now_ticks()); }

std::uint64_t sleep_until_ticks(std::uint64_t deadline) {
    arch::set_virtual_timer_compare(deadline);
    // Enabled and unmasked: the timer's output is a WFI wake-up event even
    // though this guest never sets up its interrupt controller.
    arch::set_virtual_timer_control(arch::kTimerEnable);
    std::uint64_t now = now_ticks();
    // WFI may also return early (any wake-up event); re-check each time.
    while (now < deadline) {
        arch::wait_for_interrupt();
        now = now_ticks();
    }
    arch::set_virtual_timer_control(0);
    return now;
}

void sleep_ns(std::uint64_t ns) { sleep_until_ticks(now_ticks() + ns_to_ticks(ns)); }

void idle_forever() {
    arch::set_virtual_timer_control(0);
    for (;;) arch::wait_for_interrupt();
}

}  // namespace guest
