// Every piece of inline assembly the guests use: system registers, barriers,
// WFI, HVC and MMIO. Kept in this one header so the rest is plain C++.
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

// Caches are off in the guests, so ordering is all that is needed to make a
// plain store visible to another vCPU: a full-system barrier is the safe pick
// because MMU-off data accesses are Device memory, outside any shareability.
inline void memory_barrier() { asm volatile("dmb sy" ::: "memory"); }

inline void instruction_barrier() { asm volatile("isb" ::: "memory"); }

// Keeps the compiler from deleting or merging loop iterations in benchmarks.
inline void compiler_barrier() { asm volatile("" ::: "memory"); }

inline void wait_for_interrupt() { asm volatile("wfi" ::: "memory"); }

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

}  // namespace guest::arch
