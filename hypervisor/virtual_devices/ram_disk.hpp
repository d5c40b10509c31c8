// A disk kept in host memory: the sectors are a span of host bytes the owner
// allocated (frames from the frame allocator, or a test's buffer) and frees
// after the disk is gone. Nothing is volatile beyond that memory, so flush()
// has nothing to do. Optionally read-only (a seed image several VMs share).
//
// Not thread safe: the device model calls it under its transport's lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "core/result.hpp"
#include "virtual_devices/block_backend.hpp"

namespace lamina {

class RamDisk final : public BlockBackend {
public:
    RamDisk() = default;
    RamDisk(const RamDisk&) = delete;
    RamDisk& operator=(const RamDisk&) = delete;

    // Serves `storage` as the disk. Its size must be a multiple of
    // kSectorSize; on error the disk is left empty (zero sectors).
    [[nodiscard]] Status configure(std::span<std::byte> storage, bool read_only = false);

    // BlockBackend.
    [[nodiscard]] std::uint64_t sector_count() const override { return storage_.size() / kSectorSize; }
    [[nodiscard]] bool is_read_only() const override { return read_only_; }
    [[nodiscard]] Status read(std::uint64_t sector, std::span<std::byte> bytes) override;
    [[nodiscard]] Status write(std::uint64_t sector, std::span<const std::byte> bytes) override;
    [[nodiscard]] Status flush() override { return {}; }

private:
    // The bytes of `length` bytes from `sector`, or an error when that is not
    // whole sectors wholly inside the disk.
    [[nodiscard]] Result<std::span<std::byte>> sectors(std::uint64_t sector, std::size_t length) const;

    std::span<std::byte> storage_{};
    bool read_only_{false};
};

}  // namespace lamina
