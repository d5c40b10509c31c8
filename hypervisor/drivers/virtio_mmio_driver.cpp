#include "drivers/virtio_mmio_driver.hpp"

#include <algorithm>

#include "arch/aarch64/platform_cpu.hpp"
#include "core/memory.hpp"
#include "core/spinlock.hpp"
#include "drivers/mmio.hpp"

namespace lamina::drivers {
namespace {

// Registers of a version 2 transport (virtio 1.2, 4.2.2).
constexpr std::uint64_t kMagicValue = 0x000;
constexpr std::uint64_t kVersion = 0x004;
constexpr std::uint64_t kDeviceId = 0x008;
constexpr std::uint64_t kVendorId = 0x00c;
constexpr std::uint64_t kDeviceFeatures = 0x010;
constexpr std::uint64_t kDeviceFeaturesSelect = 0x014;
constexpr std::uint64_t kDriverFeatures = 0x020;
constexpr std::uint64_t kDriverFeaturesSelect = 0x024;
constexpr std::uint64_t kQueueSelect = 0x030;
constexpr std::uint64_t kQueueSizeMax = 0x034;
constexpr std::uint64_t kQueueSize = 0x038;
constexpr std::uint64_t kQueueReady = 0x044;
constexpr std::uint64_t kQueueNotify = 0x050;
constexpr std::uint64_t kInterruptStatus = 0x060;
constexpr std::uint64_t kInterruptAcknowledge = 0x064;
constexpr std::uint64_t kStatus = 0x070;
constexpr std::uint64_t kQueueDescriptorLow = 0x080;
constexpr std::uint64_t kQueueDescriptorHigh = 0x084;
constexpr std::uint64_t kQueueDriverLow = 0x090;
constexpr std::uint64_t kQueueDriverHigh = 0x094;
constexpr std::uint64_t kQueueDeviceLow = 0x0a0;
constexpr std::uint64_t kQueueDeviceHigh = 0x0a4;
constexpr std::uint64_t kConfigGeneration = 0x0fc;
constexpr std::uint64_t kConfig = 0x100;

// Device status bits (virtio 1.2, 2.1).
constexpr std::uint32_t kStatusAcknowledge = 0x01;
constexpr std::uint32_t kStatusDriver = 0x02;
constexpr std::uint32_t kStatusDriverOk = 0x04;
constexpr std::uint32_t kStatusFeaturesOk = 0x08;
constexpr std::uint32_t kStatusFailed = 0x80;

// Transport features Lamina takes whenever they are offered: version 1
// (required), DMA through the platform's rules (no IOMMU here, so physical
// addresses) and the platform's memory ordering (Lamina's DMA barriers are
// already the outer-shareable ones).
constexpr std::uint64_t kTransportFeatures = kVirtioVersion1 | kVirtioAccessPlatform | kVirtioOrderPlatform;

constexpr std::uint64_t kResetTimeoutMs = 100;
[[nodiscard]] std::uint16_t largest_power_of_two_up_to(std::uint32_t limit) {
    std::uint32_t size = 1;
    while (size * 2 <= limit) size *= 2;
    return static_cast<std::uint16_t>(size);
}

}  // namespace

Result<DmaRegion> allocate_dma(std::size_t bytes, DeviceDma dma) {
    const std::size_t frames = align_up(bytes, kPageSize) / kPageSize;
    const auto base = frame_allocator().allocate(frames);
    if (!base) return Error{"out of memory for device buffers"};
    const DmaRegion region{reinterpret_cast<std::byte*>(base->value()), *base, frames * kPageSize};
    std::fill_n(region.data, region.size, std::byte{0});
    dma.to_device(region.data, region.size);
    return region;
}

std::uint32_t VirtioMmioDevice::read(std::uint64_t offset) const { return mmio_read32(base() + offset); }

void VirtioMmioDevice::write(std::uint64_t offset, std::uint32_t value) const { mmio_write32(base() + offset, value); }

void VirtioMmioDevice::add_status(std::uint32_t bits) const { write(kStatus, read(kStatus) | bits); }

VirtioSlotIdentity VirtioMmioDevice::identify() const {
    return VirtioSlotIdentity{read(kMagicValue), read(kVersion), read(kDeviceId), read(kVendorId)};
}

Status VirtioMmioDevice::reset() {
    write(kStatus, 0);
    const std::uint64_t deadline = arch::counter_now() + arch::counter_frequency() * kResetTimeoutMs / 1000;
    while (read(kStatus) != 0) {
        if (arch::counter_now() > deadline) return Error{"device did not finish its reset"};
        relax_while_spinning();
    }
    return {};
}

void VirtioMmioDevice::mark_failed() { add_status(kStatusFailed); }

Result<std::uint64_t> VirtioMmioDevice::begin_init(std::uint64_t wanted) {
    features_ = 0;
    if (const Status status = reset(); !status) return status.error();
    add_status(kStatusAcknowledge);
    add_status(kStatusDriver);

    write(kDeviceFeaturesSelect, 0);
    std::uint64_t offered = read(kDeviceFeatures);
    write(kDeviceFeaturesSelect, 1);
    offered |= std::uint64_t{read(kDeviceFeatures)} << 32;
    if ((offered & kVirtioVersion1) == 0) {
        mark_failed();
        return Error{"device does not offer VIRTIO_F_VERSION_1"};
    }
    const std::uint64_t chosen = offered & (wanted | kTransportFeatures);
    write(kDriverFeaturesSelect, 0);
    write(kDriverFeatures, static_cast<std::uint32_t>(chosen));
    write(kDriverFeaturesSelect, 1);
    write(kDriverFeatures, static_cast<std::uint32_t>(chosen >> 32));
    add_status(kStatusFeaturesOk);
    if ((read(kStatus) & kStatusFeaturesOk) == 0) {
        mark_failed();
        return Error{"device refused the features Lamina chose"};
    }
    features_ = chosen;
    return chosen;
}

Status VirtioMmioDevice::setup_queue(std::uint32_t index, std::uint16_t wanted_size, DriverQueue& queue) {
    write(kQueueSelect, index);
    if (read(kQueueReady) != 0) return Error{"virtqueue is already in use"};
    const std::uint32_t maximum = read(kQueueSizeMax);
    if (maximum == 0) return Error{"device has no such virtqueue"};
    const std::uint32_t limit = std::min<std::uint32_t>({maximum, wanted_size, kDriverQueueMaxSize});
    const std::uint16_t size = largest_power_of_two_up_to(limit);

    const auto memory = allocate_dma(DriverQueue::ring_bytes(size), dma_);
    if (!memory) return memory.error();
    if (const Status status = queue.init(size, {memory->data, memory->size}, memory->device_address(), dma_); !status)
        return status;

    write(kQueueSize, size);
    write(kQueueDescriptorLow, static_cast<std::uint32_t>(queue.descriptor_area()));
    write(kQueueDescriptorHigh, static_cast<std::uint32_t>(queue.descriptor_area() >> 32));
    write(kQueueDriverLow, static_cast<std::uint32_t>(queue.driver_area()));
    write(kQueueDriverHigh, static_cast<std::uint32_t>(queue.driver_area() >> 32));
    write(kQueueDeviceLow, static_cast<std::uint32_t>(queue.device_area()));
    write(kQueueDeviceHigh, static_cast<std::uint32_t>(queue.device_area() >> 32));
    arch::dma::before_doorbell();  // the zeroed rings are in memory before the device may look
    write(kQueueReady, 1);
    return {};
}

void VirtioMmioDevice::finish_init() {
    arch::dma::before_doorbell();  // buffers posted during setup are visible once the device is live
    add_status(kStatusDriverOk);
}

std::uint32_t VirtioMmioDevice::generation() const { return read(kConfigGeneration); }

std::uint8_t VirtioMmioDevice::config8(std::size_t offset) const { return mmio_read8(base() + kConfig + offset); }

std::uint16_t VirtioMmioDevice::config16(std::size_t offset) const { return mmio_read16(base() + kConfig + offset); }

std::uint32_t VirtioMmioDevice::config32(std::size_t offset) const { return read(kConfig + offset); }

std::uint64_t VirtioMmioDevice::config64(std::size_t offset) const {
    return read_consistently([&] {
        const std::uint64_t low = config32(offset);
        return low | std::uint64_t{config32(offset + 4)} << 32;
    });
}

void VirtioMmioDevice::config_bytes(std::size_t offset, std::span<std::byte> bytes) const {
    (void)read_consistently([&] {
        for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = std::byte{config8(offset + i)};
        return true;
    });
}

void VirtioMmioDevice::notify(std::uint32_t index) const {
    arch::dma::before_doorbell();
    write(kQueueNotify, index);
}

std::uint32_t VirtioMmioDevice::acknowledge_interrupt() const {
    const std::uint32_t status = read(kInterruptStatus);
    if (status != 0) write(kInterruptAcknowledge, status);
    arch::dma::read_barrier();  // what the device wrote before raising it, not older data
    return status;
}

}  // namespace lamina::drivers
