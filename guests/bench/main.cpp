// bench: micro-benchmarks of the costs Lamina adds, printed as
// "bench: <key> <integer>" lines for bench/run to parse (guests/README.md).
//
// bootargs: mode=all|ipi|switch|clock (default all)
//           iterations=N (default 10000)   wfi_rounds=N (default 100, 0 skips)
//           irq_rounds=N (default 100, 0 skips)   ipi_rounds=N (default 100)
//           switch_window_ms=N (default 50)
#include <cstdint>
#include <string_view>

#include "arch.hpp"
#include "board.hpp"
#include "bootargs.hpp"
#include "console.hpp"
#include "gic.hpp"
#include "psci.hpp"
#include "runtime.hpp"
#include "timer.hpp"

const char guest::role[] = "bench";

extern "C" {
void guest_secondary_entry();      // common/start.S
extern const char bench_vectors[];  // below
void bench_irq(std::uint64_t entry_ticks);
}

// The bench guest's own EL1 vector table: IRQs taken at EL1h go to
// bench_irq, everything else is fatal as in the shared runtime. The entry
// reads CNTVCT_EL0 right after saving the one register it needs, so
// "handler entry" is two guest instructions after the vector is taken.
// x0..x18, x29 and x30 are what the AAPCS lets bench_irq clobber.
asm(R"(
    .pushsection .text.bench_vectors, "ax"
    .balign 2048
    .global bench_vectors
bench_vectors:
    .irp    index, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
    .balign 0x80
    .if     \index == 5
    b       bench_irq_entry
    .else
    mov     x0, #\index
    b       guest_unexpected_exception
    .endif
    .endr

bench_irq_entry:
    sub     sp, sp, #176
    stp     x0, x1, [sp, #0]
    mrs     x0, cntvct_el0
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x29, [sp, #144]
    str     x30, [sp, #160]
    bl      bench_irq
    ldr     x30, [sp, #160]
    ldp     x18, x29, [sp, #144]
    ldp     x16, x17, [sp, #128]
    ldp     x14, x15, [sp, #112]
    ldp     x12, x13, [sp, #96]
    ldp     x10, x11, [sp, #80]
    ldp     x8, x9, [sp, #64]
    ldp     x6, x7, [sp, #48]
    ldp     x4, x5, [sp, #32]
    ldp     x2, x3, [sp, #16]
    ldp     x0, x1, [sp, #0]
    add     sp, sp, #176
    eret
    .popsection
)");

namespace {

using guest::Line;
namespace arch = guest::arch;
namespace gic = bench::gic;
namespace cpu = bench::cpu;

constexpr std::uintptr_t kUartFlags = guest::board::kUartBase + 0x18;
constexpr std::uint64_t kWfiDelayNs = 50'000;
constexpr std::uint64_t kIrqDelayNs = 20'000;
constexpr std::uint64_t kIpiGapNs = 20'000;
constexpr std::uint64_t kGiveUpNs = 100'000'000;  // a missing interrupt: 100 ms of guest time
constexpr std::uint64_t kWarmUpIterations = 100;
constexpr std::uint64_t kIpiWarmUpRounds = 5;
constexpr std::uint64_t kMaxSwitchRounds = 20'000;

// SGIs of the IPI ping-pong: vCPU 0 requests, vCPU 1 replies.
constexpr std::uint32_t kRequestSgi = 1;
constexpr std::uint32_t kReplySgi = 2;

// Shared with the IRQ handler and between the vCPUs. Caches are off (MMU
// off), so volatile accesses plus dmb sy are all the ordering needed.
volatile bool g_timer_fired = false;
volatile std::uint64_t g_timer_entry_ticks = 0;
volatile std::uint64_t g_handler_ticks = 0;  // IAR..EOIR of timer interrupts, summed
volatile std::uint64_t g_handler_count = 0;
volatile bool g_reply_seen = false;
volatile std::uint64_t g_unexpected_interrupts = 0;
volatile std::uint32_t g_last_unexpected = 0;

enum class SecondaryMode : std::uint32_t { spin, wfi, stop };
volatile SecondaryMode g_secondary_mode = SecondaryMode::spin;
volatile bool g_secondary_ready = false;

std::uint32_t g_gap_ticks[kMaxSwitchRounds];
std::uint32_t g_run_ticks[kMaxSwitchRounds];

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

// --- The virtual GIC ---------------------------------------------------------------

void enable_distributor() {
    arch::write32(gic::kDistributor + gic::kGicdCtlr, gic::kCtlrEnableGroup1 | gic::kCtlrAffinityRouting);
}

// Wakes this vCPU's redistributor, puts its SGIs and PPIs in Group 1,
// enables `interrupts` (a mask of INTIDs 0..31) and opens the CPU interface:
// PMR 0xff, Group 1 on, own vectors.
void enable_interrupts_on_this_vcpu(unsigned vcpu, std::uint32_t interrupts) {
    const auto frame = gic::redistributor(vcpu);
    arch::write32(frame + gic::kGicrWaker, arch::read32(frame + gic::kGicrWaker) & ~gic::kWakerProcessorSleep);
    while ((arch::read32(frame + gic::kGicrWaker) & gic::kWakerChildrenAsleep) != 0) {
    }
    arch::write32(frame + gic::kGicrIgroupr0, 0xffff'ffff);
    arch::write32(frame + gic::kGicrIsenabler0, interrupts);
    gic::enable_system_registers();
    gic::set_priority_mask(0xff);
    gic::set_group1_enable(1);
    cpu::set_vector_base(reinterpret_cast<std::uintptr_t>(bench_vectors));
}

void disable_interrupts_on_this_vcpu(unsigned vcpu, std::uint32_t interrupts) {
    cpu::mask_irqs();
    arch::write32(gic::redistributor(vcpu) + gic::kGicrIcenabler0, interrupts);
}

void report_unexpected_interrupts() {
    if (g_unexpected_interrupts != 0)
        Line{} << "FAIL " << g_unexpected_interrupts << " unexpected interrupt(s), last INTID "
               << g_last_unexpected;
}

// Deadline (CNTV_CVAL) to the first instruction of the guest's IRQ handler,
// the vCPU spinning on a flag meanwhile (no WFI, no trap), over `rounds`.
//
// The timer's interrupt may already be pending when it is enabled: Lamina
// latches it when a WFI ends on the timer (the WFI measurement before this
// one). That one is taken at once, before any deadline, and is not counted
// (should it come after the timer is armed, the round starts over once).
// It must not be cleared with ICPENDR instead: Lamina keeps the physical
// timer interrupt active until the guest deactivates its virtual twin, so
// with the latch cleared the timer would never interrupt this vCPU again.
void measure_virq_timer(std::uint64_t rounds) {
    const std::uint32_t timer_bit = 1u << gic::kVirtualTimerInterrupt;
    enable_distributor();
    enable_interrupts_on_this_vcpu(0, timer_bit);
    cpu::unmask_irqs();  // a latched timer interrupt is taken here
    g_handler_ticks = 0;
    g_handler_count = 0;
    std::uint64_t total_late = 0;
    std::uint64_t worst_late = 0;
    std::uint64_t taken = 0;
    std::uint64_t deadline = 0;
    bool early = false;
    for (; taken < rounds; ++taken) {
        // A stale interrupt taken after arming also masks the timer: arm again.
        for (unsigned attempt = 0; attempt < 2; ++attempt) {
            g_timer_fired = false;
            deadline = guest::now_ticks() + guest::ns_to_ticks(kIrqDelayNs);
            const auto give_up = deadline + guest::ns_to_ticks(kGiveUpNs);
            arch::set_virtual_timer_compare(deadline);
            arch::set_virtual_timer_control(arch::kTimerEnable);
            while (!g_timer_fired && arch::virtual_count() < give_up) {
            }
            early = g_timer_fired && g_timer_entry_ticks < deadline;
            if (!early) break;
        }
        if (!g_timer_fired || early) break;
        const auto late = g_timer_entry_ticks - deadline;
        total_late += late;
        if (late > worst_late) worst_late = late;
    }
    disable_interrupts_on_this_vcpu(0, timer_bit);
    arch::set_virtual_timer_control(0);
    report_unexpected_interrupts();
    if (taken < rounds) {
        if (early)
            Line{} << "FAIL virtual timer interrupt " << taken + 1 << " taken "
                   << guest::ticks_to_ns(deadline - g_timer_entry_ticks) << " ns before its deadline";
        else
            Line{} << "FAIL virtual timer interrupt " << taken + 1 << " not taken within 100 ms of its deadline";
        return;
    }
    Line{} << "virq_timer_latency_ns " << rounded_quotient(guest::ticks_to_ns(total_late), rounds);
    Line{} << "virq_timer_latency_max_ns " << guest::ticks_to_ns(worst_late);
    Line{} << "virq_handler_ack_to_eoi_ns " << rounded_quotient(guest::ticks_to_ns(g_handler_ticks), g_handler_count);
}

// --- Virtual IPIs between two vCPUs ----------------------------------------------

// Polls `done` with this vCPU parked in WFI between looks, so that under
// QEMU's one-CPU-at-a-time -icount the other CPU gets to run.
template <typename Done>
bool wait_sleeping(Done done, std::uint64_t limit_ns) {
    const auto give_up = guest::now_ticks() + guest::ns_to_ticks(limit_ns);
    while (!done()) {
        if (guest::now_ticks() >= give_up) return false;
        guest::sleep_ns(10'000);
    }
    return true;
}

struct IpiResult final {
    bool ok;
    std::uint64_t average_ns;
    std::uint64_t worst_ns;
};

// vCPU 0 sends kRequestSgi to vCPU 1, whose handler sends kReplySgi back;
// the time until vCPU 0's handler has seen the reply, per round. Between
// rounds vCPU 0 sleeps, so vCPU 1 settles (spinning, or parked in WFI).
IpiResult ipi_round_trips(std::uint64_t rounds) {
    std::uint64_t total = 0;
    std::uint64_t worst = 0;
    for (std::uint64_t round = 0; round < kIpiWarmUpRounds + rounds; ++round) {
        guest::sleep_ns(kIpiGapNs);
        g_reply_seen = false;
        arch::memory_barrier();
        const auto start = guest::now_ticks();
        const auto give_up = start + guest::ns_to_ticks(kGiveUpNs);
        gic::send_sgi(kRequestSgi, 1u << 1);
        while (!g_reply_seen && arch::virtual_count() < give_up) cpu::yield();
        const auto elapsed = guest::now_ticks() - start;
        if (!g_reply_seen) return {false, 0, 0};
        if (round < kIpiWarmUpRounds) continue;
        total += elapsed;
        if (elapsed > worst) worst = elapsed;
    }
    return {true, rounded_quotient(guest::ticks_to_ns(total), rounds), guest::ticks_to_ns(worst)};
}

void set_secondary_mode(SecondaryMode mode) {
    g_secondary_mode = mode;
    arch::memory_barrier();
}

void measure_ipi(std::uint64_t rounds) {
    const auto cpus = guest::boot_facts().cpu_count;
    Line{} << "cpus " << cpus;
    if (cpus < 2) {
        Line{} << "FAIL mode=ipi needs a VM with at least 2 vCPUs, this one has " << cpus;
        return;
    }
    Line{} << "ipi_rounds " << rounds;
    enable_distributor();
    enable_interrupts_on_this_vcpu(0, 1u << kReplySgi);
    set_secondary_mode(SecondaryMode::spin);
    const auto entry = reinterpret_cast<std::uintptr_t>(&guest_secondary_entry);
    if (const auto status = guest::psci::cpu_on(1, entry, 0); status != guest::psci::kSuccess) {
        Line{} << "FAIL CPU_ON of vCPU 1 returned " << status;
        return;
    }
    if (!wait_sleeping([] { return g_secondary_ready; }, kGiveUpNs)) {
        Line{} << "FAIL vCPU 1 did not come online within 100 ms";
        return;
    }
    cpu::unmask_irqs();
    const auto spinning = ipi_round_trips(rounds);
    set_secondary_mode(SecondaryMode::wfi);
    const auto sleeping = spinning.ok ? ipi_round_trips(rounds) : IpiResult{false, 0, 0};
    set_secondary_mode(SecondaryMode::stop);
    g_reply_seen = false;
    gic::send_sgi(kRequestSgi, 1u << 1);  // out of its WFI, to see "stop"
    (void)wait_sleeping([] { return g_reply_seen; }, kGiveUpNs);
    disable_interrupts_on_this_vcpu(0, 1u << kReplySgi);
    report_unexpected_interrupts();
    if (!spinning.ok || !sleeping.ok) {
        Line{} << "FAIL no reply to a virtual IPI within 100 ms (vCPU 1 " << (spinning.ok ? "in WFI" : "spinning")
               << ")";
        return;
    }
    Line{} << "virtual_ipi_round_trip_ns " << spinning.average_ns;
    Line{} << "virtual_ipi_round_trip_max_ns " << spinning.worst_ns;
    Line{} << "virtual_ipi_wfi_round_trip_ns " << sleeping.average_ns;
    Line{} << "virtual_ipi_wfi_round_trip_max_ns " << sleeping.worst_ns;
}

// --- vCPU switches between two VMs -------------------------------------------------

// Sorts `count` values in place (Shell sort: no library, small code).
void sort_ticks(std::uint32_t* values, std::uint64_t count) {
    for (std::uint64_t gap = count / 2; gap > 0; gap /= 2) {
        for (std::uint64_t i = gap; i < count; ++i) {
            const auto value = values[i];
            std::uint64_t j = i;
            for (; j >= gap && values[j - gap] > value; j -= gap) values[j] = values[j - gap];
            values[j] = value;
        }
    }
}

// The median of `count` samples (sorting them), in ticks.
std::uint64_t median_of(std::uint32_t* ticks, std::uint64_t count) {
    if (count == 0) return 0;
    sort_ticks(ticks, count);
    return ticks[count / 2];
}

// Spins for `window_ns` of guest time doing nothing but read the counter.
// Two reads further apart than kGapTicks mean this vCPU did not run in
// between (a "gap"); the time between two gaps is a "run". On a one-CPU
// board with a second VM doing the same, each gap is: Lamina's slice-end
// timer interrupt, switching to the other VM, the other VM's run, its
// slice-end interrupt and the switch back. Alone, a gap is just the
// slice-end interrupt (nothing else is runnable). Medians, because
// Lamina's fair-share scheduler now and then gives one VM two slices in a
// row (one short gap for it, one long gap for the other VM).
void measure_vcpu_switch(std::uint64_t window_ns) {
    constexpr std::uint64_t kGapTicks = 8;  // 128 ns: a loop iteration is a few instructions
    const auto window = guest::ns_to_ticks(window_ns);
    std::uint64_t gaps = 0;
    const auto start = guest::now_ticks();
    auto previous = start;
    auto run_start = start;
    for (;;) {
        const auto now = guest::now_ticks();
        if (now - previous > kGapTicks) {
            if (gaps < kMaxSwitchRounds) {
                g_gap_ticks[gaps] = static_cast<std::uint32_t>(now - previous);
                g_run_ticks[gaps] = static_cast<std::uint32_t>(previous - run_start);
            }
            ++gaps;
            run_start = now;
        }
        previous = now;
        if (now - start >= window) break;
    }
    const auto recorded = gaps < kMaxSwitchRounds ? gaps : kMaxSwitchRounds;
    // The first run began with the window, not after a gap: left out.
    const auto run = recorded > 1 ? median_of(g_run_ticks + 1, recorded - 1) : 0;
    const auto gap = median_of(g_gap_ticks, recorded);
    // Gaps unlike the median: a slice end with nothing switched (short), or
    // the other VM given more than one slice in a row (long).
    std::uint64_t short_gaps = 0;
    std::uint64_t long_gaps = 0;
    for (std::uint64_t i = 0; i < recorded; ++i) {
        if (2 * std::uint64_t{g_gap_ticks[i]} < gap) ++short_gaps;
        if (2 * std::uint64_t{g_gap_ticks[i]} > 3 * gap) ++long_gaps;
    }
    Line{} << "switch_window_ns " << window_ns;
    Line{} << "switch_gaps " << gaps;
    Line{} << "switch_gaps_short " << short_gaps;
    Line{} << "switch_gaps_long " << long_gaps;
    Line{} << "switch_gap_median_ns " << guest::ticks_to_ns(gap);
    Line{} << "switch_run_median_ns " << guest::ticks_to_ns(run);
    // Assuming the other VM's runs are as long as ours (the same slice).
    if (gap > run) Line{} << "vcpu_switch_ns " << guest::ticks_to_ns(gap - run) / 2;
}

// --- Where this VM stands on the board's clock ----------------------------------------

// The guest's virtual counter is the board's minus CNTVOFF_EL2, which Lamina
// sets to the board's count when it creates the VM (before building its RAM
// and loading its images).
void report_clocks() {
    const auto virtual_ticks = arch::virtual_count();
    const auto board_ticks = cpu::physical_count();
    Line{} << "vm_created_at_ns " << guest::ticks_to_ns(board_ticks - virtual_ticks);
    Line{} << "entry_counter_ns " << guest::ticks_to_ns(virtual_ticks);
}

void run_all(std::uint64_t iterations) {
    const auto wfi_rounds = guest::numeric_bootarg_or("wfi_rounds", 100);
    const auto irq_rounds = guest::numeric_bootarg_or("irq_rounds", 100);
    check_null_hypercall();
    Line{} << "hvc_null_ns_per_op "
           << ns_per_op(iterations, [] { (void)arch::hvc({guest::psci::kLaminaNull}); });
    Line{} << "mmio_uart_read_ns_per_op " << ns_per_op(iterations, [] { (void)arch::read32(kUartFlags); });
    Line{} << "gicd_read_ns_per_op "
           << ns_per_op(iterations, [] { (void)arch::read32(gic::kDistributor + gic::kGicdTyper); });
    Line{} << "gicd_ispendr_read_ns_per_op "
           << ns_per_op(iterations, [] { (void)arch::read32(gic::kDistributor + gic::kGicdIspendr1); });
    Line{} << "gic_ack_eoi_idle_ns_per_op " << ns_per_op(iterations, [] {
        const auto id = gic::acknowledge();  // 1023: nothing pending
        gic::end_of_interrupt(id);           // ignored for 1023
    });
    Line{} << "wfe_ns_per_op " << ns_per_op(iterations, [] { cpu::wait_for_event(); });
    Line{} << "loop_ns_per_op " << ns_per_op(iterations, [] { arch::compiler_barrier(); });
    if (wfi_rounds > 0) measure_wfi_wakeup(wfi_rounds);
    if (irq_rounds > 0) measure_virq_timer(irq_rounds);
}

}  // namespace

extern "C" void bench_irq(std::uint64_t entry_ticks) {
    const auto before_acknowledge = arch::virtual_count();
    const auto interrupt_id = gic::acknowledge();
    switch (interrupt_id) {
        case gic::kVirtualTimerInterrupt:
            arch::set_virtual_timer_control(arch::kTimerEnable | arch::kTimerInterruptMask);
            g_timer_entry_ticks = entry_ticks;
            g_timer_fired = true;
            break;
        case kRequestSgi:  // on vCPU 1; the yield lets QEMU run vCPU 0's CPU next
            gic::send_sgi(kReplySgi, 1u << 0);
            cpu::yield();
            break;
        case kReplySgi: g_reply_seen = true; break;                   // on vCPU 0
        case gic::kSpuriousInterrupt: return;
        default:
            g_last_unexpected = interrupt_id;
            g_unexpected_interrupts = g_unexpected_interrupts + 1;
            break;
    }
    gic::end_of_interrupt(interrupt_id);
    if (interrupt_id == gic::kVirtualTimerInterrupt) {
        g_handler_ticks = g_handler_ticks + (arch::virtual_count() - before_acknowledge);
        g_handler_count = g_handler_count + 1;
    }
}

// vCPU 1 of mode=ipi: answers each request SGI from its handler, spinning
// or in WFI between them as vCPU 0 says, until told to stop.
void guest::run_secondary(std::uint64_t /*context_id*/) {
    enable_interrupts_on_this_vcpu(1, 1u << kRequestSgi);
    g_secondary_ready = true;
    arch::memory_barrier();
    cpu::unmask_irqs();
    for (;;) {
        const auto mode = g_secondary_mode;
        if (mode == SecondaryMode::stop) break;
        if (mode == SecondaryMode::wfi) {
            arch::wait_for_interrupt();
        } else {
            cpu::yield();
        }
    }
    disable_interrupts_on_this_vcpu(1, 1u << kRequestSgi);
    (void)psci::cpu_off();
}

void guest::run() {
    report_clocks();
    const auto mode = bootarg("mode").value_or("all");
    const auto iterations = numeric_bootarg_or("iterations", 10'000);
    if (iterations == 0) {
        Line{} << "FAIL bootarg iterations must be at least 1";
        return;
    }
    Line{} << "mode " << mode;
    Line{} << "iterations " << iterations;
    Line{} << "counter_hz " << counter_hz();
    if (mode == "all") {
        run_all(iterations);
    } else if (mode == "ipi") {
        measure_ipi(numeric_bootarg_or("ipi_rounds", 100));
    } else if (mode == "switch") {
        measure_vcpu_switch(numeric_bootarg_or("switch_window_ms", 50) * 1'000'000);
    } else if (mode != "clock") {
        Line{} << "FAIL bad bootarg mode=" << mode << " (expected all, ipi, switch or clock)";
        return;
    }
    Line{} << "done";
}
