// Where each 2 MiB chunk of a VM's RAM lives in host memory, and which of
// its 4 KiB pages the guest has put in its balloon. Chunks are the unit
// Lamina backs, maps at stage 2 and takes back: a chunk whose 512 pages are
// all in the balloon goes back to the frame pool whole, so a VM created
// afterwards gets the 2 MiB blocks it is built from.
//
// Plain bookkeeping over two caller-provided arrays (in frames Lamina
// allocates per VM), so the host unit tests cover it.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "core/types.hpp"

namespace lamina {

class GuestRamMap final {
public:
    static constexpr std::uint64_t kChunkSize = 2 * MiB;
    static constexpr std::uint64_t kPagesPerChunk = kChunkSize / kPageSize;
    static constexpr std::uint64_t kBitmapWordsPerChunk = kPagesPerChunk / 64;

    // 64-bit words needed: one per chunk, then the balloon bitmap.
    [[nodiscard]] static constexpr std::size_t words_for(std::uint64_t ram_size) {
        const std::size_t chunks = ram_size / kChunkSize;
        return chunks + chunks * kBitmapWordsPerChunk;
    }

    // `words` (words_for(ram.size) of them, zeroed) hold the state. No
    // chunk is backed yet. `ram` is chunk aligned.
    void attach(GuestPhysRange ram, std::span<std::uint64_t> words) {
        ram_ = ram;
        const std::size_t chunks = ram.size / kChunkSize;
        chunks_ = words.first(chunks);
        balloon_bits_ = words.subspan(chunks, chunks * kBitmapWordsPerChunk);
    }
    void detach() { *this = GuestRamMap{}; }

    [[nodiscard]] std::size_t chunk_count() const { return chunks_.size(); }
    [[nodiscard]] std::optional<std::size_t> chunk_of(GuestPhysAddr address) const {
        if (!ram_.contains(address)) return std::nullopt;
        return (address - ram_.base) / kChunkSize;
    }
    [[nodiscard]] GuestPhysAddr chunk_base(std::size_t chunk) const { return ram_.base + chunk * kChunkSize; }

    void back(std::size_t chunk, HostPhysAddr host) { chunks_[chunk] = host.value() | kBacked; }
    void unback(std::size_t chunk) { chunks_[chunk] = 0; }
    [[nodiscard]] std::optional<HostPhysAddr> chunk_host(std::size_t chunk) const {
        if ((chunks_[chunk] & kBacked) == 0) return std::nullopt;
        return HostPhysAddr{chunks_[chunk] & ~kBacked};
    }

    [[nodiscard]] std::optional<HostPhysAddr> host_address(GuestPhysAddr address) const {
        const auto chunk = chunk_of(address);
        if (!chunk) return std::nullopt;
        const auto host = chunk_host(*chunk);
        if (!host) return std::nullopt;
        return *host + (address - chunk_base(*chunk));
    }

    // Bytes from `address` (at most `limit`) that are backed by one
    // contiguous run of host memory: adjacent chunks count when their
    // frames are adjacent too. 0 when `address` is not backed.
    [[nodiscard]] std::uint64_t contiguous_bytes(GuestPhysAddr address, std::uint64_t limit) const {
        const auto first = chunk_of(address);
        if (!first || !chunk_host(*first)) return 0;
        std::uint64_t run = chunk_base(*first) + kChunkSize - address;
        for (std::size_t chunk = *first + 1; run < limit && chunk < chunk_count(); ++chunk) {
            const auto host = chunk_host(chunk);
            if (!host || *host != *chunk_host(chunk - 1) + kChunkSize) break;
            run += kChunkSize;
        }
        return std::min(run, limit);
    }

    // --- the balloon -------------------------------------------------------
    // Marks the page at `page` as in the balloon; false if it already was.
    [[nodiscard]] bool add_to_balloon(GuestPhysAddr page) { return flip(page, true); }
    // False if it was not in the balloon.
    [[nodiscard]] bool remove_from_balloon(GuestPhysAddr page) { return flip(page, false); }
    [[nodiscard]] bool chunk_fully_ballooned(std::size_t chunk) const {
        for (std::size_t word = 0; word < kBitmapWordsPerChunk; ++word)
            if (balloon_bits_[chunk * kBitmapWordsPerChunk + word] != ~std::uint64_t{0}) return false;
        return true;
    }
    void empty_balloon() { std::fill(balloon_bits_.begin(), balloon_bits_.end(), 0); }

private:
    static constexpr std::uint64_t kBacked = 1;  // chunk hosts are 2 MiB aligned: bit 0 is free

    [[nodiscard]] bool flip(GuestPhysAddr page, bool into_balloon) {
        if (!ram_.contains(page) || !page.is_aligned(kPageSize)) return false;
        const std::uint64_t index = (page - ram_.base) / kPageSize;
        std::uint64_t& word = balloon_bits_[index / 64];
        const std::uint64_t bit = std::uint64_t{1} << (index % 64);
        if (((word & bit) != 0) == into_balloon) return false;
        word ^= bit;
        return true;
    }

    GuestPhysRange ram_{};
    std::span<std::uint64_t> chunks_{};
    std::span<std::uint64_t> balloon_bits_{};
};

}  // namespace lamina
