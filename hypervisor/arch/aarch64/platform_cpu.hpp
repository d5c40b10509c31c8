// Per-CPU services the core asks of the aarch64 port: time, the scheduler's
// timer, signalling other CPUs, and moving a vCPU on and off the CPU.
#pragma once

#include <cstdint>

namespace lamina {
class Vcpu;
class Vm;
}  // namespace lamina

namespace lamina::arch {

// The system counter, in ticks, and its frequency.
[[nodiscard]] std::uint64_t counter_now();
[[nodiscard]] std::uint64_t counter_frequency();
// Arms this CPU's scheduler timer to fire at `deadline` (counter ticks).
void set_scheduler_timer(std::uint64_t deadline);
void stop_scheduler_timer();

// Asks CPU `cpu_index` to re-examine what it runs.
void signal_reschedule(std::uint32_t cpu_index);

// Loads `vcpu` (its VM's translation, EL1 state, timer) on this CPU.
void activate_vcpu(Vcpu& vcpu);
// The physical INTID of the EL1 virtual timer, which guests' timers raise.
[[nodiscard]] std::uint32_t virtual_timer_hardware_interrupt();
// Timers Lamina emulates for the vCPU: when the next one fires (physical
// count), and bringing their interrupt lines up to date.
[[nodiscard]] std::uint64_t emulated_timer_deadline(const Vcpu& vcpu);
void update_emulated_timers(Vcpu& vcpu);
// True if a virtual interrupt could be delivered to the loaded `vcpu` now.
[[nodiscard]] bool interrupt_deliverable(Vcpu& vcpu);
// Copies the live virtual timer of the loaded `vcpu` into its saved context.
void refresh_virtual_timer(Vcpu& vcpu);
// Saves the loaded vCPU's state so it can run on any CPU.
void deactivate_vcpu(Vcpu& vcpu);
// Makes guest memory written by Lamina visible to a guest with caches off.
void publish_guest_memory(std::uintptr_t address, std::uint64_t size);
// Zeroes memory for a guest, all the way to RAM (a guest reading with its
// caches off must not find a previous owner's data there).
void zero_guest_memory(std::uintptr_t address, std::uint64_t size);
// Makes code written into guest memory visible to instruction fetch.
void publish_instructions();
// Lamina has no VM left to run (the board powers off if so configured).
void on_last_vm_gone();

[[noreturn]] void enter_guest(Vcpu& vcpu);
// Idles until an interrupt arrives, then handles Lamina's own interrupts.
void wait_for_cpu_event();
[[noreturn]] void halt_this_cpu();

}  // namespace lamina::arch
