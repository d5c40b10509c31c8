// The virtio-mmio transport as the virtio 1.2 specification defines it
// (4.2.2 registers, 2.1 device status, 6 reserved feature bits): one
// definition for both sides Lamina implements, the device side VMs drive
// (virtio_mmio.cpp) and the driver side for the board's own devices
// (drivers/virtio_mmio_driver.cpp).
#pragma once

#include <cstdint>

namespace lamina {

// Register offsets from the start of a window.
namespace virtio_mmio_register {
inline constexpr std::uint64_t kMagicValue = 0x000;
inline constexpr std::uint64_t kVersion = 0x004;
inline constexpr std::uint64_t kDeviceId = 0x008;
inline constexpr std::uint64_t kVendorId = 0x00c;
inline constexpr std::uint64_t kDeviceFeatures = 0x010;
inline constexpr std::uint64_t kDeviceFeaturesSelect = 0x014;
inline constexpr std::uint64_t kDriverFeatures = 0x020;
inline constexpr std::uint64_t kDriverFeaturesSelect = 0x024;
inline constexpr std::uint64_t kQueueSelect = 0x030;
inline constexpr std::uint64_t kQueueSizeMax = 0x034;
inline constexpr std::uint64_t kQueueSize = 0x038;
inline constexpr std::uint64_t kQueueReady = 0x044;
inline constexpr std::uint64_t kQueueNotify = 0x050;
inline constexpr std::uint64_t kInterruptStatus = 0x060;
inline constexpr std::uint64_t kInterruptAcknowledge = 0x064;
inline constexpr std::uint64_t kStatus = 0x070;
inline constexpr std::uint64_t kQueueDescriptorLow = 0x080;
inline constexpr std::uint64_t kQueueDescriptorHigh = 0x084;
inline constexpr std::uint64_t kQueueDriverLow = 0x090;
inline constexpr std::uint64_t kQueueDriverHigh = 0x094;
inline constexpr std::uint64_t kQueueDeviceLow = 0x0a0;
inline constexpr std::uint64_t kQueueDeviceHigh = 0x0a4;
inline constexpr std::uint64_t kSharedMemoryLengthLow = 0x0b0;
inline constexpr std::uint64_t kSharedMemoryBaseHigh = 0x0bc;
inline constexpr std::uint64_t kConfigGeneration = 0x0fc;
inline constexpr std::uint64_t kConfig = 0x100;
}  // namespace virtio_mmio_register

inline constexpr std::uint32_t kVirtioMmioMagic = 0x7472'6976;  // "virt"
inline constexpr std::uint32_t kVirtioMmioModernVersion = 2;
inline constexpr std::uint32_t kVirtioMmioLegacyVersion = 1;

// Device status bits.
inline constexpr std::uint32_t kVirtioStatusAcknowledge = 0x01;
inline constexpr std::uint32_t kVirtioStatusDriver = 0x02;
inline constexpr std::uint32_t kVirtioStatusDriverOk = 0x04;
inline constexpr std::uint32_t kVirtioStatusFeaturesOk = 0x08;
inline constexpr std::uint32_t kVirtioStatusDeviceNeedsReset = 0x40;
inline constexpr std::uint32_t kVirtioStatusFailed = 0x80;

// InterruptStatus bits.
inline constexpr std::uint32_t kVirtioInterruptUsedBuffer = 0x1;
inline constexpr std::uint32_t kVirtioInterruptConfigChange = 0x2;

// Feature bits of the transport and the rings, shared by every device type.
inline constexpr std::uint64_t kVirtioFeatureIndirectDescriptors = std::uint64_t{1} << 28;
inline constexpr std::uint64_t kVirtioFeatureEventIndex = std::uint64_t{1} << 29;
inline constexpr std::uint64_t kVirtioFeatureVersion1 = std::uint64_t{1} << 32;
inline constexpr std::uint64_t kVirtioFeatureAccessPlatform = std::uint64_t{1} << 33;
inline constexpr std::uint64_t kVirtioFeatureOrderPlatform = std::uint64_t{1} << 36;

}  // namespace lamina
