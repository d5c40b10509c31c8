#include "drivers/virtio_mmio_driver.hpp"

#include <algorithm>

#include "arch/aarch64/platform_cpu.hpp"
#include "core/memory.hpp"
#include "core/spinlock.hpp"
#include "drivers/mmio.hpp"

namespace lamina::drivers {
namespace {

using namespace virtio_mmio_register;

// Transport features Lamina takes whenever they are offered: version 1
// (required), DMA through the platform's rules (no IOMMU here, so physical
// addresses) and the platform's memory ordering (Lamina's DMA barriers are
// already the outer-shareable ones).
constexpr std::uint64_t kTransportFeatures =
    kVirtioFeatureVersion1 | kVirtioFeatureAccessPlatform | kVirtioFeatureOrderPlatform;

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

void VirtioMmioDevice::mark_failed() { add_status(kVirtioStatusFailed); }

Result<std::uint64_t> VirtioMmioDevice::begin_init(std::uint64_t wanted) {
    features_ = 0;
    if (const Status status = reset(); !status) return status.error();
    add_status(kVirtioStatusAcknowledge);
    add_status(kVirtioStatusDriver);

    write(kDeviceFeaturesSelect, 0);
    std::uint64_t offered = read(kDeviceFeatures);
    write(kDeviceFeaturesSelect, 1);
    offered |= std::uint64_t{read(kDeviceFeatures)} << 32;
    if ((offered & kVirtioFeatureVersion1) == 0) {
        mark_failed();
        return Error{"device does not offer VIRTIO_F_VERSION_1"};
    }
    const std::uint64_t chosen = offered & (wanted | kTransportFeatures);
    write(kDriverFeaturesSelect, 0);
    write(kDriverFeatures, static_cast<std::uint32_t>(chosen));
    write(kDriverFeaturesSelect, 1);
    write(kDriverFeatures, static_cast<std::uint32_t>(chosen >> 32));
    add_status(kVirtioStatusFeaturesOk);
    if ((read(kStatus) & kVirtioStatusFeaturesOk) == 0) {
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
    add_status(kVirtioStatusDriverOk);
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
