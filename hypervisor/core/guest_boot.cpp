#include "core/guest_boot.hpp"

#include <algorithm>

#include "core/guest_layout.hpp"

namespace lamina {
namespace {

constexpr std::uint32_t kImageMagic = 0x644d'5241;  // "ARM\x64"
constexpr std::size_t kImageMagicOffset = 0x38;
constexpr std::size_t kTextOffsetField = 8;
constexpr std::size_t kImageSizeField = 16;

struct KernelPlacement final {
    std::uint64_t offset;
    std::uint64_t footprint;
};

Result<KernelPlacement> place_kernel(ByteSpan kernel) {
    const auto magic = load_le<std::uint32_t>(kernel, kImageMagicOffset);
    if (!magic || *magic != kImageMagic) return KernelPlacement{guest_layout::kDefaultKernelOffset, kernel.size()};
    const std::uint64_t text_offset = *load_le<std::uint64_t>(kernel, kTextOffsetField);
    const std::uint64_t image_size = *load_le<std::uint64_t>(kernel, kImageSizeField);
    // image_size 0 means a kernel older than 3.17: text_offset is then 0x80000.
    if (image_size == 0) return KernelPlacement{guest_layout::kDefaultKernelOffset, kernel.size()};
    if (!is_aligned(text_offset, kPageSize)) return Error{"kernel Image text_offset is not page aligned"};
    if (image_size < kernel.size()) return Error{"kernel Image header claims less than the file size"};
    return KernelPlacement{text_offset, image_size};
}

}  // namespace

Result<GuestBootLayout> plan_guest_boot(ByteSpan kernel, std::uint64_t initrd_size, std::uint64_t ram_size) {
    if (kernel.empty()) return Error{"kernel is empty"};
    if (ram_size < guest_layout::kDeviceTreeArea * 2) return Error{"RAM too small for a guest"};
    // Every address below is RAM base + an offset into RAM: RAM must end inside the address space.
    if (ram_size > UINT64_MAX - guest_layout::kRamBase.value()) return Error{"RAM too large for a guest"};
    const auto placement = place_kernel(kernel);
    if (!placement) return placement.error();

    const std::uint64_t device_tree_offset = ram_size - guest_layout::kDeviceTreeArea;
    if (placement->offset > device_tree_offset || placement->footprint > device_tree_offset - placement->offset)
        return Error{"kernel does not fit in the VM's RAM"};
    const std::uint64_t kernel_end = placement->offset + placement->footprint;

    GuestBootLayout layout{};
    layout.kernel = guest_layout::kRamBase + placement->offset;
    layout.kernel_footprint = placement->footprint;
    layout.device_tree = guest_layout::kRamBase + device_tree_offset;
    if (initrd_size != 0) {
        if (initrd_size > device_tree_offset - kernel_end) return Error{"initramfs does not fit in the VM's RAM"};
        const std::uint64_t initrd_offset = align_down(device_tree_offset - initrd_size, kPageSize);
        if (initrd_offset < kernel_end) return Error{"initramfs does not fit in the VM's RAM"};
        layout.initrd = GuestPhysRange{guest_layout::kRamBase + initrd_offset, initrd_size};
    }
    return layout;
}

}  // namespace lamina
