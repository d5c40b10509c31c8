// Guest RAM for host tests and the fuzzer: extents of fake RAM in one host
// buffer, each extent surrounded by guard bytes. Extents that touch in guest
// space are apart in host memory, so span() refuses ranges that cross them,
// as Lamina's extents of host frames do. guards_intact() shows whether code
// under test ever wrote outside guest RAM.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <vector>

#include "core/guest_memory.hpp"

namespace lamina::testing {

class FakeGuestMemory final : public GuestMemory {
public:
    static constexpr std::byte kGuard{0xa5};
    static constexpr std::size_t kGuardBytes = 4096;

    struct Extent final {
        std::uint64_t guest;  // page aligned
        std::size_t size;     // a multiple of the page size
    };

    explicit FakeGuestMemory(std::vector<Extent> extents) {
        std::size_t offset = kGuardBytes;
        for (const Extent& extent : extents) {
            placed_.push_back(Placed{extent, offset});
            offset += extent.size + kGuardBytes;
        }
        // Page-aligned extents in host memory too, like host frames.
        storage_.assign(offset + kPageSize, kGuard);
        const auto address = reinterpret_cast<std::uintptr_t>(storage_.data());
        base_ = storage_.data() + (align_up(address, kPageSize) - address);
        for (const Placed& placed : placed_) std::fill_n(base_ + placed.offset, placed.extent.size, std::byte{0});
    }

    std::optional<std::span<std::byte>> span(GuestPhysAddr address, std::size_t length) override {
        ++span_calls;
        const Placed* placed = find(address.value(), length);
        if (placed == nullptr) return std::nullopt;
        return std::span<std::byte>{base_ + placed->offset + (address.value() - placed->extent.guest), length};
    }

    // Direct access for the test's "driver": null unless [address, +length) is in one extent.
    [[nodiscard]] std::byte* host(std::uint64_t address, std::size_t length = 1) {
        const Placed* placed = find(address, length);
        return placed == nullptr ? nullptr : base_ + placed->offset + (address - placed->extent.guest);
    }

    template <typename T>
    void poke(std::uint64_t address, T value) {
        std::byte* where = host(address, sizeof(T));
        if (where != nullptr) std::memcpy(where, &value, sizeof(T));
    }
    template <typename T>
    [[nodiscard]] T peek(std::uint64_t address) {
        T value{};
        const std::byte* where = host(address, sizeof(T));
        if (where != nullptr) std::memcpy(&value, where, sizeof(T));
        return value;
    }

    // Every byte outside the extents still holds the guard pattern.
    [[nodiscard]] bool guards_intact() const {
        std::size_t position = 0;
        const std::size_t base_offset = static_cast<std::size_t>(base_ - storage_.data());
        for (const Placed& placed : placed_) {
            const std::size_t start = base_offset + placed.offset;
            if (!all_guard(position, start)) return false;
            position = start + placed.extent.size;
        }
        return all_guard(position, storage_.size());
    }

    std::size_t span_calls{0};

private:
    struct Placed final {
        Extent extent;
        std::size_t offset;  // from base_
    };

    [[nodiscard]] const Placed* find(std::uint64_t address, std::size_t length) const {
        for (const Placed& placed : placed_) {
            const std::uint64_t begin = placed.extent.guest;
            if (address >= begin && address - begin <= placed.extent.size &&
                length <= placed.extent.size - (address - begin) && (length != 0 || address - begin < placed.extent.size))
                return &placed;
        }
        return nullptr;
    }

    [[nodiscard]] bool all_guard(std::size_t from, std::size_t to) const {
        return std::all_of(storage_.begin() + static_cast<std::ptrdiff_t>(from),
                           storage_.begin() + static_cast<std::ptrdiff_t>(to),
                           [](std::byte b) { return b == kGuard; });
    }

    std::vector<Placed> placed_;
    std::vector<std::byte> storage_;
    std::byte* base_{nullptr};
};

}  // namespace lamina::testing
