// Starts the VMs the boot bundle describes. A bad bundle or VM is reported on
// the console; the valid VMs still start.
#pragma once

#include <cstddef>
#include <optional>

#include "core/types.hpp"

namespace lamina {

// Returns how many VMs were started.
std::size_t start_boot_vms(std::optional<HostPhysRange> bundle);

}  // namespace lamina
