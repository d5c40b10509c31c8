#include "arch/aarch64/guest_address_space.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include "arch/aarch64/sysreg.hpp"
#include "core/spinlock.hpp"

namespace lamina::arch {
namespace {

// 8-bit VMIDs; VMID 0 stays unused so that "no VM" never matches a guest.
class VmidPool final {
public:
    std::optional<std::uint16_t> allocate() {
        const LockGuard guard{lock_};
        for (std::uint16_t id = 1; id < kCount; ++id) {
            if (!used_[id]) {
                used_[id] = true;
                return id;
            }
        }
        return std::nullopt;
    }
    void release(std::uint16_t id) {
        const LockGuard guard{lock_};
        used_[id] = false;
    }
    std::size_t free_count() {
        const LockGuard guard{lock_};
        std::size_t count = 0;
        for (std::uint16_t id = 1; id < kCount; ++id) count += used_[id] ? 0 : 1;
        return count;
    }

private:
    static constexpr std::uint16_t kCount = 256;
    std::array<bool, kCount> used_{};
    SpinLock lock_;
};

constinit VmidPool g_vmids;

void invalidate_stage2_tlb(std::uint64_t vttbr) {
    // TLBI by VMID acts on the VMID currently in VTTBR_EL2: borrow it briefly.
    const std::uint64_t previous = sysreg::vttbr_el2::read();
    sysreg::vttbr_el2::write(vttbr);
    instruction_barrier();
    asm volatile("dsb ishst\n tlbi vmalls12e1is\n dsb ish" ::: "memory");
    sysreg::vttbr_el2::write(previous);
    instruction_barrier();
}

}  // namespace

std::optional<HostPhysAddr> FrameTableMemory::allocate_table() {
    const auto frame = frames_->allocate();
    if (frame) std::memset(reinterpret_cast<void*>(frame->value()), 0, kPageSize);
    return frame;
}

void FrameTableMemory::free_table(HostPhysAddr table) { (void)frames_->free(table); }

Status GuestAddressSpace::create(FrameAllocator& frames) {
    memory_.use(frames);
    const auto vmid = g_vmids.allocate();
    if (!vmid) return Error{"no free VMID"};
    table_.emplace(memory_, kStage2Geometry);
    if (const Status status = table_->create(); !status) {
        table_.reset();
        g_vmids.release(*vmid);
        return status;
    }
    vmid_ = *vmid;
    return {};
}

Status GuestAddressSpace::map(GuestPhysRange range, HostPhysAddr host, GuestMappingKind kind) {
    const LeafAttributes attributes =
        kind == GuestMappingKind::ram ? stage2_attributes::kGuestRam : stage2_attributes::kGuestDevice;
    if (!table_) return Error{"guest address space not created"};
    const Status status = table_->map(range.base.value(), host, range.size, attributes);
    // Table walkers on other CPUs must see the new entries.
    asm volatile("dsb ishst" ::: "memory");
    return status;
}

Status GuestAddressSpace::unmap(GuestPhysRange range) {
    if (!table_) return Error{"guest address space not created"};
    const Status status = table_->unmap(range.base.value(), range.size);
    // Break: the cleared entries are visible to walkers before the TLBs
    // are invalidated (the invalidation's own DSB ISH completes it).
    asm volatile("dsb ishst" ::: "memory");
    invalidate_stage2_tlb(translation_base());
    return status;
}

std::optional<HostPhysAddr> GuestAddressSpace::translate(GuestPhysAddr address) const {
    if (!table_) return std::nullopt;
    const auto translation = table_->translate(address.value());
    if (!translation) return std::nullopt;
    return translation->output;
}

std::uint64_t GuestAddressSpace::translation_base() const {
    const auto root = table_ ? table_->root() : std::nullopt;
    return (static_cast<std::uint64_t>(vmid_) << 48) | (root ? root->value() : 0);
}

void GuestAddressSpace::destroy() {
    if (vmid_ == 0) return;
    invalidate_stage2_tlb(translation_base());
    table_->destroy();
    table_.reset();
    g_vmids.release(vmid_);
    vmid_ = 0;
}

std::uint64_t stage2_control_value() {
    // 39-bit IPA (T0SZ 25) starting at level 1 (SL0 = 1), 4K granule,
    // inner-shareable write-back walks, output size = the CPU's PA size.
    const std::uint64_t parange = std::min<std::uint64_t>(sysreg::id_aa64mmfr0_el1::read() & 0xf, 5);
    return 25 | (1u << 6) | (1u << 8) | (1u << 10) | (3u << 12) | (parange << 16) | (1ull << 31);
}

std::size_t free_vmid_count() { return g_vmids.free_count(); }

}  // namespace lamina::arch
