// How emulated devices reach a VM's RAM: a narrow interface that hands out
// host views of guest-physical ranges only when they are wholly guest RAM,
// plus bounds-checked little-endian helpers built on it. Everything a device
// reads from or writes to guest memory goes through here, so a guest that
// names an address outside its RAM gets an error, never a stray access.
//
// Backing: guest RAM is a list of extents of host frames. Extents begin and
// end on 4 KiB boundaries (stage 2 maps whole pages), so a range that stays
// inside one 4 KiB page is either contiguous RAM or not RAM at all. span()
// refuses a range that crosses from one extent into another; read_bytes(),
// write_bytes() and is_ram() split such a range where the extents meet and
// handle it, and read<T>()/write<T>() do too when T is not naturally aligned.
//
// Concurrency: the guest may change its memory while a device looks at it.
// read<T>() of a naturally aligned T is one load (never torn: ring indices
// rely on it); read_bytes() is a snapshot copy. Decide on the copy, never
// read guest memory twice for one decision.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <type_traits>

#include "core/result.hpp"
#include "core/types.hpp"

namespace lamina {

// Guest-visible structures (virtio rings, device registers) are little
// endian, like Lamina's own data accesses (SCTLR_EL2.EE = 0).
static_assert(std::endian::native == std::endian::little, "guest memory helpers assume a little-endian host");

class GuestMemory {
public:
    // A host view of [address, address + length) when all of it is guest RAM
    // backed contiguously in host memory; nullopt when any byte is not RAM or
    // the range crosses a backing-extent boundary (see above). Views stay
    // valid while the VM exists. `length` is at least 1.
    [[nodiscard]] virtual std::optional<std::span<std::byte>> span(GuestPhysAddr address, std::size_t length) = 0;

    // Whether every byte of [address, address + length) is guest RAM. An
    // empty range is RAM; a range that wraps past 2^64 is not.
    [[nodiscard]] bool is_ram(GuestPhysAddr address, std::uint64_t length) {
        return visit_ram(address, length, [](std::span<std::byte>, std::uint64_t) {});
    }

    // Copies guest RAM at `source` into `destination`, or nothing (error)
    // when the range is not all RAM.
    [[nodiscard]] Status read_bytes(GuestPhysAddr source, std::span<std::byte> destination) {
        if (!is_ram(source, destination.size())) return Error{"guest read outside RAM"};
        (void)visit_ram(source, destination.size(), [&](std::span<std::byte> view, std::uint64_t done) {
            std::copy_n(view.data(), view.size(), destination.data() + done);
        });
        return {};
    }

    // Copies `source` into guest RAM at `destination`, or nothing (error)
    // when the range is not all RAM.
    [[nodiscard]] Status write_bytes(GuestPhysAddr destination, std::span<const std::byte> source) {
        if (!is_ram(destination, source.size())) return Error{"guest write outside RAM"};
        (void)visit_ram(destination, source.size(), [&](std::span<std::byte> view, std::uint64_t done) {
            std::copy_n(source.data() + done, view.size(), view.data());
        });
        return {};
    }

    // A little-endian unsigned integer at `address`, or nullopt if any of
    // its bytes is not RAM.
    template <typename T>
    [[nodiscard]] std::optional<T> read(GuestPhysAddr address) {
        static_assert(std::is_unsigned_v<T>);
        if (const auto view = naturally_aligned_view<T>(address)) {
            return *reinterpret_cast<const volatile T*>(view->data());
        }
        std::array<std::byte, sizeof(T)> bytes{};
        if (!read_bytes(address, bytes)) return std::nullopt;
        return std::bit_cast<T>(bytes);
    }

    // Stores a little-endian unsigned integer at `address`; false (and
    // nothing written) if any of its bytes is not RAM.
    template <typename T>
    [[nodiscard]] bool write(GuestPhysAddr address, T value) {
        static_assert(std::is_unsigned_v<T>);
        if (const auto view = naturally_aligned_view<T>(address)) {
            *reinterpret_cast<volatile T*>(view->data()) = value;
            return true;
        }
        const auto bytes = std::bit_cast<std::array<std::byte, sizeof(T)>>(value);
        return write_bytes(address, bytes).ok();
    }

protected:
    ~GuestMemory() = default;

private:
    // A view for a single-access load or store: the guest address and the
    // host pointer are both aligned to sizeof(T) (so it cannot cross a page).
    template <typename T>
    [[nodiscard]] std::optional<std::span<std::byte>> naturally_aligned_view(GuestPhysAddr address) {
        if (!address.is_aligned(sizeof(T))) return std::nullopt;
        const auto view = span(address, sizeof(T));
        if (!view || !is_aligned(reinterpret_cast<std::uintptr_t>(view->data()), alignof(T))) return std::nullopt;
        return view;
    }

    // Calls visit(view, offset_in_range) for host views covering the range in
    // order, as few as possible. False at the first part that is not RAM
    // (earlier parts were already visited: callers that write check first).
    template <typename Visit>
    [[nodiscard]] bool visit_ram(GuestPhysAddr address, std::uint64_t length, Visit&& visit) {
        if (length == 0) return true;
        if (address.value() > ~std::uint64_t{0} - (length - 1)) return false;  // wraps past 2^64
        for (std::uint64_t done = 0; done < length;) {
            const auto piece = longest_ram_prefix(address + done, length - done);
            if (!piece) return false;
            visit(*piece, done);
            done += piece->size();
        }
        return true;
    }

    // The longest contiguous RAM view at the start of [address, address +
    // length): the whole range, or up to the page boundary where a backing
    // extent ends. Binary search over page counts, so a huge range costs a
    // few lookups per extent boundary rather than one per page. nullopt when
    // the first byte's page is not RAM.
    [[nodiscard]] std::optional<std::span<std::byte>> longest_ram_prefix(GuestPhysAddr address, std::uint64_t length) {
        if (auto whole = span(address, length)) return whole;
        const std::uint64_t first = std::min(length, kPageSize - (address.value() & (kPageSize - 1)));
        auto best = span(address, first);  // one page: RAM or not, never split
        if (!best) return std::nullopt;
        const auto prefix = [&](std::uint64_t pages) { return std::min(length, first + pages * kPageSize); };
        std::uint64_t good_pages = 0;                                        // prefix(0) is RAM
        std::uint64_t bad_pages = (length - first + kPageSize - 1) / kPageSize;  // prefix(bad) == length is not
        while (bad_pages - good_pages > 1) {
            const std::uint64_t middle = good_pages + (bad_pages - good_pages) / 2;
            if (auto view = span(address, prefix(middle))) {
                best = view;
                good_pages = middle;
            } else {
                bad_pages = middle;
            }
        }
        return best;
    }
};

}  // namespace lamina
