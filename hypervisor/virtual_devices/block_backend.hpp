// Where a virtual disk's sectors live: a slice of the board's real disk, or
// RAM. The virtio-blk model only speaks to this interface; offsets are in
// 512-byte sectors relative to the start of the VM's disk, and the backend
// refuses anything outside it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "core/result.hpp"

namespace lamina {

inline constexpr std::uint64_t kSectorSize = 512;

class BlockBackend {
public:
    [[nodiscard]] virtual std::uint64_t sector_count() const = 0;
    [[nodiscard]] virtual bool is_read_only() const = 0;
    // `bytes.size()` is a multiple of kSectorSize. Errors for a range that
    // does not lie wholly inside the disk, or an I/O failure below.
    [[nodiscard]] virtual Status read(std::uint64_t sector, std::span<std::byte> bytes) = 0;
    [[nodiscard]] virtual Status write(std::uint64_t sector, std::span<const std::byte> bytes) = 0;
    // Everything written so far is on stable storage when this returns ok.
    [[nodiscard]] virtual Status flush() = 0;

protected:
    ~BlockBackend() = default;
};

}  // namespace lamina
