// Everything of a vCPU that lives in CPU registers while it runs: the
// general registers (saved on every trap), and the EL1 system registers,
// FP/SIMD registers and virtual timer (switched only when the vCPU changes).
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "arch/aarch64/guest_registers.hpp"

namespace lamina::arch {

struct El1SystemRegisters final {
    std::uint64_t sctlr, ttbr0, ttbr1, tcr, mair, amair, vbar, contextidr;
    std::uint64_t tpidr_el0, tpidrro_el0, tpidr_el1, sp_el0, sp_el1, elr, spsr;
    std::uint64_t esr, far, afsr0, afsr1, par, cpacr, csselr, mdscr, cntkctl;
};

struct FpSimdRegisters final {
    std::array<std::uint64_t, 64> q{};  // q0..q31, two halves each
    std::uint64_t fpsr{0};
    std::uint64_t fpcr{0};
};

// A timer Lamina emulates in software (the EL1 physical timer).
struct EmulatedTimerRegisters final {
    std::uint64_t control{0};  // ENABLE and IMASK as the guest wrote them
    std::uint64_t compare{0};  // against the physical count
};

struct VirtualTimerRegisters final {
    std::uint64_t control{0};  // CNTV_CTL_EL0
    std::uint64_t compare{0};  // CNTV_CVAL_EL0
};

// The virtual CPU interface's own state (the list registers are not kept
// here: their contents go back to the VM's virtual GIC when the vCPU leaves).
struct VirtualCpuInterfaceRegisters final {
    std::uint64_t control{0};                  // ICH_VMCR_EL2: guest's PMR, BPR, group enables
    std::uint64_t group0_active_priorities{0};  // ICH_AP0R0_EL2
    std::uint64_t group1_active_priorities{0};  // ICH_AP1R0_EL2
};

struct VcpuContext final {
    GuestRegisters registers{};
    El1SystemRegisters el1{};
    FpSimdRegisters fp{};
    VirtualTimerRegisters timer{};
    EmulatedTimerRegisters physical_timer{};
    VirtualCpuInterfaceRegisters gic{};
    std::uint64_t virtual_mpidr{0};
};

// Puts the vCPU in the state of a CPU leaving reset into the guest kernel:
// EL1h, MMU off, x0 = argument (DTB address or PSCI context id).
void reset_vcpu_context(VcpuContext& context, std::uint64_t entry, std::uint64_t argument, std::uint32_t vcpu_index);
// Moves the switched state between memory and the CPU.
void save_vcpu_context(VcpuContext& context);
void load_vcpu_context(const VcpuContext& context);

// The virtual count at which the timer will assert its interrupt, if it is
// enabled and not masked.
[[nodiscard]] std::optional<std::uint64_t> virtual_timer_deadline(const VirtualTimerRegisters& timer);

}  // namespace lamina::arch
