// Strong types shared by the whole hypervisor: addresses of the three address
// spaces Lamina deals with, and byte sizes. Mixing them up is a compile error.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>

namespace lamina {

inline constexpr std::uint64_t KiB = 1024;
inline constexpr std::uint64_t MiB = 1024 * KiB;
inline constexpr std::uint64_t GiB = 1024 * MiB;
inline constexpr std::uint64_t kPageSize = 4 * KiB;
inline constexpr unsigned kPageShift = 12;

[[nodiscard]] constexpr std::uint64_t align_down(std::uint64_t value, std::uint64_t alignment) {
    return value & ~(alignment - 1);
}
[[nodiscard]] constexpr std::uint64_t align_up(std::uint64_t value, std::uint64_t alignment) {
    return (value + alignment - 1) & ~(alignment - 1);
}
[[nodiscard]] constexpr bool is_aligned(std::uint64_t value, std::uint64_t alignment) {
    return (value & (alignment - 1)) == 0;
}

// An address in one address space. Arithmetic with plain byte offsets is
// allowed; arithmetic between two spaces is not.
template <typename Space>
class Address final {
public:
    constexpr Address() = default;
    constexpr explicit Address(std::uint64_t value) : value_{value} {}

    [[nodiscard]] constexpr std::uint64_t value() const { return value_; }
    [[nodiscard]] constexpr Address operator+(std::uint64_t offset) const { return Address{value_ + offset}; }
    [[nodiscard]] constexpr Address operator-(std::uint64_t offset) const { return Address{value_ - offset}; }
    [[nodiscard]] constexpr std::uint64_t operator-(Address other) const { return value_ - other.value_; }
    constexpr Address& operator+=(std::uint64_t offset) {
        value_ += offset;
        return *this;
    }
    [[nodiscard]] constexpr bool is_aligned(std::uint64_t alignment) const {
        return lamina::is_aligned(value_, alignment);
    }
    [[nodiscard]] constexpr auto operator<=>(const Address&) const = default;

private:
    std::uint64_t value_{0};
};

struct HostPhysSpace;
struct GuestPhysSpace;
struct HostVirtSpace;

using HostPhysAddr = Address<HostPhysSpace>;    // a real memory bus address
using GuestPhysAddr = Address<GuestPhysSpace>;  // what a guest believes is physical (an IPA)
using HostVirtAddr = Address<HostVirtSpace>;    // a pointer value inside Lamina

// A half-open range [base, base + size) in one address space.
template <typename Addr>
struct Range final {
    Addr base{};
    std::uint64_t size{0};

    [[nodiscard]] constexpr Addr end() const { return base + size; }
    [[nodiscard]] constexpr bool contains(Addr addr) const { return addr >= base && addr - base < size; }
    [[nodiscard]] constexpr bool contains(Range other) const {
        return other.base >= base && other.size <= size && other.base - base <= size - other.size;
    }
    [[nodiscard]] constexpr bool overlaps(Range other) const {
        return size != 0 && other.size != 0 && base < other.end() && other.base < end();
    }
};

using HostPhysRange = Range<HostPhysAddr>;
using GuestPhysRange = Range<GuestPhysAddr>;

}  // namespace lamina
