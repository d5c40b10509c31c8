// The virtual board every VM sees. It mirrors QEMU's virt machine where a
// guest kernel expects devices, so whatever boots there boots in a VM.
#pragma once

#include <cstdint>

#include "core/types.hpp"

namespace lamina::guest_layout {

inline constexpr GuestPhysAddr kRamBase{0x4000'0000};
inline constexpr GuestPhysAddr kUartBase{0x0900'0000};
inline constexpr std::uint32_t kUartInterruptId = 33;  // SPI 1
inline constexpr GuestPhysAddr kGicDistributorBase{0x0800'0000};
inline constexpr GuestPhysAddr kGicRedistributorBase{0x080a'0000};
// virtio-mmio devices, one 512-byte window each from here, in the order
// console, network cards, disks; slot n raises SPI 16 + n (as on QEMU's virt).
inline constexpr GuestPhysAddr kVirtioBase{0x0a00'0000};
inline constexpr std::uint64_t kVirtioSlotSize = 0x200;
inline constexpr std::uint32_t kVirtioFirstInterruptId = 48;  // SPI 16
inline constexpr std::uint32_t kMaxVirtioSlots = 16;
[[nodiscard]] constexpr GuestPhysAddr virtio_slot_base(std::uint32_t slot) {
    return kVirtioBase + slot * kVirtioSlotSize;
}
[[nodiscard]] constexpr std::uint32_t virtio_slot_interrupt_id(std::uint32_t slot) {
    return kVirtioFirstInterruptId + slot;
}
// Arm PV stolen time (DEN0057A): vCPU n's 64-byte record at
// kStolenTimeBase + 64 n, in one page of normal memory outside RAM and
// every device window (HV_PV_TIME_ST hands the guest its address).
inline constexpr GuestPhysAddr kStolenTimeBase{0x0b00'0000};
inline constexpr std::uint64_t kStolenTimeRecordSize = 64;
// Private interrupts of the virtual board, as INTIDs (PPI n = INTID n + 16).
inline constexpr std::uint32_t kGicMaintenanceInterruptId = 25;
inline constexpr std::uint32_t kHypervisorTimerInterruptId = 26;
inline constexpr std::uint32_t kVirtualTimerInterruptId = 27;
inline constexpr std::uint32_t kSecurePhysicalTimerInterruptId = 29;
inline constexpr std::uint32_t kPhysicalTimerInterruptId = 30;
// Raw kernels (and Image headers with image_size 0) load here, as on QEMU and U-Boot.
inline constexpr std::uint64_t kDefaultKernelOffset = 0x80000;
// The device tree sits in the last 2 MiB of RAM, the initramfs just below it.
inline constexpr std::uint64_t kDeviceTreeArea = 2 * MiB;
inline constexpr std::uint64_t kMaxDeviceTreeSize = 64 * KiB;
// RAM is handed out and mapped in 2 MiB blocks.
inline constexpr std::uint64_t kRamGranule = 2 * MiB;

}  // namespace lamina::guest_layout
