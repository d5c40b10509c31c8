// The board's own devices that Lamina drives (as opposed to the virtual
// devices it shows VMs): the network card that uplinks the virtual switch
// the disk that VMs get slices of, and the console that carries management. Both are virtio-mmio devices found
// by probing every slot the device tree lists.
#pragma once

#include "core/platform.hpp"
#include "drivers/virtio_block_disk.hpp"
#include "drivers/virtio_console_channel.hpp"
#include "drivers/virtio_net_uplink.hpp"

namespace lamina::drivers {

// Once, on the boot CPU, after memory and the interrupt controller are up
// and before VMs start: looks at every virtio-mmio slot, starts the first
// network device and the first block device found, and logs what it found.
// Slots with legacy (version 1) devices are skipped with a warning.
void probe_board_devices(const Platform& platform);

// What the probe started; null when the board has none (or it failed).
[[nodiscard]] VirtioNetUplink* board_nic();
[[nodiscard]] VirtioBlockDisk* board_disk();
// The first virtio console: the management channel (docs/management-api.md).
[[nodiscard]] VirtioConsoleChannel* board_management_channel();

}  // namespace lamina::drivers
