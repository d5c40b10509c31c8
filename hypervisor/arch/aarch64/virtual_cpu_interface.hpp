// The GICv3 virtual CPU interface of the running vCPU: moving interrupts
// between the VM's virtual GIC and this CPU's list registers (ICH_LR<n>_EL2).
// The guest acknowledges and ends interrupts in hardware, without exits.
#pragma once

#include <cstdint>

#include "core/vcpu.hpp"

namespace lamina::arch::virtual_cpu_interface {

// Once per physical CPU.
void init_this_cpu();
// When the vCPU is loaded on / taken off this CPU.
void load(Vcpu& vcpu);
void put(Vcpu& vcpu);
// Before returning to the guest: if its interrupts changed, returns list
// register contents to the virtual GIC and refills them by priority.
void refresh(Vcpu& vcpu);
// The check for it, inline on every exit path; the work is out of line.
inline void refresh_if_needed(Vcpu& vcpu) {
    if (vcpu.list_registers_emptied || vcpu.interrupts_changed.load(std::memory_order_relaxed)) refresh(vcpu);
}
// Brings list register state back into the virtual GIC (before emulating a
// GIC register access or deciding whether WFI should wait).
void sync(Vcpu& vcpu);

}  // namespace lamina::arch::virtual_cpu_interface
