#include "arch/aarch64/vcpu_context.hpp"

#include "arch/aarch64/sysreg.hpp"

extern "C" {
void save_fp_simd(lamina::arch::FpSimdRegisters* registers);
void load_fp_simd(const lamina::arch::FpSimdRegisters* registers);
}

namespace lamina::arch {
namespace {

// SCTLR_EL1 as after reset with the MMU and caches off (RES1 bits only).
constexpr std::uint64_t kSctlrEl1Reset = 0x30d0'0800;
// CNTV_CTL_EL0 bits.
constexpr std::uint64_t kTimerEnable = 1u << 0;
constexpr std::uint64_t kTimerMask = 1u << 1;
// MPIDR bit 31 is RES1; Aff0 numbers the vCPU.
constexpr std::uint64_t kMpidrRes1 = 1u << 31;

}  // namespace

static_assert(offsetof(FpSimdRegisters, fpsr) == 512, "fp_simd.S layout");

void reset_vcpu_context(VcpuContext& context, std::uint64_t entry, std::uint64_t argument, std::uint32_t vcpu_index) {
    context = VcpuContext{};
    context.registers.x[0] = argument;
    context.registers.pc = entry;
    context.registers.pstate = kGuestResetPstate;
    context.el1.sctlr = kSctlrEl1Reset;
    context.virtual_mpidr = kMpidrRes1 | vcpu_index;
}

void save_vcpu_context(VcpuContext& context) {
    El1SystemRegisters& el1 = context.el1;
    el1.sctlr = sysreg::sctlr_el1::read();
    el1.ttbr0 = sysreg::ttbr0_el1::read();
    el1.ttbr1 = sysreg::ttbr1_el1::read();
    el1.tcr = sysreg::tcr_el1::read();
    el1.mair = sysreg::mair_el1::read();
    el1.amair = sysreg::amair_el1::read();
    el1.vbar = sysreg::vbar_el1::read();
    el1.contextidr = sysreg::contextidr_el1::read();
    el1.tpidr_el0 = sysreg::tpidr_el0::read();
    el1.tpidrro_el0 = sysreg::tpidrro_el0::read();
    el1.tpidr_el1 = sysreg::tpidr_el1::read();
    el1.sp_el0 = sysreg::sp_el0::read();
    el1.sp_el1 = sysreg::sp_el1::read();
    el1.elr = sysreg::elr_el1::read();
    el1.spsr = sysreg::spsr_el1::read();
    el1.esr = sysreg::esr_el1::read();
    el1.far = sysreg::far_el1::read();
    el1.afsr0 = sysreg::afsr0_el1::read();
    el1.afsr1 = sysreg::afsr1_el1::read();
    el1.par = sysreg::par_el1::read();
    el1.cpacr = sysreg::cpacr_el1::read();
    el1.csselr = sysreg::csselr_el1::read();
    el1.mdscr = sysreg::mdscr_el1::read();
    el1.cntkctl = sysreg::cntkctl_el1::read();
    context.timer.control = sysreg::cntv_ctl_el0::read();
    context.timer.compare = sysreg::cntv_cval_el0::read();
    // Stop the timer so it cannot fire for a vCPU that is not loaded.
    sysreg::cntv_ctl_el0::write(0);
    save_fp_simd(&context.fp);
}

void load_vcpu_context(const VcpuContext& context) {
    const El1SystemRegisters& el1 = context.el1;
    sysreg::sctlr_el1::write(el1.sctlr);
    sysreg::ttbr0_el1::write(el1.ttbr0);
    sysreg::ttbr1_el1::write(el1.ttbr1);
    sysreg::tcr_el1::write(el1.tcr);
    sysreg::mair_el1::write(el1.mair);
    sysreg::amair_el1::write(el1.amair);
    sysreg::vbar_el1::write(el1.vbar);
    sysreg::contextidr_el1::write(el1.contextidr);
    sysreg::tpidr_el0::write(el1.tpidr_el0);
    sysreg::tpidrro_el0::write(el1.tpidrro_el0);
    sysreg::tpidr_el1::write(el1.tpidr_el1);
    sysreg::sp_el0::write(el1.sp_el0);
    sysreg::sp_el1::write(el1.sp_el1);
    sysreg::elr_el1::write(el1.elr);
    sysreg::spsr_el1::write(el1.spsr);
    sysreg::esr_el1::write(el1.esr);
    sysreg::far_el1::write(el1.far);
    sysreg::afsr0_el1::write(el1.afsr0);
    sysreg::afsr1_el1::write(el1.afsr1);
    sysreg::par_el1::write(el1.par);
    sysreg::cpacr_el1::write(el1.cpacr);
    sysreg::csselr_el1::write(el1.csselr);
    sysreg::mdscr_el1::write(el1.mdscr);
    sysreg::cntkctl_el1::write(el1.cntkctl);
    sysreg::cntv_cval_el0::write(context.timer.compare);
    sysreg::cntv_ctl_el0::write(context.timer.control);
    sysreg::vmpidr_el2::write(context.virtual_mpidr);
    load_fp_simd(&context.fp);
    instruction_barrier();
}

std::optional<std::uint64_t> virtual_timer_deadline(const VirtualTimerRegisters& timer) {
    // A masked timer asserts nothing: it is no reason to wake.
    if ((timer.control & kTimerEnable) == 0 || (timer.control & kTimerMask) != 0) return std::nullopt;
    return timer.compare;
}

}  // namespace lamina::arch
