// The board's disk (a virtio-blk device behind virtio-mmio), driven by
// Lamina as a BlockBackend over the whole device; VMs get slices of it.
//
// Requests are synchronous and one at a time (a lock serialises them): a
// request is a chain of its 16-byte header, the data in a DMA bounce
// buffer, and the status byte; Lamina notifies the device and polls the
// used ring for the answer. Larger transfers are split into pieces of the
// bounce buffer's size (or less if the device limits segment sizes). A
// device that does not answer within kRequestTimeoutMs is marked failed and
// every later request fails at once, so a hung disk cannot hang every VM.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/platform.hpp"
#include "core/result.hpp"
#include "core/spinlock.hpp"
#include "drivers/virtio_mmio_driver.hpp"
#include "virtual_devices/block_backend.hpp"

namespace lamina::drivers {

class VirtioBlockDisk final : public BlockBackend {
public:
    static constexpr std::uint32_t kRequestQueue = 0;
    static constexpr std::size_t kBounceBytes = 64 * KiB;
    static constexpr std::uint64_t kRequestTimeoutMs = 2000;

    VirtioBlockDisk() = default;
    VirtioBlockDisk(const VirtioBlockDisk&) = delete;
    VirtioBlockDisk& operator=(const VirtioBlockDisk&) = delete;

    // Takes over the block device in `slot`. On error the device is left
    // FAILED and this object unusable.
    [[nodiscard]] Status start(const VirtioMmioSlot& slot);

    // BlockBackend (sectors of kSectorSize bytes from the start of the device).
    [[nodiscard]] std::uint64_t sector_count() const override { return sector_count_; }
    [[nodiscard]] bool is_read_only() const override { return read_only_; }
    [[nodiscard]] Status read(std::uint64_t sector, std::span<std::byte> bytes) override;
    [[nodiscard]] Status write(std::uint64_t sector, std::span<const std::byte> bytes) override;
    // A flush request when the device has a write cache to flush
    // (VIRTIO_BLK_F_FLUSH); otherwise it writes through and this succeeds.
    [[nodiscard]] Status flush() override;

    [[nodiscard]] bool is_started() const { return started_; }
    [[nodiscard]] bool has_failed() const { return failed_.load(std::memory_order_relaxed); }
    [[nodiscard]] bool has_flush() const { return has_flush_; }
    // The device's preferred I/O unit in bytes (VIRTIO_BLK_F_BLK_SIZE), else 512.
    [[nodiscard]] std::uint32_t block_size() const { return block_size_; }
    [[nodiscard]] HostPhysAddr base() const { return device_.base(); }

private:
    enum class RequestType : std::uint32_t { read = 0, write = 1, flush = 4 };

    [[nodiscard]] Status check_range(std::uint64_t sector, std::size_t bytes) const;
    // One request of `length` bytes of the bounce buffer (0 for a flush).
    [[nodiscard]] Status submit(RequestType type, std::uint64_t sector, std::size_t length);
    [[nodiscard]] Status wait_for_completion(std::uint64_t token);
    [[nodiscard]] Error fail(Error error);

    VirtioMmioDevice device_{};
    SpinLock lock_;  // one request at a time
    DriverQueue queue_{};
    DmaRegion request_{};  // the header, and the status byte on a cache line of its own
    DmaRegion bounce_{};
    std::size_t max_transfer_{kBounceBytes};
    std::uint64_t sector_count_{0};
    std::uint32_t block_size_{static_cast<std::uint32_t>(kSectorSize)};
    std::uint64_t next_token_{0};
    bool read_only_{false};
    bool has_flush_{false};
    bool started_{false};
    std::atomic<bool> failed_{false};
};

}  // namespace lamina::drivers
