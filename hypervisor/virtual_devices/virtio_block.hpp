// A virtio block device (device id 2, virtio 1.2 section 5.2) over a
// BlockBackend: a RAM disk, or the VM's slice of the board's disk. One
// request queue; requests are served synchronously when the driver notifies,
// copied between guest memory and the backend through a bounded bounce
// buffer, so any request size costs a fixed amount of Lamina's memory.
//
// A request is a descriptor chain: a 16-byte header the device reads (type,
// reserved, sector), the data (device-readable for a write, device-writable
// for a read), then one status byte the device writes. A request that breaks
// the rules (short header, data not whole sectors, sectors beyond the disk,
// a write to a read-only disk) or that the backend fails completes with
// VIRTIO_BLK_S_IOERR; unknown types with VIRTIO_BLK_S_UNSUPP. Either way the
// device goes on: only a corrupt ring (found by the Virtqueue) stops it.
//
// Offered: SEG_MAX, BLK_SIZE (512), FLUSH, and RO for a read-only backend.
// A driver that does not take FLUSH believes there is no write cache, so
// then every write is flushed to the backend before it completes.
//
// The device owns its transport: map transport() as the VM's MMIO device.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "core/guest_memory.hpp"
#include "virtual_devices/block_backend.hpp"
#include "virtual_devices/virtio_mmio.hpp"
#include "virtual_devices/virtqueue.hpp"

namespace lamina {

// What a VM's disk has done, for statistics. Requests count once, when they
// complete: successful ones by type, the rest under `errors`.
struct VirtioBlockStatistics final {
    std::uint64_t read_requests{0};
    std::uint64_t write_requests{0};
    std::uint64_t bytes_read{0};     // from the disk into the guest
    std::uint64_t bytes_written{0};  // from the guest onto the disk
    std::uint64_t flushes{0};
    std::uint64_t errors{0};         // completed with IOERR or UNSUPP, or with no status byte
};

class VirtioBlock final : public VirtioDeviceModel {
public:
    static constexpr std::uint32_t kDeviceId = 2;
    static constexpr std::uint32_t kRequestQueue = 0;
    static constexpr std::uint16_t kQueueSize = 128;
    // Data buffers per request: whatever a chain holds beside the header and
    // the status, and small enough that a chain fits the queue without
    // indirect descriptors.
    static constexpr std::uint32_t kMaxDataSegments = kQueueSize - 2;
    static constexpr std::size_t kBounceBufferSize = 16 * 1024;  // whole sectors
    static constexpr std::size_t kSerialLength = 20;             // VIRTIO_BLK_ID_BYTES

    // Feature bits (virtio 1.2, 5.2.3).
    static constexpr std::uint64_t kFeatureSegMax = std::uint64_t{1} << 2;
    static constexpr std::uint64_t kFeatureReadOnly = std::uint64_t{1} << 5;
    static constexpr std::uint64_t kFeatureBlockSize = std::uint64_t{1} << 6;
    static constexpr std::uint64_t kFeatureFlush = std::uint64_t{1} << 9;

    // Request types and status values (5.2.6).
    static constexpr std::uint32_t kRequestIn = 0;
    static constexpr std::uint32_t kRequestOut = 1;
    static constexpr std::uint32_t kRequestFlush = 4;
    static constexpr std::uint32_t kRequestGetId = 8;
    static constexpr std::uint8_t kStatusOk = 0;
    static constexpr std::uint8_t kStatusIoError = 1;
    static constexpr std::uint8_t kStatusUnsupported = 2;

    VirtioBlock() = default;
    VirtioBlock(const VirtioBlock&) = delete;
    VirtioBlock& operator=(const VirtioBlock&) = delete;

    // Before the guest runs; resets the device and its statistics. `serial`
    // (e.g. the disk's name) is what GET_ID returns, cut to 20 bytes.
    void connect(GuestMemory& memory, VirtioTransportHooks hooks, BlockBackend& backend, std::string_view serial);
    // Resets the device and lets go of the backend: no request reaches it
    // after this returns. Safe on a device that was never connected.
    void disconnect();
    [[nodiscard]] VirtioMmioTransport& transport() { return transport_; }
    // A consistent copy of the counters, taken under the device's lock (so
    // not from inside the transport's hooks, which run with it held).
    [[nodiscard]] VirtioBlockStatistics statistics();

    // VirtioDeviceModel.
    [[nodiscard]] std::uint32_t device_id() const override { return kDeviceId; }
    [[nodiscard]] std::uint64_t device_features() const override;
    [[nodiscard]] std::uint32_t queue_count() const override { return 1; }
    [[nodiscard]] std::uint16_t queue_max_size(std::uint32_t /*queue*/) const override { return kQueueSize; }
    [[nodiscard]] std::size_t config_size() const override { return kConfigSize; }
    void read_config(std::size_t offset, std::span<std::byte> bytes) override;
    void write_config(std::size_t offset, std::span<const std::byte> bytes) override;
    void on_notify(std::uint32_t queue) override;
    void reset() override {}  // no device state beyond the transport's

private:
    // struct virtio_blk_config up to and including blk_size: capacity,
    // size_max, seg_max, geometry, blk_size. The fields after it belong to
    // features that are not offered.
    static constexpr std::size_t kConfigSize = 24;
    static constexpr std::size_t kHeaderSize = 16;  // struct virtio_blk_outhdr

    // How a request ended: its status, and how many data bytes the device
    // wrote at the start of the writable part.
    struct Outcome final {
        std::uint8_t status{kStatusIoError};
        std::uint64_t data_written{0};
    };

    [[nodiscard]] std::array<std::byte, kConfigSize> config() const;
    void serve_requests();
    [[nodiscard]] std::uint32_t serve(const DescriptorChain& chain);
    [[nodiscard]] Outcome execute(const DescriptorChain& chain);
    [[nodiscard]] Outcome read_sectors(const DescriptorChain& chain, std::uint64_t sector);
    [[nodiscard]] Outcome write_sectors(const DescriptorChain& chain, std::uint64_t sector);
    [[nodiscard]] Status copy_to_disk(const DescriptorChain& chain, std::uint64_t sector, std::uint64_t length);
    [[nodiscard]] Outcome flush();
    [[nodiscard]] Outcome get_id(const DescriptorChain& chain);
    [[nodiscard]] bool is_inside_disk(std::uint64_t sector, std::uint64_t length) const;

    VirtioMmioTransport transport_{*this};
    BlockBackend* backend_{nullptr};  // null while disconnected
    std::array<char, kSerialLength> serial_{};
    VirtioBlockStatistics statistics_{};
    DescriptorChain chain_{};  // scratch for pop(): too big for the stack
    std::array<std::byte, kBounceBufferSize> bounce_{};
};

}  // namespace lamina
