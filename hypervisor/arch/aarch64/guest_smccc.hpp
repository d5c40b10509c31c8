// SMCCC calls from guests (HVC, or SMC trapped by HCR_EL2.TSC): the Arm
// architecture calls, PSCI, TRNG, PV stolen time and Lamina's own vendor
// hypervisor service.
#pragma once

#include <cstdint>

#include "arch/aarch64/guest_registers.hpp"

namespace lamina {
class Vcpu;
}

namespace lamina::arch {

// Lamina's vendor-specific hypervisor service (SMCCC owner 6), see docs/hypercalls.md.
inline constexpr std::uint32_t kLaminaNullCall = 0x8600'0001;

// Handles the call in x0..x3 and leaves the result in x0..x3. May not return
// when the call takes the vCPU off the CPU (CPU_OFF, SYSTEM_OFF, ...).
void handle_guest_smccc(Vcpu& vcpu, GuestRegisters& registers);

}  // namespace lamina::arch
