// Virtqueue (device side of a split ring) and the GuestMemory helpers it
// stands on: well-formed chains as Linux builds them, then every way a guest
// can get a ring wrong. Each test ends by checking the guard bytes around
// the fake RAM: nothing may be written outside guest memory.
#include "virtual_devices/virtqueue.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <string>

#include "fake_guest_memory.hpp"
#include "virtio_driver_ring.hpp"

namespace lamina {
namespace {

using testing::DriverRing;
using testing::FakeGuestMemory;
using testing::kDescIndirect;
using testing::kDescNext;
using testing::kDescWrite;

constexpr std::uint64_t kRam = 0x4000'0000;
constexpr std::uint64_t kExtentSize = 0x1'0000;
constexpr std::uint64_t kSecondExtent = kRam + kExtentSize;  // adjacent in guest space, apart in host memory
constexpr std::uint64_t kRamEnd = kRam + 2 * kExtentSize;
constexpr std::uint64_t kBuffers = kRam + 0x8000;

// --- GuestMemory helpers ----------------------------------------------------------------------

class VirtqueueGuestMemoryTest : public ::testing::Test {
protected:
    void TearDown() override { EXPECT_TRUE(memory.guards_intact()); }

    FakeGuestMemory memory{{{kRam, kExtentSize}, {kSecondExtent, kExtentSize}}};
};

TEST_F(VirtqueueGuestMemoryTest, SpanOnlyForContiguousRam) {
    EXPECT_TRUE(memory.span(GuestPhysAddr{kRam}, kExtentSize).has_value());
    EXPECT_FALSE(memory.span(GuestPhysAddr{kSecondExtent - 8}, 16).has_value());  // crosses extents
    EXPECT_FALSE(memory.span(GuestPhysAddr{kRam - 1}, 2).has_value());
    EXPECT_FALSE(memory.span(GuestPhysAddr{kRamEnd - 1}, 2).has_value());
}

TEST_F(VirtqueueGuestMemoryTest, IsRamAcrossExtentsButNotBeyond) {
    EXPECT_TRUE(memory.is_ram(GuestPhysAddr{kRam}, 2 * kExtentSize));
    EXPECT_TRUE(memory.is_ram(GuestPhysAddr{kSecondExtent - 3}, 7));
    EXPECT_FALSE(memory.is_ram(GuestPhysAddr{kRam}, 2 * kExtentSize + 1));
    EXPECT_FALSE(memory.is_ram(GuestPhysAddr{kRam - 4096}, 8192));
    EXPECT_TRUE(memory.is_ram(GuestPhysAddr{0}, 0));  // empty ranges are trivially RAM
    EXPECT_FALSE(memory.is_ram(GuestPhysAddr{~std::uint64_t{0} - 3}, 8));  // wraps
}

TEST_F(VirtqueueGuestMemoryTest, LargeRangesCostFewLookups) {
    FakeGuestMemory big{{{kRam, 1 << 20}, {kRam + (1 << 20), 1 << 20}}};
    big.span_calls = 0;
    EXPECT_TRUE(big.is_ram(GuestPhysAddr{kRam}, 2 << 20));
    EXPECT_LT(big.span_calls, 40u);  // not one per page (512)
    EXPECT_FALSE(big.is_ram(GuestPhysAddr{kRam + 4096}, (2 << 20)));  // last page is past the end
    EXPECT_TRUE(big.guards_intact());
}

TEST_F(VirtqueueGuestMemoryTest, ScalarsAlignedUnalignedAndAcrossExtents) {
    ASSERT_TRUE(memory.write<std::uint32_t>(GuestPhysAddr{kRam + 0x100}, 0x1122'3344));
    EXPECT_EQ(memory.peek<std::uint32_t>(kRam + 0x100), 0x1122'3344u);
    EXPECT_EQ(memory.read<std::uint32_t>(GuestPhysAddr{kRam + 0x100}), 0x1122'3344u);
    EXPECT_EQ(memory.read<std::uint16_t>(GuestPhysAddr{kRam + 0x101}), 0x2233u);  // unaligned, little endian

    const GuestPhysAddr straddling{kSecondExtent - 3};
    ASSERT_TRUE(memory.write<std::uint64_t>(straddling, 0x0102'0304'0506'0708ull));
    EXPECT_EQ(memory.read<std::uint64_t>(straddling), 0x0102'0304'0506'0708ull);
    EXPECT_EQ(memory.peek<std::uint8_t>(kSecondExtent - 3), 0x08);
    EXPECT_EQ(memory.peek<std::uint8_t>(kSecondExtent), 0x05);
}

TEST_F(VirtqueueGuestMemoryTest, AccessesOutsideRamFailAndWriteNothing) {
    EXPECT_FALSE(memory.read<std::uint32_t>(GuestPhysAddr{kRam - 4}).has_value());
    EXPECT_FALSE(memory.read<std::uint32_t>(GuestPhysAddr{kRamEnd - 2}).has_value());
    EXPECT_FALSE(memory.write<std::uint32_t>(GuestPhysAddr{kRamEnd - 2}, 0xffff'ffff));
    EXPECT_EQ(memory.peek<std::uint16_t>(kRamEnd - 2), 0u);  // the in-RAM half is untouched too

    std::array<std::byte, 64> bytes{};
    bytes.fill(std::byte{0x77});
    EXPECT_FALSE(memory.write_bytes(GuestPhysAddr{kRamEnd - 32}, bytes).ok());
    EXPECT_EQ(memory.peek<std::uint8_t>(kRamEnd - 32), 0u);
    EXPECT_FALSE(memory.read_bytes(GuestPhysAddr{kRam - 32}, bytes).ok());
    EXPECT_TRUE(memory.write_bytes(GuestPhysAddr{kSecondExtent - 32}, bytes).ok());
    EXPECT_EQ(memory.peek<std::uint8_t>(kSecondExtent + 31), 0x77);
}

// --- Virtqueue fixture ------------------------------------------------------------------------

class VirtqueueTest : public ::testing::Test {
protected:
    void TearDown() override { EXPECT_TRUE(memory.guards_intact()); }

    [[nodiscard]] VirtqueueLayout layout() const {
        return VirtqueueLayout{ring.size(), GuestPhysAddr{ring.descriptors()}, GuestPhysAddr{ring.available()},
                               GuestPhysAddr{ring.used()}};
    }
    void enable(VirtqueueFeatures features = {}) { ASSERT_TRUE(queue.configure(memory, layout(), features).ok()); }

    // The next chain, which must exist.
    void pop_chain() {
        const auto popped = queue.pop(chain);
        ASSERT_TRUE(popped.ok()) << popped.error().message;
        ASSERT_TRUE(*popped);
    }
    // pop() fails with `message`, breaks the queue, and the used ring is untouched.
    void expect_pop_breaks(const char* message) {
        const auto popped = queue.pop(chain);
        ASSERT_FALSE(popped.ok());
        EXPECT_STREQ(popped.error().message, message);
        EXPECT_TRUE(queue.is_broken());
        EXPECT_STREQ(queue.failure().message, message);
        EXPECT_EQ(ring.used_index(), 0);
        // Broken for good: later calls report the same error.
        const auto again = queue.pop(chain);
        ASSERT_FALSE(again.ok());
        EXPECT_STREQ(again.error().message, message);
        EXPECT_FALSE(queue.push_used(0, 0).ok());
        EXPECT_FALSE(queue.needs_notification());
    }
    void expect_configure_fails(const VirtqueueLayout& bad, const char* message, std::uint16_t max_size = 256) {
        const Status status = queue.configure(memory, bad, {}, max_size);
        ASSERT_FALSE(status.ok());
        EXPECT_STREQ(status.error().message, message);
        EXPECT_FALSE(queue.is_enabled());
    }

    FakeGuestMemory memory{{{kRam, kExtentSize}, {kSecondExtent, kExtentSize}}};
    DriverRing ring{memory, 8, kRam, kRam + 0x1000, kRam + 0x2000};
    Virtqueue queue;
    DescriptorChain chain;
};

// --- Configuration ----------------------------------------------------------------------------

TEST_F(VirtqueueTest, ConfigureRejectsBadSizes) {
    VirtqueueLayout bad = layout();
    bad.size = 0;
    expect_configure_fails(bad, "virtqueue size is zero");
    bad.size = 6;
    expect_configure_fails(bad, "virtqueue size is not a power of two");
    bad.size = 512;
    expect_configure_fails(bad, "virtqueue size exceeds the device's maximum");
    bad.size = 128;
    expect_configure_fails(bad, "virtqueue size exceeds the device's maximum", 64);
}

TEST_F(VirtqueueTest, ConfigureRejectsMisalignedParts) {
    VirtqueueLayout bad = layout();
    bad.descriptors = GuestPhysAddr{kRam + 8};
    expect_configure_fails(bad, "descriptor table is not 16-byte aligned");
    bad = layout();
    bad.available = GuestPhysAddr{kRam + 0x1001};
    expect_configure_fails(bad, "available ring is not 2-byte aligned");
    bad = layout();
    bad.used = GuestPhysAddr{kRam + 0x2002};
    expect_configure_fails(bad, "used ring is not 4-byte aligned");
}

TEST_F(VirtqueueTest, ConfigureRejectsPartsOutsideRam) {
    VirtqueueLayout bad = layout();
    bad.descriptors = GuestPhysAddr{kRam - 0x1000};
    expect_configure_fails(bad, "descriptor table is not in guest RAM");
    bad.descriptors = GuestPhysAddr{kRamEnd - 0x40};  // starts in RAM, runs past its end
    expect_configure_fails(bad, "descriptor table is not in guest RAM");
    bad = layout();
    bad.available = GuestPhysAddr{kRamEnd - 4};
    expect_configure_fails(bad, "available ring is not in guest RAM");
    bad = layout();
    bad.used = GuestPhysAddr{~std::uint64_t{0} - 3};  // would wrap around
    expect_configure_fails(bad, "used ring is not in guest RAM");
    bad = layout();
    bad.used = GuestPhysAddr{kRamEnd - 64};  // 6 + 8 * 8 bytes do not fit
    expect_configure_fails(bad, "used ring is not in guest RAM");
}

TEST_F(VirtqueueTest, PopBeforeConfigureIsAnErrorThatBreaksNothing) {
    const auto popped = queue.pop(chain);
    ASSERT_FALSE(popped.ok());
    EXPECT_FALSE(queue.is_broken());
}

// --- Well-formed chains -----------------------------------------------------------------------

TEST_F(VirtqueueTest, EmptyRingPopsNothing) {
    enable();
    const auto popped = queue.pop(chain);
    ASSERT_TRUE(popped.ok());
    EXPECT_FALSE(*popped);
}

TEST_F(VirtqueueTest, ReadableThenWritableChain) {
    enable();
    const std::uint16_t head = ring.add({{kBuffers, 16, false}, {kBuffers + 0x100, 32, false},
                                         {kBuffers + 0x200, 64, true}});
    pop_chain();
    EXPECT_EQ(chain.head(), head);
    ASSERT_EQ(chain.segments().size(), 3u);
    ASSERT_EQ(chain.readable().size(), 2u);
    ASSERT_EQ(chain.writable().size(), 1u);
    EXPECT_EQ(chain.readable()[1].address, GuestPhysAddr{kBuffers + 0x100});
    EXPECT_EQ(chain.writable()[0].length, 64u);
    EXPECT_TRUE(chain.writable()[0].device_writable);
    EXPECT_EQ(chain.readable_bytes(), 48u);
    EXPECT_EQ(chain.writable_bytes(), 64u);
    const auto none = queue.pop(chain);
    ASSERT_TRUE(none.ok());
    EXPECT_FALSE(*none);
}

TEST_F(VirtqueueTest, ChainReadAndWriteGatherAndScatter) {
    enable();
    const std::string text = "hello, world";
    std::memcpy(memory.host(kBuffers), text.data(), 5);
    // A buffer across the extent boundary.
    ASSERT_TRUE(memory.write_bytes(GuestPhysAddr{kSecondExtent - 3}, std::as_bytes(std::span{text}.subspan(5, 7))).ok());
    ring.add({{kBuffers, 5, false}, {kSecondExtent - 3, 7, false}, {kBuffers + 0x100, 4, true},
              {kSecondExtent - 2, 4, true}});
    pop_chain();

    std::array<char, 16> gathered{};
    const auto read = chain.read(memory, 3, std::as_writable_bytes(std::span{gathered}));
    ASSERT_TRUE(read.ok());
    EXPECT_EQ(*read, text.size() - 3);
    EXPECT_EQ(std::string(gathered.data(), *read), text.substr(3));
    const auto skipped = chain.read(memory, 6, std::as_writable_bytes(std::span{gathered}.first(4)));  // past segment 1
    ASSERT_TRUE(skipped.ok());
    EXPECT_EQ(std::string(gathered.data(), *skipped), text.substr(6, 4));
    const auto past_end = chain.read(memory, 100, std::as_writable_bytes(std::span{gathered}));
    ASSERT_TRUE(past_end.ok());
    EXPECT_EQ(*past_end, 0u);

    const std::string reply = "abcdefgh!";
    const auto written = chain.write(memory, 0, std::as_bytes(std::span{reply}));
    ASSERT_TRUE(written.ok());
    EXPECT_EQ(*written, 8u);  // only 8 writable bytes
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(memory.host(kBuffers + 0x100)), 4), "abcd");
    EXPECT_EQ(memory.peek<std::uint8_t>(kSecondExtent - 2), 'e');
    EXPECT_EQ(memory.peek<std::uint8_t>(kSecondExtent + 1), 'h');
}

TEST_F(VirtqueueTest, ZeroLengthBuffersNeedNoRam) {
    enable();
    ring.add({{0xdead'0000'0000ull, 0, false}, {kBuffers, 8, true}});
    pop_chain();
    EXPECT_EQ(chain.segments().size(), 2u);
    EXPECT_EQ(chain.readable_bytes(), 0u);
}

TEST_F(VirtqueueTest, ChainAsLongAsTheQueue) {
    enable();
    for (std::uint16_t i = 0; i < 8; ++i) ring.set_descriptor(i, kBuffers + 16 * i, 16, i < 7 ? kDescNext : 0, i + 1);
    ring.offer(0);
    pop_chain();
    EXPECT_EQ(chain.segments().size(), 8u);
}

TEST_F(VirtqueueTest, PushUsedPublishesElementAndIndex) {
    enable();
    const std::uint16_t first = ring.add({{kBuffers, 8, true}});
    const std::uint16_t second = ring.add({{kBuffers + 0x100, 8, true}});
    pop_chain();
    pop_chain();
    ASSERT_TRUE(queue.push_used(second, 5).ok());
    ASSERT_TRUE(queue.push_used(first, 3).ok());
    EXPECT_EQ(ring.used_index(), 2);
    EXPECT_EQ(ring.used_element(0).id, second);
    EXPECT_EQ(ring.used_element(0).length, 5u);
    EXPECT_EQ(ring.used_element(1).id, first);
    EXPECT_EQ(ring.used_element(1).length, 3u);
}

TEST_F(VirtqueueTest, IndicesWrapAround) {
    DriverRing small{memory, 4, kRam + 0x4000, kRam + 0x5000, kRam + 0x6000};
    ASSERT_TRUE(queue.configure(memory, VirtqueueLayout{4, GuestPhysAddr{kRam + 0x4000}, GuestPhysAddr{kRam + 0x5000},
                                                        GuestPhysAddr{kRam + 0x6000}}, {})
                    .ok());
    for (std::uint32_t i = 0; i < 70'000; ++i) {
        const std::uint16_t head = small.add({{kBuffers, 4, true}});
        pop_chain();
        ASSERT_EQ(chain.head(), head);
        ASSERT_TRUE(queue.push_used(head, 4).ok());
    }
    EXPECT_EQ(small.used_index(), static_cast<std::uint16_t>(70'000));
}

TEST_F(VirtqueueTest, UsedElementsMayStraddleExtents) {
    // A 4-aligned used ring whose element 0 straddles the extent boundary.
    DriverRing straddling{memory, 8, kRam, kRam + 0x1000, kSecondExtent - 8};
    ASSERT_TRUE(queue.configure(memory, VirtqueueLayout{8, GuestPhysAddr{kRam}, GuestPhysAddr{kRam + 0x1000},
                                                        GuestPhysAddr{kSecondExtent - 8}}, {})
                    .ok());
    const std::uint16_t head = straddling.add({{kBuffers, 4, true}});
    pop_chain();
    ASSERT_TRUE(queue.push_used(head, 4).ok());
    EXPECT_EQ(straddling.used_index(), 1);
    EXPECT_EQ(straddling.used_element(0).id, head);
    EXPECT_EQ(straddling.used_element(0).length, 4u);
}

// --- Indirect descriptors ---------------------------------------------------------------------

TEST_F(VirtqueueTest, IndirectTable) {
    enable({.indirect_descriptors = true});
    const std::uint64_t table = kRam + 0x3000;
    ring.write_descriptor(table, 0, kBuffers, 10, kDescNext, 2);
    ring.write_descriptor(table, 2, kBuffers + 0x100, 20, kDescNext | kDescWrite, 1);
    ring.write_descriptor(table, 1, kBuffers + 0x200, 30, kDescWrite, 0);
    ring.set_descriptor(3, table, 3 * 16, kDescIndirect | kDescWrite);  // WRITE on the table is ignored
    ring.offer(3);
    pop_chain();
    EXPECT_EQ(chain.head(), 3);
    ASSERT_EQ(chain.segments().size(), 3u);
    EXPECT_EQ(chain.readable_bytes(), 10u);
    EXPECT_EQ(chain.writable_bytes(), 50u);
    EXPECT_EQ(chain.writable()[1].address, GuestPhysAddr{kBuffers + 0x200});
}

TEST_F(VirtqueueTest, DirectDescriptorsThenIndirectTable) {
    enable({.indirect_descriptors = true});
    const std::uint64_t table = kRam + 0x3000;
    ring.write_descriptor(table, 0, kBuffers + 0x100, 8, kDescWrite, 0);
    ring.set_descriptor(0, kBuffers, 4, kDescNext, 1);
    ring.set_descriptor(1, table, 16, kDescIndirect);
    ring.offer(0);
    pop_chain();
    ASSERT_EQ(chain.segments().size(), 2u);
    EXPECT_EQ(chain.readable().size(), 1u);
    EXPECT_EQ(chain.writable().size(), 1u);
}

TEST_F(VirtqueueTest, UnalignedIndirectTableAcrossExtents) {
    enable({.indirect_descriptors = true});
    const std::uint64_t table = kSecondExtent - 24;  // 8-aligned; entry 1 straddles the boundary
    ring.write_descriptor(table, 0, kBuffers, 4, kDescNext, 1);
    ring.write_descriptor(table, 1, kBuffers + 0x100, 4, kDescWrite, 0);
    ring.set_descriptor(0, table, 32, kDescIndirect);
    ring.offer(0);
    pop_chain();
    ASSERT_EQ(chain.segments().size(), 2u);
    EXPECT_EQ(chain.writable()[0].address, GuestPhysAddr{kBuffers + 0x100});
}

TEST_F(VirtqueueTest, IndirectWithoutFeatureBreaks) {
    enable();
    ring.write_descriptor(kRam + 0x3000, 0, kBuffers, 4, 0, 0);
    ring.set_descriptor(0, kRam + 0x3000, 16, kDescIndirect);
    ring.offer(0);
    expect_pop_breaks("indirect descriptor without VIRTIO_F_INDIRECT_DESC");
}

TEST_F(VirtqueueTest, NestedIndirectBreaks) {
    enable({.indirect_descriptors = true});
    ring.write_descriptor(kRam + 0x3000, 0, kRam + 0x3100, 16, kDescIndirect, 0);
    ring.set_descriptor(0, kRam + 0x3000, 16, kDescIndirect);
    ring.offer(0);
    expect_pop_breaks("indirect descriptor inside an indirect table");
}

TEST_F(VirtqueueTest, IndirectWithNextBreaks) {
    enable({.indirect_descriptors = true});
    ring.write_descriptor(kRam + 0x3000, 0, kBuffers, 4, 0, 0);
    ring.set_descriptor(0, kRam + 0x3000, 16, kDescIndirect | kDescNext, 1);
    ring.set_descriptor(1, kBuffers, 4, 0);
    ring.offer(0);
    expect_pop_breaks("indirect descriptor also has NEXT");
}

TEST_F(VirtqueueTest, IndirectTableLengthMustBeWholeDescriptors) {
    enable({.indirect_descriptors = true});
    ring.set_descriptor(0, kRam + 0x3000, 24, kDescIndirect);
    ring.offer(0);
    expect_pop_breaks("indirect table length is not a non-zero multiple of 16");
}

TEST_F(VirtqueueTest, EmptyIndirectTableBreaks) {
    enable({.indirect_descriptors = true});
    ring.set_descriptor(0, kRam + 0x3000, 0, kDescIndirect);
    ring.offer(0);
    expect_pop_breaks("indirect table length is not a non-zero multiple of 16");
}

TEST_F(VirtqueueTest, IndirectTableOutsideRamBreaks) {
    enable({.indirect_descriptors = true});
    ring.set_descriptor(0, kRamEnd - 16, 32, kDescIndirect);
    ring.offer(0);
    expect_pop_breaks("indirect table is not in guest RAM");
}

TEST_F(VirtqueueTest, IndirectLoopBreaks) {
    enable({.indirect_descriptors = true});
    const std::uint64_t table = kRam + 0x3000;
    ring.write_descriptor(table, 0, kBuffers, 4, kDescNext, 1);
    ring.write_descriptor(table, 1, kBuffers, 4, kDescNext, 0);
    ring.set_descriptor(0, table, 32, kDescIndirect);
    ring.offer(0);
    expect_pop_breaks("indirect descriptor chain loops");
}

TEST_F(VirtqueueTest, IndirectNextBeyondTableBreaks) {
    enable({.indirect_descriptors = true});
    ring.write_descriptor(kRam + 0x3000, 0, kBuffers, 4, kDescNext, 2);
    ring.set_descriptor(0, kRam + 0x3000, 32, kDescIndirect);
    ring.offer(0);
    expect_pop_breaks("indirect chain continues beyond its table");
}

TEST_F(VirtqueueTest, IndirectOrderingChecksTheWholeChain) {
    enable({.indirect_descriptors = true});
    ring.write_descriptor(kRam + 0x3000, 0, kBuffers, 4, 0, 0);  // readable, after a writable direct one
    ring.set_descriptor(0, kBuffers + 0x100, 4, kDescWrite | kDescNext, 1);
    ring.set_descriptor(1, kRam + 0x3000, 16, kDescIndirect);
    ring.offer(0);
    expect_pop_breaks("device-readable descriptor after a device-writable one");
}

TEST_F(VirtqueueTest, IndirectChainLongerThanAnyQueueBreaks) {
    enable({.indirect_descriptors = true});
    const std::uint64_t table = kSecondExtent;  // 257 entries * 16 bytes
    for (std::uint32_t i = 0; i <= kMaxChainSegments; ++i)
        ring.write_descriptor(table, i, kBuffers, 1, kDescNext, static_cast<std::uint16_t>(i + 1));
    ring.set_descriptor(0, table, (kMaxChainSegments + 2) * 16, kDescIndirect);
    ring.offer(0);
    expect_pop_breaks("descriptor chain has too many buffers");
}

// --- Malformed rings and chains ---------------------------------------------------------------

TEST_F(VirtqueueTest, AvailableIndexJumpBreaks) {
    enable();
    ring.set_available_index(9);  // 9 entries in a ring of 8
    expect_pop_breaks("available index moved ahead by more than the queue size");
}

TEST_F(VirtqueueTest, AvailableIndexMovingBackwardsBreaks) {
    enable();
    ring.add({{kBuffers, 4, false}});
    pop_chain();
    ring.set_available_index(0);  // 0xffff entries "ahead"
    expect_pop_breaks("available index moved ahead by more than the queue size");
}

TEST_F(VirtqueueTest, FullRingIsFine) {
    enable();
    for (int i = 0; i < 8; ++i) ring.add({{kBuffers, 4, false}}, false);
    ring.publish();
    for (int i = 0; i < 8; ++i) pop_chain();
}

TEST_F(VirtqueueTest, HeadBeyondTableBreaks) {
    enable();
    ring.offer(8);
    expect_pop_breaks("available ring names a descriptor beyond the table");
}

TEST_F(VirtqueueTest, NextBeyondTableBreaks) {
    enable();
    ring.set_descriptor(0, kBuffers, 4, kDescNext, 8);
    ring.offer(0);
    expect_pop_breaks("descriptor chain continues beyond the table");
}

TEST_F(VirtqueueTest, LoopBreaks) {
    enable();
    ring.set_descriptor(0, kBuffers, 4, kDescNext, 1);
    ring.set_descriptor(1, kBuffers, 4, kDescNext, 0);
    ring.offer(0);
    expect_pop_breaks("descriptor chain loops");
}

TEST_F(VirtqueueTest, SelfLoopBreaks) {
    enable();
    ring.set_descriptor(5, kBuffers, 4, kDescNext, 5);
    ring.offer(5);
    expect_pop_breaks("descriptor chain loops");
}

TEST_F(VirtqueueTest, UnknownFlagsBreak) {
    enable({.indirect_descriptors = true, .event_index = true});
    ring.set_descriptor(0, kBuffers, 4, 0x8);
    ring.offer(0);
    expect_pop_breaks("descriptor has unknown flags");
}

TEST_F(VirtqueueTest, ReadableAfterWritableBreaks) {
    enable();
    ring.add({{kBuffers, 4, true}, {kBuffers + 0x100, 4, false}});
    expect_pop_breaks("device-readable descriptor after a device-writable one");
}

TEST_F(VirtqueueTest, BufferOutsideRamBreaks) {
    enable();
    ring.add({{kRamEnd, 4, false}});
    expect_pop_breaks("descriptor buffer is not in guest RAM");
}

TEST_F(VirtqueueTest, BufferRunningPastRamBreaks) {
    enable();
    ring.add({{kBuffers, 4, false}, {kRamEnd - 8, 16, true}});
    expect_pop_breaks("descriptor buffer is not in guest RAM");
}

TEST_F(VirtqueueTest, BufferWrappingTheAddressSpaceBreaks) {
    enable();
    ring.add({{~std::uint64_t{0} - 0xfff, 0x2000, false}});
    expect_pop_breaks("descriptor buffer wraps around the address space");
}

TEST_F(VirtqueueTest, ChainOfferedTwiceBreaks) {
    enable();
    ring.set_descriptor(0, kBuffers, 4, 0);
    ring.offer(0);
    ring.offer(0);
    pop_chain();
    const auto popped = queue.pop(chain);
    ASSERT_FALSE(popped.ok());
    EXPECT_STREQ(popped.error().message, "available ring offers a chain the device still holds");
}

TEST_F(VirtqueueTest, PushingAChainNotHeldBreaks) {
    enable();
    ring.add({{kBuffers, 4, true}});
    pop_chain();
    const Status pushed = queue.push_used(1, 0);
    ASSERT_FALSE(pushed.ok());
    EXPECT_STREQ(pushed.error().message, "device returned a chain it does not hold");
    EXPECT_TRUE(queue.is_broken());
    EXPECT_EQ(ring.used_index(), 0);
}

TEST_F(VirtqueueTest, ResetClearsBrokenState) {
    enable();
    ring.offer(8);
    expect_pop_breaks("available ring names a descriptor beyond the table");
    queue.reset();
    EXPECT_FALSE(queue.is_broken());
    EXPECT_FALSE(queue.is_enabled());
}

// --- Chains over 4 GiB: needs a large (lazily backed) guest RAM --------------------------------

class MappedGuestMemory final : public GuestMemory {
public:
    static constexpr std::uint64_t kSize = 6 * GiB;
    MappedGuestMemory() {
        void* mapping = mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        base_ = mapping == MAP_FAILED ? nullptr : static_cast<std::byte*>(mapping);
    }
    ~MappedGuestMemory() {
        if (base_ != nullptr) munmap(base_, kSize);
    }
    [[nodiscard]] bool mapped() const { return base_ != nullptr; }
    std::optional<std::span<std::byte>> span(GuestPhysAddr address, std::size_t length) override {
        if (!GuestPhysRange{GuestPhysAddr{0}, kSize}.contains(GuestPhysRange{address, length})) return std::nullopt;
        return std::span<std::byte>{base_ + address.value(), length};
    }

private:
    std::byte* base_{nullptr};
};

TEST(VirtqueueLargeChainTest, ChainsUpToFourGiBButNotBeyond) {
    MappedGuestMemory memory;
    if (!memory.mapped()) GTEST_SKIP() << "cannot reserve 6 GiB of address space";
    const auto set_descriptor = [&](std::uint16_t index, std::uint64_t address, std::uint32_t length,
                                    std::uint16_t flags, std::uint16_t next) {
        std::array<std::uint8_t, 16> bytes{};
        std::memcpy(bytes.data(), &address, 8);
        std::memcpy(bytes.data() + 8, &length, 4);
        std::memcpy(bytes.data() + 12, &flags, 2);
        std::memcpy(bytes.data() + 14, &next, 2);
        ASSERT_TRUE(memory.write_bytes(GuestPhysAddr{0x1000ull + 16 * index}, std::as_bytes(std::span{bytes})).ok());
    };
    const auto offer = [&](std::uint16_t slot, std::uint16_t head) {
        ASSERT_TRUE(memory.write<std::uint16_t>(GuestPhysAddr{0x2000 + 4 + 2ull * slot}, head));
        ASSERT_TRUE(memory.write<std::uint16_t>(GuestPhysAddr{0x2002}, static_cast<std::uint16_t>(slot + 1)));
    };
    Virtqueue queue;
    DescriptorChain chain;
    ASSERT_TRUE(queue.configure(memory, {8, GuestPhysAddr{0x1000}, GuestPhysAddr{0x2000}, GuestPhysAddr{0x3000}}, {})
                    .ok());

    set_descriptor(0, 0x1'0000, 0xffff'ffff, kDescNext, 1);  // exactly 2^32 bytes in all
    set_descriptor(1, 0x1'0000, 1, kDescWrite, 0);
    offer(0, 0);
    const auto exact = queue.pop(chain);
    ASSERT_TRUE(exact.ok()) << exact.error().message;
    EXPECT_EQ(chain.readable_bytes() + chain.writable_bytes(), std::uint64_t{1} << 32);

    set_descriptor(2, 0x1'0000, 0xffff'ffff, kDescNext, 3);  // 2^32 + 1 bytes
    set_descriptor(3, 0x1'0000, 2, kDescWrite, 0);
    offer(1, 2);
    const auto over = queue.pop(chain);
    ASSERT_FALSE(over.ok());
    EXPECT_STREQ(over.error().message, "descriptor chain describes more than 4 GiB");
}

// --- Notifications ----------------------------------------------------------------------------

TEST_F(VirtqueueTest, NotificationFollowsNoInterruptFlag) {
    enable();
    EXPECT_FALSE(queue.needs_notification());  // nothing used yet
    const std::uint16_t head = ring.add({{kBuffers, 4, true}});
    pop_chain();
    ASSERT_TRUE(queue.push_used(head, 0).ok());
    EXPECT_TRUE(queue.needs_notification());
    EXPECT_FALSE(queue.needs_notification());  // nothing new since

    ring.set_available_flags(testing::kAvailNoInterrupt);
    const std::uint16_t next = ring.add({{kBuffers, 4, true}});
    pop_chain();
    ASSERT_TRUE(queue.push_used(next, 0).ok());
    EXPECT_FALSE(queue.needs_notification());
}

TEST_F(VirtqueueTest, NotificationFollowsUsedEvent) {
    enable({.event_index = true});
    ring.set_available_flags(testing::kAvailNoInterrupt);  // ignored with event index
    ring.set_used_event(0);
    const std::uint16_t first = ring.add({{kBuffers, 4, true}});
    pop_chain();
    ASSERT_TRUE(queue.push_used(first, 0).ok());
    EXPECT_TRUE(queue.needs_notification());  // entry 0 was used_event

    ring.set_used_event(2);  // the driver wants to hear when entry 2 is used
    for (int i = 0; i < 2; ++i) {
        const std::uint16_t head = ring.add({{kBuffers, 4, true}});
        pop_chain();
        ASSERT_TRUE(queue.push_used(head, 0).ok());
        EXPECT_EQ(queue.needs_notification(), i == 1) << i;
    }
    // Several pushed in one batch, used_event among them.
    ring.set_used_event(4);
    for (int i = 0; i < 3; ++i) ring.add({{kBuffers, 4, true}});
    for (int i = 0; i < 3; ++i) {
        pop_chain();
        ASSERT_TRUE(queue.push_used(chain.head(), 0).ok());
    }
    EXPECT_TRUE(queue.needs_notification());
}

TEST_F(VirtqueueTest, EmptyPopPublishesAvailableEvent) {
    enable({.event_index = true});
    ring.add({{kBuffers, 4, false}});
    ring.add({{kBuffers, 4, false}});
    pop_chain();
    EXPECT_EQ(ring.available_event(), 0);  // not empty yet: no request
    pop_chain();
    const auto none = queue.pop(chain);
    ASSERT_TRUE(none.ok());
    EXPECT_FALSE(*none);
    EXPECT_EQ(ring.available_event(), 2);  // notify when entry 2 is published
}

TEST_F(VirtqueueTest, WithoutEventIndexTheUsedRingTailIsUntouched) {
    enable();
    memory.poke<std::uint16_t>(ring.used() + 4 + 8 * 8, 0x5a5a);
    const auto none = queue.pop(chain);
    ASSERT_TRUE(none.ok());
    EXPECT_EQ(ring.available_event(), 0x5a5a);
}

}  // namespace
}  // namespace lamina
