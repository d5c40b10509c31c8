#include "core/guest_boot.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string_view>
#include <vector>

#include "core/guest_layout.hpp"

namespace lamina {
namespace {

using Blob = std::vector<std::byte>;

constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
constexpr std::uint64_t kRamBase = guest_layout::kRamBase.value();
constexpr std::uint64_t kRawOffset = guest_layout::kDefaultKernelOffset;
constexpr std::uint64_t kDtbArea = guest_layout::kDeviceTreeArea;

void store_le(Blob& blob, std::size_t offset, std::uint64_t value, std::size_t bytes) {
    for (std::size_t i = 0; i < bytes; ++i) blob[offset + i] = static_cast<std::byte>(value >> (8 * i));
}

// A raw binary: anything without the Image magic at 0x38.
[[nodiscard]] Blob raw_binary(std::size_t size) { return Blob(size, std::byte{0xaa}); }

// An arm64 Image of file_size bytes whose header claims text_offset and image_size.
[[nodiscard]] Blob arm64_image(std::uint64_t text_offset, std::uint64_t image_size, std::size_t file_size = 0x10000) {
    Blob blob(file_size, std::byte{0});
    store_le(blob, 0, 0x1400'0000, 4);  // code0: a branch, as a real Image has
    store_le(blob, 8, text_offset, 8);
    store_le(blob, 16, image_size, 8);
    store_le(blob, 0x38, 0x644d'5241, 4);  // "ARM\x64"
    return blob;
}

[[nodiscard]] std::string_view error_of(const Result<GuestBootLayout>& result) {
    return result.ok() ? std::string_view{"(planned)"} : std::string_view{result.error().message};
}

// Invariants every successful plan must satisfy, whatever the inputs.
void expect_consistent(const GuestBootLayout& layout, std::uint64_t initrd_size, std::uint64_t ram_size) {
    const std::uint64_t ram_end = kRamBase + ram_size;
    EXPECT_EQ(layout.device_tree.value(), ram_end - kDtbArea);
    EXPECT_TRUE(layout.device_tree.is_aligned(8));
    EXPECT_GE(layout.kernel.value(), kRamBase);
    EXPECT_TRUE(layout.kernel.is_aligned(kPageSize));
    EXPECT_LE(layout.kernel_footprint, layout.device_tree - layout.kernel);
    EXPECT_EQ(layout.initrd.size, initrd_size);
    if (initrd_size != 0) {
        EXPECT_TRUE(layout.initrd.base.is_aligned(kPageSize));
        EXPECT_GE(layout.initrd.base.value(), layout.kernel.value() + layout.kernel_footprint);
        EXPECT_LE(layout.initrd.size, layout.device_tree - layout.initrd.base);
        // As high as possible: less than a page below the device tree.
        EXPECT_LT(layout.device_tree - layout.initrd.end(), kPageSize);
    }
}

// --- Kernel formats --------------------------------------------------------

TEST(GuestBootKernel, RawBinaryLoadsAtDefaultOffset) {
    const Blob kernel = raw_binary(0x1234);
    const auto layout = plan_guest_boot(kernel, 0, 64 * MiB);
    ASSERT_TRUE(layout.ok()) << error_of(layout);
    EXPECT_EQ(layout->kernel.value(), kRamBase + 0x80000);
    EXPECT_EQ(layout->kernel_footprint, 0x1234u);
    EXPECT_EQ(layout->device_tree.value(), kRamBase + 62 * MiB);
    EXPECT_EQ(layout->initrd.size, 0u);
    expect_consistent(*layout, 0, 64 * MiB);
}

TEST(GuestBootKernel, RawBinaryShorterThanImageHeader) {
    // Too short for the magic to be read: a raw binary, not an error.
    const Blob kernel = raw_binary(4);
    const auto layout = plan_guest_boot(kernel, 0, 8 * MiB);
    ASSERT_TRUE(layout.ok()) << error_of(layout);
    EXPECT_EQ(layout->kernel.value(), kRamBase + kRawOffset);
    EXPECT_EQ(layout->kernel_footprint, 4u);
}

TEST(GuestBootKernel, ImageMagicMustBeExact) {
    // One byte off "ARM\x64": treated as raw, header fields ignored.
    Blob kernel = arm64_image(0x20'0000, 0x40'0000);
    kernel[0x3b] = std::byte{0x65};
    const auto layout = plan_guest_boot(kernel, 0, 64 * MiB);
    ASSERT_TRUE(layout.ok()) << error_of(layout);
    EXPECT_EQ(layout->kernel.value(), kRamBase + kRawOffset);
    EXPECT_EQ(layout->kernel_footprint, kernel.size());
}

TEST(GuestBootKernel, ImageWithTextOffsetZeroAndBss) {
    // Modern kernels: text_offset 0, image_size (with bss) beyond the file.
    const Blob kernel = arm64_image(0, 3 * MiB, 0x10000);
    const auto layout = plan_guest_boot(kernel, 0, 64 * MiB);
    ASSERT_TRUE(layout.ok()) << error_of(layout);
    EXPECT_EQ(layout->kernel.value(), kRamBase);
    EXPECT_EQ(layout->kernel_footprint, 3 * MiB);
    expect_consistent(*layout, 0, 64 * MiB);
}

TEST(GuestBootKernel, ImageWithTextOffset80000AndBss) {
    const Blob kernel = arm64_image(0x80000, 0x20'0000, 0x18000);
    const auto layout = plan_guest_boot(kernel, 0, 64 * MiB);
    ASSERT_TRUE(layout.ok()) << error_of(layout);
    EXPECT_EQ(layout->kernel.value(), kRamBase + 0x80000);
    EXPECT_EQ(layout->kernel_footprint, 0x20'0000u);
    expect_consistent(*layout, 0, 64 * MiB);
}

TEST(GuestBootKernel, ImageSizeEqualToFileSize) {
    const Blob kernel = arm64_image(0, 0x10000, 0x10000);
    const auto layout = plan_guest_boot(kernel, 0, 64 * MiB);
    ASSERT_TRUE(layout.ok()) << error_of(layout);
    EXPECT_EQ(layout->kernel_footprint, 0x10000u);
}

TEST(GuestBootKernel, ImageSizeZeroMeansOldKernel) {
    // Before 3.17: image_size 0, text_offset of unspecified endianness, 0x80000 assumed.
    for (const std::uint64_t text_offset : {std::uint64_t{0}, std::uint64_t{0x80000}, std::uint64_t{0x1234},
                                            std::uint64_t{0x0000'0800'0000'0000}, kMax}) {
        const Blob kernel = arm64_image(text_offset, 0, 0x9000);
        const auto layout = plan_guest_boot(kernel, 0, 64 * MiB);
        ASSERT_TRUE(layout.ok()) << error_of(layout) << " text_offset " << text_offset;
        EXPECT_EQ(layout->kernel.value(), kRamBase + kRawOffset);
        EXPECT_EQ(layout->kernel_footprint, 0x9000u);
    }
}

TEST(GuestBootKernel, UnalignedTextOffsetRejected) {
    for (const std::uint64_t text_offset : {std::uint64_t{0x80100}, std::uint64_t{1}, std::uint64_t{0x800}}) {
        const Blob kernel = arm64_image(text_offset, 0x20'0000);
        const auto layout = plan_guest_boot(kernel, 0, 64 * MiB);
        EXPECT_FALSE(layout.ok()) << "text_offset " << text_offset;
    }
}

TEST(GuestBootKernel, ImageSizeSmallerThanFileRejected) {
    const Blob kernel = arm64_image(0, 0x8000, 0x10000);
    EXPECT_FALSE(plan_guest_boot(kernel, 0, 64 * MiB).ok());
    const Blob one_short = arm64_image(0, 0xffff, 0x10000);
    EXPECT_FALSE(plan_guest_boot(one_short, 0, 64 * MiB).ok());
}

TEST(GuestBootKernel, EmptyKernelRejected) {
    EXPECT_FALSE(plan_guest_boot(ByteSpan{}, 0, 64 * MiB).ok());
    EXPECT_FALSE(plan_guest_boot(ByteSpan{}, 4096, 64 * MiB).ok());
}

// --- Kernel against the device tree area ------------------------------------

TEST(GuestBootFit, RawKernelExactlyUpToDeviceTree) {
    constexpr std::uint64_t ram = 8 * MiB;
    const Blob kernel = raw_binary(ram - kDtbArea - kRawOffset);
    const auto layout = plan_guest_boot(kernel, 0, ram);
    ASSERT_TRUE(layout.ok()) << error_of(layout);
    EXPECT_EQ(layout->kernel.value() + layout->kernel_footprint, layout->device_tree.value());
    expect_consistent(*layout, 0, ram);
    // No room left for even one byte of initramfs.
    EXPECT_FALSE(plan_guest_boot(kernel, 1, ram).ok());
}

TEST(GuestBootFit, RawKernelOnePageTooLarge) {
    constexpr std::uint64_t ram = 8 * MiB;
    EXPECT_FALSE(plan_guest_boot(raw_binary(ram - kDtbArea - kRawOffset + kPageSize), 0, ram).ok());
    EXPECT_FALSE(plan_guest_boot(raw_binary(ram - kDtbArea - kRawOffset + 1), 0, ram).ok());
}

TEST(GuestBootFit, ImageFootprintExactlyUpToDeviceTree) {
    constexpr std::uint64_t ram = 8 * MiB;
    const Blob at_zero = arm64_image(0, ram - kDtbArea);
    const auto layout = plan_guest_boot(at_zero, 0, ram);
    ASSERT_TRUE(layout.ok()) << error_of(layout);
    EXPECT_EQ(layout->kernel.value(), kRamBase);
    EXPECT_EQ(layout->kernel.value() + layout->kernel_footprint, layout->device_tree.value());

    const Blob at_2m = arm64_image(2 * MiB, ram - kDtbArea - 2 * MiB);
    const auto layout_2m = plan_guest_boot(at_2m, 0, ram);
    ASSERT_TRUE(layout_2m.ok()) << error_of(layout_2m);
    EXPECT_EQ(layout_2m->kernel.value(), kRamBase + 2 * MiB);
    EXPECT_EQ(layout_2m->kernel.value() + layout_2m->kernel_footprint, layout_2m->device_tree.value());
}

TEST(GuestBootFit, ImageFootprintOnePageTooLarge) {
    constexpr std::uint64_t ram = 8 * MiB;
    EXPECT_FALSE(plan_guest_boot(arm64_image(0, ram - kDtbArea + kPageSize), 0, ram).ok());
    EXPECT_FALSE(plan_guest_boot(arm64_image(2 * MiB, ram - kDtbArea - 2 * MiB + kPageSize), 0, ram).ok());
}

TEST(GuestBootFit, TextOffsetAtOrBeyondDeviceTree) {
    constexpr std::uint64_t ram = 8 * MiB;
    // Starting right at the device tree leaves no room for any footprint.
    EXPECT_FALSE(plan_guest_boot(arm64_image(ram - kDtbArea, 0x10000), 0, ram).ok());
    EXPECT_FALSE(plan_guest_boot(arm64_image(ram, 0x10000), 0, ram).ok());
    EXPECT_FALSE(plan_guest_boot(arm64_image(16 * MiB, 0x10000), 0, ram).ok());
}

// --- Initramfs ----------------------------------------------------------------

TEST(GuestBootInitrd, PlacedPageAlignedJustBelowDeviceTree) {
    constexpr std::uint64_t ram = 64 * MiB;
    const Blob kernel = raw_binary(MiB);
    const std::uint64_t initrd_size = 10 * MiB + 123;
    const auto layout = plan_guest_boot(kernel, initrd_size, ram);
    ASSERT_TRUE(layout.ok()) << error_of(layout);
    const std::uint64_t device_tree = kRamBase + ram - kDtbArea;
    EXPECT_EQ(layout->device_tree.value(), device_tree);
    EXPECT_EQ(layout->initrd.base.value(), align_down(device_tree - initrd_size, kPageSize));
    EXPECT_EQ(layout->initrd.size, initrd_size);
    expect_consistent(*layout, initrd_size, ram);
}

TEST(GuestBootInitrd, PageMultipleEndsExactlyAtDeviceTree) {
    constexpr std::uint64_t ram = 64 * MiB;
    const auto layout = plan_guest_boot(raw_binary(MiB), 4 * MiB, ram);
    ASSERT_TRUE(layout.ok()) << error_of(layout);
    EXPECT_EQ(layout->initrd.end(), layout->device_tree);
    expect_consistent(*layout, 4 * MiB, ram);
}

TEST(GuestBootInitrd, OneByteInitrd) {
    const auto layout = plan_guest_boot(raw_binary(MiB), 1, 64 * MiB);
    ASSERT_TRUE(layout.ok()) << error_of(layout);
    EXPECT_EQ(layout->initrd.base, layout->device_tree - kPageSize);
    EXPECT_EQ(layout->initrd.size, 1u);
}

TEST(GuestBootInitrd, FillsAllSpaceBetweenKernelAndDeviceTree) {
    constexpr std::uint64_t ram = 64 * MiB;
    const Blob kernel = raw_binary(MiB);  // ends page aligned
    const std::uint64_t space = (ram - kDtbArea) - (kRawOffset + MiB);
    const auto layout = plan_guest_boot(kernel, space, ram);
    ASSERT_TRUE(layout.ok()) << error_of(layout);
    EXPECT_EQ(layout->initrd.base.value(), kRamBase + kRawOffset + MiB);
    EXPECT_EQ(layout->initrd.end(), layout->device_tree);
    expect_consistent(*layout, space, ram);

    EXPECT_FALSE(plan_guest_boot(kernel, space + 1, ram).ok());
    EXPECT_FALSE(plan_guest_boot(kernel, space + kPageSize, ram).ok());
}

TEST(GuestBootInitrd, RespectsImageFootprintNotFileSize) {
    // The bss (image_size beyond the file) must not be overwritten by the initramfs.
    constexpr std::uint64_t ram = 16 * MiB;
    const Blob kernel = arm64_image(0, 8 * MiB, 0x10000);
    const std::uint64_t space = ram - kDtbArea - 8 * MiB;
    const auto fits = plan_guest_boot(kernel, space, ram);
    ASSERT_TRUE(fits.ok()) << error_of(fits);
    EXPECT_EQ(fits->initrd.base.value(), kRamBase + 8 * MiB);
    EXPECT_FALSE(plan_guest_boot(kernel, space + kPageSize, ram).ok());
    EXPECT_FALSE(plan_guest_boot(kernel, space + 1, ram).ok());
}

TEST(GuestBootInitrd, AlignmentWouldOverlapKernel) {
    // The kernel ends mid-page: an initramfs that fits byte for byte would,
    // once its start is rounded down to a page, overlap the kernel's last page.
    constexpr std::uint64_t ram = 8 * MiB;
    const Blob kernel = raw_binary(0x1001);
    const std::uint64_t kernel_end = kRawOffset + 0x1001;
    const std::uint64_t space = (ram - kDtbArea) - kernel_end;
    EXPECT_FALSE(plan_guest_boot(kernel, space, ram).ok());
    EXPECT_FALSE(plan_guest_boot(kernel, space - 0xffe, ram).ok());

    // The largest that fits starts on the first page boundary after the kernel.
    const std::uint64_t largest = space - 0xfff;
    const auto layout = plan_guest_boot(kernel, largest, ram);
    ASSERT_TRUE(layout.ok()) << error_of(layout);
    EXPECT_EQ(layout->initrd.base.value(), kRamBase + align_up(kernel_end, kPageSize));
    EXPECT_EQ(layout->initrd.end(), layout->device_tree);
    expect_consistent(*layout, largest, ram);
}

TEST(GuestBootInitrd, KernelInUpperRamLeavesLittleRoom) {
    // An Image loaded high: the initramfs can only go between it and the device tree.
    constexpr std::uint64_t ram = 32 * MiB;
    const Blob kernel = arm64_image(20 * MiB, 4 * MiB);
    const std::uint64_t space = ram - kDtbArea - 24 * MiB;  // 6 MiB
    const auto layout = plan_guest_boot(kernel, space, ram);
    ASSERT_TRUE(layout.ok()) << error_of(layout);
    EXPECT_EQ(layout->initrd.base.value(), kRamBase + 24 * MiB);
    // Room below the kernel is not used.
    EXPECT_FALSE(plan_guest_boot(kernel, space + kPageSize, ram).ok());
}

// --- RAM size --------------------------------------------------------------------

TEST(GuestBootRam, TinyRamRejected) {
    const Blob kernel = raw_binary(0x1000);
    for (const std::uint64_t ram : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{kPageSize}, 2 * MiB,
                                    4 * MiB - 1}) {
        EXPECT_FALSE(plan_guest_boot(kernel, 0, ram).ok()) << "ram " << ram;
    }
}

TEST(GuestBootRam, SmallestAcceptedRam) {
    const Blob kernel = raw_binary(0x1000);
    const auto layout = plan_guest_boot(kernel, 0x1000, 4 * MiB);
    ASSERT_TRUE(layout.ok()) << error_of(layout);
    EXPECT_EQ(layout->device_tree.value(), kRamBase + 2 * MiB);
    expect_consistent(*layout, 0x1000, 4 * MiB);
}

TEST(GuestBootRam, LargeRam) {
    constexpr std::uint64_t ram = 512 * GiB;
    const auto layout = plan_guest_boot(arm64_image(0, 40 * MiB), 300 * MiB, ram);
    ASSERT_TRUE(layout.ok()) << error_of(layout);
    EXPECT_EQ(layout->device_tree.value(), kRamBase + ram - kDtbArea);
    expect_consistent(*layout, 300 * MiB, ram);
}

// --- Overflow -------------------------------------------------------------------

TEST(GuestBootOverflow, TextOffsetNearTop) {
    constexpr std::uint64_t ram = 64 * MiB;
    for (const std::uint64_t text_offset :
         {align_down(kMax, kPageSize), align_down(kMax, kPageSize) - kPageSize, align_down(kMax - kRamBase, kPageSize),
          align_down(kMax - kRamBase, kPageSize) + kPageSize, std::uint64_t{1} << 63}) {
        for (const std::uint64_t image_size : {std::uint64_t{0x10000}, std::uint64_t{kPageSize} * 0x20,
                                               kMax - text_offset + 1, kMax - text_offset + 0x10001}) {
            if (image_size < 0x10000) continue;  // the file itself is 64 KiB
            const Blob kernel = arm64_image(text_offset, image_size);
            EXPECT_FALSE(plan_guest_boot(kernel, 0, ram).ok())
                << "text_offset " << text_offset << " image_size " << image_size;
        }
    }
}

TEST(GuestBootOverflow, ImageSizeNearTop) {
    constexpr std::uint64_t ram = 64 * MiB;
    for (const std::uint64_t text_offset : {std::uint64_t{0}, std::uint64_t{0x80000}, std::uint64_t{2 * MiB}}) {
        // text_offset + image_size wraps to a small value (0, a page, the file size).
        for (const std::uint64_t image_size : {kMax, kMax - kPageSize + 1, std::uint64_t{0} - text_offset,
                                               std::uint64_t{0} - text_offset + kPageSize,
                                               std::uint64_t{0} - text_offset + 0x10000, std::uint64_t{1} << 63}) {
            if (image_size <= ram) continue;  // a wrapped sum may be an ordinary size (text_offset 0)
            const Blob kernel = arm64_image(text_offset, image_size);
            EXPECT_FALSE(plan_guest_boot(kernel, 0, ram).ok())
                << "text_offset " << text_offset << " image_size " << image_size;
        }
    }
}

TEST(GuestBootOverflow, InitrdSizeNearTop) {
    constexpr std::uint64_t ram = 64 * MiB;
    const std::uint64_t device_tree_offset = ram - kDtbArea;
    for (const Blob& kernel : {raw_binary(0x1000), arm64_image(0, 4 * MiB), arm64_image(0x80000, 0x20'0000)}) {
        for (const std::uint64_t initrd_size :
             {kMax, kMax - kPageSize + 1, std::uint64_t{1} << 63, device_tree_offset + 1,
              // device_tree_offset - initrd_size would wrap to the top of the
              // address space and align to something large.
              device_tree_offset + kPageSize, kMax - kRamBase, kMax - kRamBase - device_tree_offset + 1}) {
            EXPECT_FALSE(plan_guest_boot(kernel, initrd_size, ram).ok()) << "initrd_size " << initrd_size;
        }
    }
}

TEST(GuestBootOverflow, RamSizeNearTop) {
    // RAM that would run past the end of the 64-bit guest physical address
    // space cannot be described: the device tree address would wrap.
    const Blob kernel = raw_binary(0x1000);
    for (const std::uint64_t ram : {kMax, align_down(kMax, kPageSize), align_down(kMax, 2 * MiB),
                                    align_down(kMax - kRamBase, 2 * MiB) + 2 * MiB}) {
        const auto layout = plan_guest_boot(kernel, 0x1000, ram);
        EXPECT_FALSE(layout.ok()) << "ram " << ram << " device tree at " << layout->device_tree.value();
    }
    // The largest RAM whose end is still an address (below 2^64) works.
    const std::uint64_t largest = align_down(kMax - kRamBase, 2 * MiB);
    const auto layout = plan_guest_boot(kernel, 0x1000, largest);
    ASSERT_TRUE(layout.ok()) << error_of(layout);
    EXPECT_GT(layout->device_tree.value(), layout->kernel.value());
    EXPECT_GT(layout->initrd.base.value(), layout->kernel.value());
    expect_consistent(*layout, 0x1000, largest);
}

TEST(GuestBootOverflow, HugeImageInHugeRam) {
    // With RAM as large as the address space allows, a footprint that nearly
    // fills it must still end at or below the device tree without wrapping.
    const std::uint64_t ram = align_down(kMax - kRamBase, 2 * MiB);
    const std::uint64_t text_offset = 2 * MiB;
    const std::uint64_t fits = ram - kDtbArea - text_offset;
    const auto layout = plan_guest_boot(arm64_image(text_offset, fits), 0, ram);
    ASSERT_TRUE(layout.ok()) << error_of(layout);
    EXPECT_EQ(layout->kernel.value() + layout->kernel_footprint, layout->device_tree.value());
    EXPECT_FALSE(plan_guest_boot(arm64_image(text_offset, fits + kPageSize), 0, ram).ok());
    EXPECT_FALSE(plan_guest_boot(arm64_image(text_offset, fits), 1, ram).ok());
}

}  // namespace
}  // namespace lamina
