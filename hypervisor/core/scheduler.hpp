// Scheduler v0: one run queue shared by all physical CPUs, round robin with a
// fixed time slice driven by each CPU's scheduler timer. A vCPU in WFI leaves
// its CPU until its wake deadline passes or something is pending for it.
// One lock (the scheduler lock) guards the queue, vCPU run and power states
// and VM states; the common traps (hypercalls, MMIO) never take it.
#pragma once

#include <cstdint>

#include "core/result.hpp"
#include "core/vcpu.hpp"
#include "core/vm.hpp"

namespace lamina::scheduler {

void init(std::uint64_t timeslice_ticks);

// Runs vCPUs on the calling CPU forever.
[[noreturn]] void run_this_cpu();

// --- From trap handlers, on the CPU that runs `vcpu` ---------------------
// WFI: returns at once when the vCPU's wake condition already holds,
// otherwise the vCPU waits off the CPU (and this does not return).
void wait_for_interrupt(Vcpu& vcpu);
// WFE: gives the rest of the slice away if anyone else is runnable.
void yield(Vcpu& vcpu);
// The running vCPU re-armed a timer Lamina emulates: look at the deadline again.
void timers_changed(Vcpu& vcpu);
// PSCI CPU_OFF.
[[noreturn]] void power_off(Vcpu& vcpu);
// After physical interrupts: leaves the CPU if the slice is over and others
// wait, or if the vCPU's VM is stopping. Returns when `vcpu` goes on running.
void after_interrupts(Vcpu& vcpu, bool timer_fired);
// The vCPU's VM was stopped while it ran: leave the CPU now.
[[noreturn]] void leave_stopped(Vcpu& vcpu);

// --- From anywhere --------------------------------------------------------
enum class PowerOnResult : std::uint8_t { started, already_on, on_pending };
// PSCI CPU_ON: the vCPU starts at `entry` with x0 = `argument`.
PowerOnResult power_on(Vcpu& vcpu, std::uint64_t entry, std::uint64_t argument);
[[nodiscard]] VcpuPower power_state(const Vcpu& vcpu);
// Something is pending for `vcpu`: wake it if it waits, or make it leave
// the guest on the CPU that runs it so it picks the interrupt up.
void kick(Vcpu& vcpu);
// Stops every vCPU of `vm`; once none is on a CPU the VM is torn down
// (and restarted from its images if asked).
void stop_vm(Vm& vm, AfterStop after_stop);
// Takes every vCPU of a running VM off the CPUs and out of the queue
// (running ones leave at their next trap, forced at once); resume puts
// back those that were not powered off.
[[nodiscard]] Status pause_vm(Vm& vm);
[[nodiscard]] Status resume_vm(Vm& vm);
// New weight, cap and CPUs for every vCPU of `vm`, effective at once (a
// vCPU on a CPU it may no longer use leaves it).
void set_vm_scheduling(Vm& vm, std::uint32_t weight, std::uint32_t cap_percent, std::uint64_t allowed_cpus);
// Runs `work` every `period_ns` on the boot CPU, from its scheduler timer,
// outside the scheduler lock, with interrupts masked (like a management
// request): Lamina's own housekeeping, such as the autoscaler.
void set_periodic_work(void (*work)(), std::uint64_t period_ns);

}  // namespace lamina::scheduler
