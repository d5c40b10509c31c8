// The device tree Lamina writes for each VM: memory, CPUs, PSCI, console and
// /chosen. Later devices (interrupt controller, timer, virtio) add nodes here.
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
};

[[nodiscard]] Result<std::size_t> build_guest_device_tree(const GuestDeviceTreeSpec& spec, std::span<std::byte> out);

}  // namespace lamina
