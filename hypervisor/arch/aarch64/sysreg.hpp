// Typed accessors for the AArch64 system registers Lamina uses. Each register
// is stamped out by one line below instead of inline assembly at every use.
#pragma once

#include <cstdint>

namespace lamina::arch {

#define LAMINA_SYSTEM_REGISTER(name)                                          \
    struct name final {                                                       \
        [[nodiscard]] static std::uint64_t read() {                           \
            std::uint64_t value;                                              \
            asm volatile("mrs %0, " #name : "=r"(value));                     \
            return value;                                                     \
        }                                                                     \
        static void write(std::uint64_t value) { asm volatile("msr " #name ", %0" ::"r"(value) : "memory"); } \
    }

namespace sysreg {
// EL2 control and translation.
LAMINA_SYSTEM_REGISTER(sctlr_el2);
LAMINA_SYSTEM_REGISTER(hcr_el2);
LAMINA_SYSTEM_REGISTER(tcr_el2);
LAMINA_SYSTEM_REGISTER(mair_el2);
LAMINA_SYSTEM_REGISTER(ttbr0_el2);
LAMINA_SYSTEM_REGISTER(vbar_el2);
LAMINA_SYSTEM_REGISTER(tpidr_el2);
LAMINA_SYSTEM_REGISTER(vtcr_el2);
LAMINA_SYSTEM_REGISTER(vttbr_el2);
LAMINA_SYSTEM_REGISTER(vmpidr_el2);
LAMINA_SYSTEM_REGISTER(vpidr_el2);
LAMINA_SYSTEM_REGISTER(cptr_el2);
LAMINA_SYSTEM_REGISTER(mdcr_el2);
LAMINA_SYSTEM_REGISTER(pmcr_el0);
LAMINA_SYSTEM_REGISTER(esr_el2);
LAMINA_SYSTEM_REGISTER(far_el2);
LAMINA_SYSTEM_REGISTER(hpfar_el2);
LAMINA_SYSTEM_REGISTER(elr_el2);
LAMINA_SYSTEM_REGISTER(spsr_el2);
// Timers and counters.
LAMINA_SYSTEM_REGISTER(cntfrq_el0);
LAMINA_SYSTEM_REGISTER(cntpct_el0);
LAMINA_SYSTEM_REGISTER(cnthctl_el2);
LAMINA_SYSTEM_REGISTER(cntvoff_el2);
LAMINA_SYSTEM_REGISTER(cnthp_ctl_el2);
LAMINA_SYSTEM_REGISTER(cnthp_cval_el2);
LAMINA_SYSTEM_REGISTER(cntv_ctl_el0);
LAMINA_SYSTEM_REGISTER(cntv_cval_el0);
LAMINA_SYSTEM_REGISTER(cntkctl_el1);
// Identification.
LAMINA_SYSTEM_REGISTER(midr_el1);
LAMINA_SYSTEM_REGISTER(mpidr_el1);
LAMINA_SYSTEM_REGISTER(id_aa64isar0_el1);
LAMINA_SYSTEM_REGISTER(id_aa64mmfr0_el1);
LAMINA_SYSTEM_REGISTER(id_aa64mmfr1_el1);
LAMINA_SYSTEM_REGISTER(dczid_el0);
LAMINA_SYSTEM_REGISTER(ctr_el0);
// EL1 state that belongs to the vCPU and is switched with it.
LAMINA_SYSTEM_REGISTER(sctlr_el1);
LAMINA_SYSTEM_REGISTER(ttbr0_el1);
LAMINA_SYSTEM_REGISTER(ttbr1_el1);
LAMINA_SYSTEM_REGISTER(tcr_el1);
LAMINA_SYSTEM_REGISTER(mair_el1);
LAMINA_SYSTEM_REGISTER(amair_el1);
LAMINA_SYSTEM_REGISTER(vbar_el1);
LAMINA_SYSTEM_REGISTER(contextidr_el1);
LAMINA_SYSTEM_REGISTER(tpidr_el0);
LAMINA_SYSTEM_REGISTER(tpidrro_el0);
LAMINA_SYSTEM_REGISTER(tpidr_el1);
LAMINA_SYSTEM_REGISTER(sp_el0);
LAMINA_SYSTEM_REGISTER(sp_el1);
LAMINA_SYSTEM_REGISTER(elr_el1);
LAMINA_SYSTEM_REGISTER(spsr_el1);
LAMINA_SYSTEM_REGISTER(esr_el1);
LAMINA_SYSTEM_REGISTER(far_el1);
LAMINA_SYSTEM_REGISTER(afsr0_el1);
LAMINA_SYSTEM_REGISTER(afsr1_el1);
LAMINA_SYSTEM_REGISTER(par_el1);
LAMINA_SYSTEM_REGISTER(cpacr_el1);
LAMINA_SYSTEM_REGISTER(csselr_el1);
LAMINA_SYSTEM_REGISTER(mdscr_el1);
// GICv3 CPU interface (physical, as seen from EL2).
LAMINA_SYSTEM_REGISTER(icc_sre_el2);
LAMINA_SYSTEM_REGISTER(icc_pmr_el1);
LAMINA_SYSTEM_REGISTER(icc_bpr1_el1);
LAMINA_SYSTEM_REGISTER(icc_ctlr_el1);
LAMINA_SYSTEM_REGISTER(icc_igrpen1_el1);
LAMINA_SYSTEM_REGISTER(icc_iar1_el1);
LAMINA_SYSTEM_REGISTER(icc_eoir1_el1);
LAMINA_SYSTEM_REGISTER(icc_dir_el1);
LAMINA_SYSTEM_REGISTER(icc_sgi1r_el1);
LAMINA_SYSTEM_REGISTER(ich_hcr_el2);
LAMINA_SYSTEM_REGISTER(ich_vmcr_el2);
LAMINA_SYSTEM_REGISTER(ich_vtr_el2);
LAMINA_SYSTEM_REGISTER(ich_elrsr_el2);
LAMINA_SYSTEM_REGISTER(ich_misr_el2);
LAMINA_SYSTEM_REGISTER(ich_ap0r0_el2);
LAMINA_SYSTEM_REGISTER(ich_ap1r0_el2);
}  // namespace sysreg

#undef LAMINA_SYSTEM_REGISTER

inline void instruction_barrier() { asm volatile("isb" ::: "memory"); }
inline void data_sync_barrier() { asm volatile("dsb sy" ::: "memory"); }
inline void data_sync_barrier_inner_shareable() { asm volatile("dsb ish" ::: "memory"); }
inline void data_memory_barrier_inner_shareable() { asm volatile("dmb ish" ::: "memory"); }
inline void wait_for_interrupt() { asm volatile("wfi" ::: "memory"); }
inline void cpu_relax() { asm volatile("yield" ::: "memory"); }

// Exception syndrome (ESR_EL2) exception classes Lamina handles.
enum class ExceptionClass : std::uint8_t {
    unknown = 0x00,
    wfi_wfe = 0x01,
    fp_simd_access = 0x07,
    hvc64 = 0x16,
    smc64 = 0x17,
    system_register = 0x18,
    instruction_abort_lower = 0x20,
    instruction_abort_same = 0x21,
    pc_alignment = 0x22,
    data_abort_lower = 0x24,
    data_abort_same = 0x25,
    sp_alignment = 0x26,
    serror = 0x2f,
    breakpoint_lower = 0x30,
    brk64 = 0x3c,
};

[[nodiscard]] constexpr ExceptionClass exception_class(std::uint64_t esr) {
    return static_cast<ExceptionClass>((esr >> 26) & 0x3f);
}
[[nodiscard]] constexpr std::uint32_t syndrome(std::uint64_t esr) { return static_cast<std::uint32_t>(esr & 0x1ffffff); }

}  // namespace lamina::arch
