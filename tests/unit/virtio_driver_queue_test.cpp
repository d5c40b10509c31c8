// VirtioDriverQueue (Lamina as the driver of a split ring) against the
// device side Lamina shows its guests (Virtqueue), both over fake RAM: the
// driver posts buffers, the device pops, fills and returns them, the driver
// reaps. Then what a misbehaving device can do to the driver's bookkeeping.
#include "drivers/virtio_driver_queue.hpp"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <vector>

#include "fake_guest_memory.hpp"
#include "virtual_devices/virtqueue.hpp"

namespace lamina {
namespace {

using testing::FakeGuestMemory;

constexpr std::uint64_t kRam = 0x4000'0000;
constexpr std::uint64_t kRamSize = 0x4'0000;
constexpr std::uint64_t kRing = kRam;               // the queue's memory, as the device addresses it
constexpr std::uint64_t kBuffers = kRam + 0x1'0000;  // buffers the driver posts
constexpr std::uint32_t kBufferSize = 256;

// What the queue asked of the DMA layer, in order of the kinds of call.
struct DmaLog final {
    int write_barriers{0};
    int read_barriers{0};
    int full_barriers{0};
    std::uint64_t bytes_to_device{0};
    std::uint64_t bytes_from_device{0};
};

// Host fences stand in for the DMA barriers; cache maintenance is counted.
class HostDma final {
public:
    HostDma() = default;
    explicit HostDma(DmaLog& log) : log_{&log} {}
    void write_barrier() {
        std::atomic_thread_fence(std::memory_order_release);
        if (log_ != nullptr) ++log_->write_barriers;
    }
    void read_barrier() {
        std::atomic_thread_fence(std::memory_order_acquire);
        if (log_ != nullptr) ++log_->read_barriers;
    }
    void full_barrier() {
        std::atomic_thread_fence(std::memory_order_seq_cst);
        if (log_ != nullptr) ++log_->full_barriers;
    }
    void to_device(const std::byte*, std::size_t size) {
        if (log_ != nullptr) log_->bytes_to_device += size;
    }
    void from_device(const std::byte*, std::size_t size) {
        if (log_ != nullptr) log_->bytes_from_device += size;
    }

private:
    DmaLog* log_{nullptr};
};

using Queue = VirtioDriverQueue<HostDma>;

class VirtioDriverQueueTest : public ::testing::Test {
protected:
    void TearDown() override { EXPECT_TRUE(memory.guards_intact()); }

    // A driver queue of `size` entries in fake RAM, and the device side configured on it.
    void set_up(std::uint16_t size) {
        const std::uint64_t bytes = Queue::ring_bytes(size);
        std::byte* ring = memory.host(kRing, bytes);
        ASSERT_NE(ring, nullptr);
        const Status status = queue.init(size, {ring, bytes}, kRing, HostDma{dma});
        ASSERT_TRUE(status.ok()) << status.error().message;
        const VirtqueueLayout layout{size, GuestPhysAddr{queue.descriptor_area()}, GuestPhysAddr{queue.driver_area()},
                                     GuestPhysAddr{queue.device_area()}};
        const Status configured = device.configure(memory, layout, {});
        ASSERT_TRUE(configured.ok()) << configured.error().message;
    }

    [[nodiscard]] static std::uint64_t buffer(std::size_t index) { return kBuffers + index * kBufferSize; }

    void add(std::initializer_list<DmaBuffer> buffers, std::uint64_t token) {
        const Status status = queue.add({buffers.begin(), buffers.size()}, token);
        ASSERT_TRUE(status.ok()) << status.error().message;
    }
    // The device's next chain, which must exist.
    void pop() {
        const auto popped = device.pop(chain);
        ASSERT_TRUE(popped.ok()) << popped.error().message;
        ASSERT_TRUE(*popped);
    }
    [[nodiscard]] bool device_has_nothing() {
        const auto popped = device.pop(chain);
        return popped.ok() && !*popped;
    }
    // The driver's next used buffer, which must exist.
    [[nodiscard]] UsedBuffer reap() {
        const auto used = queue.reap();
        EXPECT_TRUE(used.ok()) << used.error().message;
        EXPECT_TRUE(used.ok() && used->has_value());
        return used.ok() && used->has_value() ? **used : UsedBuffer{~std::uint64_t{0}, 0};
    }
    [[nodiscard]] bool nothing_to_reap() {
        const auto used = queue.reap();
        return used.ok() && !used->has_value();
    }
    // Writes a used element the way a device would, bypassing Virtqueue's own checks.
    void push_raw_used(std::uint16_t position, std::uint32_t id, std::uint32_t length, std::uint16_t new_index) {
        const std::uint64_t element = queue.device_area() + 4 + 8ull * (position % queue.size());
        memory.poke<std::uint32_t>(element, id);
        memory.poke<std::uint32_t>(element + 4, length);
        memory.poke<std::uint16_t>(queue.device_area() + 2, new_index);
    }
    void expect_reap_breaks(const char* message) {
        const auto used = queue.reap();
        ASSERT_FALSE(used.ok());
        EXPECT_STREQ(used.error().message, message);
        EXPECT_TRUE(queue.is_broken());
        const auto again = queue.reap();  // broken for good
        ASSERT_FALSE(again.ok());
        EXPECT_STREQ(again.error().message, message);
        const DmaBuffer one{buffer(0), kBufferSize, true};
        EXPECT_FALSE(queue.add({&one, 1}, 0).ok());
    }

    FakeGuestMemory memory{{{kRam, kRamSize}}};
    DmaLog dma;
    Queue queue;
    Virtqueue device;
    DescriptorChain chain;
};

// --- Layout and setup -------------------------------------------------------------------------

TEST(VirtioDriverQueueLayout, UsedRingHasAPageOfItsOwn) {
    EXPECT_EQ(Queue::available_offset(256), 4096u);
    EXPECT_EQ(Queue::used_offset(256), 8192u);  // 4096 + 4 + 512 + 2 rounded up
    EXPECT_EQ(Queue::ring_bytes(256), 8192u + 4 + 8 * 256 + 2);
    EXPECT_EQ(Queue::available_offset(8), 128u);
    EXPECT_EQ(Queue::used_offset(8), 4096u);
    EXPECT_EQ(Queue::ring_bytes(8), 4096u + 4 + 64 + 2);
}

TEST_F(VirtioDriverQueueTest, InitRefusesBadSizesAndMemory) {
    std::byte* ring = memory.host(kRing, 4 * kPageSize);
    const std::span<std::byte> plenty{ring, 4 * kPageSize};
    EXPECT_FALSE(queue.init(0, plenty, kRing, HostDma{}).ok());
    EXPECT_FALSE(queue.init(6, plenty, kRing, HostDma{}).ok());
    EXPECT_FALSE(queue.init(512, plenty, kRing, HostDma{}).ok());
    EXPECT_FALSE(queue.init(8, plenty.first(Queue::ring_bytes(8) - 1), kRing, HostDma{}).ok());
    EXPECT_FALSE(queue.init(8, plenty.subspan(16), kRing + 16, HostDma{}).ok());  // not page aligned
    EXPECT_FALSE(queue.is_ready());
    ASSERT_TRUE(queue.init(8, plenty, kRing, HostDma{}).ok());
    EXPECT_TRUE(queue.is_ready());
}

TEST_F(VirtioDriverQueueTest, AreasAreWhereTheLayoutSaysAndStartZeroed) {
    std::byte* ring = memory.host(kRing, Queue::ring_bytes(16));
    std::memset(ring, 0x5a, Queue::ring_bytes(16));
    set_up(16);
    EXPECT_EQ(queue.size(), 16);
    EXPECT_EQ(queue.free_descriptors(), 16);
    EXPECT_EQ(queue.descriptor_area(), kRing);
    EXPECT_EQ(queue.driver_area(), kRing + 256);
    EXPECT_EQ(queue.device_area(), kRing + kPageSize);
    for (std::uint64_t i = 0; i < Queue::ring_bytes(16); ++i) ASSERT_EQ(ring[i], std::byte{0}) << i;
    EXPECT_GE(dma.bytes_to_device, Queue::ring_bytes(16));  // the zeroed rings were made visible
}

// --- Buffers going round ----------------------------------------------------------------------

TEST_F(VirtioDriverQueueTest, ReceiveBuffersGoRoundWithTheirTokensAndLengths) {
    set_up(8);
    for (std::uint16_t i = 0; i < 8; ++i) add({{buffer(i), kBufferSize, true}}, 100 + i);
    EXPECT_EQ(queue.free_descriptors(), 0);
    EXPECT_TRUE(device_has_nothing());  // added, not yet published
    EXPECT_TRUE(queue.publish());       // the device did not ask to be left alone
    EXPECT_FALSE(queue.publish());      // nothing new

    for (std::uint16_t i = 0; i < 8; ++i) {
        pop();
        ASSERT_EQ(chain.segments().size(), 1u);
        EXPECT_EQ(chain.segments()[0].address.value(), buffer(i));
        EXPECT_EQ(chain.writable_bytes(), kBufferSize);
        const std::array<std::byte, 3> frame{std::byte{1}, std::byte{2}, std::byte{static_cast<std::uint8_t>(i)}};
        ASSERT_TRUE(chain.write(memory, 0, frame).ok());
        ASSERT_TRUE(device.push_used(chain.head(), 3 + i).ok());
    }
    EXPECT_TRUE(device_has_nothing());
    for (std::uint16_t i = 0; i < 8; ++i) {
        const UsedBuffer used = reap();
        EXPECT_EQ(used.token, 100u + i);
        EXPECT_EQ(used.written, 3u + i);
        EXPECT_EQ(memory.peek<std::uint8_t>(buffer(i) + 2), i);
    }
    EXPECT_TRUE(nothing_to_reap());
    EXPECT_EQ(queue.free_descriptors(), 8);
    EXPECT_EQ(queue.in_flight(), 0);
}

TEST_F(VirtioDriverQueueTest, ABlockRequestChainIsReadableThenWritable) {
    set_up(4);
    add({{buffer(0), 16, false}, {buffer(1), 512, true}, {buffer(2), 1, true}}, 7);
    EXPECT_EQ(queue.free_descriptors(), 1);
    ASSERT_TRUE(queue.publish());
    pop();
    ASSERT_EQ(chain.readable().size(), 1u);
    ASSERT_EQ(chain.writable().size(), 2u);
    EXPECT_EQ(chain.readable()[0].address.value(), buffer(0));
    EXPECT_EQ(chain.readable_bytes(), 16u);
    EXPECT_EQ(chain.writable_bytes(), 513u);
    EXPECT_EQ(chain.writable()[1].address.value(), buffer(2));
    ASSERT_TRUE(device.push_used(chain.head(), 513).ok());
    const UsedBuffer used = reap();
    EXPECT_EQ(used.token, 7u);
    EXPECT_EQ(used.written, 513u);
    EXPECT_EQ(queue.free_descriptors(), 4);
}

TEST_F(VirtioDriverQueueTest, AFullQueueRefusesUntilSomethingIsReaped) {
    set_up(4);
    add({{buffer(0), 16, false}, {buffer(1), 16, true}}, 1);
    add({{buffer(2), 16, false}, {buffer(3), 16, true}}, 2);
    const std::array<DmaBuffer, 1> one{{{buffer(4), 16, true}}};
    const Status full = queue.add(one, 3);
    ASSERT_FALSE(full.ok());
    EXPECT_STREQ(full.error().message, "driver queue is full");
    EXPECT_FALSE(queue.is_broken());  // a full queue is not an error of the device
    ASSERT_TRUE(queue.publish());
    pop();
    ASSERT_TRUE(device.push_used(chain.head(), 16).ok());
    EXPECT_EQ(reap().token, 1u);
    EXPECT_TRUE(queue.add(one, 3).ok());
}

TEST_F(VirtioDriverQueueTest, RefusesMalformedChains) {
    set_up(4);
    const Status empty = queue.add({}, 0);
    ASSERT_FALSE(empty.ok());
    EXPECT_STREQ(empty.error().message, "driver queue chain is empty");
    const std::array<DmaBuffer, 2> backwards{{{buffer(0), 16, true}, {buffer(1), 16, false}}};
    const Status wrong_order = queue.add(backwards, 0);
    ASSERT_FALSE(wrong_order.ok());
    EXPECT_STREQ(wrong_order.error().message, "driver queue chain has a readable buffer after a writable one");
    EXPECT_EQ(queue.free_descriptors(), 4);
}

TEST_F(VirtioDriverQueueTest, OutOfOrderCompletionsFreeTheRightDescriptors) {
    set_up(8);
    add({{buffer(0), 16, false}, {buffer(1), 16, true}}, 10);
    add({{buffer(2), 16, false}, {buffer(3), 16, false}, {buffer(4), 16, true}}, 20);
    add({{buffer(5), 16, true}}, 30);
    ASSERT_TRUE(queue.publish());
    std::array<std::uint16_t, 3> heads{};
    for (auto& head : heads) {
        pop();
        head = chain.head();
    }
    // The device finishes the second, then the third, then the first.
    ASSERT_TRUE(device.push_used(heads[1], 16).ok());
    ASSERT_TRUE(device.push_used(heads[2], 0).ok());
    EXPECT_EQ(reap().token, 20u);
    EXPECT_EQ(reap().token, 30u);
    EXPECT_EQ(queue.free_descriptors(), 6);
    ASSERT_TRUE(device.push_used(heads[0], 4).ok());
    EXPECT_EQ(reap().token, 10u);
    EXPECT_EQ(queue.free_descriptors(), 8);

    // The reshuffled free list still hands out every descriptor exactly once.
    for (std::uint16_t i = 0; i < 8; ++i) add({{buffer(i), 16, true}}, 40 + i);
    ASSERT_TRUE(queue.publish());
    std::vector<bool> seen(8, false);
    for (std::uint16_t i = 0; i < 8; ++i) {
        pop();
        ASSERT_FALSE(seen[chain.head()]);
        seen[chain.head()] = true;
        EXPECT_EQ(chain.segments()[0].address.value(), buffer(i));
    }
}

TEST_F(VirtioDriverQueueTest, IndicesWrapAroundSixteenBits) {
    set_up(4);
    // 70000 round trips of two requests: every index passes 65535 and wraps.
    for (std::uint32_t round = 0; round < 35'000; ++round) {
        add({{buffer(0), 16, false}, {buffer(1), 16, true}}, 2 * round);
        add({{buffer(2), 16, true}}, 2 * round + 1);
        ASSERT_TRUE(queue.publish());
        pop();
        const std::uint16_t first = chain.head();
        pop();
        ASSERT_TRUE(device.push_used(chain.head(), 16).ok());
        ASSERT_TRUE(device.push_used(first, 8).ok());
        const UsedBuffer second_done = reap();
        const UsedBuffer first_done = reap();
        ASSERT_EQ(second_done.token, 2 * round + 1) << round;
        ASSERT_EQ(first_done.token, 2 * round) << round;
        ASSERT_EQ(first_done.written, 8u);
        ASSERT_TRUE(nothing_to_reap());
    }
    EXPECT_EQ(queue.free_descriptors(), 4);
    EXPECT_FALSE(device.is_broken());
}

// --- Notifications in both directions ---------------------------------------------------------

TEST_F(VirtioDriverQueueTest, SuppressedInterruptsReachTheDevice) {
    set_up(4);
    add({{buffer(0), 16, true}}, 1);
    ASSERT_TRUE(queue.publish());
    pop();
    ASSERT_TRUE(device.push_used(chain.head(), 1).ok());
    EXPECT_TRUE(device.needs_notification());

    queue.suppress_interrupts(true);
    EXPECT_EQ(reap().token, 1u);
    add({{buffer(0), 16, true}}, 2);
    ASSERT_TRUE(queue.publish());
    pop();
    ASSERT_TRUE(device.push_used(chain.head(), 1).ok());
    EXPECT_FALSE(device.needs_notification());

    queue.suppress_interrupts(false);
    EXPECT_EQ(reap().token, 2u);
    add({{buffer(0), 16, true}}, 3);
    ASSERT_TRUE(queue.publish());
    pop();
    ASSERT_TRUE(device.push_used(chain.head(), 1).ok());
    EXPECT_TRUE(device.needs_notification());
}

TEST_F(VirtioDriverQueueTest, PublishReportsWhetherTheDeviceWantsANotification) {
    set_up(4);
    memory.poke<std::uint16_t>(queue.device_area(), 1);  // VIRTQ_USED_F_NO_NOTIFY
    add({{buffer(0), 16, true}}, 1);
    EXPECT_FALSE(queue.publish());
    pop();  // published all the same
    memory.poke<std::uint16_t>(queue.device_area(), 0);
    add({{buffer(1), 16, true}}, 2);
    EXPECT_TRUE(queue.publish());
}

TEST_F(VirtioDriverQueueTest, BarriersSurroundTheIndices) {
    set_up(4);
    const DmaLog before = dma;
    add({{buffer(0), 16, true}}, 1);
    EXPECT_EQ(dma.write_barriers, before.write_barriers);  // nothing published yet
    EXPECT_GT(dma.bytes_to_device, before.bytes_to_device);  // the descriptor and ring entry
    ASSERT_TRUE(queue.publish());
    EXPECT_EQ(dma.write_barriers, before.write_barriers + 1);
    EXPECT_EQ(dma.full_barriers, before.full_barriers + 1);
    EXPECT_TRUE(nothing_to_reap());
    EXPECT_EQ(dma.read_barriers, before.read_barriers);  // nothing new: no elements read
    pop();
    ASSERT_TRUE(device.push_used(chain.head(), 1).ok());
    EXPECT_EQ(reap().token, 1u);
    EXPECT_EQ(dma.read_barriers, before.read_barriers + 1);
    EXPECT_GT(dma.bytes_from_device, before.bytes_from_device);
}

// --- A misbehaving device ---------------------------------------------------------------------

TEST_F(VirtioDriverQueueTest, UsedIndexAheadOfThePublishedChainsBreaksTheQueue) {
    set_up(4);
    add({{buffer(0), 16, true}}, 1);
    ASSERT_TRUE(queue.publish());
    add({{buffer(1), 16, true}}, 2);  // added but not published: the device cannot have it
    push_raw_used(0, 0, 0, 2);
    expect_reap_breaks("device's used index ran ahead of the published chains");
}

TEST_F(VirtioDriverQueueTest, AUsedIdBeyondTheTableBreaksTheQueue) {
    set_up(4);
    add({{buffer(0), 16, true}}, 1);
    ASSERT_TRUE(queue.publish());
    push_raw_used(0, 4, 0, 1);
    expect_reap_breaks("device returned a descriptor that heads no chain in flight");
}

TEST_F(VirtioDriverQueueTest, AUsedIdThatIsNotAHeadInFlightBreaksTheQueue) {
    set_up(4);
    add({{buffer(0), 16, false}, {buffer(1), 16, true}}, 1);  // descriptors 0 (head) and 1
    ASSERT_TRUE(queue.publish());
    push_raw_used(0, 1, 0, 1);  // the chain's second descriptor
    expect_reap_breaks("device returned a descriptor that heads no chain in flight");
}

TEST_F(VirtioDriverQueueTest, ReturningAChainTwiceBreaksTheQueue) {
    set_up(4);
    add({{buffer(0), 16, true}}, 1);
    add({{buffer(1), 16, true}}, 2);
    ASSERT_TRUE(queue.publish());
    push_raw_used(0, 0, 4, 1);
    EXPECT_EQ(reap().token, 1u);
    push_raw_used(1, 0, 4, 2);  // head 0 again, while only head 1 is in flight
    expect_reap_breaks("device returned a descriptor that heads no chain in flight");
}

TEST_F(VirtioDriverQueueTest, WritingMoreThanTheChainHoldsBreaksTheQueue) {
    set_up(4);
    add({{buffer(0), 16, false}, {buffer(1), 32, true}}, 1);
    ASSERT_TRUE(queue.publish());
    push_raw_used(0, 0, 33, 1);
    expect_reap_breaks("device wrote more bytes than the chain holds");
}

}  // namespace
}  // namespace lamina
