// bench: micro-benchmarks of the costs Lamina adds, printed as
// "bench: <key> <integer>" lines for the benchmark scripts to parse.
//
// bootargs: iterations=N (default 10000)  wfi_rounds=N (default 100, 0 skips)
#include "arch.hpp"
#include "board.hpp"
#include "bootargs.hpp"
#include "console.hpp"
#include "psci.hpp"
#include "runtime.hpp"
#include "timer.hpp"

const char guest::role[] = "bench";

namespace {

using guest::Line;
namespace arch = guest::arch;

constexpr std::uintptr_t kUartFlags = guest::board::kUartBase + 0x18;
constexpr std::uint64_t kWfiDelayNs = 50'000;
constexpr std::uint64_t kWarmUpIterations = 100;

[[nodiscard]] std::uint64_t rounded_quotient(std::uint64_t total, std::uint64_t count) {
    return (total + count / 2) / count;
}

// Average cost of one loop iteration running `operation`, in ns. A short
// warm-up first, so one-off costs (first trap, first fetch) are excluded.
template <typename Operation>
[[nodiscard]] std::uint64_t ns_per_op(std::uint64_t iterations, Operation operation) {
    for (std::uint64_t i = 0; i < kWarmUpIterations; ++i) operation();
    const auto start = guest::now_ticks();
    for (std::uint64_t i = 0; i < iterations; ++i) operation();
    const auto elapsed = guest::now_ticks() - start;
    return rounded_quotient(guest::ticks_to_ns(elapsed), iterations);
}

void check_null_hypercall() {
    const auto status = guest::psci::call(guest::psci::kLaminaNull);
    if (status != 0) Line{} << "FAIL null hypercall returned " << status << ", expected 0";
}

// How late a timer wake-up from WFI comes, measured against CNTV_CVAL.
void measure_wfi_wakeup(std::uint64_t rounds) {
    std::uint64_t total_late = 0;
    std::uint64_t worst_late = 0;
    for (std::uint64_t round = 0; round < rounds; ++round) {
        const auto deadline = guest::now_ticks() + guest::ns_to_ticks(kWfiDelayNs);
        const auto late = guest::sleep_until_ticks(deadline) - deadline;
        total_late += late;
        if (late > worst_late) worst_late = late;
    }
    Line{} << "wfi_wakeup_ns " << rounded_quotient(guest::ticks_to_ns(total_late), rounds);
    Line{} << "wfi_wakeup_max_ns " << guest::ticks_to_ns(worst_late);
}

}  // namespace

void guest::run() {
    const auto iterations = numeric_bootarg_or("iterations", 10'000);
    const auto wfi_rounds = numeric_bootarg_or("wfi_rounds", 100);
    if (iterations == 0) {
        Line{} << "FAIL bootarg iterations must be at least 1";
        return;
    }
    Line{} << "iterations " << iterations;
    Line{} << "counter_hz " << counter_hz();

    check_null_hypercall();
    Line{} << "hvc_null_ns_per_op "
           << ns_per_op(iterations, [] { (void)arch::hvc({psci::kLaminaNull}); });
    Line{} << "mmio_uart_read_ns_per_op "
           << ns_per_op(iterations, [] { (void)arch::read32(kUartFlags); });
    Line{} << "loop_ns_per_op " << ns_per_op(iterations, [] { arch::compiler_barrier(); });
    if (wfi_rounds > 0) measure_wfi_wakeup(wfi_rounds);
    Line{} << "done";
}
