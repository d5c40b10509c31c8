// aarch64 CPU bring-up pieces used by the boot code and the trap handlers.
#pragma once

#include <cstddef>
#include <cstdint>

#include "arch/aarch64/platform_cpu.hpp"

namespace lamina::drivers {
class Pl011;
}

namespace lamina::arch {

void register_this_cpu(std::uint32_t index, std::uint64_t hardware_id);
void mark_this_cpu_online();
void configure_this_cpu_for_guests();
// The board's INTIDs for Lamina's timer, the guests' virtual timer and GIC maintenance.
void set_private_interrupts(std::uint32_t scheduler_timer, std::uint32_t virtual_timer, std::uint32_t maintenance);
void enable_private_interrupts_this_cpu();
// Acknowledges and handles pending physical interrupts; true if the
// scheduler timer fired.
[[nodiscard]] bool handle_cpu_interrupts();
void power_off_when_idle(bool enabled);
// Lamina's console UART raises `interrupt_id` on input (routed to this CPU).
void take_console_input(drivers::Pl011& uart, std::uint32_t interrupt_id);

// Interrupts of the board's devices that Lamina's own drivers take (the
// uplink NIC). The handler runs on the CPU that took the interrupt, with
// interrupts masked, before the interrupt is ended: it must quiet the
// device (its line may be level triggered).
using DeviceInterruptHandler = void (*)(void* context);
inline constexpr std::size_t kMaxDeviceInterrupts = 16;
// Routes the shared interrupt `interrupt_id` to this CPU, enables it and
// calls handler(context) whenever it fires. False (nothing changed) for an
// INTID that is not a shared one, one already routed, or a full table.
[[nodiscard]] bool route_device_interrupt(std::uint32_t interrupt_id, DeviceInterruptHandler handler, void* context);

}  // namespace lamina::arch
