// One VM's disk carved out of the board's real disk: sectors [first, first +
// count) of the underlying backend appear as sectors [0, count). Every access
// is checked against the slice before it is forwarded, with arithmetic that
// cannot wrap, so a VM never reaches a sector outside its slice whatever
// numbers its driver sends. Writes are refused when the slice or the disk
// under it is read-only; flush() reaches the disk (its cache is shared, so a
// flush makes every slice's earlier writes stable, which is harmless).
//
// The slice itself keeps no state that changes after configure(); callers
// of the same underlying disk from several CPUs rely on that disk to
// serialise its own requests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "core/result.hpp"
#include "virtual_devices/block_backend.hpp"

namespace lamina {

class DiskSlice final : public BlockBackend {
public:
    DiskSlice() = default;
    DiskSlice(const DiskSlice&) = delete;
    DiskSlice& operator=(const DiskSlice&) = delete;

    // Exposes `sector_count` sectors of `disk` from `first_sector`. Errors
    // for an empty slice or one that does not lie wholly inside the disk; the
    // slice is then left unconfigured (no sectors, every access refused).
    [[nodiscard]] Status configure(BlockBackend& disk, std::uint64_t first_sector, std::uint64_t sector_count,
                                   bool read_only);

    [[nodiscard]] std::uint64_t first_sector() const { return first_sector_; }

    // BlockBackend.
    [[nodiscard]] std::uint64_t sector_count() const override { return sector_count_; }
    [[nodiscard]] bool is_read_only() const override;
    [[nodiscard]] Status read(std::uint64_t sector, std::span<std::byte> bytes) override;
    [[nodiscard]] Status write(std::uint64_t sector, std::span<const std::byte> bytes) override;
    [[nodiscard]] Status flush() override;

private:
    // The disk's sector for `sector` of the slice when `length` bytes from
    // there are whole sectors inside the slice; an error otherwise.
    [[nodiscard]] Result<std::uint64_t> disk_sector(std::uint64_t sector, std::size_t length) const;

    BlockBackend* disk_{nullptr};  // null until configured
    std::uint64_t first_sector_{0};
    std::uint64_t sector_count_{0};
    bool read_only_{false};
};

}  // namespace lamina
