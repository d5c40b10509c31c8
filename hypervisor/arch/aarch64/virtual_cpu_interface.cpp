#include "arch/aarch64/virtual_cpu_interface.hpp"

#include "arch/aarch64/sysreg.hpp"
#include "core/vcpu.hpp"
#include "core/guest_layout.hpp"
#include "core/vm.hpp"
#include "drivers/gicv3.hpp"

namespace lamina::arch::virtual_cpu_interface {
namespace {

// ICH_LR<n>_EL2 fields.
constexpr std::uint64_t kLrStatePending = std::uint64_t{1} << 62;
constexpr std::uint64_t kLrStateActive = std::uint64_t{1} << 63;
constexpr std::uint64_t kLrHardware = std::uint64_t{1} << 61;
constexpr std::uint64_t kLrGroup1 = std::uint64_t{1} << 60;
constexpr unsigned kLrPriorityShift = 48;
constexpr unsigned kLrPhysicalIdShift = 32;
// ICH_HCR_EL2 fields.
constexpr std::uint64_t kHcrEnable = 1u << 0;
constexpr std::uint64_t kHcrUnderflowInterrupt = 1u << 1;

unsigned g_list_register_count = 0;

std::uint64_t read_list_register(unsigned index) {
    std::uint64_t value = 0;
    switch (index) {
#define LAMINA_READ_LR(n) \
    case n: asm volatile("mrs %0, ich_lr" #n "_el2" : "=r"(value)); break;
        LAMINA_READ_LR(0) LAMINA_READ_LR(1) LAMINA_READ_LR(2) LAMINA_READ_LR(3)
        LAMINA_READ_LR(4) LAMINA_READ_LR(5) LAMINA_READ_LR(6) LAMINA_READ_LR(7)
        LAMINA_READ_LR(8) LAMINA_READ_LR(9) LAMINA_READ_LR(10) LAMINA_READ_LR(11)
        LAMINA_READ_LR(12) LAMINA_READ_LR(13) LAMINA_READ_LR(14) LAMINA_READ_LR(15)
#undef LAMINA_READ_LR
        default: break;
    }
    return value;
}

void write_list_register(unsigned index, std::uint64_t value) {
    switch (index) {
#define LAMINA_WRITE_LR(n) \
    case n: asm volatile("msr ich_lr" #n "_el2, %0" ::"r"(value)); break;
        LAMINA_WRITE_LR(0) LAMINA_WRITE_LR(1) LAMINA_WRITE_LR(2) LAMINA_WRITE_LR(3)
        LAMINA_WRITE_LR(4) LAMINA_WRITE_LR(5) LAMINA_WRITE_LR(6) LAMINA_WRITE_LR(7)
        LAMINA_WRITE_LR(8) LAMINA_WRITE_LR(9) LAMINA_WRITE_LR(10) LAMINA_WRITE_LR(11)
        LAMINA_WRITE_LR(12) LAMINA_WRITE_LR(13) LAMINA_WRITE_LR(14) LAMINA_WRITE_LR(15)
#undef LAMINA_WRITE_LR
        default: break;
    }
}

std::uint64_t encode(const ListRegisterEntry& entry) {
    std::uint64_t value = entry.interrupt_id | (static_cast<std::uint64_t>(entry.priority) << kLrPriorityShift);
    if (entry.group1) value |= kLrGroup1;
    if (entry.pending) value |= kLrStatePending;
    if (entry.active) value |= kLrStateActive;
    if (entry.hardware_id != 0) value |= kLrHardware | (static_cast<std::uint64_t>(entry.hardware_id) << kLrPhysicalIdShift);
    return value;
}

// The virtual timer's output, from its live registers: a level, which stops
// asserting as soon as the guest masks, disables or re-arms the timer.
void update_virtual_timer_line(Vcpu& vcpu, VirtualGic& gic) {
    constexpr std::uint64_t kEnable = 1u << 0;
    constexpr std::uint64_t kMask = 1u << 1;
    constexpr std::uint64_t kStatus = 1u << 2;
    const std::uint64_t control = sysreg::cntv_ctl_el0::read();
    const bool asserted = (control & (kEnable | kMask | kStatus)) == (kEnable | kStatus);
    gic.set_level_locked(guest_layout::kVirtualTimerInterruptId, asserted, vcpu.index);
}

// A timer interrupt that was acknowledged in hardware but will not reach the
// guest (its level dropped) must not stay active, or it never fires again.
void release_unused_timer_twin(Vcpu& vcpu, VirtualGic& gic) {
    if (!vcpu.timer_twin_active) return;
    const VirtualInterrupt* timer = gic.interrupt(guest_layout::kVirtualTimerInterruptId, vcpu.index);
    if (timer == nullptr || timer->in_list_register || timer->is_pending() || timer->active) return;
    drivers::interrupt_controller().set_private_active(vcpu.vm->virtual_timer_interrupt, false);
    vcpu.timer_twin_active = false;
}

// Returns every list register's interrupt to the virtual GIC. Caller holds its lock.
void evict_all(Vcpu& vcpu, VirtualGic& gic) {
    update_virtual_timer_line(vcpu, gic);
    for (unsigned index = 0; index < g_list_register_count; ++index) {
        if (((vcpu.used_list_registers >> index) & 1) == 0) continue;
        const std::uint64_t value = read_list_register(index);
        gic.sync_list_register(vcpu.index, static_cast<std::uint32_t>(value & 0xffff'ffff),
                               (value & kLrStatePending) != 0, (value & kLrStateActive) != 0);
        write_list_register(index, 0);
    }
    vcpu.used_list_registers = 0;
    release_unused_timer_twin(vcpu, gic);
}

// A hardware-linked interrupt's physical twin must be active while the guest
// handles it, so that the guest's deactivation ends both.
void hold_physical_twin(Vcpu& vcpu, const ListRegisterEntry& entry) {
    if (entry.hardware_id == 0 || entry.hardware_id >= 32) return;
    auto& gic = drivers::interrupt_controller();
    if (!gic.is_private_active(entry.hardware_id)) gic.set_private_active(entry.hardware_id, true);
    vcpu.timer_twin_active = true;
}

// Fills the list registers by priority. Caller holds the virtual GIC's lock.
void fill(Vcpu& vcpu, VirtualGic& gic) {
    unsigned index = 0;
    for (; index < g_list_register_count; ++index) {
        const auto entry = gic.next_for_list_register(vcpu.index);
        if (!entry) break;
        hold_physical_twin(vcpu, *entry);
        write_list_register(index, encode(*entry));
        gic.placed_in_list_register(vcpu.index, entry->interrupt_id, static_cast<std::uint8_t>(index));
        vcpu.used_list_registers |= static_cast<std::uint16_t>(1u << index);
    }
    // More waiting than fits: ask for a maintenance interrupt when the
    // guest has worked through the list registers.
    const bool overflow = index == g_list_register_count && gic.next_for_list_register(vcpu.index).has_value();
    sysreg::ich_hcr_el2::write(kHcrEnable | (overflow ? kHcrUnderflowInterrupt : 0));
}

}  // namespace

void init_this_cpu() {
    g_list_register_count = static_cast<unsigned>((sysreg::ich_vtr_el2::read() & 0x1f) + 1);
    for (unsigned index = 0; index < g_list_register_count; ++index) write_list_register(index, 0);
    sysreg::ich_hcr_el2::write(0);
}

void load(Vcpu& vcpu) {
    sysreg::ich_vmcr_el2::write(vcpu.context.gic.control);
    sysreg::ich_ap0r0_el2::write(vcpu.context.gic.group0_active_priorities);
    sysreg::ich_ap1r0_el2::write(vcpu.context.gic.group1_active_priorities);
    VirtualGic& gic = vcpu.vm->gic;
    const LockGuard guard{gic.lock()};
    vcpu.interrupts_changed.store(false, std::memory_order_relaxed);
    vcpu.list_registers_emptied = false;
    update_virtual_timer_line(vcpu, gic);
    fill(vcpu, gic);
}

void put(Vcpu& vcpu) {
    VirtualGic& gic = vcpu.vm->gic;
    {
        const LockGuard guard{gic.lock()};
        evict_all(vcpu, gic);
    }
    vcpu.context.gic.control = sysreg::ich_vmcr_el2::read();
    vcpu.context.gic.group0_active_priorities = sysreg::ich_ap0r0_el2::read();
    vcpu.context.gic.group1_active_priorities = sysreg::ich_ap1r0_el2::read();
    sysreg::ich_hcr_el2::write(0);
    // The virtual timer's physical twin belongs to this vCPU; free it for the next.
    const std::uint32_t timer = vcpu.vm->virtual_timer_interrupt;
    if (timer != 0 && drivers::interrupt_controller().is_private_active(timer))
        drivers::interrupt_controller().set_private_active(timer, false);
    vcpu.timer_twin_active = false;
}

void refresh(Vcpu& vcpu) {
    vcpu.list_registers_emptied = false;
    vcpu.interrupts_changed.store(false, std::memory_order_relaxed);
    VirtualGic& gic = vcpu.vm->gic;
    const LockGuard guard{gic.lock()};
    evict_all(vcpu, gic);
    fill(vcpu, gic);
}

void sync(Vcpu& vcpu) {
    VirtualGic& gic = vcpu.vm->gic;
    {
        const LockGuard guard{gic.lock()};
        evict_all(vcpu, gic);
    }
    // Refill on the way back into the guest.
    vcpu.list_registers_emptied = true;
}

}  // namespace lamina::arch::virtual_cpu_interface
