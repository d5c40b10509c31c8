// VirtioBalloon driven the way Linux's virtio_balloon driver drives it:
// the owner sets a target, the driver reads num_pages after the
// configuration interrupt, lists PFNs on the inflate or deflate queue, waits
// for the buffer to come back and writes actual. Covers the features
// offered, the configuration space, pages reaching the owner's hooks (and
// refused by them), lists read in chunks across descriptors, and every
// malformed list, which must stop the device and nothing else. Guard bytes
// around the fake RAM are checked after every test.
#include "virtual_devices/virtio_balloon.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "fake_guest_memory.hpp"
#include "virtio_driver_model.hpp"
#include "virtio_driver_ring.hpp"

namespace lamina {
namespace {

using testing::DriverBuffer;
using testing::DriverRing;
using testing::FakeGuestMemory;
using testing::GuestVirtioDriver;

using namespace virtio_mmio_register;

// Guest RAM: two extents, adjacent in guest space and apart in host memory,
// so a page list can straddle them.
constexpr std::uint64_t kRam = 0x4000'0000;
constexpr std::uint64_t kExtentSize = 0x1'0000;
constexpr std::uint64_t kRamEnd = kRam + 2 * kExtentSize;
constexpr std::uint32_t kFirstPfn = kRam >> 12;
constexpr std::uint32_t kRamPages = (kRamEnd - kRam) >> 12;
constexpr std::uint64_t kPageList = kRam + 0x8000;
constexpr std::uint16_t kRingSize = 16;

constexpr std::uint64_t kMustTellHost = 1ull << 0;
constexpr std::uint64_t kStatsQueue = 1ull << 1;
constexpr std::uint64_t kDeflateOnOom = 1ull << 2;
constexpr std::uint64_t kFreePageHint = 1ull << 3;
constexpr std::uint64_t kPagePoison = 1ull << 4;
constexpr std::uint64_t kPageReporting = 1ull << 5;
constexpr std::uint64_t kDriverFeatures = kVirtioFeatureVersion1 | kMustTellHost;

// Offsets in struct virtio_balloon_config.
constexpr std::uint64_t kNumPages = 0;
constexpr std::uint64_t kActual = 4;

std::uint64_t page_address(std::uint32_t pfn) { return std::uint64_t{pfn} << 12; }

class VirtioBalloonTest : public ::testing::Test {
protected:
    void SetUp() override { connect(balloon); }
    void TearDown() override { EXPECT_TRUE(memory.guards_intact()); }

    void connect(VirtioBalloon& device) {
        device.connect(memory, VirtioTransportHooks{&record_level, &record_failure, this},
                       VirtioBalloonHooks{&inflate_page, &deflate_page, &empty_balloon, this});
    }

    static VirtioBalloonTest& test(void* self) { return *static_cast<VirtioBalloonTest*>(self); }
    static void record_level(void* self, bool asserted) { test(self).line = asserted; }
    static void record_failure(void* self, Error reason) { test(self).failures.emplace_back(reason.message); }
    // The owner takes or returns pages of the guest's RAM and nothing else.
    static bool inflate_page(void* self, GuestPhysAddr page) {
        test(self).inflated.push_back(page.value());
        return is_guest_ram(page);
    }
    static bool deflate_page(void* self, GuestPhysAddr page) {
        test(self).deflated.push_back(page.value());
        return is_guest_ram(page);
    }
    static void empty_balloon(void* self) { ++test(self).resets; }
    static bool is_guest_ram(GuestPhysAddr page) { return page.value() >= kRam && page.value() < kRamEnd; }

    void start(std::uint64_t features = kDriverFeatures) { ASSERT_TRUE(driver.start(features, {&inflate, &deflate})); }

    // Linux's tell_host: the PFNs at kPageList in one readable buffer,
    // offered on `queue` and notified.
    void tell_host(std::uint32_t queue, const std::vector<std::uint32_t>& pfns) {
        write_page_list(kPageList, pfns);
        ring(queue).add({{kPageList, static_cast<std::uint32_t>(4 * pfns.size()), false}});
        driver.notify(queue);
    }
    void write_page_list(std::uint64_t address, const std::vector<std::uint32_t>& pfns) {
        for (std::size_t i = 0; i < pfns.size(); ++i) memory.poke<std::uint32_t>(address + 4 * i, pfns[i]);
    }
    DriverRing& ring(std::uint32_t queue) { return queue == VirtioBalloon::kInflateQueue ? inflate : deflate; }

    void expect_failed(const char* reason) {
        EXPECT_TRUE(driver.needs_reset());
        ASSERT_EQ(failures.size(), 1u);
        EXPECT_EQ(failures.front(), reason);
        EXPECT_TRUE(inflated.empty());
        EXPECT_TRUE(deflated.empty());
        EXPECT_EQ(inflate.used_index(), 0);
        EXPECT_EQ(deflate.used_index(), 0);
    }

    FakeGuestMemory memory{{{kRam, kExtentSize}, {kRam + kExtentSize, kExtentSize}}};
    VirtioBalloon balloon;
    GuestVirtioDriver driver{balloon.transport()};
    DriverRing inflate{memory, kRingSize, kRam, kRam + 0x1000, kRam + 0x2000};
    DriverRing deflate{memory, kRingSize, kRam + 0x3000, kRam + 0x4000, kRam + 0x5000};
    bool line{false};
    std::vector<std::string> failures;
    std::vector<std::uint64_t> inflated;
    std::vector<std::uint64_t> deflated;
    int resets{0};
};

// --- Identification, features and configuration -----------------------------------------------

TEST_F(VirtioBalloonTest, IdentifiesAsBalloonWithTwoQueues) {
    EXPECT_EQ(driver.read(kDeviceId), 5u);
    driver.write(kQueueSelect, 0);
    EXPECT_EQ(driver.read(kQueueSizeMax), kRingSize);
    driver.write(kQueueSelect, 1);
    EXPECT_EQ(driver.read(kQueueSizeMax), kRingSize);
    driver.write(kQueueSelect, 2);
    EXPECT_EQ(driver.read(kQueueSizeMax), 0u);  // no statsq
}

TEST_F(VirtioBalloonTest, OffersOnlyMustTellHost) {
    const std::uint64_t offered = driver.offered_features();
    EXPECT_EQ(offered, testing::kLinuxTransportFeatures | kMustTellHost);
    for (const std::uint64_t absent : {kStatsQueue, kDeflateOnOom, kFreePageHint, kPagePoison, kPageReporting})
        EXPECT_EQ(offered & absent, 0u);
}

TEST_F(VirtioBalloonTest, DriverMustTakeMustTellHost) {
    EXPECT_FALSE(driver.negotiate(kVirtioFeatureVersion1));
    EXPECT_TRUE(driver.negotiate(kDriverFeatures));
    EXPECT_TRUE(driver.negotiate(testing::kLinuxTransportFeatures | kMustTellHost));
}

TEST_F(VirtioBalloonTest, ConfigStartsEmpty) {
    EXPECT_EQ(driver.read_config(kNumPages, 4), 0u);
    EXPECT_EQ(driver.read_config(kActual, 4), 0u);
    EXPECT_EQ(driver.read_config(8, 8), 0u);  // free_page_hint_cmd_id, poison_val: not offered
    EXPECT_EQ(balloon.actual_pages(), 0u);
}

TEST_F(VirtioBalloonTest, TargetInterruptsTheDriver) {
    start();
    const std::uint32_t generation = driver.read(kConfigGeneration);
    EXPECT_FALSE(line);
    balloon.set_target_pages(256);
    EXPECT_TRUE(line);
    EXPECT_EQ(driver.take_interrupt(), kVirtioInterruptConfigChange);
    EXPECT_FALSE(line);
    EXPECT_NE(driver.read(kConfigGeneration), generation);
    EXPECT_EQ(driver.read_config(kNumPages, 4), 256u);
    EXPECT_EQ(driver.read_config(kNumPages, 8), 256u);  // with actual (0) above it
}

TEST_F(VirtioBalloonTest, TargetBeforeDriverOkWaitsInConfig) {
    balloon.set_target_pages(7);
    EXPECT_FALSE(line);
    start();
    EXPECT_FALSE(line);
    EXPECT_EQ(driver.read_config(kNumPages, 4), 7u);
}

TEST_F(VirtioBalloonTest, DriverWritesActualOnly) {
    start();
    balloon.set_target_pages(300);
    driver.write_config(kActual, 4, 123);
    EXPECT_EQ(balloon.actual_pages(), 123u);
    EXPECT_EQ(driver.read_config(kActual, 4), 123u);
    driver.write_config(kActual + 1, 1, 1);  // any access size the transport takes
    EXPECT_EQ(balloon.actual_pages(), 123u + 256u);
    driver.write_config(kNumPages, 4, 5);  // the device's field: ignored
    driver.write_config(kNumPages, 8, 0x0000'0009'0000'0005ull);
    EXPECT_EQ(driver.read_config(kNumPages, 4), 300u);
    EXPECT_EQ(balloon.actual_pages(), 9u);
    EXPECT_TRUE(failures.empty());
}

// --- Inflating and deflating ------------------------------------------------------------------

TEST_F(VirtioBalloonTest, InflatedPagesReachTheHook) {
    start();
    tell_host(VirtioBalloon::kInflateQueue, {kFirstPfn + 20, kFirstPfn + 21, kFirstPfn + 31});
    EXPECT_EQ(inflated, (std::vector<std::uint64_t>{page_address(kFirstPfn + 20), page_address(kFirstPfn + 21),
                                                    page_address(kFirstPfn + 31)}));
    EXPECT_TRUE(deflated.empty());
    ASSERT_EQ(inflate.used_index(), 1);
    EXPECT_EQ(inflate.used_element(0).length, 0u);
    EXPECT_TRUE(line);
    EXPECT_EQ(driver.take_interrupt(), kVirtioInterruptUsedBuffer);
    const VirtioBalloonStatistics statistics = balloon.statistics();
    EXPECT_EQ(statistics.pages_inflated, 3u);
    EXPECT_EQ(statistics.pages_deflated, 0u);
    EXPECT_EQ(statistics.pages_refused, 0u);
}

TEST_F(VirtioBalloonTest, DeflatedPagesReachTheHook) {
    start();
    tell_host(VirtioBalloon::kDeflateQueue, {kFirstPfn + kRamPages - 1, kFirstPfn});
    EXPECT_EQ(deflated, (std::vector<std::uint64_t>{kRamEnd - 0x1000, kRam}));
    EXPECT_TRUE(inflated.empty());
    ASSERT_EQ(deflate.used_index(), 1);
    EXPECT_EQ(deflate.used_element(0).length, 0u);
    EXPECT_EQ(balloon.statistics().pages_deflated, 2u);
}

// Linux's fill_balloon, update_balloon_size, then leak_balloon for half.
TEST_F(VirtioBalloonTest, BalloonFollowsTheTarget) {
    start();
    balloon.set_target_pages(4);
    ASSERT_EQ(driver.take_interrupt(), kVirtioInterruptConfigChange);
    const auto target = static_cast<std::uint32_t>(driver.read_config(kNumPages, 4));
    std::vector<std::uint32_t> pfns;
    for (std::uint32_t i = 0; i < target; ++i) pfns.push_back(kFirstPfn + 16 + i);
    tell_host(VirtioBalloon::kInflateQueue, pfns);
    ASSERT_EQ(inflate.used_index(), 1);  // acknowledged: the driver may update actual
    driver.write_config(kActual, 4, target);
    EXPECT_EQ(balloon.actual_pages(), 4u);

    balloon.set_target_pages(2);
    ASSERT_EQ(driver.take_interrupt() & kVirtioInterruptConfigChange, kVirtioInterruptConfigChange);
    tell_host(VirtioBalloon::kDeflateQueue, {kFirstPfn + 18, kFirstPfn + 19});
    ASSERT_EQ(deflate.used_index(), 1);
    driver.write_config(kActual, 4, 2);
    EXPECT_EQ(balloon.actual_pages(), 2u);
    EXPECT_EQ(deflated, (std::vector<std::uint64_t>{page_address(kFirstPfn + 18), page_address(kFirstPfn + 19)}));
    const VirtioBalloonStatistics statistics = balloon.statistics();
    EXPECT_EQ(statistics.pages_inflated, 4u);
    EXPECT_EQ(statistics.pages_deflated, 2u);
}

TEST_F(VirtioBalloonTest, RefusedPagesAreCounted) {
    start();
    // Below RAM, the highest PFN there is (an address near 2^44), and one good page.
    tell_host(VirtioBalloon::kInflateQueue, {0, 0xffff'ffff, kFirstPfn + 20});
    EXPECT_EQ(inflated, (std::vector<std::uint64_t>{0, 0xfff'ffff'f000ull, page_address(kFirstPfn + 20)}));
    tell_host(VirtioBalloon::kDeflateQueue, {kFirstPfn + kRamPages});  // just past RAM
    EXPECT_EQ(deflated, (std::vector<std::uint64_t>{kRamEnd}));
    // Refusing is the owner's business: the buffers are acknowledged all the same.
    EXPECT_EQ(inflate.used_index(), 1);
    EXPECT_EQ(deflate.used_index(), 1);
    EXPECT_FALSE(driver.needs_reset());
    const VirtioBalloonStatistics statistics = balloon.statistics();
    EXPECT_EQ(statistics.pages_inflated, 1u);
    EXPECT_EQ(statistics.pages_deflated, 0u);
    EXPECT_EQ(statistics.pages_refused, 3u);
}

TEST_F(VirtioBalloonTest, LongListsAcrossDescriptorsAndExtents) {
    start();
    // 300 PFNs, more than one chunk, split mid-PFN into a 6-byte descriptor
    // and one that crosses from the first extent into the second.
    std::vector<std::uint32_t> pfns;
    for (std::uint32_t i = 0; i < 300; ++i) pfns.push_back(kFirstPfn + i % kRamPages);
    const std::uint64_t first = kRam + 0x7000;
    const std::uint64_t second = kRam + kExtentSize - 0x100;
    std::vector<std::byte> list(4 * pfns.size());
    std::memcpy(list.data(), pfns.data(), list.size());
    std::memcpy(memory.host(first, 6), list.data(), 6);
    for (std::size_t i = 6; i < list.size(); ++i) memory.poke<std::byte>(second + (i - 6), list[i]);
    inflate.add({{first, 6, false}, {second, static_cast<std::uint32_t>(list.size() - 6), false}});
    driver.notify(VirtioBalloon::kInflateQueue);
    ASSERT_EQ(inflated.size(), pfns.size());
    for (std::size_t i = 0; i < pfns.size(); ++i) EXPECT_EQ(inflated[i], page_address(pfns[i])) << "PFN " << i;
    EXPECT_EQ(inflate.used_index(), 1);
    EXPECT_EQ(balloon.statistics().pages_inflated, 300u);
}

TEST_F(VirtioBalloonTest, ListsAsLongAsAllowed) {
    start();
    std::vector<std::uint32_t> pfns(VirtioBalloon::kMaxPagesPerBuffer, kFirstPfn);
    tell_host(VirtioBalloon::kInflateQueue, pfns);
    EXPECT_EQ(inflated.size(), VirtioBalloon::kMaxPagesPerBuffer);
    EXPECT_FALSE(driver.needs_reset());
}

TEST_F(VirtioBalloonTest, EmptyListIsAcknowledged) {
    start();
    tell_host(VirtioBalloon::kDeflateQueue, {});
    EXPECT_EQ(deflate.used_index(), 1);
    EXPECT_TRUE(deflated.empty());
    EXPECT_FALSE(driver.needs_reset());
}

TEST_F(VirtioBalloonTest, SeveralListsInOneNotification) {
    start();
    write_page_list(kPageList, {kFirstPfn + 1});
    write_page_list(kPageList + 0x100, {kFirstPfn + 2, kFirstPfn + 3});
    inflate.add({{kPageList, 4, false}});
    inflate.add({{kPageList + 0x100, 8, false}});
    driver.notify(VirtioBalloon::kInflateQueue);
    EXPECT_EQ(inflated, (std::vector<std::uint64_t>{page_address(kFirstPfn + 1), page_address(kFirstPfn + 2),
                                                    page_address(kFirstPfn + 3)}));
    EXPECT_EQ(inflate.used_index(), 2);
}

TEST_F(VirtioBalloonTest, MissingHooksRefuseEveryPage) {
    VirtioBalloon bare;
    GuestVirtioDriver bare_driver{bare.transport()};
    bare.connect(memory, VirtioTransportHooks{}, VirtioBalloonHooks{});
    ASSERT_TRUE(bare_driver.start(kDriverFeatures, {&inflate, &deflate}));
    write_page_list(kPageList, {kFirstPfn, kFirstPfn + 1});
    inflate.add({{kPageList, 8, false}});
    bare_driver.notify(VirtioBalloon::kInflateQueue);
    EXPECT_EQ(inflate.used_index(), 1);
    EXPECT_EQ(bare.statistics().pages_refused, 2u);
    EXPECT_EQ(bare.statistics().pages_inflated, 0u);
}

// --- Reset ------------------------------------------------------------------------------------

TEST_F(VirtioBalloonTest, ResetEmptiesTheBalloonAndKeepsTheTarget) {
    EXPECT_EQ(resets, 1);  // connect
    start();
    EXPECT_EQ(resets, 2);  // the driver's reset before it starts
    balloon.set_target_pages(64);
    driver.write_config(kActual, 4, 64);
    driver.write(kStatus, 0);  // e.g. the guest kexecs a new kernel
    EXPECT_EQ(resets, 3);
    EXPECT_EQ(balloon.actual_pages(), 0u);
    EXPECT_EQ(driver.read_config(kNumPages, 4), 64u);
    balloon.transport().reset();  // the owner restarts the VM
    EXPECT_EQ(resets, 4);
}

TEST_F(VirtioBalloonTest, ConnectClearsStatistics) {
    start();
    tell_host(VirtioBalloon::kInflateQueue, {kFirstPfn, 0});
    EXPECT_EQ(balloon.statistics().pages_refused, 1u);
    connect(balloon);
    const VirtioBalloonStatistics statistics = balloon.statistics();
    EXPECT_EQ(statistics.pages_inflated, 0u);
    EXPECT_EQ(statistics.pages_refused, 0u);
}

// --- Malformed lists --------------------------------------------------------------------------

TEST_F(VirtioBalloonTest, ListNotWholePfnsStopsTheDevice) {
    start();
    write_page_list(kPageList, {kFirstPfn, kFirstPfn + 1});
    inflate.add({{kPageList, 6, false}});
    driver.notify(VirtioBalloon::kInflateQueue);
    expect_failed("virtio-balloon page list is not whole PFNs");
    EXPECT_EQ(driver.take_interrupt(), kVirtioInterruptConfigChange);

    // Nothing more happens until a reset; then the device works again.
    tell_host(VirtioBalloon::kDeflateQueue, {kFirstPfn});
    EXPECT_TRUE(deflated.empty());
    driver.write(kStatus, 0);
    EXPECT_FALSE(driver.needs_reset());
    std::memset(memory.host(kRam, 0x6000), 0, 0x6000);
    inflate.restart();
    deflate.restart();
    start();
    tell_host(VirtioBalloon::kInflateQueue, {kFirstPfn + 5});
    EXPECT_EQ(inflated, (std::vector<std::uint64_t>{page_address(kFirstPfn + 5)}));
}

TEST_F(VirtioBalloonTest, ListWithWritableBufferStopsTheDevice) {
    start();
    write_page_list(kPageList, {kFirstPfn});
    deflate.add({{kPageList, 4, false}, {kPageList + 0x100, 4, true}});
    driver.notify(VirtioBalloon::kDeflateQueue);
    expect_failed("virtio-balloon page list has device-writable buffers");
}

TEST_F(VirtioBalloonTest, WritableOnlyListStopsTheDevice) {
    start();
    inflate.add({{kPageList, 8, true}});
    driver.notify(VirtioBalloon::kInflateQueue);
    expect_failed("virtio-balloon page list has device-writable buffers");
}

TEST_F(VirtioBalloonTest, TooLongListStopsTheDevice) {
    start();
    std::vector<std::uint32_t> pfns(VirtioBalloon::kMaxPagesPerBuffer + 1, kFirstPfn);
    tell_host(VirtioBalloon::kInflateQueue, pfns);
    expect_failed("virtio-balloon page list is too long");
}

TEST_F(VirtioBalloonTest, ListOutsideRamStopsTheDevice) {
    start();
    inflate.add({{kRamEnd - 4, 8, false}});
    driver.notify(VirtioBalloon::kInflateQueue);
    expect_failed("descriptor buffer is not in guest RAM");
}

}  // namespace
}  // namespace lamina
