// Every piece of inline assembly the guests use: system registers (the GIC
// CPU interface and the generic timers among them), barriers, WFI, HVC and
// MMIO. Kept in this one header so the rest is plain C++.
#pragma once

#include <cstdint>

namespace guest::arch {

// --- Identification ---------------------------------------------------------

[[nodiscard]] inline unsigned current_el() {
    std::uint64_t value;
    asm volatile("mrs %0, CurrentEL" : "=r"(value));
    return static_cast<unsigned>((value >> 2) & 0x3);
}

[[nodiscard]] inline std::uint64_t mpidr() {
    std::uint64_t value;
    asm volatile("mrs %0, mpidr_el1" : "=r"(value));
    return value;
}

// --- Exception syndrome (for the fatal-exception report) --------------------

[[nodiscard]] inline std::uint64_t esr() {
    std::uint64_t value;
    asm volatile("mrs %0, esr_el1" : "=r"(value));
    return value;
}

[[nodiscard]] inline std::uint64_t elr() {
    std::uint64_t value;
    asm volatile("mrs %0, elr_el1" : "=r"(value));
    return value;
}

[[nodiscard]] inline std::uint64_t far() {
    std::uint64_t value;
    asm volatile("mrs %0, far_el1" : "=r"(value));
    return value;
}

// --- Interrupt masks and barriers -------------------------------------------

inline void mask_all_interrupts() { asm volatile("msr daifset, #0xf" ::: "memory"); }

// PSTATE.I alone, for guests that take IRQs through their own vectors. The
// isb after unmasking lets a pending IRQ be taken right there.
inline void unmask_irqs() { asm volatile("msr daifclr, #2\n\tisb" ::: "memory"); }
inline void mask_irqs() { asm volatile("msr daifset, #2" ::: "memory"); }

[[nodiscard]] inline std::uint64_t daif() {
    std::uint64_t value;
    asm volatile("mrs %0, daif" : "=r"(value)::"memory");
    return value;
}

// --- EL1 system control -----------------------------------------------------

[[nodiscard]] inline std::uint64_t vbar() {
    std::uint64_t value;
    asm volatile("mrs %0, vbar_el1" : "=r"(value));
    return value;
}

inline void set_vbar(std::uintptr_t table) { asm volatile("msr vbar_el1, %0\n\tisb" ::"r"(table) : "memory"); }

[[nodiscard]] inline std::uint64_t sctlr() {
    std::uint64_t value;
    asm volatile("mrs %0, sctlr_el1" : "=r"(value));
    return value;
}

// Caches are off in the guests, so ordering is all that is needed to make a
// plain store visible to another vCPU: a full-system barrier is the safe pick
// because MMU-off data accesses are Device memory, outside any shareability.
inline void memory_barrier() { asm volatile("dmb sy" ::: "memory"); }

inline void instruction_barrier() { asm volatile("isb" ::: "memory"); }

// Keeps the compiler from deleting or merging loop iterations in benchmarks.
inline void compiler_barrier() { asm volatile("" ::: "memory"); }

inline void wait_for_interrupt() { asm volatile("wfi" ::: "memory"); }

inline void wait_for_event() { asm volatile("wfe" ::: "memory"); }

// --- Generic timer (EL1 virtual timer) --------------------------------------

[[nodiscard]] inline std::uint64_t counter_frequency() {
    std::uint64_t value;
    asm volatile("mrs %0, cntfrq_el0" : "=r"(value));
    return value;
}

// The isb stops the read from being hoisted above earlier instructions, so
// timestamps bracket exactly the code between them.
[[nodiscard]] inline std::uint64_t virtual_count() {
    std::uint64_t value;
    asm volatile("isb\n\tmrs %0, cntvct_el0" : "=r"(value)::"memory");
    return value;
}

inline void set_virtual_timer_compare(std::uint64_t ticks) {
    asm volatile("msr cntv_cval_el0, %0" ::"r"(ticks) : "memory");
}

inline constexpr std::uint64_t kTimerEnable = 1u << 0;
inline constexpr std::uint64_t kTimerInterruptMask = 1u << 1;

inline void set_virtual_timer_control(std::uint64_t control) {
    asm volatile("msr cntv_ctl_el0, %0\n\tisb" ::"r"(control) : "memory");
}

inline constexpr std::uint64_t kTimerStatus = 1u << 2;  // ISTATUS, read-only

[[nodiscard]] inline std::uint64_t virtual_timer_control() {
    std::uint64_t value;
    asm volatile("isb\n\tmrs %0, cntv_ctl_el0" : "=r"(value)::"memory");
    return value;
}

[[nodiscard]] inline std::uint64_t virtual_timer_compare() {
    std::uint64_t value;
    asm volatile("mrs %0, cntv_cval_el0" : "=r"(value)::"memory");
    return value;
}

// CNTV_TVAL_EL0: a signed 32-bit distance from the counter (bits 63:32 RES0).
inline void set_virtual_timer_value(std::uint32_t ticks) {
    asm volatile("msr cntv_tval_el0, %0\n\tisb" ::"r"(std::uint64_t{ticks}) : "memory");
}

// --- Generic timer (EL1 physical timer; Lamina traps and emulates it) -------

[[nodiscard]] inline std::uint64_t physical_count() {
    std::uint64_t value;
    asm volatile("isb\n\tmrs %0, cntpct_el0" : "=r"(value)::"memory");
    return value;
}

[[nodiscard]] inline std::uint64_t physical_timer_control() {
    std::uint64_t value;
    asm volatile("isb\n\tmrs %0, cntp_ctl_el0" : "=r"(value)::"memory");
    return value;
}

inline void set_physical_timer_control(std::uint64_t control) {
    asm volatile("msr cntp_ctl_el0, %0\n\tisb" ::"r"(control) : "memory");
}

[[nodiscard]] inline std::uint64_t physical_timer_compare() {
    std::uint64_t value;
    asm volatile("mrs %0, cntp_cval_el0" : "=r"(value)::"memory");
    return value;
}

inline void set_physical_timer_compare(std::uint64_t ticks) {
    asm volatile("msr cntp_cval_el0, %0\n\tisb" ::"r"(ticks) : "memory");
}

[[nodiscard]] inline std::uint64_t physical_timer_value() {
    std::uint64_t value;
    asm volatile("isb\n\tmrs %0, cntp_tval_el0" : "=r"(value)::"memory");
    return value;
}

inline void set_physical_timer_value(std::uint32_t ticks) {
    asm volatile("msr cntp_tval_el0, %0\n\tisb" ::"r"(std::uint64_t{ticks}) : "memory");
}

// --- GICv3 CPU interface (system registers; a VM gets the virtual one) ------

[[nodiscard]] inline std::uint32_t gic_acknowledge_group1() {
    std::uint64_t value;
    asm volatile("mrs %0, icc_iar1_el1" : "=r"(value)::"memory");
    return static_cast<std::uint32_t>(value);
}

inline void gic_end_of_interrupt_group1(std::uint32_t interrupt_id) {
    asm volatile("msr icc_eoir1_el1, %0\n\tisb" ::"r"(std::uint64_t{interrupt_id}) : "memory");
}

[[nodiscard]] inline std::uint32_t gic_highest_pending_group1() {
    std::uint64_t value;
    asm volatile("mrs %0, icc_hppir1_el1" : "=r"(value)::"memory");
    return static_cast<std::uint32_t>(value);
}

[[nodiscard]] inline std::uint64_t gic_priority_mask() {
    std::uint64_t value;
    asm volatile("mrs %0, icc_pmr_el1" : "=r"(value)::"memory");
    return value;
}

inline void set_gic_priority_mask(std::uint64_t mask) {
    asm volatile("msr icc_pmr_el1, %0\n\tisb" ::"r"(mask) : "memory");
}

[[nodiscard]] inline std::uint64_t gic_group1_enable() {
    std::uint64_t value;
    asm volatile("mrs %0, icc_igrpen1_el1" : "=r"(value)::"memory");
    return value;
}

inline void set_gic_group1_enable(std::uint64_t enable) {
    asm volatile("msr icc_igrpen1_el1, %0\n\tisb" ::"r"(enable) : "memory");
}

[[nodiscard]] inline std::uint64_t gic_system_register_enable() {
    std::uint64_t value;
    asm volatile("mrs %0, icc_sre_el1" : "=r"(value)::"memory");
    return value;
}

inline void set_gic_system_register_enable(std::uint64_t value) {
    asm volatile("msr icc_sre_el1, %0\n\tisb" ::"r"(value) : "memory");
}

inline void set_gic_binary_point_group1(std::uint64_t value) {
    asm volatile("msr icc_bpr1_el1, %0\n\tisb" ::"r"(value) : "memory");
}

[[nodiscard]] inline std::uint64_t gic_control() {
    std::uint64_t value;
    asm volatile("mrs %0, icc_ctlr_el1" : "=r"(value)::"memory");
    return value;
}

// ICC_SGI1R_EL1: generates a Group 1 SGI (Lamina traps and emulates it).
inline void gic_send_sgi_group1(std::uint64_t value) {
    asm volatile("msr icc_sgi1r_el1, %0\n\tisb" ::"r"(value) : "memory");
}

// --- Hypervisor calls (SMCCC over HVC) --------------------------------------

struct HvcArgs final {
    std::uint64_t function;
    std::uint64_t arg1{0};
    std::uint64_t arg2{0};
    std::uint64_t arg3{0};
};

// Returns x0. x4..x17 are listed as clobbered because SMCCC 1.0 let callees
// corrupt them; it costs nothing here.
inline std::uint64_t hvc(const HvcArgs& args) {
    register std::uint64_t x0 asm("x0") = args.function;
    register std::uint64_t x1 asm("x1") = args.arg1;
    register std::uint64_t x2 asm("x2") = args.arg2;
    register std::uint64_t x3 asm("x3") = args.arg3;
    asm volatile("hvc #0"
                 : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3)
                 :
                 : "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13", "x14", "x15",
                   "x16", "x17", "memory");
    return x0;
}

// x0..x3 after a call, for calls that answer in several registers (UUIDs,
// random bits).
struct HvcResults final {
    std::uint64_t x[4];
};

inline HvcResults hvc_results(const HvcArgs& args) {
    register std::uint64_t x0 asm("x0") = args.function;
    register std::uint64_t x1 asm("x1") = args.arg1;
    register std::uint64_t x2 asm("x2") = args.arg2;
    register std::uint64_t x3 asm("x3") = args.arg3;
    asm volatile("hvc #0"
                 : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3)
                 :
                 : "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13", "x14", "x15",
                   "x16", "x17", "memory");
    return HvcResults{{x0, x1, x2, x3}};
}

// --- MMIO and raw memory probes ---------------------------------------------
// Single plain ldr/str with a base register and no writeback: a trapping
// access then has a valid instruction syndrome (ESR_EL2.ISV), which the
// hypervisor needs to emulate or report it.

[[nodiscard]] inline std::uint32_t read32(std::uintptr_t address) {
    std::uint32_t value;
    asm volatile("ldr %w0, [%1]" : "=r"(value) : "r"(address) : "memory");
    return value;
}

inline void write32(std::uintptr_t address, std::uint32_t value) {
    asm volatile("str %w0, [%1]" ::"r"(value), "r"(address) : "memory");
}

[[nodiscard]] inline std::uint8_t read8(std::uintptr_t address) {
    std::uint32_t value;
    asm volatile("ldrb %w0, [%1]" : "=r"(value) : "r"(address) : "memory");
    return static_cast<std::uint8_t>(value);
}

inline void write8(std::uintptr_t address, std::uint8_t value) {
    asm volatile("strb %w0, [%1]" ::"r"(std::uint32_t{value}), "r"(address) : "memory");
}

[[nodiscard]] inline std::uint64_t read64(std::uintptr_t address) {
    std::uint64_t value;
    asm volatile("ldr %0, [%1]" : "=r"(value) : "r"(address) : "memory");
    return value;
}

inline void write64(std::uintptr_t address, std::uint64_t value) {
    asm volatile("str %0, [%1]" ::"r"(value), "r"(address) : "memory");
}

}  // namespace guest::arch
