// conformance: reporting, GIC register helpers, the IRQ handler, timing and
// the secondary vCPU's command loop.
#include "conformance.hpp"

#include "psci.hpp"
#include "runtime.hpp"

conformance::EntryState conformance_entry_state[GUEST_MAX_CPUS];

namespace conformance {
namespace {

unsigned g_passed;
unsigned g_failed;
std::uint64_t g_secondary_online;
// The check running on vCPU 0 (name, length, start in CNTVCT ticks); 0 = none.
std::uint64_t g_running_name;
std::uint64_t g_running_length;
std::uint64_t g_running_since;

void set_running(std::string_view name) {
    store(g_running_since, arch::virtual_count());
    store(g_running_length, std::uint64_t{name.size()});
    store(g_running_name, reinterpret_cast<std::uint64_t>(name.data()));
}

}  // namespace

IrqLog irq_log[GUEST_MAX_CPUS];
Mailbox mailbox[GUEST_MAX_CPUS];
SecondaryReport secondary_report[GUEST_MAX_CPUS];

// --- Reporting --------------------------------------------------------------------

Check::Check(std::string_view name) : name_{name} { set_running(name); }

Check::~Check() {
    store(g_running_name, std::uint64_t{0});
    if (failed_) return;
    ++g_passed;
    Line{} << "PASS " << name_;
}

FailLine Check::fail() {
    if (!failed_) {
        failed_ = true;
        ++g_failed;
    }
    return FailLine{name_};
}

bool Check::expect_equal(std::string_view what, std::uint64_t got, std::uint64_t want) {
    if (got == want) return true;
    fail() << what << " read " << Hex{got} << ", expected " << Hex{want};
    return false;
}

unsigned passed_count() { return load(g_passed); }
unsigned failed_count() { return load(g_failed); }

void watchdog_poll() {
    const auto name = load(g_running_name);
    const auto length = load(g_running_length);
    const auto since = load(g_running_since);
    const auto now = arch::virtual_count();  // after `since` was read, so not before it
    if (name == 0 || now < since || now - since < us_to_ticks(kWatchdogUs)) return;
    // vCPU 0 may have moved on meanwhile: only a snapshot that holds still counts.
    if (load(g_running_name) != name || load(g_running_since) != since) return;
    const std::string_view check{reinterpret_cast<const char*>(name), length};
    FailLine{check} << "vCPU 0 made no progress in this check for " << kWatchdogUs / 1'000'000
                    << " s (reported by vCPU 1's watchdog); the checks after it did not run";
    Line{} << passed_count() << " passed, " << failed_count() + 1 << " failed";
    guest::power_off();
}

// --- Time ---------------------------------------------------------------------------

// CNTFRQ_EL0 as the boot vCPU read it, for every vCPU: a secondary whose
// CNTFRQ_EL0 were wrong still measures right (cntvct-coherent reports it).
namespace {
std::uint64_t g_counter_hz;
}  // namespace

void publish_counter_frequency() { store(g_counter_hz, arch::counter_frequency()); }

std::uint64_t us_to_ticks(std::uint64_t us) {
    const auto hz = load(g_counter_hz);
    return us / 1'000'000 * hz + us % 1'000'000 * hz / 1'000'000;
}

std::uint64_t ticks_to_us(std::uint64_t ticks) {
    const auto hz = load(g_counter_hz);
    if (hz == 0) return 0;
    return ticks / hz * 1'000'000 + ticks % hz * 1'000'000 / hz;
}

void spin_us(std::uint64_t us) {
    const auto deadline = arch::virtual_count() + us_to_ticks(us);
    while (arch::virtual_count() < deadline) {
    }
}

// --- GIC ------------------------------------------------------------------------------

namespace gic {

bool read_bit(std::uintptr_t bank, std::uint32_t id, unsigned cpu) {
    return (arch::read32(bit_register(bank, id, cpu)) & bit_of(id)) != 0;
}

void write_bit(std::uintptr_t bank, std::uint32_t id, unsigned cpu) {
    arch::write32(bit_register(bank, id, cpu), bit_of(id));
}

void set_priority(std::uint32_t id, unsigned cpu, std::uint8_t value) {
    arch::write8(priority_register(id, cpu), value);
}

std::uint8_t priority(std::uint32_t id, unsigned cpu) { return arch::read8(priority_register(id, cpu)); }

void set_edge_triggered(std::uint32_t id, unsigned cpu, bool edge) {
    const auto address = config_register(id, cpu);
    const unsigned shift = (id % 16) * 2;
    auto value = arch::read32(address) & ~(3u << shift);
    if (edge) value |= 2u << shift;
    arch::write32(address, value);
}

bool is_edge_triggered(std::uint32_t id, unsigned cpu) {
    return ((arch::read32(config_register(id, cpu)) >> ((id % 16) * 2)) & 2) != 0;
}

void route_spi(std::uint32_t id, unsigned cpu) { arch::write64(router(id), cpu); }

void reset_interrupt(std::uint32_t id, unsigned cpu) {
    disable(id, cpu);
    clear_pending(id, cpu);
    clear_active(id, cpu);
    set_priority(id, cpu, kDefaultPriority);
}

namespace {

void wait_for_register_write() {
    (void)poll_for([] { return (arch::read32(kDistributor + kCtlr) & kCtlrRegisterWritePending) == 0; }, 100'000);
}

std::uint32_t replicate(std::uint8_t byte) { return 0x0101'0101u * byte; }

}  // namespace

void init_distributor() {
    arch::write32(kDistributor + kCtlr, kCtlrAffinityRouting);
    wait_for_register_write();
    const std::uint32_t lines = (arch::read32(kDistributor + kTyper) & 0x1f) + 1;  // 32 INTIDs each
    for (std::uint32_t word = 1; word < lines; ++word) {
        arch::write32(kDistributor + kIgroupr + word * 4, 0xffff'ffff);
        arch::write32(kDistributor + kIcenabler + word * 4, 0xffff'ffff);
        arch::write32(kDistributor + kIcpendr + word * 4, 0xffff'ffff);
        arch::write32(kDistributor + kIcactiver + word * 4, 0xffff'ffff);
    }
    for (std::uint32_t id = 32; id < lines * 32; id += 4)
        arch::write32(kDistributor + kIpriorityr + id, replicate(kDefaultPriority));
    for (std::uint32_t id = 32; id < lines * 32; ++id) route_spi(id, 0);
    arch::write32(kDistributor + kCtlr, kCtlrAffinityRouting | kCtlrEnableGroup1);
    wait_for_register_write();
}

void init_this_cpu() {
    const unsigned cpu = this_cpu();
    const auto waker = redistributor(cpu) + kRdWaker;
    arch::write32(waker, arch::read32(waker) & ~kWakerProcessorSleep);
    (void)poll_for([&] { return (arch::read32(waker) & kWakerChildrenAsleep) == 0; }, 100'000);
    const auto frame = sgi_frame(cpu);
    arch::write32(frame + kIgroupr, 0xffff'ffff);
    arch::write32(frame + kIcenabler, 0xffff'ffff);
    arch::write32(frame + kIcpendr, 0xffff'ffff);
    arch::write32(frame + kIcactiver, 0xffff'ffff);
    for (std::uint32_t id = 0; id < 32; id += 4) arch::write32(frame + kIpriorityr + id, replicate(kDefaultPriority));
    arch::write32(frame + kIsenabler, 0xffff);  // the SGIs

    arch::set_gic_system_register_enable(arch::gic_system_register_enable() | 1);
    arch::set_gic_priority_mask(0xff);
    arch::set_gic_binary_point_group1(0);
    arch::set_gic_group1_enable(1);
}

}  // namespace gic

// --- Interrupt bookkeeping -------------------------------------------------------------

void reset_irq_log() {
    IrqLog& log = irq_log[this_cpu()];
    for (auto& count : log.count) store(count, 0u);
    store(log.total, 0u);
    store(log.spurious, 0u);
    store(log.last_id, kNoInterrupt);
    store(log.order_length, 0u);
    store(log.probe_id, kNoInterrupt);
    store(log.probe_active, kNoInterrupt);
    store(log.probe_pending, kNoInterrupt);
    store(log.repend_once, 0u);
}

std::uint32_t irq_count(unsigned cpu, std::uint32_t id) { return load(irq_log[cpu].count[id]); }
std::uint32_t irq_total(unsigned cpu) { return load(irq_log[cpu].total); }

void install_vectors() { arch::set_vbar(reinterpret_cast<std::uintptr_t>(conformance_vectors)); }

}  // namespace conformance

// The IRQ vector's C++ half: acknowledge, quiet a timer source (it is
// level-sensitive: mask it before EOI or it fires again), probe if asked,
// record, end the interrupt. Never prints: only vCPU 0's main code does.
extern "C" void conformance_irq() {
    using namespace conformance;
    const unsigned cpu = this_cpu();
    IrqLog& log = irq_log[cpu < GUEST_MAX_CPUS ? cpu : 0];
    const std::uint32_t id = arch::gic_acknowledge_group1() & 0xff'ffff;
    const auto virtual_now = arch::virtual_count();
    const auto physical_now = arch::physical_count();
    if (id >= 1020) {
        store(log.spurious, load(log.spurious) + 1);
        return;
    }
    if (id == kVirtualTimerId) {
        const auto control = arch::virtual_timer_control();
        store(log.timer_control, control);
        arch::set_virtual_timer_control(control | arch::kTimerInterruptMask);
    } else if (id == kPhysicalTimerId) {
        const auto control = arch::physical_timer_control();
        store(log.timer_control, control);
        arch::set_physical_timer_control((control & ~arch::kTimerStatus) | arch::kTimerInterruptMask);
    }
    if (id == load(log.probe_id)) {
        store(log.probe_active, gic::is_active(id, cpu) ? 1u : 0u);
        store(log.probe_pending, gic::is_pending(id, cpu) ? 1u : 0u);
        if (load(log.repend_once) != 0) {
            store(log.repend_once, 0u);
            gic::set_pending(id, cpu);
        }
    }
    if (id < kTrackedInterrupts) store(log.count[id], load(log.count[id]) + 1);
    const auto position = load(log.order_length);
    if (position < kOrderLength) {
        store(log.order[position], id);
        store(log.order_length, position + 1);
    }
    store(log.last_virtual_count, virtual_now);
    store(log.last_physical_count, physical_now);
    store(log.last_id, id);
    store(log.total, load(log.total) + 1);
    arch::gic_end_of_interrupt_group1(id);
}

namespace conformance {

// --- Timer wake-ups ------------------------------------------------------------------------

namespace {

void arm_timer(TimerKind kind, std::uint64_t compare) {
    if (kind == TimerKind::virtual_timer) {
        arch::set_virtual_timer_compare(compare);
        arch::set_virtual_timer_control(arch::kTimerEnable);
    } else {
        arch::set_physical_timer_compare(compare);
        arch::set_physical_timer_control(arch::kTimerEnable);
    }
}

void stop_timer(TimerKind kind) {
    if (kind == TimerKind::virtual_timer)
        arch::set_virtual_timer_control(0);
    else
        arch::set_physical_timer_control(0);
}

}  // namespace

WakeStats timer_wfi_rounds(TimerKind kind, std::uint32_t rounds, std::uint64_t period_us) {
    const unsigned cpu = this_cpu();
    const std::uint32_t id = kind == TimerKind::virtual_timer ? kVirtualTimerId : kPhysicalTimerId;
    const auto read_count = [kind] {
        return kind == TimerKind::virtual_timer ? arch::virtual_count() : arch::physical_count();
    };
    constexpr std::uint64_t kLimitUs = 100'000;
    WakeStats stats;
    gic::enable(id, cpu);
    arch::mask_irqs();
    for (std::uint32_t round = 0; round < rounds; ++round) {
        const auto before = irq_count(cpu, id);
        const auto compare = read_count() + us_to_ticks(period_us);
        const auto limit = compare + us_to_ticks(kLimitUs);
        arm_timer(kind, compare);
        // PSTATE.I is set across the check and the WFI, so an IRQ arriving
        // in between still ends the WFI (WFI wakes on a pending interrupt
        // whatever PSTATE says) instead of being taken before it.
        while (irq_count(cpu, id) == before && read_count() < limit) {
            arch::wait_for_interrupt();
            arch::unmask_irqs();
            arch::mask_irqs();
        }
        ++stats.rounds;
        if (irq_count(cpu, id) == before) {
            ++stats.missing;
            stop_timer(kind);
            continue;
        }
        const auto taken = kind == TimerKind::virtual_timer ? load(irq_log[cpu].last_virtual_count)
                                                            : load(irq_log[cpu].last_physical_count);
        if (taken < compare) {
            ++stats.early;
        } else {
            const auto late = taken - compare;
            stats.total_late_ticks += late;
            if (late > stats.worst_late_ticks) stats.worst_late_ticks = late;
        }
        stop_timer(kind);
    }
    gic::disable(id, cpu);
    return stats;
}

// --- The mailbox -------------------------------------------------------------------------------

std::uint64_t post(unsigned cpu, Command command, std::uint64_t arg0, std::uint64_t arg1, std::uint64_t arg2) {
    Mailbox& box = mailbox[cpu];
    store(box.command, static_cast<std::uint64_t>(command));
    store(box.arg[0], arg0);
    store(box.arg[1], arg1);
    store(box.arg[2], arg2);
    const auto sequence = load(box.sequence) + 1;
    store(box.sequence, sequence);
    return sequence;
}

bool wait_done(unsigned cpu, std::uint64_t sequence, std::uint64_t timeout_us) {
    return poll_for([&] { return load(mailbox[cpu].done_sequence) == sequence; }, timeout_us);
}

bool run_on(unsigned cpu, Command command, std::uint64_t arg0, std::uint64_t arg1, std::uint64_t arg2) {
    return wait_done(cpu, post(cpu, command, arg0, arg1, arg2));
}

bool secondary_online() { return load(g_secondary_online) != 0; }
void set_secondary_online(bool online) { store(g_secondary_online, std::uint64_t{online ? 1u : 0u}); }

namespace {

void execute(Mailbox& box, Command command, bool& irqs_unmasked) {
    const auto arg0 = load(box.arg[0]);
    const auto arg1 = load(box.arg[1]);
    const auto arg2 = load(box.arg[2]);
    switch (command) {
        case Command::none: break;
        case Command::mask_irqs: irqs_unmasked = false; break;
        case Command::unmask_irqs: irqs_unmasked = true; break;
        case Command::reset_log: reset_irq_log(); break;
        case Command::read_counter: store(box.result[0], arch::virtual_count()); break;
        case Command::send_sgi_after:
            spin_us(arg0);
            arch::gic_send_sgi_group1(arg1);
            break;
        case Command::timer_wfi: {
            const auto stats = timer_wfi_rounds(static_cast<TimerKind>(arg0), static_cast<std::uint32_t>(arg1), arg2);
            store(box.result[0], std::uint64_t{stats.missing});
            store(box.result[1], std::uint64_t{stats.early});
            store(box.result[2], stats.worst_late_ticks);
            store(box.result[3], stats.total_late_ticks);
            break;
        }
        case Command::cpu_off:
            set_secondary_online(false);
            store(box.result[0], static_cast<std::uint64_t>(guest::psci::cpu_off()));
            break;
        case Command::stolen_time_record:
            store(box.result[0], static_cast<std::uint64_t>(guest::psci::call(kPvTimeStolenTime)));
            break;
    }
}

}  // namespace
}  // namespace conformance

// vCPU 1 (and any other started vCPU): set up its GIC interface, report in,
// then serve its mailbox, polling with WFE (which Lamina turns into a yield)
// and taking IRQs in between unless told to mask them.
void guest::run_secondary(std::uint64_t context_id) {
    using namespace conformance;
    const unsigned cpu = this_cpu();
    install_vectors();
    reset_irq_log();
    gic::init_this_cpu();
    Mailbox& box = mailbox[cpu];
    std::uint64_t handled = load(box.sequence);
    store(box.done_sequence, handled);
    SecondaryReport& report = secondary_report[cpu];
    store(report.mpidr, arch::mpidr());
    store(report.vbar, arch::vbar());
    store(report.counter_frequency, arch::counter_frequency());
    store(report.arrived, context_id);

    bool irqs_unmasked = true;
    for (;;) {
        if (irqs_unmasked)
            arch::unmask_irqs();
        else
            arch::mask_irqs();
        const auto sequence = load(box.sequence);
        if (sequence == handled) {
            watchdog_poll();
            arch::wait_for_event();
            continue;
        }
        arch::mask_irqs();
        execute(box, static_cast<Command>(load(box.command)), irqs_unmasked);
        handled = sequence;
        store(box.done_sequence, sequence);
    }
}
