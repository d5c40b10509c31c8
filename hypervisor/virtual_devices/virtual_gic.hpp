// A VM's virtual GICv3: the distributor and one redistributor per vCPU,
// emulated on trapped MMIO, plus the interrupt state machine that decides
// what each vCPU's list registers should hold. Architecture neutral: the
// port moves entries between this state and the hardware list registers
// (arch/aarch64/virtual_cpu_interface.cpp), so the rules here run unchanged
// in host unit tests.
//
// The VM sees affinity routing enabled and a single security state
// (GICD_CTLR.ARE and DS read as one), no LPIs, 16 SGIs, 16 PPIs and
// kSpiCount SPIs. Each interrupt is pending, active or both exactly as the
// GIC architecture describes; while a list register holds an interrupt,
// the list register is the truth and sync_list_register() brings it back.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "core/mmio_device.hpp"
#include "core/spinlock.hpp"

namespace lamina {

inline constexpr std::uint32_t kSgiCount = 16;
inline constexpr std::uint32_t kPrivateInterruptCount = 32;  // SGIs and PPIs, per vCPU
inline constexpr std::uint32_t kSpiCount = 96;                // INTIDs 32..127
inline constexpr std::uint32_t kInterruptIdLimit = kPrivateInterruptCount + kSpiCount;
inline constexpr std::uint32_t kVirtualGicMaxVcpus = 8;
inline constexpr std::uint64_t kDistributorSize = 64 * 1024;
inline constexpr std::uint64_t kRedistributorStride = 128 * 1024;  // RD_base + SGI_base frames
inline constexpr std::uint64_t kRedistributorSgiFrame = 64 * 1024;

struct VirtualInterrupt final {
    bool enabled{false};
    bool pending_latch{false};  // edge latch, or pending set by software (ISPENDR)
    bool line_level{false};     // input line of a level-sensitive interrupt
    bool active{false};
    bool level_sensitive{false};
    bool group1{false};
    bool in_list_register{false};
    // While in a list register: the state it entered with (what other vCPUs
    // read, as that list register lives on another CPU), whether a software
    // latch put it there, and whether ICPENDR asked for it back.
    bool listed_pending{false};
    bool listed_active{false};
    bool listed_from_latch{false};
    bool withdraw_pending{false};
    std::uint8_t priority{0};
    std::uint8_t list_register{0};      // valid while in_list_register
    std::uint8_t target_vcpu{0};        // SPIs: where the interrupt is routed
    std::uint32_t hardware_id{0};       // physical INTID it is linked to, 0 = none
    std::uint64_t route{0};             // GICD_IROUTER as written by the guest

    [[nodiscard]] bool is_pending() const { return pending_latch || (level_sensitive && line_level); }
};

// What a list register should hold for one interrupt.
struct ListRegisterEntry final {
    std::uint32_t interrupt_id;
    std::uint32_t hardware_id;  // 0: purely virtual
    std::uint8_t priority;
    bool group1;
    bool pending;
    bool active;
};

class VirtualGic final {
public:
    // Called when an interrupt becomes deliverable to a vCPU that may need
    // waking or an exit to pick it up.
    using Notify = void (*)(void* context, std::uint32_t vcpu_index);

    void reset(std::uint32_t vcpu_count, Notify notify, void* notify_context);

    // Trapped MMIO: offsets from the distributor base, and from the start of
    // the redistributor region (vCPU n's frames at n * kRedistributorStride).
    [[nodiscard]] bool distributor_access(MmioAccess& access);
    [[nodiscard]] bool redistributor_access(MmioAccess& access);

    // Interrupt sources. A level-sensitive interrupt is pending while its
    // line is high (or software latched it); the virtual timers are levels.
    void set_level(std::uint32_t interrupt_id, bool asserted, std::uint32_t vcpu_for_private = 0);
    // A hardware-linked level that fired again: the guest ended the previous
    // instance without Lamina seeing the line drop, so deliver it anew.
    void reassert_level(std::uint32_t interrupt_id, std::uint32_t vcpu_for_private = 0);
    // The same as set_level, for a caller that already holds lock().
    void set_level_locked(std::uint32_t interrupt_id, bool asserted, std::uint32_t vcpu_for_private = 0);
    void raise_edge(std::uint32_t interrupt_id, std::uint32_t vcpu_for_private = 0);
    // ICC_SGI1R_EL1 written by `sender`.
    void send_sgi(std::uint32_t sender, std::uint64_t sgi1r_value);
    // Ties a private interrupt to a physical one (deactivation by the guest
    // deactivates it in hardware): the virtual timer.
    void link_to_hardware(std::uint32_t interrupt_id, std::uint32_t hardware_id);

    // List-register bookkeeping, for the vCPU's own CPU.
    // The highest-priority interrupt that should enter a free list register.
    [[nodiscard]] std::optional<ListRegisterEntry> next_for_list_register(std::uint32_t vcpu);
    void placed_in_list_register(std::uint32_t vcpu, std::uint32_t interrupt_id, std::uint8_t list_register);
    // The guest changed a list register's state (pending, active, or done).
    void sync_list_register(std::uint32_t vcpu, std::uint32_t interrupt_id, bool pending, bool active);
    // A pending interrupt could be delivered to `vcpu` right now (WFI wake-up).
    [[nodiscard]] bool has_deliverable(std::uint32_t vcpu);

    // ISPENDR/ICPENDR/ISACTIVER/ICACTIVER, at `offset` in the distributor or
    // in a redistributor's SGI frame.
    [[nodiscard]] static constexpr bool is_pending_or_active_register(std::uint64_t offset) {
        return offset >= 0x200 && offset < 0x400;
    }

    [[nodiscard]] SpinLock& lock() { return lock_; }
    [[nodiscard]] std::uint32_t vcpu_count() const { return vcpu_count_; }
    [[nodiscard]] VirtualInterrupt* interrupt(std::uint32_t interrupt_id, std::uint32_t vcpu);

private:
    [[nodiscard]] bool deliverable(const VirtualInterrupt& irq) const;
    [[nodiscard]] bool read_identification(MmioAccess& access) const;
    // Candidates: per vCPU, one bit per INTID that may be deliverable there.
    // Set on every change that can make an interrupt deliverable, cleared
    // lazily by the scans, so those look only at a few interrupts.
    void mark_candidate(const VirtualInterrupt& irq, std::uint32_t vcpu);
    void mark_all_candidates();
    template <typename Visitor>
    void for_each_candidate(std::uint32_t vcpu, Visitor visit);
    void notify_if_deliverable(VirtualInterrupt& irq, std::uint32_t vcpu);
    [[nodiscard]] std::uint32_t owner_of(std::uint32_t interrupt_id, std::uint32_t vcpu_for_private) const;
    [[nodiscard]] bool bank_access(MmioAccess& access, std::uint64_t offset, std::uint32_t first_id, std::uint32_t vcpu);
    [[nodiscard]] bool bit_register_access(MmioAccess& access, std::uint32_t register_kind, std::uint32_t first_id,
                                           std::uint32_t vcpu);
    [[nodiscard]] bool priority_access(MmioAccess& access, std::uint32_t first_id, std::uint32_t vcpu);
    [[nodiscard]] bool config_access(MmioAccess& access, std::uint32_t first_id, std::uint32_t vcpu);
    [[nodiscard]] bool router_access(MmioAccess& access, std::uint32_t spi_index);
    [[nodiscard]] bool redistributor_frame_access(MmioAccess& access, std::uint32_t vcpu);
    void route_spi(VirtualInterrupt& irq, std::uint64_t route);

    std::array<std::array<VirtualInterrupt, kPrivateInterruptCount>, kVirtualGicMaxVcpus> private_{};
    std::array<VirtualInterrupt, kSpiCount> shared_{};
    std::array<bool, kVirtualGicMaxVcpus> redistributor_asleep_{};
    std::array<std::array<std::uint64_t, kInterruptIdLimit / 64>, kVirtualGicMaxVcpus> candidates_{};
    std::uint32_t vcpu_count_{0};
    bool group0_enabled_{false};
    bool group1_enabled_{false};
    Notify notify_{nullptr};
    void* notify_context_{nullptr};
    SpinLock lock_{};
};

}  // namespace lamina
