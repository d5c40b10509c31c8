// The device tree Lamina writes for each VM: memory, CPUs, PSCI, the GIC and
// timer, the PL011 console, the virtio-mmio devices and /chosen.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "core/result.hpp"
#include "core/types.hpp"

namespace lamina {

struct GuestDeviceTreeSpec final {
    GuestPhysRange ram{};
    std::uint32_t vcpu_count{1};
    std::string_view bootargs{};
    GuestPhysRange initrd{};  // size 0: none
    std::uint32_t virtio_slots{0};  // virtio-mmio windows from guest_layout::kVirtioBase
};

[[nodiscard]] Result<std::size_t> build_guest_device_tree(const GuestDeviceTreeSpec& spec, std::span<std::byte> out);

}  // namespace lamina
