// A guest's virtio-mmio driver for device-model tests: register and
// configuration-space accesses on any VirtioMmioTransport, and the start-up
// sequence Linux's virtio_mmio driver uses (reset, ACKNOWLEDGE, DRIVER,
// features, FEATURES_OK, vm_setup_vq for each queue, DRIVER_OK). The rings
// themselves are DriverRings in fake guest RAM.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>

#include "virtio_driver_ring.hpp"
#include "virtual_devices/virtio_mmio.hpp"

namespace lamina::testing {

// The transport's own features, all offered to every device and all taken by Linux.
inline constexpr std::uint64_t kLinuxTransportFeatures =
    kVirtioFeatureVersion1 | kVirtioFeatureIndirectDescriptors | kVirtioFeatureEventIndex;

class GuestVirtioDriver final {
public:
    explicit GuestVirtioDriver(VirtioMmioTransport& transport) : transport_{transport} {}

    // --- Accesses --------------------------------------------------------------------------
    std::uint64_t access(std::uint64_t offset, unsigned size, bool is_write, std::uint64_t value = 0) {
        MmioAccess access{offset, size, is_write, value};
        EXPECT_TRUE(transport_.access(access)) << "access at " << std::hex << offset;
        return access.value;
    }
    std::uint32_t read(std::uint64_t offset) { return static_cast<std::uint32_t>(access(offset, 4, false)); }
    void write(std::uint64_t offset, std::uint32_t value) { (void)access(offset, 4, true, value); }
    std::uint64_t read_config(std::uint64_t offset, unsigned size) {
        return access(virtio_mmio_register::kConfig + offset, size, false);
    }
    void write_config(std::uint64_t offset, unsigned size, std::uint64_t value) {
        (void)access(virtio_mmio_register::kConfig + offset, size, true, value);
    }

    [[nodiscard]] std::uint32_t status() { return read(virtio_mmio_register::kStatus); }
    [[nodiscard]] bool needs_reset() { return (status() & kVirtioStatusDeviceNeedsReset) != 0; }

    std::uint64_t offered_features() {
        using namespace virtio_mmio_register;
        write(kDeviceFeaturesSelect, 1);
        const std::uint64_t high = read(kDeviceFeatures);
        write(kDeviceFeaturesSelect, 0);
        return (high << 32) | read(kDeviceFeatures);
    }

    // --- Start-up --------------------------------------------------------------------------
    // Up to FEATURES_OK; true when the device accepted `features`.
    bool negotiate(std::uint64_t features) {
        using namespace virtio_mmio_register;
        write(kStatus, 0);
        write(kStatus, kVirtioStatusAcknowledge);
        write(kStatus, kVirtioStatusAcknowledge | kVirtioStatusDriver);
        write(kDriverFeaturesSelect, 1);
        write(kDriverFeatures, static_cast<std::uint32_t>(features >> 32));
        write(kDriverFeaturesSelect, 0);
        write(kDriverFeatures, static_cast<std::uint32_t>(features));
        write(kStatus, kVirtioStatusAcknowledge | kVirtioStatusDriver | kVirtioStatusFeaturesOk);
        return (status() & kVirtioStatusFeaturesOk) != 0;
    }
    void setup_queue(std::uint32_t index, const DriverRing& ring) {
        using namespace virtio_mmio_register;
        write(kQueueSelect, index);
        EXPECT_GE(read(kQueueSizeMax), ring.size());
        write(kQueueSize, ring.size());
        write(kQueueDescriptorLow, static_cast<std::uint32_t>(ring.descriptors()));
        write(kQueueDescriptorHigh, static_cast<std::uint32_t>(ring.descriptors() >> 32));
        write(kQueueDriverLow, static_cast<std::uint32_t>(ring.available()));
        write(kQueueDriverHigh, static_cast<std::uint32_t>(ring.available() >> 32));
        write(kQueueDeviceLow, static_cast<std::uint32_t>(ring.used()));
        write(kQueueDeviceHigh, static_cast<std::uint32_t>(ring.used() >> 32));
        write(kQueueReady, 1);
        EXPECT_EQ(read(kQueueReady), 1u) << "queue " << index;
    }
    void set_driver_ok() { write(virtio_mmio_register::kStatus, status() | kVirtioStatusDriverOk); }
    // The whole sequence, with `rings` as queues 0, 1, ...; true when the
    // device is live.
    bool start(std::uint64_t features, std::initializer_list<const DriverRing*> rings) {
        if (!negotiate(features)) return false;
        std::uint32_t index = 0;
        for (const DriverRing* ring : rings) setup_queue(index++, *ring);
        set_driver_ok();
        return status() == (kVirtioStatusAcknowledge | kVirtioStatusDriver | kVirtioStatusFeaturesOk |
                            kVirtioStatusDriverOk);
    }

    void notify(std::uint32_t queue) { write(virtio_mmio_register::kQueueNotify, queue); }
    // Linux's vm_interrupt: read the cause and acknowledge it.
    std::uint32_t take_interrupt() {
        const std::uint32_t cause = read(virtio_mmio_register::kInterruptStatus);
        write(virtio_mmio_register::kInterruptAcknowledge, cause);
        return cause;
    }

private:
    VirtioMmioTransport& transport_;
};

}  // namespace lamina::testing
