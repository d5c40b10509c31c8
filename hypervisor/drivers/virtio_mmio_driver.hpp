// Lamina as the driver of a board device behind a virtio-mmio transport,
// version 2 (modern, virtio 1.2 section 4.2): identification, the
// initialisation sequence (3.1.1), feature negotiation, queue setup with
// rings in frames of Lamina's memory, configuration space reads,
// notifications and interrupt acknowledgement. Device types build on it
// (virtio_net_uplink, virtio_block_disk).
//
// Legacy (version 1) transports are not driven: QEMU's are legacy unless it
// runs with -global virtio-mmio.force-legacy=false.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "arch/aarch64/dma.hpp"
#include "core/platform.hpp"
#include "core/result.hpp"
#include "core/types.hpp"
#include "drivers/virtio_driver_queue.hpp"
#include "virtual_devices/virtio_mmio_spec.hpp"

namespace lamina::drivers {

enum class VirtioDeviceId : std::uint32_t { none = 0, network = 1, block = 2, console = 3 };

// How a board device sees Lamina's memory: DMA barriers, and cache
// maintenance unless the device snoops the caches (DT "dma-coherent").
class DeviceDma final {
public:
    constexpr DeviceDma() = default;
    constexpr explicit DeviceDma(bool coherent) : coherent_{coherent} {}

    void write_barrier() const { arch::dma::write_barrier(); }
    void read_barrier() const { arch::dma::read_barrier(); }
    void full_barrier() const { arch::dma::full_barrier(); }
    void to_device(const std::byte* data, std::size_t size) const {
        if (!coherent_) arch::dma::clean_for_device(data, size);
    }
    void from_device(const std::byte* data, std::size_t size) const {
        if (!coherent_) arch::dma::invalidate_for_cpu(data, size);
    }
    [[nodiscard]] bool coherent() const { return coherent_; }

private:
    bool coherent_{false};
};

using DriverQueue = VirtioDriverQueue<DeviceDma>;

// Memory a device reaches by DMA: whole zeroed frames from the frame
// allocator, kept for good. Lamina is identity mapped and there is no
// IOMMU, so the device is given the physical address.
struct DmaRegion final {
    std::byte* data{nullptr};
    HostPhysAddr physical{};
    std::size_t size{0};

    [[nodiscard]] std::byte* at(std::size_t offset) const { return data + offset; }
    [[nodiscard]] std::uint64_t device_address(std::size_t offset = 0) const { return physical.value() + offset; }
};
[[nodiscard]] Result<DmaRegion> allocate_dma(std::size_t bytes, DeviceDma dma);

// What the identification registers of a slot say.
struct VirtioSlotIdentity final {
    std::uint32_t magic{0};
    std::uint32_t version{0};
    std::uint32_t device_id{0};
    std::uint32_t vendor_id{0};

    [[nodiscard]] bool is_virtio() const { return magic == kVirtioMmioMagic; }
};

class VirtioMmioDevice final {
public:
    constexpr VirtioMmioDevice() = default;
    explicit VirtioMmioDevice(const VirtioMmioSlot& slot) : slot_{slot}, dma_{slot.dma_coherent} {}

    // Reads the identification registers only; the device is left alone.
    [[nodiscard]] VirtioSlotIdentity identify() const;

    // Initialisation up to FEATURES_OK: reset, ACKNOWLEDGE, DRIVER, then
    // the features offered that are in `wanted`, plus VIRTIO_F_VERSION_1
    // (required) and the platform features. Returns the negotiated set.
    // On error the device is left FAILED.
    [[nodiscard]] Result<std::uint64_t> begin_init(std::uint64_t wanted);
    // Sets up queue `index` with at most `wanted_size` entries (fewer if
    // the device allows fewer) and its rings in fresh DMA memory.
    [[nodiscard]] Status setup_queue(std::uint32_t index, std::uint16_t wanted_size, DriverQueue& queue);
    // DRIVER_OK: the device is live.
    void finish_init();
    // FAILED: Lamina gives up on the device.
    void mark_failed();
    // Writes 0 to Status and waits (bounded) until the device reads back 0.
    [[nodiscard]] Status reset();

    [[nodiscard]] std::uint64_t features() const { return features_; }
    [[nodiscard]] bool has_feature(std::uint64_t bit) const { return (features_ & bit) != 0; }

    // Device-specific configuration space, each field read with its own
    // width (the 64-bit one as two 32-bit halves) and the whole read
    // repeated until ConfigGeneration shows it was consistent.
    [[nodiscard]] std::uint8_t config8(std::size_t offset) const;
    [[nodiscard]] std::uint16_t config16(std::size_t offset) const;
    [[nodiscard]] std::uint32_t config32(std::size_t offset) const;
    [[nodiscard]] std::uint64_t config64(std::size_t offset) const;
    void config_bytes(std::size_t offset, std::span<std::byte> bytes) const;

    // Tells the device that queue `index` has new buffers (after a barrier
    // that completes every earlier write to memory).
    void notify(std::uint32_t index) const;
    // Reads InterruptStatus and acknowledges the bits it shows.
    [[nodiscard]] std::uint32_t acknowledge_interrupt() const;

    [[nodiscard]] const VirtioMmioSlot& slot() const { return slot_; }
    [[nodiscard]] HostPhysAddr base() const { return slot_.registers.base; }
    [[nodiscard]] DeviceDma dma() const { return dma_; }

private:
    [[nodiscard]] std::uint32_t read(std::uint64_t offset) const;
    void write(std::uint64_t offset, std::uint32_t value) const;
    void add_status(std::uint32_t bits) const;
    [[nodiscard]] std::uint32_t generation() const;

    // Repeats `read` until ConfigGeneration is the same before and after
    // (a device that keeps changing its configuration still gets an answer).
    template <typename Read>
    auto read_consistently(Read read) const {
        constexpr int kAttempts = 64;
        for (int attempt = 1;; ++attempt) {
            const std::uint32_t before = generation();
            const auto value = read();
            if (generation() == before || attempt == kAttempts) return value;
        }
    }

    VirtioMmioSlot slot_{};
    DeviceDma dma_{};
    std::uint64_t features_{0};
};

}  // namespace lamina::drivers
