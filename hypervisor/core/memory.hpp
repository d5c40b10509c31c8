// The machine's free memory, shared by everything that needs frames.
#pragma once

#include <span>

#include "core/frame_allocator.hpp"
#include "core/platform.hpp"

namespace lamina {

FrameAllocator& frame_allocator();

// Gives the allocator all RAM except `in_use` (Lamina's image, the device
// tree, the boot bundle) and the board's reserved ranges.
[[nodiscard]] Status init_memory(const Platform& platform, std::span<const HostPhysRange> in_use);

}  // namespace lamina
