// conformance: the EL1 virtual timer (hardware, PPI 27) and the EL1
// physical timer (trapped and emulated by Lamina, PPI 30): register
// read-back, ISTATUS, interrupt delivery and IMASK, TVAL's sign, the
// level-sensitive pending state, and wake-ups from WFI on both vCPUs.
#include "conformance.hpp"

namespace conformance {
namespace {

constexpr std::uint64_t kTakenWithinUs = 100'000;
constexpr std::uint64_t kNotTakenForUs = 5'000;

[[nodiscard]] std::uint64_t status_of(std::uint64_t control) { return (control >> 2) & 1; }

// The handler's CNTVCT/CNTPCT stamp of the last interrupt on vCPU 0.
[[nodiscard]] std::uint64_t taken_at(TimerKind kind) {
    return kind == TimerKind::virtual_timer ? load(irq_log[0].last_virtual_count)
                                            : load(irq_log[0].last_physical_count);
}

void check_virtual_timer_interrupt() {
    Check check{"vtimer-irq"};
    reset_irq_log();
    gic::enable(kVirtualTimerId, 0);
    const auto ticks = us_to_ticks(1000);
    const auto before = arch::virtual_count();
    arch::set_virtual_timer_value(static_cast<std::uint32_t>(ticks));
    const auto after = arch::virtual_count();
    const auto compare = arch::virtual_timer_compare();
    arch::set_virtual_timer_control(arch::kTimerEnable);
    if (compare < before + ticks || compare > after + ticks)
        check.fail() << "CNTV_TVAL written " << ticks << " gave CNTV_CVAL " << Hex{compare} << ", expected "
                     << Hex{before + ticks} << ".." << Hex{after + ticks};
    if (!poll_with_irqs([] { return irq_count(0, kVirtualTimerId) >= 1; }, kTakenWithinUs)) {
        check.fail() << "IRQ 27 not taken within " << kTakenWithinUs / 1000 << " ms (CNTV_CTL "
                     << Hex{arch::virtual_timer_control()} << ", GICR_ISPENDR0 "
                     << Hex{arch::read32(gic::sgi_frame(0) + gic::kIspendr)} << ")";
    } else {
        const auto control = load(irq_log[0].timer_control);
        if (status_of(control) != 1 || (control & arch::kTimerEnable) == 0)
            check.fail() << "handler read CNTV_CTL " << Hex{control} << ", expected ENABLE and ISTATUS set";
        const auto at = taken_at(TimerKind::virtual_timer);
        if (at < compare)
            check.fail() << "taken at CNTVCT " << Hex{at} << ", before CNTV_CVAL " << Hex{compare};
        else
            NoteLine{check.name()} << "taken " << ticks_to_us(at - compare) << " us after CNTV_CVAL";
    }
    arch::set_virtual_timer_control(0);
    gic::disable(kVirtualTimerId, 0);
}

void check_physical_timer_registers_read_back() {
    Check check{"ptimer-registers"};
    arch::set_physical_timer_control(0);
    constexpr std::uint64_t kFarCompare = 0x0123'4567'89ab'cdefull;
    arch::set_physical_timer_compare(kFarCompare);
    check.expect_equal("CNTP_CVAL_EL0", arch::physical_timer_compare(), kFarCompare);
    arch::set_physical_timer_control(arch::kTimerEnable | arch::kTimerInterruptMask);
    check.expect_equal("CNTP_CTL_EL0 written ENABLE|IMASK (condition not met)", arch::physical_timer_control(), 3);
    arch::set_physical_timer_control(7);
    check.expect_equal("CNTP_CTL_EL0 written 7 (ISTATUS is read-only)", arch::physical_timer_control(), 3);
    // TVAL: CVAL = count + TVAL on a write, TVAL = (CVAL - count)[31:0] on a read.
    const auto ticks = us_to_ticks(1'000'000);
    const auto before = arch::physical_count();
    arch::set_physical_timer_value(static_cast<std::uint32_t>(ticks));
    const auto after = arch::physical_count();
    const auto compare = arch::physical_timer_compare();
    if (compare < before + ticks || compare > after + ticks)
        check.fail() << "CNTP_TVAL written " << ticks << " gave CNTP_CVAL " << Hex{compare} << ", expected "
                     << Hex{before + ticks} << ".." << Hex{after + ticks};
    const auto read_before = arch::physical_count();
    const auto value = arch::physical_timer_value();
    if ((value >> 32) != 0) check.fail() << "CNTP_TVAL read " << Hex{value} << ": bits 63:32 are RES0";
    const auto expected = compare - read_before;  // it can only have shrunk since
    if (static_cast<std::uint32_t>(value) > expected ||
        static_cast<std::uint32_t>(value) + us_to_ticks(100'000) < expected)
        check.fail() << "CNTP_TVAL read " << Hex{value} << ", expected just below " << Hex{expected};
    arch::set_physical_timer_control(0);
}

void check_physical_timer_status() {
    Check check{"ptimer-istatus"};
    arch::set_physical_timer_control(arch::kTimerEnable | arch::kTimerInterruptMask);
    arch::set_physical_timer_compare(arch::physical_count() + us_to_ticks(1'000'000));
    check.expect_equal("ISTATUS with CVAL 1 s ahead", status_of(arch::physical_timer_control()), 0);
    arch::set_physical_timer_compare(arch::physical_count() - 1);
    check.expect_equal("ISTATUS with CVAL just passed", status_of(arch::physical_timer_control()), 1);
    arch::set_physical_timer_compare(0);
    check.expect_equal("ISTATUS with CVAL 0", status_of(arch::physical_timer_control()), 1);
    arch::set_physical_timer_compare(~std::uint64_t{0});
    check.expect_equal("ISTATUS with CVAL all ones", status_of(arch::physical_timer_control()), 0);
    arch::set_physical_timer_control(0);
}

void check_physical_timer_interrupt() {
    Check check{"ptimer-irq"};
    reset_irq_log();
    gic::enable(kPhysicalTimerId, 0);
    const auto compare = arch::physical_count() + us_to_ticks(1000);
    arch::set_physical_timer_compare(compare);
    arch::set_physical_timer_control(arch::kTimerEnable);
    if (!poll_with_irqs([] { return irq_count(0, kPhysicalTimerId) >= 1; }, kTakenWithinUs)) {
        check.fail() << "IRQ 30 not taken within " << kTakenWithinUs / 1000 << " ms (CNTP_CTL "
                     << Hex{arch::physical_timer_control()} << ", GICR_ISPENDR0 "
                     << Hex{arch::read32(gic::sgi_frame(0) + gic::kIspendr)} << ")";
    } else {
        const auto control = load(irq_log[0].timer_control);
        if (status_of(control) != 1 || (control & arch::kTimerEnable) == 0)
            check.fail() << "handler read CNTP_CTL " << Hex{control} << ", expected ENABLE and ISTATUS set";
        const auto at = taken_at(TimerKind::physical_timer);
        if (at < compare)
            check.fail() << "taken at CNTPCT " << Hex{at} << ", before CNTP_CVAL " << Hex{compare};
        else
            NoteLine{check.name()} << "taken " << ticks_to_us(at - compare)
                                   << " us after CNTP_CVAL (vCPU busy-polling, not in WFI)";
    }
    arch::set_physical_timer_control(0);
    gic::disable(kPhysicalTimerId, 0);
}

void check_physical_timer_mask() {
    Check check{"ptimer-imask"};
    reset_irq_log();
    gic::enable(kPhysicalTimerId, 0);
    arch::set_physical_timer_compare(arch::physical_count() + us_to_ticks(200));
    arch::set_physical_timer_control(arch::kTimerEnable | arch::kTimerInterruptMask);
    (void)poll_with_irqs([] { return irq_count(0, kPhysicalTimerId) != 0; }, kNotTakenForUs);
    if (irq_count(0, kPhysicalTimerId) != 0) check.fail() << "IRQ 30 taken although CNTP_CTL.IMASK = 1";
    const auto control = arch::physical_timer_control();
    if (status_of(control) != 1) check.fail() << "CNTP_CTL " << Hex{control} << " after CVAL passed: ISTATUS 0";
    if (gic::is_pending(kPhysicalTimerId, 0)) check.fail() << "PPI 30 pending although the timer output is masked";
    arch::set_physical_timer_control(arch::kTimerEnable);
    if (!poll_with_irqs([] { return irq_count(0, kPhysicalTimerId) >= 1; }, kTakenWithinUs))
        check.fail() << "IRQ 30 not taken within " << kTakenWithinUs / 1000 << " ms of clearing IMASK";
    arch::set_physical_timer_control(0);
    gic::disable(kPhysicalTimerId, 0);
}

void check_physical_timer_negative_value() {
    Check check{"ptimer-tval-signed"};
    reset_irq_log();
    arch::set_physical_timer_control(arch::kTimerEnable | arch::kTimerInterruptMask);
    constexpr std::uint64_t kBack = 100'000;  // ticks in the past
    const auto before = arch::physical_count();
    arch::set_physical_timer_value(static_cast<std::uint32_t>(0 - kBack));
    const auto after = arch::physical_count();
    const auto compare = arch::physical_timer_compare();
    if (compare < before - kBack || compare > after - kBack)
        check.fail() << "CNTP_TVAL written -" << kBack << " gave CNTP_CVAL " << Hex{compare} << ", expected "
                     << Hex{before - kBack} << ".." << Hex{after - kBack} << " (TVAL is signed 32-bit)";
    const auto value = static_cast<std::int32_t>(static_cast<std::uint32_t>(arch::physical_timer_value()));
    if (value > -static_cast<std::int32_t>(kBack))
        check.fail() << "CNTP_TVAL reads " << value << " after expiry, expected <= -" << kBack;
    const auto control = arch::physical_timer_control();
    if (status_of(control) != 1) check.fail() << "CNTP_CTL " << Hex{control} << ": ISTATUS 0 with CVAL in the past";
    gic::enable(kPhysicalTimerId, 0);
    const auto unmasked_at = arch::physical_count();
    arch::set_physical_timer_control(arch::kTimerEnable);
    if (!poll_with_irqs([] { return irq_count(0, kPhysicalTimerId) >= 1; }, kTakenWithinUs))
        check.fail() << "IRQ 30 not taken within " << kTakenWithinUs / 1000 << " ms of a negative TVAL";
    else
        NoteLine{check.name()} << "taken " << ticks_to_us(taken_at(TimerKind::physical_timer) - unmasked_at)
                               << " us after enabling";
    arch::set_physical_timer_control(0);
    gic::disable(kPhysicalTimerId, 0);
}

// A timer PPI is level-sensitive: once the timer stops asserting it (IMASK
// set, or CVAL moved ahead) before the vCPU acknowledged it, it must stop
// being pending, and it must not be taken afterwards.
struct TimerAccess final {
    TimerKind kind;
    std::uint32_t id;
    const char* prefix;  // "CNTV" or "CNTP"
    [[nodiscard]] std::uint64_t count() const {
        return kind == TimerKind::virtual_timer ? arch::virtual_count() : arch::physical_count();
    }
    void set_compare(std::uint64_t value) const {
        if (kind == TimerKind::virtual_timer)
            arch::set_virtual_timer_compare(value);
        else
            arch::set_physical_timer_compare(value);
    }
    void set_control(std::uint64_t value) const {
        if (kind == TimerKind::virtual_timer)
            arch::set_virtual_timer_control(value);
        else
            arch::set_physical_timer_control(value);
    }
};

void check_level_drop(std::string_view name, const TimerAccess& timer) {
    Check check{name};
    reset_irq_log();
    gic::enable(timer.id, 0);
    for (const bool by_mask : {true, false}) {
        const char* how = by_mask ? "_CTL.IMASK set" : "_CVAL moved 1 s ahead";
        timer.set_compare(timer.count() - 1);
        timer.set_control(arch::kTimerEnable);  // asserted now; PSTATE.I keeps it from being taken
        if (!poll_for([&] { return gic::is_pending(timer.id, 0); }, 50'000)) {
            check.fail() << "PPI " << timer.id << " never became pending with the timer asserting its output";
            continue;
        }
        if (by_mask) {
            timer.set_control(arch::kTimerEnable | arch::kTimerInterruptMask);
        } else {
            timer.set_compare(timer.count() + us_to_ticks(1'000'000));
        }
        if (!poll_for([&] { return !gic::is_pending(timer.id, 0); }, 20'000))
            check.fail() << "GICR_ISPENDR0 still shows PPI " << timer.id << " pending 20 ms after " << timer.prefix
                         << how << " deasserted the timer output";
        const auto before = irq_count(0, timer.id);
        (void)poll_with_irqs([&] { return irq_count(0, timer.id) != before; }, kNotTakenForUs);
        if (irq_count(0, timer.id) != before)
            check.fail() << "IRQ " << timer.id << " taken after " << timer.prefix << how
                         << " had deasserted it (handler saw " << timer.prefix << "_CTL "
                         << Hex{load(irq_log[0].timer_control)} << ")";
        timer.set_control(0);
        gic::clear_pending(timer.id, 0);
    }
    gic::disable(timer.id, 0);
}

void check_wfi_wakeups(std::string_view name, TimerKind kind) {
    Check check{name};
    constexpr std::uint32_t kRounds = 20;
    constexpr std::uint64_t kPeriodUs = 2000;
    // On time: a woken vCPU may wait for a physical CPU (time-sharing), but
    // not for long, and on average hardly at all.
    constexpr std::uint64_t kAverageAllowedUs = 5'000;
    constexpr std::uint64_t kWorstAllowedUs = 50'000;
    const bool both = secondary_online();
    std::uint64_t sequence = 0;
    if (both) {
        (void)run_on(1, Command::reset_log);
        sequence = post(1, Command::timer_wfi, static_cast<std::uint64_t>(kind), kRounds, kPeriodUs);
    }
    reset_irq_log();
    const auto own = timer_wfi_rounds(kind, kRounds, kPeriodUs);
    WakeStats other{};
    if (both) {
        if (!wait_done(1, sequence, 10'000'000)) {
            check.fail() << "vCPU 1 did not finish its " << kRounds << " rounds within 10 s";
        } else {
            other.rounds = kRounds;
            other.missing = static_cast<std::uint32_t>(load(mailbox[1].result[0]));
            other.early = static_cast<std::uint32_t>(load(mailbox[1].result[1]));
            other.worst_late_ticks = load(mailbox[1].result[2]);
            other.total_late_ticks = load(mailbox[1].result[3]);
        }
    } else {
        check.fail() << "vCPU 1 is not running: only vCPU 0 measured";
    }
    const WakeStats* stats[2] = {&own, &other};
    for (unsigned cpu = 0; cpu < 2; ++cpu) {
        const WakeStats& s = *stats[cpu];
        if (s.rounds == 0) continue;
        const auto taken = s.rounds - s.missing - s.early;
        const auto average_us = taken != 0 ? ticks_to_us(s.total_late_ticks / taken) : 0;
        NoteLine{name} << "vCPU " << cpu << ": " << s.rounds << " WFI wake-ups " << kPeriodUs << " us ahead, late by "
                       << average_us << " us on average, " << ticks_to_us(s.worst_late_ticks) << " us at worst";
        if (average_us > kAverageAllowedUs)
            check.fail() << "vCPU " << cpu << ": wake-ups late by " << average_us << " us on average (limit "
                         << kAverageAllowedUs << " us)";
        if (s.missing != 0)
            check.fail() << "vCPU " << cpu << ": " << s.missing << " of " << s.rounds
                         << " timer interrupts not taken within 100 ms";
        if (s.early != 0)
            check.fail() << "vCPU " << cpu << ": " << s.early << " of " << s.rounds
                         << " timer interrupts taken before the compare value";
        if (ticks_to_us(s.worst_late_ticks) > kWorstAllowedUs)
            check.fail() << "vCPU " << cpu << ": a wake-up came " << ticks_to_us(s.worst_late_ticks)
                         << " us late (limit " << kWorstAllowedUs << " us)";
    }
}

}  // namespace

void check_virtual_timer() {
    check_virtual_timer_interrupt();
    check_level_drop("vtimer-level-drop", TimerAccess{TimerKind::virtual_timer, kVirtualTimerId, "CNTV"});
    check_wfi_wakeups("vtimer-wfi-wakeup", TimerKind::virtual_timer);
}

void check_physical_timer_registers() {
    check_physical_timer_registers_read_back();
    check_physical_timer_status();
}

void check_physical_timer_delivery() {
    check_physical_timer_interrupt();
    check_physical_timer_mask();
    check_physical_timer_negative_value();
    check_level_drop("ptimer-level-drop", TimerAccess{TimerKind::physical_timer, kPhysicalTimerId, "CNTP"});
    check_wfi_wakeups("ptimer-wfi-wakeup", TimerKind::physical_timer);
}

}  // namespace conformance
