// conformance: SMCCC and PSCI over HVC — versions, feature queries, unknown
// functions, register preservation, MIGRATE_INFO_TYPE, and vCPU 1's life:
// AFFINITY_INFO, CPU_ON (errors, context id, entry state, its own vectors),
// CPU_SUSPEND woken by a timer and by an SGI, CPU_OFF and CPU_ON again.
#include "conformance.hpp"
#include "psci.hpp"
#include "runtime.hpp"

namespace conformance {
namespace {

namespace psci = guest::psci;

constexpr std::uint32_t kSmcccArchFeatures = 0x8000'0001;
constexpr std::uint32_t kCpuSuspend32 = 0x8400'0001;
constexpr std::uint32_t kCpuOn32 = 0x8400'0003;
constexpr std::uint32_t kAffinityInfo32 = 0x8400'0004;
constexpr std::uint32_t kMigrateInfoType = 0x8400'0006;
constexpr std::uint32_t kMigrateInfoUpCpu32 = 0x8400'0007;
constexpr std::int64_t kInvalidAddress = -9;
constexpr std::uint64_t kFirstContext = 0xc0de'0000'0000'0001;  // CPU_ON (SMC64): all 64 bits must arrive
constexpr std::uint64_t kSecondContext = 0x5ec0'0002;           // CPU_ON (SMC32)
constexpr std::uint64_t kOnlineTimeoutUs = 2'000'000;

[[nodiscard]] unsigned cpu_count() { return guest::boot_facts().cpu_count; }

[[nodiscard]] std::uintptr_t secondary_entry() {
    return reinterpret_cast<std::uintptr_t>(&conformance_secondary_entry);
}

// --- Queries ------------------------------------------------------------------------------

void check_psci_version() {
    Check check{"psci-version"};
    const auto version = psci::call(psci::kPsciVersion);
    NoteLine{check.name()} << "PSCI " << psci::major_version(version) << "." << psci::minor_version(version);
    if (version < 0x1'0000 || version > 0x7fff'ffff)
        check.fail() << "PSCI_VERSION returned " << Hex{static_cast<std::uint64_t>(version)}
                     << ", expected at least 1.0";
}

struct Function final {
    std::uint32_t id;
    const char* name;
};

// Every function Lamina implements; PSCI_FEATURES must say so.
constexpr Function kImplemented[] = {
    {0x8400'0000, "PSCI_VERSION"},  {0x8400'0001, "CPU_SUSPEND"},     {0xc400'0001, "CPU_SUSPEND64"},
    {0x8400'0002, "CPU_OFF"},       {0x8400'0003, "CPU_ON"},          {0xc400'0003, "CPU_ON64"},
    {0x8400'0004, "AFFINITY_INFO"}, {0xc400'0004, "AFFINITY_INFO64"}, {0x8400'0006, "MIGRATE_INFO_TYPE"},
    {0x8400'0008, "SYSTEM_OFF"},    {0x8400'0009, "SYSTEM_RESET"},    {0x8400'000a, "PSCI_FEATURES"},
    {0x8000'0000, "SMCCC_VERSION"},
};

// Optional PSCI 1.x functions: whichever PSCI_FEATURES calls NOT_SUPPORTED
// must also answer NOT_SUPPORTED when called.
constexpr Function kOptional[] = {
    {0x8400'0005, "MIGRATE"},
    {0xc400'0005, "MIGRATE64"},
    {0x8400'0007, "MIGRATE_INFO_UP_CPU"},
    {0xc400'0007, "MIGRATE_INFO_UP_CPU64"},
    {0x8400'000b, "CPU_FREEZE"},
    {0x8400'000c, "CPU_DEFAULT_SUSPEND"},
    {0xc400'000c, "CPU_DEFAULT_SUSPEND64"},
    {0x8400'000d, "NODE_HW_STATE"},
    {0xc400'000d, "NODE_HW_STATE64"},
    {0x8400'000e, "SYSTEM_SUSPEND"},
    {0xc400'000e, "SYSTEM_SUSPEND64"},
    {0x8400'000f, "PSCI_SET_SUSPEND_MODE"},
    {0x8400'0010, "PSCI_STAT_RESIDENCY"},
    {0xc400'0010, "PSCI_STAT_RESIDENCY64"},
    {0x8400'0011, "PSCI_STAT_COUNT"},
    {0xc400'0011, "PSCI_STAT_COUNT64"},
    {0x8400'0012, "SYSTEM_RESET2"},
    {0xc400'0012, "SYSTEM_RESET2_64"},
    {0x8400'0013, "MEM_PROTECT"},
    {0x8400'0014, "MEM_PROTECT_CHECK_RANGE"},
    {0xc400'0014, "MEM_PROTECT_CHECK_RANGE64"},
};

void check_psci_features() {
    Check check{"psci-features"};
    for (const auto& function : kImplemented) {
        const auto features = psci::call(psci::kPsciFeatures, function.id);
        const bool is_suspend = function.id == 0x8400'0001 || function.id == 0xc400'0001;
        if (features < 0)
            check.fail() << "PSCI_FEATURES(" << function.name << ") returned " << features << ", expected >= 0";
        else if (is_suspend && (features & ~std::int64_t{3}) != 0)
            check.fail() << "PSCI_FEATURES(" << function.name << ") returned "
                         << Hex{static_cast<std::uint64_t>(features)} << ": only bits 1:0 are defined";
        else if (!is_suspend && features != 0)
            check.fail() << "PSCI_FEATURES(" << function.name << ") returned " << features << ", expected 0";
    }
    for (const std::uint32_t unknown : {0x8400'deadu, 0xc400'deadu, 0x8600'ff00u, 0x0000'0000u}) {
        const auto features = psci::call(psci::kPsciFeatures, unknown);
        if (features != psci::kNotSupported)
            check.fail() << "PSCI_FEATURES(" << Hex{unknown} << ") returned " << features
                         << ", expected -1 (NOT_SUPPORTED)";
    }
    const auto suspend = psci::call(psci::kPsciFeatures, 0xc400'0001);
    if (suspend >= 0)
        NoteLine{check.name()} << "CPU_SUSPEND features " << Hex{static_cast<std::uint64_t>(suspend)} << " ("
                               << ((suspend & 2) != 0 ? "extended" : "original") << " power_state format, OS-initiated "
                               << ((suspend & 1) != 0 ? "yes" : "no") << ")";
}

void check_psci_features_consistent() {
    Check check{"psci-features-consistent"};
    unsigned implemented = 0;
    for (const auto& function : kOptional) {
        const auto features = psci::call(psci::kPsciFeatures, function.id);
        if (features >= 0) {
            ++implemented;
            NoteLine{check.name()} << function.name << " implemented (PSCI_FEATURES " << features << ")";
            continue;
        }
        if (features != psci::kNotSupported) {
            check.fail() << "PSCI_FEATURES(" << function.name << ") returned " << features
                         << ", expected >= 0 or -1 (NOT_SUPPORTED)";
            continue;
        }
        // Arguments that would be invalid anyway, should the call be implemented after all.
        const auto result = psci::call(function.id, 0xffff'ffff, 0, 0);
        if (result != psci::kNotSupported)
            check.fail() << function.name << " returned " << result << " although PSCI_FEATURES says NOT_SUPPORTED";
    }
    if (implemented == 0) NoteLine{check.name()} << "no optional PSCI function implemented";
}

void check_smccc_version() {
    Check check{"smccc-version"};
    const auto version = psci::call(psci::kSmcccVersion);
    if (version < 0x1'0001 || version > 0x7fff'ffff)
        check.fail() << "SMCCC_VERSION returned " << Hex{static_cast<std::uint64_t>(version)}
                     << ", expected at least 1.1";
    else
        NoteLine{check.name()} << "SMCCC " << psci::major_version(version) << "." << psci::minor_version(version);
    const auto discovered = psci::call(psci::kPsciFeatures, psci::kSmcccVersion);
    if (discovered != 0)
        check.fail() << "PSCI_FEATURES(SMCCC_VERSION) returned " << discovered
                     << ", expected 0 (how SMCCC 1.1 is discovered)";
}

void check_smccc_arch_features() {
    Check check{"smccc-arch-features"};
    for (const std::uint32_t unknown : {0x8000'0bad, 0x8000'7fff}) {
        const auto result = psci::call(kSmcccArchFeatures, unknown);
        if (result != psci::kNotSupported)
            check.fail() << "SMCCC_ARCH_FEATURES(" << Hex{unknown} << ") returned " << result << ", expected -1";
    }
    const auto workaround = psci::call(kSmcccArchFeatures, 0x8000'8000);
    if (workaround < -1 || workaround > 1)
        check.fail() << "SMCCC_ARCH_FEATURES(SMCCC_ARCH_WORKAROUND_1) returned " << workaround
                     << ", expected -1, 0 or 1";
}

void check_unknown_functions() {
    Check check{"smccc-unknown-function"};
    // SMCCC: an unknown function returns -1, sign-extended over the whole
    // register for SMC64/HVC64 calls, in w0 for SMC32/HVC32 ones.
    for (const std::uint32_t function : {0x8400'deadu, 0x8200'0000u, 0x8300'ffffu, 0x0400'0000u}) {
        const auto x0 = arch::hvc({function});
        if (static_cast<std::uint32_t>(x0) != 0xffff'ffff)
            check.fail() << "32-bit function " << Hex{function} << " returned x0 " << Hex{x0}
                         << ", expected w0 0xffffffff";
    }
    for (const std::uint32_t function : {0xc400'dead, 0xc300'0000, 0xc200'0123}) {
        const auto x0 = arch::hvc({function});
        if (x0 != ~std::uint64_t{0})
            check.fail() << "64-bit function " << Hex{function} << " returned x0 " << Hex{x0} << ", expected all ones";
    }
}

void check_register_preservation() {
    Check check{"smccc-preserves-registers"};
    for (const std::uint32_t function : {0x8400'0000u, 0x8000'0000u, 0x8400'deadu, 0x8400'000au}) {
        const auto clobbered = conformance_hvc_clobbers(function);
        if (clobbered != 0) {
            auto line = check.fail();
            line << "function " << Hex{function} << " changed";
            for (unsigned n = 4; n <= 17; ++n)
                if (((clobbered >> n) & 1) != 0) line << " x" << n;
            line << " (SMCCC 1.1 preserves x4-x17)";
        }
    }
}

void check_migrate_info_type() {
    Check check{"migrate-info-type"};
    const auto type = psci::call(kMigrateInfoType);
    const auto feature = psci::call(psci::kPsciFeatures, kMigrateInfoType);
    NoteLine{check.name()} << "MIGRATE_INFO_TYPE " << type;
    if (type != psci::kNotSupported && (type < 0 || type > 2))
        check.fail() << "MIGRATE_INFO_TYPE returned " << type << ", expected 0, 1, 2 or -1";
    if ((feature >= 0) != (type >= 0))
        check.fail() << "PSCI_FEATURES(MIGRATE_INFO_TYPE) " << feature << " disagrees with the call's " << type;
    if (type == 0 || type == 1) {
        const auto up_cpu = psci::call(psci::kPsciFeatures, kMigrateInfoUpCpu32);
        if (up_cpu < 0)
            check.fail() << "MIGRATE_INFO_TYPE " << type << " needs MIGRATE_INFO_UP_CPU, PSCI_FEATURES says " << up_cpu;
    }
}

// --- vCPU 1's life -------------------------------------------------------------------------------

// Polls until vCPU 1 is ON and has reported `context`.
bool wait_online(Check& check, std::uint64_t context) {
    std::int64_t state = -1;
    const bool online = poll_for(
        [&] {
            state = psci::affinity_info(1);
            return state == psci::kAffinityOn && load(secondary_report[1].arrived) == context;
        },
        kOnlineTimeoutUs);
    if (!online)
        check.fail() << "vCPU 1 not online within " << kOnlineTimeoutUs / 1000 << " ms (AFFINITY_INFO " << state
                     << ", reported context " << Hex{load(secondary_report[1].arrived)} << ", expected " << Hex{context}
                     << ")";
    return online;
}

bool wait_off(Check& check) {
    std::int64_t state = -1;
    const bool off = poll_for([&] { return (state = psci::affinity_info(1)) == psci::kAffinityOff; }, kOnlineTimeoutUs);
    if (!off)
        check.fail() << "AFFINITY_INFO(1) still " << state << " " << kOnlineTimeoutUs / 1000 << " ms after CPU_OFF";
    return off;
}

void check_affinity_info() {
    Check check{"affinity-info"};
    const auto cpus = cpu_count();
    check.expect_equal("AFFINITY_INFO(1) before CPU_ON", static_cast<std::uint64_t>(psci::affinity_info(1)),
                       psci::kAffinityOff);
    check.expect_equal("AFFINITY_INFO of the calling vCPU", static_cast<std::uint64_t>(psci::affinity_info(0)),
                       psci::kAffinityOn);
    check.expect_equal("AFFINITY_INFO (SMC32) of the calling vCPU",
                       static_cast<std::uint64_t>(psci::call(kAffinityInfo32, 0, 0)), psci::kAffinityOn);
    for (const std::uint64_t mpidr : {std::uint64_t{cpus}, std::uint64_t{0x100}, std::uint64_t{0xff}}) {
        const auto result = psci::affinity_info(mpidr);
        if (result != psci::kInvalidParameters)
            check.fail() << "AFFINITY_INFO(" << Hex{mpidr} << ") of no vCPU returned " << result << ", expected -2";
    }
}

void check_cpu_on_errors() {
    Check check{"cpu-on-invalid"};
    const auto cpus = cpu_count();
    for (const std::uint64_t mpidr : {std::uint64_t{cpus}, std::uint64_t{0x100}, std::uint64_t{0x1'0000}}) {
        const auto result = psci::cpu_on(mpidr, secondary_entry(), 0);
        if (result != psci::kInvalidParameters)
            check.fail() << "CPU_ON(" << Hex{mpidr} << ") of no vCPU returned " << result
                         << ", expected -2 (INVALID_PARAMETERS)";
    }
    const auto state = psci::affinity_info(1);
    if (state != psci::kAffinityOff) check.fail() << "after the failed CPU_ONs AFFINITY_INFO(1) is " << state;
}

// Last of all: an implementation that does not check the entry point would
// start vCPU 1 at a bogus address, which must not spoil other checks.
void check_cpu_on_bad_entry() {
    Check check{"cpu-on-invalid-address"};
    const auto state = psci::affinity_info(1);
    if (state != psci::kAffinityOff) {
        check.fail() << "vCPU 1 is not off (AFFINITY_INFO " << state << ")";
        return;
    }
    const auto status = psci::cpu_on(1, 0x1000, 0);  // not RAM
    if (status != kInvalidAddress)
        check.fail() << "CPU_ON(1) with entry 0x1000 (outside the VM's RAM) returned " << status
                     << ", expected -9 (INVALID_ADDRESS)";
    spin_us(2000);
    const auto after = psci::affinity_info(1);
    if (status != psci::kSuccess && after != psci::kAffinityOff)
        check.fail() << "after the refused CPU_ON AFFINITY_INFO(1) is " << after;
}

// The checks after cpu-on need vCPU 1 running; without it they fail saying so.
bool need_secondary(Check& check) {
    if (secondary_online()) return true;
    check.fail() << "not run: vCPU 1 did not start";
    return false;
}

void check_cpu_on() {
    [] {
        Check check{"cpu-on"};
        const auto status = psci::cpu_on(1, secondary_entry(), kFirstContext);
        if (status != psci::kSuccess) {
            check.fail() << "CPU_ON(1) returned " << status << ", expected 0";
            return;
        }
        if (!wait_online(check, kFirstContext)) return;
        const auto mpidr = load(secondary_report[1].mpidr);
        if ((mpidr & 0xff'00ff'ffff) != 1)
            check.fail() << "vCPU 1 has MPIDR_EL1 " << Hex{mpidr} << ", expected affinity 1";
        set_secondary_online(true);
    }();
    [] {
        Check check{"cpu-on-entry-state"};
        if (!need_secondary(check)) return;
        const EntryState& entry = conformance_entry_state[1];
        const auto daif = load(entry.daif);
        const auto el = (load(entry.current_el) >> 2) & 3;
        const auto sctlr = load(entry.sctlr);
        if (daif != 0x3c0) check.fail() << "DAIF at the entry point " << Hex{daif} << ", expected 0x3c0 (all masked)";
        if (el != 1) check.fail() << "entered at EL" << el << ", expected EL1 (the caller's)";
        if ((sctlr & 1) != 0 || (sctlr & 4) != 0)
            check.fail() << "SCTLR_EL1 " << Hex{sctlr} << " at the entry point: MMU or data cache on";
        if (((sctlr ^ arch::sctlr()) >> 25 & 1) != 0)
            check.fail() << "SCTLR_EL1.EE " << ((sctlr >> 25) & 1) << " differs from the caller's";
        check.expect_equal("x0 (context id) at the entry point", load(entry.context), kFirstContext);
    }();
    [] {
        Check check{"cpu-on-already-on"};
        if (!need_secondary(check)) return;
        const auto again = psci::cpu_on(1, secondary_entry(), 0);
        if (again != psci::kAlreadyOn)
            check.fail() << "CPU_ON(1) of running vCPU 1 returned " << again << ", expected -4";
        const auto self = psci::cpu_on(0, secondary_entry(), 0);
        if (self != psci::kAlreadyOn) check.fail() << "CPU_ON of the calling vCPU returned " << self << ", expected -4";
    }();
    [] {
        Check check{"cpu-on-secondary-irq"};
        if (!need_secondary(check)) return;
        const auto vbar = load(secondary_report[1].vbar);
        check.expect_equal("vCPU 1's VBAR_EL1", vbar, reinterpret_cast<std::uintptr_t>(conformance_vectors));
        if (!run_on(1, Command::reset_log)) {
            check.fail() << "vCPU 1 does not serve its mailbox";
            return;
        }
        arch::gic_send_sgi_group1(gic::sgi_to_list(2, 1u << 1));
        if (!poll_for([] { return irq_count(1, 2) >= 1; }, 100'000))
            check.fail() << "vCPU 1 did not take SGI 2 through its vectors within 100 ms (IRQs it took: "
                         << irq_total(1) << ")";
    }();
}

// --- CPU_SUSPEND ---------------------------------------------------------------------------------

// Standby: StateType 0, StateID 0, power level 0 in either format.
constexpr std::uint64_t kStandby = 0;

void check_suspend_timer() {
    Check check{"cpu-suspend-timer"};
    reset_irq_log();
    gic::enable(kVirtualTimerId, 0);
    const auto compare = arch::virtual_count() + us_to_ticks(2000);
    arch::set_virtual_timer_compare(compare);
    arch::set_virtual_timer_control(arch::kTimerEnable);
    std::int64_t status = 0;
    unsigned calls = 0;
    do {
        status = psci::call(psci::kCpuSuspend, kStandby, 0, 0);
        ++calls;
    } while (status == psci::kSuccess && arch::virtual_count() < compare && calls < 50);
    const auto returned = arch::virtual_count();
    if (status != psci::kSuccess) check.fail() << "CPU_SUSPEND (standby) returned " << status << ", expected 0";
    if (returned < compare)
        check.fail() << calls << " CPU_SUSPEND calls all returned before the timer's compare value";
    else
        NoteLine{check.name()} << "returned " << ticks_to_us(returned - compare) << " us after the deadline, after "
                               << calls << " call(s)";
    if (!poll_with_irqs([] { return irq_count(0, kVirtualTimerId) >= 1; }, 100'000))
        check.fail() << "the timer interrupt that ended the suspend was not taken once unmasked";
    arch::set_virtual_timer_control(0);
    gic::disable(kVirtualTimerId, 0);
    // The SMC32 form too, briefly (same timer).
    arch::set_virtual_timer_compare(arch::virtual_count() + us_to_ticks(1000));
    arch::set_virtual_timer_control(arch::kTimerEnable);
    gic::enable(kVirtualTimerId, 0);
    const auto status32 = psci::call(kCpuSuspend32, kStandby, 0, 0);
    if (status32 != psci::kSuccess) check.fail() << "CPU_SUSPEND (SMC32, standby) returned " << status32;
    arch::set_virtual_timer_control(0);
    gic::disable(kVirtualTimerId, 0);
    gic::clear_pending(kVirtualTimerId, 0);
}

void check_suspend_sgi() {
    Check check{"cpu-suspend-sgi"};
    if (!secondary_online()) {
        check.fail() << "vCPU 1 is not running (CPU_ON failed earlier)";
        return;
    }
    constexpr std::uint32_t kSgi = 6;
    constexpr std::uint64_t kDelayUs = 3000;
    reset_irq_log();
    // A watchdog, so a lost SGI cannot leave this vCPU suspended for good.
    const auto watchdog = arch::virtual_count() + us_to_ticks(500'000);
    arch::set_virtual_timer_compare(watchdog);
    arch::set_virtual_timer_control(arch::kTimerEnable);
    gic::enable(kVirtualTimerId, 0);
    const auto start = arch::virtual_count();
    const auto sequence = post(1, Command::send_sgi_after, kDelayUs, gic::sgi_to_list(kSgi, 1u << 0));
    std::int64_t status = 0;
    unsigned calls = 0;
    do {
        status = psci::call(psci::kCpuSuspend, kStandby, 0, 0);
        ++calls;
    } while (status == psci::kSuccess && arch::gic_highest_pending_group1() == gic::kSpurious && calls < 50);
    const auto woke = arch::virtual_count();
    if (status != psci::kSuccess) check.fail() << "CPU_SUSPEND (standby) returned " << status << ", expected 0";
    if (!poll_with_irqs([] { return irq_count(0, kSgi) >= 1; }, 100'000))
        check.fail() << "SGI " << kSgi << " from vCPU 1 not taken (woke after " << ticks_to_us(woke - start) << " us, "
                     << calls << " call(s); last INTID " << load(irq_log[0].last_id) << ")";
    else if (woke >= watchdog)
        check.fail() << "woken by the 500 ms watchdog timer, not by the SGI";
    else
        NoteLine{check.name()} << "woke " << ticks_to_us(woke - start) << " us after asking vCPU 1 for an SGI "
                               << kDelayUs << " us later (" << calls << " call(s))";
    arch::set_virtual_timer_control(0);
    gic::disable(kVirtualTimerId, 0);
    gic::clear_pending(kVirtualTimerId, 0);
    if (!wait_done(1, sequence)) check.fail() << "vCPU 1 did not finish sending the SGI";
}

// --- CPU_OFF and a second CPU_ON ----------------------------------------------------------------------

void check_cpu_off() {
    Check check{"cpu-off"};
    if (!secondary_online()) {
        check.fail() << "vCPU 1 is not running (CPU_ON failed earlier)";
        return;
    }
    store(mailbox[1].result[0], ~std::uint64_t{0});
    const auto sequence = post(1, Command::cpu_off);
    if (!wait_off(check)) return;
    spin_us(2000);
    if (load(mailbox[1].done_sequence) == sequence)
        check.fail() << "CPU_OFF returned " << static_cast<std::int64_t>(load(mailbox[1].result[0]))
                     << " to vCPU 1 instead of turning it off";
}

void check_cpu_on_again() {
    Check check{"cpu-on-again"};
    if (psci::affinity_info(1) != psci::kAffinityOff) {
        check.fail() << "vCPU 1 is not off (AFFINITY_INFO " << psci::affinity_info(1) << ")";
        return;
    }
    store(conformance_entry_state[1].context, std::uint64_t{0});
    const auto status = psci::call(kCpuOn32, 1, secondary_entry(), kSecondContext);
    const auto again = psci::call(kCpuOn32, 1, secondary_entry(), 0);
    if (status != psci::kSuccess) {
        check.fail() << "CPU_ON (SMC32) of vCPU 1, off again, returned " << status;
        return;
    }
    if (again != psci::kOnPending && again != psci::kAlreadyOn)
        check.fail() << "a second CPU_ON right after the first returned " << again << ", expected -5 or -4";
    if (!wait_online(check, kSecondContext)) return;
    set_secondary_online(true);
    check.expect_equal("x0 (context id) at the entry point", load(conformance_entry_state[1].context), kSecondContext);
    if (!run_on(1, Command::reset_log)) {
        check.fail() << "restarted vCPU 1 does not serve its mailbox";
        return;
    }
    arch::gic_send_sgi_group1(gic::sgi_to_list(2, 1u << 1));
    if (!poll_for([] { return irq_count(1, 2) >= 1; }, 100'000))
        check.fail() << "restarted vCPU 1 did not take SGI 2 within 100 ms";
}

void check_cpu_off_again() {
    Check check{"cpu-off-again"};
    if (!secondary_online()) {
        check.fail() << "vCPU 1 is not running";
        return;
    }
    (void)post(1, Command::cpu_off);
    (void)wait_off(check);
}

}  // namespace

void check_smccc_and_psci_queries() {
    check_psci_version();
    check_psci_features();
    check_psci_features_consistent();
    check_smccc_version();
    check_smccc_arch_features();
    check_unknown_functions();
    check_register_preservation();
    check_migrate_info_type();
}

void check_cpu_lifecycle_start() {
    if (cpu_count() < 2) {
        Check check{"cpu-on"};
        check.fail() << "the VM has " << cpu_count() << " vCPU(s); these checks need 2";
        return;
    }
    check_affinity_info();
    check_cpu_on_errors();
    check_cpu_on();
}

void check_cpu_suspend() {
    check_suspend_timer();
    check_suspend_sgi();
}

void check_cpu_off_and_on_again() {
    check_cpu_off();
    check_cpu_on_again();
}

void check_final_cpu_off() {
    check_cpu_off_again();
    check_cpu_on_bad_entry();
}

}  // namespace conformance
