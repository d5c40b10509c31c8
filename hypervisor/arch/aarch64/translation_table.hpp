// VMSAv8-64 translation tables with the 4 KiB granule, shared by Lamina's own
// EL2 stage-1 tables and the VMs' stage-2 tables (only the leaf attribute
// bits and the geometry differ). Table memory is a template parameter, so the
// same code runs against fake memory in the host unit tests.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <optional>

#include "core/result.hpp"
#include "core/types.hpp"

namespace lamina::arch {

// Supplies zeroed, page-aligned table pages and access to them.
template <typename T>
concept TableMemory = requires(T memory, HostPhysAddr table) {
    { memory.allocate_table() } -> std::same_as<std::optional<HostPhysAddr>>;
    { memory.table_entries(table) } -> std::same_as<std::uint64_t*>;
    { memory.free_table(table) } -> std::same_as<void>;
};

// Which input address bits a table translates and at which level it starts.
struct TableGeometry final {
    unsigned start_level;  // 0..2
    unsigned input_bits;   // the input address size, e.g. 48 or 39
};

// Attribute bits of a leaf (block or page) descriptor, lower and upper parts.
struct LeafAttributes final {
    std::uint64_t bits{0};
};

inline constexpr unsigned kEntriesPerTable = 512;
inline constexpr unsigned kLastLevel = 3;

[[nodiscard]] constexpr unsigned level_shift(unsigned level) { return kPageShift + 9 * (kLastLevel - level); }
[[nodiscard]] constexpr std::uint64_t level_block_size(unsigned level) { return std::uint64_t{1} << level_shift(level); }

static_assert(level_block_size(3) == 4 * KiB);
static_assert(level_block_size(2) == 2 * MiB);
static_assert(level_block_size(1) == 1 * GiB);
static_assert(level_shift(0) == 39);

namespace descriptor {
inline constexpr std::uint64_t kValid = 1u << 0;
inline constexpr std::uint64_t kTableOrPage = 1u << 1;  // at level 3 this marks a page
inline constexpr std::uint64_t kAddressMask = 0x0000'ffff'ffff'f000ull;
inline constexpr std::uint64_t kAttributeMask = ~kAddressMask & ~std::uint64_t{3};
}  // namespace descriptor

struct Translation final {
    HostPhysAddr output;
    LeafAttributes attributes;
};

template <TableMemory Memory>
class TranslationTable final {
public:
    constexpr TranslationTable(Memory& memory, TableGeometry geometry) : memory_{memory}, geometry_{geometry} {}

    [[nodiscard]] Status create() {
        if (root_) return Error{"translation table already created"};
        root_ = memory_.allocate_table();
        if (!root_) return Error{"out of memory for a translation table"};
        return {};
    }

    [[nodiscard]] std::optional<HostPhysAddr> root() const { return root_; }

    // Maps [input, input + size) to [output, output + size), using the largest
    // blocks that alignment allows. An existing mapping in the way is an error:
    // replacing live entries would need break-before-make.
    [[nodiscard]] Status map(std::uint64_t input, HostPhysAddr output, std::uint64_t size, LeafAttributes attributes) {
        if (!root_) return Error{"translation table not created"};
        if (!is_aligned(input, kPageSize) || !output.is_aligned(kPageSize) || !is_aligned(size, kPageSize) || size == 0)
            return Error{"mapping is not page aligned"};
        if (!input_fits(input, size)) return Error{"mapping exceeds the input address size"};
        // Outputs are 48-bit; compare without wrapping (output + size may pass 2^64).
        constexpr std::uint64_t output_limit = descriptor::kAddressMask + kPageSize;
        if (output.value() >= output_limit || size > output_limit - output.value())
            return Error{"output address too large"};
        while (size != 0) {
            const unsigned level = leaf_level_for(input, output, size);
            if (const Status status = map_leaf(input, output, level, attributes); !status) return status;
            const std::uint64_t step = level_block_size(level);
            input += step;
            output += step;
            size -= step;
        }
        return {};
    }

    // Removes leaves covering [input, input + size). Blocks must be removed
    // whole. Returns an error if the range splits a block.
    [[nodiscard]] Status unmap(std::uint64_t input, std::uint64_t size) {
        if (!root_) return Error{"translation table not created"};
        if (!is_aligned(input, kPageSize) || !is_aligned(size, kPageSize)) return Error{"unmap is not page aligned"};
        if (!input_fits(input, size)) return Error{"unmap exceeds the input address size"};
        while (size != 0) {
            const auto leaf = find_leaf(input);
            if (!leaf) {
                input += kPageSize;
                size -= kPageSize;
                continue;
            }
            const std::uint64_t block = level_block_size(leaf->level);
            if (!is_aligned(input, block) || size < block) return Error{"unmap would split a block"};
            *leaf->entry = 0;
            input += block;
            size -= block;
        }
        return {};
    }

    [[nodiscard]] std::optional<Translation> translate(std::uint64_t input) const {
        if (!root_ || !input_fits(input, 1)) return std::nullopt;
        const auto leaf = find_leaf(input);
        if (!leaf) return std::nullopt;
        const std::uint64_t offset = input & (level_block_size(leaf->level) - 1);
        const std::uint64_t entry = *leaf->entry;
        return Translation{HostPhysAddr{(entry & descriptor::kAddressMask) + offset},
                           LeafAttributes{entry & descriptor::kAttributeMask}};
    }

    // Frees every table page (not the memory the leaves point at).
    void destroy() {
        if (!root_) return;
        free_level(*root_, geometry_.start_level);
        root_.reset();
    }

private:
    struct Leaf final {
        std::uint64_t* entry;
        unsigned level;
    };

    [[nodiscard]] bool input_fits(std::uint64_t input, std::uint64_t size) const {
        const std::uint64_t limit = std::uint64_t{1} << geometry_.input_bits;
        return input < limit && size <= limit - input;
    }

    [[nodiscard]] unsigned index_at(std::uint64_t input, unsigned level) const {
        return static_cast<unsigned>((input >> level_shift(level)) & (kEntriesPerTable - 1));
    }

    // Levels 1 and 2 may hold blocks; prefer the largest that fits.
    [[nodiscard]] unsigned leaf_level_for(std::uint64_t input, HostPhysAddr output, std::uint64_t size) const {
        for (unsigned level = std::max(1u, geometry_.start_level); level < kLastLevel; ++level) {
            const std::uint64_t block = level_block_size(level);
            if (is_aligned(input, block) && output.is_aligned(block) && size >= block) return level;
        }
        return kLastLevel;
    }

    [[nodiscard]] Status map_leaf(std::uint64_t input, HostPhysAddr output, unsigned leaf_level, LeafAttributes attributes) {
        HostPhysAddr table = *root_;
        for (unsigned level = geometry_.start_level; level < leaf_level; ++level) {
            std::uint64_t& entry = memory_.table_entries(table)[index_at(input, level)];
            if ((entry & descriptor::kValid) == 0) {
                const auto next = memory_.allocate_table();
                if (!next) return Error{"out of memory for a translation table"};
                entry = next->value() | descriptor::kValid | descriptor::kTableOrPage;
            } else if ((entry & descriptor::kTableOrPage) == 0) {
                return Error{"range is already mapped by a block"};
            }
            table = HostPhysAddr{entry & descriptor::kAddressMask};
        }
        std::uint64_t& leaf = memory_.table_entries(table)[index_at(input, leaf_level)];
        if ((leaf & descriptor::kValid) != 0) return Error{"range is already mapped"};
        const std::uint64_t type = leaf_level == kLastLevel ? descriptor::kTableOrPage : 0;
        leaf = output.value() | (attributes.bits & descriptor::kAttributeMask) | type | descriptor::kValid;
        return {};
    }

    [[nodiscard]] std::optional<Leaf> find_leaf(std::uint64_t input) const {
        HostPhysAddr table = *root_;
        for (unsigned level = geometry_.start_level;; ++level) {
            std::uint64_t& entry = memory_.table_entries(table)[index_at(input, level)];
            if ((entry & descriptor::kValid) == 0) return std::nullopt;
            const bool is_table = level < kLastLevel && (entry & descriptor::kTableOrPage) != 0;
            if (!is_table) return Leaf{&entry, level};
            table = HostPhysAddr{entry & descriptor::kAddressMask};
        }
    }

    void free_level(HostPhysAddr table, unsigned level) {
        if (level < kLastLevel) {
            std::uint64_t* entries = memory_.table_entries(table);
            for (unsigned i = 0; i < kEntriesPerTable; ++i) {
                const std::uint64_t entry = entries[i];
                if ((entry & descriptor::kValid) != 0 && (entry & descriptor::kTableOrPage) != 0)
                    free_level(HostPhysAddr{entry & descriptor::kAddressMask}, level + 1);
            }
        }
        memory_.free_table(table);
    }

    Memory& memory_;
    TableGeometry geometry_;
    std::optional<HostPhysAddr> root_{};
};

// Leaf attributes of Lamina's own EL2 stage-1 mappings (MAIR_EL2 indices are
// set up in mmu.cpp to match).
namespace el2_attributes {
inline constexpr std::uint64_t kNormalIndex = 0u << 2;
inline constexpr std::uint64_t kDeviceIndex = 1u << 2;
inline constexpr std::uint64_t kAp1Res1 = 1u << 6;  // AP[1] is RES1 in the EL2 regime
inline constexpr std::uint64_t kReadOnly = 1u << 7;
inline constexpr std::uint64_t kInnerShareable = 3u << 8;
inline constexpr std::uint64_t kAccessFlag = 1u << 10;
inline constexpr std::uint64_t kExecuteNever = std::uint64_t{1} << 54;

inline constexpr LeafAttributes kCode{kNormalIndex | kAp1Res1 | kReadOnly | kInnerShareable | kAccessFlag};
inline constexpr LeafAttributes kReadOnlyData{kNormalIndex | kAp1Res1 | kReadOnly | kInnerShareable | kAccessFlag |
                                              kExecuteNever};
inline constexpr LeafAttributes kData{kNormalIndex | kAp1Res1 | kInnerShareable | kAccessFlag | kExecuteNever};
inline constexpr LeafAttributes kDevice{kDeviceIndex | kAp1Res1 | kAccessFlag | kExecuteNever};
}  // namespace el2_attributes

// Leaf attributes of stage-2 mappings (guest physical -> host physical).
namespace stage2_attributes {
inline constexpr std::uint64_t kMemoryNormalWriteBack = 0xfu << 2;  // MemAttr: outer and inner WB
inline constexpr std::uint64_t kMemoryDevice = 0x1u << 2;           // MemAttr: Device-nGnRE
inline constexpr std::uint64_t kReadWrite = 3u << 6;                // S2AP
inline constexpr std::uint64_t kReadOnly = 1u << 6;
inline constexpr std::uint64_t kInnerShareable = 3u << 8;
inline constexpr std::uint64_t kAccessFlag = 1u << 10;
inline constexpr std::uint64_t kExecuteNever = std::uint64_t{2} << 53;  // XN[1:0] = 0b10

inline constexpr LeafAttributes kGuestRam{kMemoryNormalWriteBack | kReadWrite | kInnerShareable | kAccessFlag};
inline constexpr LeafAttributes kGuestDevice{kMemoryDevice | kReadWrite | kAccessFlag | kExecuteNever};
}  // namespace stage2_attributes

// Stage-2 geometry: 39-bit guest physical addresses, walk starts at level 1.
inline constexpr TableGeometry kStage2Geometry{1, 39};
// Lamina's EL2 stage 1: 48-bit virtual addresses, walk starts at level 0.
inline constexpr TableGeometry kEl2Geometry{0, 48};

}  // namespace lamina::arch
