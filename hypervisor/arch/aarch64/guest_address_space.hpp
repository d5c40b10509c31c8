// A VM's stage-2 address space: guest physical -> host physical, tagged with
// the VM's VMID so its TLB entries never serve another VM.
#pragma once

#include <cstdint>
#include <optional>

#include "arch/aarch64/translation_table.hpp"
#include "core/frame_allocator.hpp"
#include "core/result.hpp"
#include "core/types.hpp"

namespace lamina::arch {

// Stage-2 table pages come from the frame allocator.
class FrameTableMemory final {
public:
    void use(FrameAllocator& frames) { frames_ = &frames; }
    std::optional<HostPhysAddr> allocate_table();
    std::uint64_t* table_entries(HostPhysAddr table) { return reinterpret_cast<std::uint64_t*>(table.value()); }
    void free_table(HostPhysAddr table);

private:
    FrameAllocator* frames_{nullptr};
};

enum class GuestMappingKind { ram, device };

class GuestAddressSpace final {
public:
    GuestAddressSpace() = default;
    GuestAddressSpace(const GuestAddressSpace&) = delete;
    GuestAddressSpace& operator=(const GuestAddressSpace&) = delete;

    // Takes a VMID and a root table (from `frames`, as all later tables).
    [[nodiscard]] Status create(FrameAllocator& frames);
    [[nodiscard]] Status map(GuestPhysRange range, HostPhysAddr host, GuestMappingKind kind);
    // Removes whole blocks or pages and every TLB entry (both stages) that
    // could still reach them, on all CPUs: afterwards the frames may be reused.
    [[nodiscard]] Status unmap(GuestPhysRange range);
    [[nodiscard]] std::optional<HostPhysAddr> translate(GuestPhysAddr address) const;
    // Frees the tables and the VMID after removing the VM's TLB entries everywhere.
    void destroy();

    [[nodiscard]] std::uint64_t translation_base() const;  // VTTBR_EL2 value
    [[nodiscard]] std::uint16_t vmid() const { return vmid_; }

private:
    FrameTableMemory memory_{};
    // Engaged by create(): an empty slot stays all-zero (bss, not data).
    std::optional<TranslationTable<FrameTableMemory>> table_{};
    std::uint16_t vmid_{0};
};

// VTCR_EL2 for every VM (same geometry for all), from the CPU's PA size.
[[nodiscard]] std::uint64_t stage2_control_value();
[[nodiscard]] std::size_t free_vmid_count();

}  // namespace lamina::arch
