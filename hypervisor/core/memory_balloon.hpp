// What a VM's virtio-balloon does to its memory: pages the guest gives up
// are marked in its RAM map; once a whole 2 MiB chunk is in the balloon it
// is unmapped at stage 2 and its frames go back to Lamina's pool. A page
// the guest takes back from a chunk that was returned gets the chunk backed
// again with fresh zeroed frames.
#pragma once

#include "virtual_devices/virtio_balloon.hpp"

namespace lamina {
class Vm;
}

namespace lamina::memory_balloon {

// The hooks to give the VM's balloon device.
[[nodiscard]] VirtioBalloonHooks hooks_for(Vm& vm);

}  // namespace lamina::memory_balloon
