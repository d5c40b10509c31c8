// Where a guest's kernel, initramfs and device tree go in its RAM, following
// the Linux arm64 boot protocol (Documentation/arch/arm64/booting.rst).
#pragma once

#include <cstdint>

#include "core/bytes.hpp"
#include "core/result.hpp"
#include "core/types.hpp"

namespace lamina {

struct GuestBootLayout final {
    GuestPhysAddr kernel{};           // load address = entry point
    std::uint64_t kernel_footprint{0};  // bytes the kernel may use from there (incl. bss)
    GuestPhysRange initrd{};          // size 0 when there is none
    GuestPhysAddr device_tree{};
};

// Accepts an arm64 Image (honouring its text_offset and image_size) or a raw
// binary (loaded at RAM base + 0x80000). Fails when the pieces do not fit.
[[nodiscard]] Result<GuestBootLayout> plan_guest_boot(ByteSpan kernel, std::uint64_t initrd_size,
                                                      std::uint64_t ram_size);

}  // namespace lamina
