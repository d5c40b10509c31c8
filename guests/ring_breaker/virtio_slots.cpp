#include "virtio_slots.hpp"

#include <cstddef>
#include <optional>
#include <string_view>

#include "bootargs.hpp"

namespace ring_breaker {
namespace {

constexpr std::uint32_t kBeginNode = 1;
constexpr std::uint32_t kEndNode = 2;
constexpr std::uint32_t kProperty = 3;
constexpr std::uint32_t kNop = 4;
constexpr std::uint32_t kEnd = 9;

constexpr std::string_view kNodePrefix = "virtio_mmio@";

// Big-endian 32-bit load, byte by byte (MMU off: no unaligned accesses).
[[nodiscard]] std::uint32_t load_be32(const unsigned char* bytes) {
    return (std::uint32_t{bytes[0]} << 24) | (std::uint32_t{bytes[1]} << 16) | (std::uint32_t{bytes[2]} << 8) |
           std::uint32_t{bytes[3]};
}

[[nodiscard]] constexpr std::size_t round_up_to_4(std::size_t n) { return (n + 3) & ~std::size_t{3}; }

// The structure block, with every read bounds-checked.
class Structure final {
public:
    Structure(const unsigned char* base, std::size_t size) : base_{base}, size_{size} {}

    [[nodiscard]] std::optional<std::uint32_t> be32(std::size_t offset) const {
        if (offset > size_ || size_ - offset < 4) return std::nullopt;
        return load_be32(base_ + offset);
    }

    [[nodiscard]] std::optional<std::string_view> c_string(std::size_t offset) const {
        for (std::size_t end = offset; end < size_; ++end)
            if (base_[end] == 0) return std::string_view{reinterpret_cast<const char*>(base_ + offset), end - offset};
        return std::nullopt;
    }

private:
    const unsigned char* base_;
    std::size_t size_;
};

// The slot a node named virtio_mmio@<hex> stands for, if it is one.
[[nodiscard]] std::optional<std::uintptr_t> slot_base(std::string_view node_name) {
    if (!node_name.starts_with(kNodePrefix)) return std::nullopt;
    const auto address = guest::parse_hex(node_name.substr(kNodePrefix.size()));
    if (!address || *address < kVirtioBase) return std::nullopt;
    const std::uint64_t offset = *address - kVirtioBase;
    if (offset % kVirtioSlotSize != 0 || offset / kVirtioSlotSize >= kMaxVirtioSlots) return std::nullopt;
    return static_cast<std::uintptr_t>(*address);
}

}  // namespace

VirtioSlots find_virtio_slots(const unsigned char* blob) {
    VirtioSlots slots{};
    const Structure structure{blob + load_be32(blob + 8), load_be32(blob + 36)};
    std::size_t offset = 0;
    unsigned depth = 0;  // 1 inside the root node
    for (;;) {
        const auto token = structure.be32(offset);
        if (!token) return slots;
        offset += 4;
        switch (*token) {
            case kBeginNode: {
                const auto name = structure.c_string(offset);
                if (!name) return slots;
                offset += round_up_to_4(name->size() + 1);
                ++depth;
                const auto base = depth == 2 ? slot_base(*name) : std::nullopt;
                if (base && slots.count < kMaxVirtioSlots) slots.base[slots.count++] = *base;
                break;
            }
            case kProperty: {
                const auto length = structure.be32(offset);
                if (!length) return slots;
                offset += 8 + round_up_to_4(*length);
                break;
            }
            case kEndNode:
                if (depth == 0) return slots;
                --depth;
                break;
            case kNop: break;
            case kEnd:
            default: return slots;
        }
    }
}

}  // namespace ring_breaker
