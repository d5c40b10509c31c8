// spinner: a vCPU that never traps. With interrupts masked and no device
// access it only ever leaves the CPU when Lamina preempts it, so other VMs
// making progress proves Lamina's scheduler does not depend on the guest.
//
// all_cpus=1: every vCPU of the VM spins. The boot vCPU starts the others
// with PSCI CPU_ON; each masks interrupts (start.S already did), checks in
// and spins. The boot vCPU alone prints (no locks, caches are off: each
// secondary writes only its own flag, with volatile stores and `dmb sy`).
#include "arch.hpp"
#include "bootargs.hpp"
#include "console.hpp"
#include "layout.h"
#include "psci.hpp"
#include "runtime.hpp"
#include "timer.hpp"

extern "C" void guest_secondary_entry();  // start.S

const char guest::role[] = "spinner";

namespace {

using guest::Line;
namespace arch = guest::arch;
namespace psci = guest::psci;

constexpr std::uint64_t kOnlineTimeoutNs = 2'000'000'000;  // per secondary, guest time

std::uint64_t arrived[GUEST_MAX_CPUS];  // 1 once vCPU n spins

[[noreturn]] void spin() {
    // The barrier gives the loop a side effect, so the compiler keeps it.
    for (;;) arch::compiler_barrier();
}

// Starts vCPUs 1..n-1 and waits until each checks in; false (after saying
// why) if one does not.
bool start_secondaries(unsigned cpu_count) {
    const auto entry = reinterpret_cast<std::uintptr_t>(&guest_secondary_entry);
    for (unsigned cpu = 1; cpu < cpu_count; ++cpu) {
        const auto status = psci::cpu_on(cpu, entry, cpu);
        if (status != psci::kSuccess) {
            Line{} << "FAIL CPU_ON of cpu " << cpu << " returned " << status;
            return false;
        }
        const auto deadline = guest::now_ticks() + guest::ns_to_ticks(kOnlineTimeoutNs);
        for (;;) {
            arch::memory_barrier();
            if (*static_cast<volatile std::uint64_t*>(&arrived[cpu]) == 1) break;
            if (guest::now_ticks() >= deadline) {
                Line{} << "FAIL cpu " << cpu << " did not come online";
                return false;
            }
        }
        Line{} << "cpu " << cpu << " spinning";
    }
    return true;
}

}  // namespace

void guest::run() {
    arch::mask_all_interrupts();
    const auto all_cpus = numeric_bootarg_or("all_cpus", 0);
    if (all_cpus > 1) {
        Line{} << "FAIL bad bootarg all_cpus=" << all_cpus << " (expected 0 or 1)";
        return;  // powers off
    }
    if (all_cpus == 0) {
        Line{} << "spinning with interrupts masked";
        spin();
    }
    const auto cpu_count = boot_facts().cpu_count;
    if (cpu_count > GUEST_MAX_CPUS) {
        Line{} << "FAIL more cpus than the " << GUEST_MAX_CPUS << " this guest has stacks for";
        return;
    }
    if (!start_secondaries(cpu_count)) return;
    Line{} << "spinning with interrupts masked on all " << cpu_count << " cpus";
    spin();
}

void guest::run_secondary(std::uint64_t context_id) {
    arch::mask_all_interrupts();
    if (context_id < GUEST_MAX_CPUS) {
        arch::memory_barrier();
        *static_cast<volatile std::uint64_t*>(&arrived[context_id]) = 1;
        arch::memory_barrier();
    }
    spin();
}
