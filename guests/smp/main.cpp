// smp: checks Lamina's PSCI: version and feature queries, CPU_ON/CPU_OFF of
// every secondary vCPU with AFFINITY_INFO tracking, and the CPU_ON errors.
//
// No locks: caches are off and MMU-off data accesses are Device memory, where
// exclusives are not guaranteed to work. Each secondary only writes its own
// report; the boot vCPU only writes `print_turn` and polls. So that output
// lines never interleave, a secondary prints only when `print_turn` names it,
// and the boot vCPU stays silent meanwhile.
#include "arch.hpp"
#include "console.hpp"
#include "layout.h"
#include "psci.hpp"
#include "runtime.hpp"
#include "timer.hpp"

extern "C" void guest_secondary_entry();  // start.S

const char guest::role[] = "smp";

namespace {

using guest::Hex;
using guest::Line;
namespace arch = guest::arch;
namespace psci = guest::psci;

constexpr std::uint64_t kContextBase = 0x1000;          // vCPU n gets 0x1000 + n
constexpr std::uint64_t kUnknownFunction = 0x8400'DEAD;  // in PSCI's range, unassigned
constexpr std::uint64_t kAffinityMask = 0xff'00ff'ffff;  // Aff3..Aff0 of MPIDR_EL1
constexpr std::uint64_t kStepTimeoutNs = 2'000'000'000;  // per wait of the boot vCPU
constexpr std::uint64_t kTurnTimeoutNs = 10'000'000'000;  // a secondary's wait to print

struct SecondaryReport final {
    std::uint64_t arrived;   // 1 once it runs C++ code
    std::uint64_t mpidr;
    std::uint64_t context;
    std::uint64_t finished;  // 1 once it has printed, right before CPU_OFF
};

SecondaryReport reports[GUEST_MAX_CPUS];
std::uint64_t print_turn;  // the vCPU allowed to print now; 0 = none
unsigned failures;

// Plain (volatile) accesses framed by barriers: stores made before a flag
// is raised are visible to whoever sees the flag.
[[nodiscard]] std::uint64_t load(const std::uint64_t& shared) {
    const auto value = *static_cast<const volatile std::uint64_t*>(&shared);
    arch::memory_barrier();
    return value;
}

void store(std::uint64_t& shared, std::uint64_t value) {
    arch::memory_barrier();
    *static_cast<volatile std::uint64_t*>(&shared) = value;
    arch::memory_barrier();
}

// Polls `done` until it holds or `timeout_ns` of guest time passes.
template <typename Condition>
[[nodiscard]] bool wait_for(Condition done, std::uint64_t timeout_ns) {
    const auto deadline = guest::now_ticks() + guest::ns_to_ticks(timeout_ns);
    while (!done())
        if (guest::now_ticks() >= deadline) return done();
    return true;
}

void expect_status(std::string_view call, std::int64_t status, std::int64_t expected) {
    if (status == expected) return;
    ++failures;
    Line{} << "FAIL " << call << " returned " << status << ", expected " << expected;
}

void check_versions_and_features() {
    const auto version = psci::call(psci::kPsciVersion);
    Line{} << "psci_version " << psci::major_version(version) << "." << psci::minor_version(version);
    if (version < 0x1'0000) {  // PSCI_FEATURES, used below, arrived in 1.0
        ++failures;
        Line{} << "FAIL PSCI_VERSION returned " << Hex{static_cast<std::uint64_t>(version)}
               << ", expected at least 1.0";
    }

    const auto smccc = psci::call(psci::kSmcccVersion);
    if (smccc < 0) {
        ++failures;
        Line{} << "FAIL SMCCC_VERSION returned " << smccc;
    } else {
        Line{} << "smccc_version " << psci::major_version(smccc) << "." << psci::minor_version(smccc);
    }

    const auto cpu_on_feature = psci::call(psci::kPsciFeatures, psci::kCpuOn);
    if (cpu_on_feature < 0) {
        ++failures;
        Line{} << "FAIL PSCI_FEATURES(CPU_ON) returned " << cpu_on_feature << ", expected >= 0";
    }
    expect_status("PSCI_FEATURES(0x8400dead)", psci::call(psci::kPsciFeatures, kUnknownFunction),
                  psci::kNotSupported);
    expect_status("function 0x8400dead", psci::call(kUnknownFunction), psci::kNotSupported);
}

[[nodiscard]] bool wait_until_online(unsigned cpu) {
    std::int64_t state = -1;
    const bool online = wait_for(
        [&] {
            state = psci::affinity_info(cpu);
            return state == psci::kAffinityOn && load(reports[cpu].arrived) == 1;
        },
        kStepTimeoutNs);
    if (!online) {
        ++failures;
        Line{} << "FAIL cpu " << cpu << " did not come online (AFFINITY_INFO " << state << ", arrived "
               << load(reports[cpu].arrived) << ")";
    }
    return online;
}

// Lets one secondary print, then checks what it reported and that it is off.
void let_report_and_wait_off(unsigned cpu) {
    store(print_turn, cpu);
    if (!wait_for([&] { return load(reports[cpu].finished) == 1; }, kStepTimeoutNs)) {
        ++failures;
        Line{} << "FAIL cpu " << cpu << " did not report";
        return;
    }
    std::int64_t state = -1;
    if (!wait_for([&] { return (state = psci::affinity_info(cpu)) == psci::kAffinityOff; },
                  kStepTimeoutNs)) {
        ++failures;
        Line{} << "FAIL cpu " << cpu << " did not turn off (AFFINITY_INFO " << state << ")";
    }
    const auto& report = reports[cpu];
    if (load(report.context) != kContextBase + cpu) {
        ++failures;
        Line{} << "FAIL cpu " << cpu << " got context " << Hex{load(report.context)};
    }
    if ((load(report.mpidr) & kAffinityMask) != cpu) {
        ++failures;
        Line{} << "FAIL cpu " << cpu << " has mpidr " << Hex{load(report.mpidr)};
    }
}

void check_cpu_on_errors(std::uintptr_t entry, unsigned cpu_count, bool cpu1_online) {
    const auto self = arch::mpidr() & kAffinityMask;
    expect_status("CPU_ON of the calling cpu", psci::cpu_on(self, entry, 0), psci::kAlreadyOn);
    if (cpu1_online)
        expect_status("CPU_ON of running cpu 1", psci::cpu_on(1, entry, 0), psci::kAlreadyOn);
    // vCPUs are numbered densely from 0, so Aff0 = cpu_count names none.
    expect_status("CPU_ON of nonexistent mpidr", psci::cpu_on(cpu_count, entry, 0),
                  psci::kInvalidParameters);
}

}  // namespace

void guest::run() {
    check_versions_and_features();

    const auto cpu_count = boot_facts().cpu_count;
    Line{} << "cpus " << cpu_count;
    if (cpu_count > GUEST_MAX_CPUS) {
        ++failures;
        Line{} << "FAIL more cpus than the " << GUEST_MAX_CPUS << " this guest has stacks for";
    }
    const unsigned usable = cpu_count < GUEST_MAX_CPUS ? cpu_count : GUEST_MAX_CPUS;
    const auto entry = reinterpret_cast<std::uintptr_t>(&guest_secondary_entry);

    bool started[GUEST_MAX_CPUS] = {};
    for (unsigned cpu = 1; cpu < usable; ++cpu) {
        const auto status = psci::cpu_on(cpu, entry, kContextBase + cpu);
        started[cpu] = status == psci::kSuccess;
        if (!started[cpu]) {
            ++failures;
            Line{} << "FAIL CPU_ON of cpu " << cpu << " returned " << status;
        }
    }
    bool online[GUEST_MAX_CPUS] = {};
    for (unsigned cpu = 1; cpu < usable; ++cpu)
        if (started[cpu]) online[cpu] = wait_until_online(cpu);

    // Secondaries are held (waiting for their turn) here, so cpu 1 is ON.
    check_cpu_on_errors(entry, cpu_count, usable > 1 && online[1]);

    for (unsigned cpu = 1; cpu < usable; ++cpu)
        if (online[cpu]) let_report_and_wait_off(cpu);

    if (failures == 0)
        Line{} << "PASS all " << cpu_count << " cpus";
    else
        Line{} << "FAIL " << failures << " checks failed";
    Line{} << "done";
}

void guest::run_secondary(std::uint64_t context_id) {
    const auto mpidr = arch::mpidr();
    const auto cpu = static_cast<unsigned>(mpidr & 0xff);  // start.S checked it has a stack
    auto& report = reports[cpu];
    store(report.mpidr, mpidr);
    store(report.context, context_id);
    store(report.arrived, 1);

    // Past the timeout the boot vCPU has given up on us: print anyway.
    (void)wait_for([&] { return load(print_turn) == cpu; }, kTurnTimeoutNs);
    Line{} << "cpu " << cpu << " online, mpidr " << Hex{mpidr} << ", context " << Hex{context_id};
    store(report.finished, 1);

    const auto status = psci::cpu_off();
    Line{} << "FAIL cpu " << cpu << " CPU_OFF returned " << status;
}
