// A VM's virtio devices: the console (hvc0), its network cards and disks,
// its power button and its memory balloon,
// each on a virtio-mmio window of the virtual board (see guest_layout.hpp),
// wired to the VM's RAM, its virtual GIC and, for the network cards, the
// virtual switch.
#pragma once

#include <cstdint>

#include "core/result.hpp"

namespace lamina {

class Vm;
class VirtioMmioTransport;

namespace vm_devices {

// How many virtio-mmio windows the VM's spec asks for (its device tree
// declares that many).
[[nodiscard]] std::uint32_t virtio_slot_count(const Vm& vm);
// Creates and maps every virtio device of the VM, after its RAM and GIC.
[[nodiscard]] Status add(Vm& vm);
// Unplugs the devices from everything outside the VM (the switch, disks)
// and prints any partial console line. Before the VM's memory is freed.
void remove(Vm& vm);
// Shows hvc0's partial line (a prompt) now.
void flush_console(Vm& vm);
// Returns once no virtio device of the VM but `caller` (whose lock the
// caller holds) is in the middle of work on guest memory.
void wait_for_device_work(Vm& vm, VirtioMmioTransport& caller);

}  // namespace vm_devices
}  // namespace lamina
