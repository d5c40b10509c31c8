// The virtio-mmio windows this VM has, read from the device tree Lamina
// wrote for it: the /virtio_mmio@<address> nodes, in the order they appear
// (slot 0 first). Only the windows the tree declares are mapped; touching
// any other address of the virtio range would stop the VM.
#pragma once

#include <cstdint>

#include "virtio.hpp"

namespace ring_breaker {

struct VirtioSlots final {
    std::uintptr_t base[kMaxVirtioSlots]{};
    unsigned count{0};
};

// `blob` is the device tree the runtime has already checked (boot_facts()),
// so a malformed structure only ends the walk early. Nodes whose unit
// address is not a slot of the board's virtio range are left out.
[[nodiscard]] VirtioSlots find_virtio_slots(const unsigned char* blob);

}  // namespace ring_breaker
