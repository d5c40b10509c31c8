// Device register access. Lamina runs identity mapped, so a device's physical
// address is also the address it is accessed through.
#pragma once

#include <cstdint>

#include "core/types.hpp"

namespace lamina::drivers {

[[nodiscard]] inline std::uint8_t mmio_read8(HostPhysAddr address) {
    return *reinterpret_cast<volatile std::uint8_t*>(address.value());
}
[[nodiscard]] inline std::uint16_t mmio_read16(HostPhysAddr address) {
    return *reinterpret_cast<volatile std::uint16_t*>(address.value());
}
[[nodiscard]] inline std::uint32_t mmio_read32(HostPhysAddr address) {
    return *reinterpret_cast<volatile std::uint32_t*>(address.value());
}
[[nodiscard]] inline std::uint64_t mmio_read64(HostPhysAddr address) {
    return *reinterpret_cast<volatile std::uint64_t*>(address.value());
}
inline void mmio_write32(HostPhysAddr address, std::uint32_t value) {
    *reinterpret_cast<volatile std::uint32_t*>(address.value()) = value;
}
inline void mmio_write64(HostPhysAddr address, std::uint64_t value) {
    *reinterpret_cast<volatile std::uint64_t*>(address.value()) = value;
}
inline void mmio_write8(HostPhysAddr address, std::uint8_t value) {
    *reinterpret_cast<volatile std::uint8_t*>(address.value()) = value;
}

}  // namespace lamina::drivers
