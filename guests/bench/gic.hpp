// The bench guest's view of the virtual GICv3 and of the EL1 CPU state it
// needs for taking interrupts: register offsets, the system-register CPU
// interface, IRQ masking and the physical counter. Kept beside the bench
// guest (inline assembly included) so its measurements do not depend on
// what other guests need from common/arch.hpp.
#pragma once

#include <cstdint>

#include "arch.hpp"

namespace bench::gic {

// Lamina's virtual board (guests/README.md): distributor, then one pair of
// 64 KiB redistributor frames (RD_base, SGI_base) per vCPU.
inline constexpr std::uintptr_t kDistributor = 0x0800'0000;
inline constexpr std::uintptr_t kRedistributors = 0x080a'0000;
inline constexpr std::uintptr_t kRedistributorStride = 0x2'0000;
inline constexpr std::uintptr_t kSgiFrame = 0x1'0000;

// Distributor registers.
inline constexpr std::uintptr_t kGicdCtlr = 0x0000;
inline constexpr std::uintptr_t kGicdTyper = 0x0004;
inline constexpr std::uintptr_t kGicdIspendr1 = 0x0204;  // pending state of SPIs 32..63
inline constexpr std::uint32_t kCtlrEnableGroup1 = 1u << 1;
inline constexpr std::uint32_t kCtlrAffinityRouting = 1u << 4;

// Redistributor registers (offsets from a vCPU's RD_base).
inline constexpr std::uintptr_t kGicrWaker = 0x0014;
inline constexpr std::uintptr_t kGicrIgroupr0 = kSgiFrame + 0x0080;
inline constexpr std::uintptr_t kGicrIsenabler0 = kSgiFrame + 0x0100;
inline constexpr std::uintptr_t kGicrIcenabler0 = kSgiFrame + 0x0180;
inline constexpr std::uintptr_t kGicrIcpendr0 = kSgiFrame + 0x0280;
inline constexpr std::uint32_t kWakerProcessorSleep = 1u << 1;
inline constexpr std::uint32_t kWakerChildrenAsleep = 1u << 2;

inline constexpr std::uint32_t kVirtualTimerInterrupt = 27;  // PPI 11
inline constexpr std::uint32_t kSpuriousInterrupt = 1023;

[[nodiscard]] constexpr std::uintptr_t redistributor(unsigned vcpu) {
    return kRedistributors + vcpu * kRedistributorStride;
}

// --- System-register CPU interface (the virtual one, inside a VM) ----------
// None of these trap to Lamina except ICC_SGI1R_EL1.

[[nodiscard]] inline std::uint32_t acknowledge() {
    std::uint64_t value;
    asm volatile("mrs %0, icc_iar1_el1" : "=r"(value)::"memory");
    return static_cast<std::uint32_t>(value);
}

// EOImode 0: drops the running priority and deactivates the interrupt.
inline void end_of_interrupt(std::uint32_t interrupt_id) {
    asm volatile("msr icc_eoir1_el1, %0\n\tisb" ::"r"(std::uint64_t{interrupt_id}) : "memory");
}

inline void set_priority_mask(std::uint64_t mask) {
    asm volatile("msr icc_pmr_el1, %0\n\tisb" ::"r"(mask) : "memory");
}

inline void set_group1_enable(std::uint64_t enable) {
    asm volatile("msr icc_igrpen1_el1, %0\n\tisb" ::"r"(enable) : "memory");
}

inline void enable_system_registers() {
    std::uint64_t value;
    asm volatile("mrs %0, icc_sre_el1" : "=r"(value));
    asm volatile("msr icc_sre_el1, %0\n\tisb" ::"r"(value | 1) : "memory");
}

// A Group 1 SGI to the vCPUs in `target_list` (Aff0 bits; Aff1..3 = 0).
inline void send_sgi(std::uint32_t sgi, std::uint16_t target_list) {
    const std::uint64_t value = (std::uint64_t{sgi & 0xf} << 24) | target_list;
    asm volatile("msr icc_sgi1r_el1, %0\n\tisb" ::"r"(value) : "memory");
}

}  // namespace bench::gic

namespace bench::cpu {

// PSTATE.I: the isb after unmasking lets a pending IRQ be taken right there.
inline void unmask_irqs() { asm volatile("msr daifclr, #2\n\tisb" ::: "memory"); }
inline void mask_irqs() { asm volatile("msr daifset, #2" ::: "memory"); }

inline void set_vector_base(std::uintptr_t table) {
    asm volatile("msr vbar_el1, %0\n\tisb" ::"r"(table) : "memory");
}

inline void wait_for_event() { asm volatile("wfe" ::: "memory"); }

// The spin-wait hint (Linux's cpu_relax()). Under -icount QEMU runs the
// board's CPUs one at a time on one host thread and moves on to the next CPU
// only when the current one waits (WFI), yields, or a timer is due: a spin
// loop without YIELD would keep the CPU it waits for from running at all.
inline void yield() { asm volatile("yield" ::: "memory"); }

// CNTPCT_EL0: Lamina lets EL1 read the board's counter untrapped
// (CNTHCTL_EL2.EL1PCTEN); CNTVCT_EL0 is that minus the VM's CNTVOFF_EL2.
[[nodiscard]] inline std::uint64_t physical_count() {
    std::uint64_t value;
    asm volatile("isb\n\tmrs %0, cntpct_el0" : "=r"(value)::"memory");
    return value;
}

}  // namespace bench::cpu
