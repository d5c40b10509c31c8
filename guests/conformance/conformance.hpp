// conformance: what the check files share. Reporting (one PASS or FAIL line
// per check), the virtual GIC's register map, interrupt bookkeeping filled
// by this guest's own IRQ handler, time helpers and the mailbox through
// which the boot vCPU drives the secondary vCPU.
//
// Memory model: caches are off, so data accesses are Device memory and
// exclusives cannot be relied on. Shared words have one writer each and are
// read and written with volatile accesses framed by `dmb sy`.
#pragma once

#include <cstdint>
#include <string_view>

#include "arch.hpp"
#include "console.hpp"
#include "layout.h"

namespace conformance {

using guest::Hex;
using guest::Line;
namespace arch = guest::arch;

// --- Reporting ------------------------------------------------------------------

// One "FAIL <name>: <details>" line, built like a Line.
class FailLine final {
public:
    explicit FailLine(std::string_view name) { line_ << "FAIL " << name << ": "; }
    template <typename T>
    FailLine& operator<<(const T& value) {
        line_ << value;
        return *this;
    }

private:
    Line line_;
};

// A check prints "PASS <name>" when it goes out of scope unless fail() was
// called; every fail() prints one FAIL line, the check counts once.
class Check final {
public:
    explicit Check(std::string_view name);
    ~Check();
    Check(const Check&) = delete;
    Check& operator=(const Check&) = delete;

    FailLine fail();
    [[nodiscard]] bool failed() const { return failed_; }
    [[nodiscard]] std::string_view name() const { return name_; }

    // Convenience: true if equal, else one FAIL line "<what> read <got>, expected <want>".
    bool expect_equal(std::string_view what, std::uint64_t got, std::uint64_t want);

private:
    std::string_view name_;
    bool failed_{false};
};

// "conformance: note <name>: ..." — a measurement or an observation, never a verdict.
class NoteLine final {
public:
    explicit NoteLine(std::string_view name) { line_ << "note " << name << ": "; }
    template <typename T>
    NoteLine& operator<<(const T& value) {
        line_ << value;
        return *this;
    }

private:
    Line line_;
};

[[nodiscard]] unsigned passed_count();
[[nodiscard]] unsigned failed_count();

// --- Shared memory -------------------------------------------------------------

template <typename T>
[[nodiscard]] T load(const T& shared) {
    const T value = *static_cast<const volatile T*>(&shared);
    arch::memory_barrier();
    return value;
}

template <typename T>
void store(T& shared, T value) {
    arch::memory_barrier();
    *static_cast<volatile T*>(&shared) = value;
    arch::memory_barrier();
}

[[nodiscard]] inline unsigned this_cpu() { return static_cast<unsigned>(arch::mpidr() & 0xff); }

// --- Time -------------------------------------------------------------------------

// Called once by the boot vCPU before anything is timed.
void publish_counter_frequency();
[[nodiscard]] std::uint64_t us_to_ticks(std::uint64_t us);
[[nodiscard]] std::uint64_t ticks_to_us(std::uint64_t ticks);
// Busy-waits (interrupt masks unchanged) for `us` microseconds of guest time.
void spin_us(std::uint64_t us);

// Polls `done` until it holds or `timeout_us` passes; returns done().
template <typename Condition>
[[nodiscard]] bool poll_for(Condition done, std::uint64_t timeout_us) {
    const auto deadline = arch::virtual_count() + us_to_ticks(timeout_us);
    while (!done())
        if (arch::virtual_count() >= deadline) return done();
    return true;
}

// Like poll_for, with PSTATE.I clear meanwhile, so IRQs are taken.
template <typename Condition>
[[nodiscard]] bool poll_with_irqs(Condition done, std::uint64_t timeout_us) {
    arch::unmask_irqs();
    const bool result = poll_for(done, timeout_us);
    arch::mask_irqs();
    return result;
}

// --- The virtual GICv3 -------------------------------------------------------------

namespace gic {

inline constexpr std::uintptr_t kDistributor = 0x0800'0000;
inline constexpr std::uintptr_t kRedistributors = 0x080a'0000;
inline constexpr std::uintptr_t kRedistributorStride = 0x2'0000;  // RD_base + SGI_base
inline constexpr std::uintptr_t kSgiFrame = 0x1'0000;

// GICD_* (and, for the banks, GICR_* in the SGI_base frame).
inline constexpr std::uintptr_t kCtlr = 0x0000;
inline constexpr std::uintptr_t kTyper = 0x0004;
inline constexpr std::uintptr_t kIidr = 0x0008;
inline constexpr std::uintptr_t kIgroupr = 0x0080;
inline constexpr std::uintptr_t kIsenabler = 0x0100;
inline constexpr std::uintptr_t kIcenabler = 0x0180;
inline constexpr std::uintptr_t kIspendr = 0x0200;
inline constexpr std::uintptr_t kIcpendr = 0x0280;
inline constexpr std::uintptr_t kIsactiver = 0x0300;
inline constexpr std::uintptr_t kIcactiver = 0x0380;
inline constexpr std::uintptr_t kIpriorityr = 0x0400;
inline constexpr std::uintptr_t kIcfgr = 0x0c00;
inline constexpr std::uintptr_t kIrouter = 0x6000;
inline constexpr std::uintptr_t kPidr2 = 0xffe8;
// GICR_* in the RD_base frame.
inline constexpr std::uintptr_t kRdTyper = 0x0008;
inline constexpr std::uintptr_t kRdWaker = 0x0014;

inline constexpr std::uint32_t kCtlrEnableGroup0 = 1u << 0;
inline constexpr std::uint32_t kCtlrEnableGroup1 = 1u << 1;
inline constexpr std::uint32_t kCtlrAffinityRouting = 1u << 4;
inline constexpr std::uint32_t kCtlrDisableSecurity = 1u << 6;
inline constexpr std::uint32_t kCtlrRegisterWritePending = 1u << 31;
inline constexpr std::uint32_t kWakerProcessorSleep = 1u << 1;
inline constexpr std::uint32_t kWakerChildrenAsleep = 1u << 2;
inline constexpr std::uint32_t kSpurious = 1023;

// The priority every interrupt gets at set-up, below the PMR of 0xff.
inline constexpr std::uint8_t kDefaultPriority = 0xa0;

[[nodiscard]] constexpr std::uintptr_t redistributor(unsigned cpu) {
    return kRedistributors + cpu * kRedistributorStride;
}
[[nodiscard]] constexpr std::uintptr_t sgi_frame(unsigned cpu) { return redistributor(cpu) + kSgiFrame; }

// The 1-bit-per-interrupt register of `bank` holding `interrupt_id`: in
// `cpu`'s redistributor for SGIs and PPIs, in the distributor for SPIs.
[[nodiscard]] constexpr std::uintptr_t bit_register(std::uintptr_t bank, std::uint32_t interrupt_id, unsigned cpu) {
    if (interrupt_id < 32) return sgi_frame(cpu) + bank;
    return kDistributor + bank + (interrupt_id / 32) * 4;
}
[[nodiscard]] constexpr std::uint32_t bit_of(std::uint32_t interrupt_id) { return 1u << (interrupt_id % 32); }
[[nodiscard]] constexpr std::uintptr_t priority_register(std::uint32_t interrupt_id, unsigned cpu) {
    return (interrupt_id < 32 ? sgi_frame(cpu) : kDistributor) + kIpriorityr + interrupt_id;
}
[[nodiscard]] constexpr std::uintptr_t config_register(std::uint32_t interrupt_id, unsigned cpu) {
    return (interrupt_id < 32 ? sgi_frame(cpu) : kDistributor) + kIcfgr + (interrupt_id / 16) * 4;
}
[[nodiscard]] constexpr std::uintptr_t router(std::uint32_t interrupt_id) {
    return kDistributor + kIrouter + interrupt_id * 8;
}

[[nodiscard]] bool read_bit(std::uintptr_t bank, std::uint32_t interrupt_id, unsigned cpu);
void write_bit(std::uintptr_t bank, std::uint32_t interrupt_id, unsigned cpu);

inline void enable(std::uint32_t id, unsigned cpu) { write_bit(kIsenabler, id, cpu); }
inline void disable(std::uint32_t id, unsigned cpu) { write_bit(kIcenabler, id, cpu); }
inline void set_pending(std::uint32_t id, unsigned cpu) { write_bit(kIspendr, id, cpu); }
inline void clear_pending(std::uint32_t id, unsigned cpu) { write_bit(kIcpendr, id, cpu); }
inline void set_active(std::uint32_t id, unsigned cpu) { write_bit(kIsactiver, id, cpu); }
inline void clear_active(std::uint32_t id, unsigned cpu) { write_bit(kIcactiver, id, cpu); }
[[nodiscard]] inline bool is_enabled(std::uint32_t id, unsigned cpu) { return read_bit(kIsenabler, id, cpu); }
[[nodiscard]] inline bool is_pending(std::uint32_t id, unsigned cpu) { return read_bit(kIspendr, id, cpu); }
[[nodiscard]] inline bool is_active(std::uint32_t id, unsigned cpu) { return read_bit(kIsactiver, id, cpu); }
void set_priority(std::uint32_t id, unsigned cpu, std::uint8_t priority);
[[nodiscard]] std::uint8_t priority(std::uint32_t id, unsigned cpu);
// Int_config: edge-triggered (true) or level-sensitive (false).
void set_edge_triggered(std::uint32_t id, unsigned cpu, bool edge);
[[nodiscard]] bool is_edge_triggered(std::uint32_t id, unsigned cpu);
// GICD_IROUTER<n> of an SPI: Aff0 = `cpu` (the vCPUs' higher affinity levels are 0).
void route_spi(std::uint32_t id, unsigned cpu);
// Clears enable, pending and active and restores the set-up priority.
void reset_interrupt(std::uint32_t id, unsigned cpu);

// ICC_SGI1R_EL1 values.
[[nodiscard]] constexpr std::uint64_t sgi_to_list(std::uint32_t sgi, std::uint32_t target_list) {
    return (std::uint64_t{sgi} << 24) | target_list;  // Aff3/Aff2/Aff1 = 0, RS = 0
}
[[nodiscard]] constexpr std::uint64_t sgi_to_others(std::uint32_t sgi) {
    return (std::uint64_t{sgi} << 24) | (std::uint64_t{1} << 40);  // IRM = 1
}

// Distributor set-up, once, on the boot vCPU: every SPI Group 1, disabled,
// not pending or active, default priority, routed to vCPU 0; then the
// distributor enabled for Group 1 with affinity routing.
void init_distributor();
// This vCPU's redistributor (woken; SGIs/PPIs Group 1, SGIs enabled,
// PPIs disabled) and its CPU interface (SRE, PMR 0xff, BPR1 0, Group 1 on).
void init_this_cpu();

}  // namespace gic

// --- Interrupt bookkeeping ------------------------------------------------------------

inline constexpr std::uint32_t kTrackedInterrupts = 128;  // SGIs, PPIs and the SPIs the vGIC has
inline constexpr std::uint32_t kNoInterrupt = 0xffff'ffff;
inline constexpr unsigned kOrderLength = 16;

// Written by this guest's IRQ handler on the vCPU that takes the interrupt
// (and reset by that vCPU's own code); read by anyone.
struct IrqLog final {
    std::uint32_t count[kTrackedInterrupts];
    std::uint32_t total;
    std::uint32_t spurious;  // IAR returned 1020..1023
    std::uint32_t last_id;
    std::uint64_t last_virtual_count;   // CNTVCT when the handler ran
    std::uint64_t last_physical_count;  // CNTPCT likewise
    std::uint64_t timer_control;        // CNTV_CTL / CNTP_CTL as the handler found it (timer PPIs)
    std::uint32_t order[kOrderLength];  // the first INTIDs taken since the last reset
    std::uint32_t order_length;
    // Probe: for this INTID, the handler reads its active and pending bits
    // between IAR and EOIR, and may set it pending again.
    std::uint32_t probe_id;
    std::uint32_t probe_active;  // 0/1, or kNoInterrupt if not probed yet
    std::uint32_t probe_pending;
    std::uint32_t repend_once;  // 1: set the probed interrupt pending again before EOIR
};

extern IrqLog irq_log[GUEST_MAX_CPUS];

// Resets this vCPU's log (counts, order, probe).
void reset_irq_log();
[[nodiscard]] std::uint32_t irq_count(unsigned cpu, std::uint32_t interrupt_id);
[[nodiscard]] std::uint32_t irq_total(unsigned cpu);

// Installs the guest's own vectors on this vCPU.
void install_vectors();

// --- Timers (INTIDs on the virtual board) -------------------------------------------

inline constexpr std::uint32_t kVirtualTimerId = 27;
inline constexpr std::uint32_t kPhysicalTimerId = 30;

enum class TimerKind : std::uint8_t { virtual_timer, physical_timer };

struct WakeStats final {
    std::uint32_t rounds{0};
    std::uint32_t missing{0};  // no interrupt within the limit
    std::uint32_t early{0};    // taken before the compare value
    std::uint64_t worst_late_ticks{0};
    std::uint64_t total_late_ticks{0};
};

// `rounds` times: arms the timer `period_us` ahead, sleeps in WFI (PSTATE.I
// masked around the check, unmasked right after each WFI so the IRQ is taken
// by the handler) and measures how late the handler ran.
[[nodiscard]] WakeStats timer_wfi_rounds(TimerKind kind, std::uint32_t rounds, std::uint64_t period_us);

// --- Guest services: Arm PV stolen time (DEN0057A) ------------------------------------

inline constexpr std::uint32_t kPvTimeFeatures = 0xc500'0020;
inline constexpr std::uint32_t kPvTimeStolenTime = 0xc500'0021;

// --- The secondary vCPU ---------------------------------------------------------------

enum class Command : std::uint64_t {
    none = 0,
    mask_irqs,       // PSTATE.I set while idling
    unmask_irqs,     // PSTATE.I clear while idling (the default)
    reset_log,       // reset_irq_log() on the secondary
    read_counter,    // result[0] = CNTVCT
    send_sgi_after,  // arg[0] µs later, ICC_SGI1R_EL1 = arg[1]
    timer_wfi,       // timer_wfi_rounds(arg[0] kind, arg[1] rounds, arg[2] period_us) -> result[0..3]
    cpu_off,         // PSCI CPU_OFF; result[0] = its status if it returns
    stolen_time_record,  // result[0] = HV_PV_TIME_ST, the IPA of its stolen-time record
};

struct Mailbox final {
    std::uint64_t sequence;  // bumped by the boot vCPU to post a command
    std::uint64_t command;
    std::uint64_t arg[3];
    std::uint64_t done_sequence;  // set by the secondary once the command is done
    std::uint64_t result[4];
};

struct SecondaryReport final {
    std::uint64_t arrived;  // the context id, once running C++ code
    std::uint64_t mpidr;
    std::uint64_t vbar;               // VBAR_EL1 after installing the vectors
    std::uint64_t counter_frequency;  // its CNTFRQ_EL0
};

extern Mailbox mailbox[GUEST_MAX_CPUS];
extern SecondaryReport secondary_report[GUEST_MAX_CPUS];

// What the CPU_ON entry stub saw before any code ran (vectors.S fills it).
struct EntryState final {
    std::uint64_t daif;
    std::uint64_t current_el;
    std::uint64_t sctlr;
    std::uint64_t context;  // x0
};

// Posts a command without waiting; returns its sequence number.
std::uint64_t post(unsigned cpu, Command command, std::uint64_t arg0 = 0, std::uint64_t arg1 = 0,
                   std::uint64_t arg2 = 0);
// Waits for a posted command to be done.
[[nodiscard]] bool wait_done(unsigned cpu, std::uint64_t sequence, std::uint64_t timeout_us = 2'000'000);
// post + wait_done.
[[nodiscard]] bool run_on(unsigned cpu, Command command, std::uint64_t arg0 = 0, std::uint64_t arg1 = 0,
                          std::uint64_t arg2 = 0);

// Set once vCPU 1 is up and serving its mailbox.
[[nodiscard]] bool secondary_online();
void set_secondary_online(bool online);

// Watchdog: vCPU 1, while idle, reports a check that has run this long on
// vCPU 0 as failed (vCPU 0 stopped making progress), prints the totals and
// powers the VM off, so a hang becomes a FAIL line instead of a timeout.
inline constexpr std::uint64_t kWatchdogUs = 20'000'000;
void watchdog_poll();

// --- The check groups, in the order run() calls them ----------------------------------

void check_gic_discovery();
void check_gic_registers();
void check_gic_delivery();
void check_smccc_and_psci_queries();
void check_cpu_lifecycle_start();  // CPU_ON of vCPU 1, which then stays up
void check_multi_cpu_interrupts();
void check_guest_services();  // PV stolen time (needs vCPU 1) and TRNG
void check_virtual_timer();
void check_physical_timer_registers();
void check_cpu_suspend();
void check_cpu_off_and_on_again();  // CPU_OFF, then CPU_ON again: vCPU 1 stays up
// Last: these need the emulated physical timer's interrupt delivered.
void check_physical_timer_delivery();
void check_final_cpu_off();

}  // namespace conformance

extern "C" {
extern char conformance_vectors[];
void conformance_secondary_entry();
// Calls `function` by HVC with x4..x17 holding known values; returns a mask
// of those that changed (bit n = xn).
std::uint64_t conformance_hvc_clobbers(std::uint64_t function);
extern conformance::EntryState conformance_entry_state[GUEST_MAX_CPUS];
}
