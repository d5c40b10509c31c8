// VirtioMmioTransport with the console model: the register sequence Linux's
// virtio_mmio driver uses (probe, reset, status, features, queue setup,
// DRIVER_OK), console output and input through real rings in fake guest RAM,
// and every driver mistake that must end in DEVICE_NEEDS_RESET or a refused
// access. Guard bytes around the fake RAM are checked after every test.
#include "virtual_devices/virtio_mmio.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "fake_guest_memory.hpp"
#include "virtio_driver_ring.hpp"
#include "virtual_devices/virtio_console.hpp"

namespace lamina {
namespace {

using testing::DriverRing;
using testing::FakeGuestMemory;

using namespace virtio_mmio_register;

constexpr std::uint32_t kAcknowledge = 1;
constexpr std::uint32_t kDriver = 2;
constexpr std::uint32_t kDriverOk = 4;
constexpr std::uint32_t kFeaturesOk = 8;
constexpr std::uint32_t kNeedsReset = 0x40;
constexpr std::uint32_t kFailed = 0x80;

constexpr std::uint64_t kIndirectDesc = 1ull << 28;
constexpr std::uint64_t kEventIdx = 1ull << 29;
constexpr std::uint64_t kVersion1 = 1ull << 32;
constexpr std::uint64_t kLinuxFeatures = kVersion1 | kIndirectDesc | kEventIdx;  // all a console offers

constexpr std::uint64_t kRam = 0x4000'0000;
constexpr std::uint64_t kExtentSize = 0x1'0000;
constexpr std::uint64_t kRamEnd = kRam + 2 * kExtentSize;
constexpr std::uint64_t kRxBuffers = kRam + 0x8000;
constexpr std::uint64_t kTxBuffers = kRam + 0xc000;
constexpr std::uint64_t kGarbage = 0xdead'beef'dead'beefull;

class VirtioMmioTest : public ::testing::Test {
protected:
    void SetUp() override {
        console.connect(memory, VirtioTransportHooks{&record_level, &record_failure, this}, &record_output, this);
        levels.clear();
    }
    void TearDown() override { EXPECT_TRUE(memory.guards_intact()); }

    static void record_level(void* self, bool asserted) {
        auto& test = *static_cast<VirtioMmioTest*>(self);
        test.line = asserted;
        test.levels.push_back(asserted);
    }
    static void record_failure(void* self, Error reason) {
        static_cast<VirtioMmioTest*>(self)->failures.emplace_back(reason.message);
    }
    static void record_output(void* self, std::span<const char> bytes, bool buffer_done) {
        auto& test = *static_cast<VirtioMmioTest*>(self);
        test.output.append(bytes.data(), bytes.size());
        if (buffer_done) ++test.buffers_done;
    }

    // --- The guest's side of the register window ----------------------------------------
    [[nodiscard]] bool try_access(std::uint64_t offset, unsigned size, bool is_write, std::uint64_t value = kGarbage) {
        MmioAccess access{offset, size, is_write, value};
        const bool handled = console.transport().access(access);
        last_read = access.value;
        return handled;
    }
    std::uint32_t read(std::uint64_t offset) {
        EXPECT_TRUE(try_access(offset, 4, false)) << "read at " << std::hex << offset;
        return static_cast<std::uint32_t>(last_read);
    }
    void write(std::uint64_t offset, std::uint32_t value) {
        EXPECT_TRUE(try_access(offset, 4, true, value)) << "write at " << std::hex << offset;
    }
    void add_status(std::uint32_t bits) { write(kStatus, read(kStatus) | bits); }

    // Linux: virtio_mmio_probe, then virtio_dev_probe up to virtio_features_ok.
    void negotiate(std::uint64_t features) {
        ASSERT_EQ(read(kMagicValue), 0x74726976u);
        ASSERT_EQ(read(kVersion), 2u);
        ASSERT_EQ(read(kDeviceId), 3u);
        (void)read(kVendorId);
        write(kStatus, 0);  // reset
        add_status(kAcknowledge);
        add_status(kDriver);
        write(kDeviceFeaturesSelect, 1);
        const std::uint64_t offered_high = read(kDeviceFeatures);
        write(kDeviceFeaturesSelect, 0);
        const std::uint64_t offered = (offered_high << 32) | read(kDeviceFeatures);
        EXPECT_EQ(offered, kLinuxFeatures);
        write(kDriverFeaturesSelect, 1);
        write(kDriverFeatures, static_cast<std::uint32_t>(features >> 32));
        write(kDriverFeaturesSelect, 0);
        write(kDriverFeatures, static_cast<std::uint32_t>(features));
        add_status(kFeaturesOk);
    }
    // Linux: vm_setup_vq.
    void setup_queue(std::uint32_t index, const DriverRing& ring) {
        write(kQueueSelect, index);
        EXPECT_EQ(read(kQueueReady), 0u);
        EXPECT_EQ(read(kQueueSizeMax), 64u);
        write(kQueueSize, ring.size());
        write(kQueueDescriptorLow, static_cast<std::uint32_t>(ring.descriptors()));
        write(kQueueDescriptorHigh, static_cast<std::uint32_t>(ring.descriptors() >> 32));
        write(kQueueDriverLow, static_cast<std::uint32_t>(ring.available()));
        write(kQueueDriverHigh, static_cast<std::uint32_t>(ring.available() >> 32));
        write(kQueueDeviceLow, static_cast<std::uint32_t>(ring.used()));
        write(kQueueDeviceHigh, static_cast<std::uint32_t>(ring.used() >> 32));
        write(kQueueReady, 1);
    }
    void start(std::uint64_t features = kLinuxFeatures) {
        negotiate(features);
        ASSERT_NE(read(kStatus) & kFeaturesOk, 0u);
        setup_queue(0, rx);
        ASSERT_EQ(read(kQueueReady), 1u);
        setup_queue(1, tx);
        ASSERT_EQ(read(kQueueReady), 1u);
        add_status(kDriverOk);
        ASSERT_EQ(read(kStatus), kAcknowledge | kDriver | kFeaturesOk | kDriverOk);
    }
    // Linux's vm_interrupt: read the cause, acknowledge it; virtqueue_enable_cb
    // then asks for the next used buffer (used_event).
    std::uint32_t take_interrupt() {
        const std::uint32_t cause = read(kInterruptStatus);
        write(kInterruptAcknowledge, cause);
        rx.set_used_event(rx.used_index());
        tx.set_used_event(tx.used_index());
        return cause;
    }
    void transmit(const std::string& text) {
        std::memcpy(memory.host(kTxBuffers, text.size()), text.data(), text.size());
        tx.add({{kTxBuffers, static_cast<std::uint32_t>(text.size()), false}});
        write(kQueueNotify, 1);
    }
    void post_receive_buffers(int count, std::uint32_t size = 64) {
        for (int i = 0; i < count; ++i) rx.add({{kRxBuffers + 0x100ull * i, size, true}});
        write(kQueueNotify, 0);
    }
    [[nodiscard]] std::string guest_string(std::uint64_t address, std::size_t length) {
        return {reinterpret_cast<const char*>(memory.host(address, length)), length};
    }

    void expect_needs_reset(const char* reason) {
        EXPECT_NE(read(kStatus) & kNeedsReset, 0u);
        ASSERT_NE(console.transport().failure_reason(), nullptr);
        EXPECT_STREQ(console.transport().failure_reason(), reason);
        ASSERT_FALSE(failures.empty());
        EXPECT_EQ(failures.front(), reason);
    }

    void round_trip(std::uint64_t features);

    FakeGuestMemory memory{{{kRam, kExtentSize}, {kRam + kExtentSize, kExtentSize}}};
    VirtioConsole console;
    DriverRing rx{memory, 64, kRam, kRam + 0x1000, kRam + 0x2000};
    DriverRing tx{memory, 64, kRam + 0x4000, kRam + 0x5000, kRam + 0x6000};
    std::uint64_t last_read{0};
    bool line{false};
    std::vector<bool> levels;
    std::vector<std::string> failures;
    std::string output;
    int buffers_done{0};
};

// --- Identification and access rules ----------------------------------------------------------

TEST_F(VirtioMmioTest, IdentifiesAsModernConsole) {
    EXPECT_EQ(read(kMagicValue), 0x74726976u);
    EXPECT_EQ(read(kVersion), 2u);
    EXPECT_EQ(read(kDeviceId), 3u);
    EXPECT_EQ(read(kVendorId), kVirtioVendorId);
    write(kDeviceFeaturesSelect, 0);
    EXPECT_EQ(read(kDeviceFeatures), static_cast<std::uint32_t>(kIndirectDesc | kEventIdx));
    write(kDeviceFeaturesSelect, 1);
    EXPECT_EQ(read(kDeviceFeatures), 1u);  // VIRTIO_F_VERSION_1
    write(kDeviceFeaturesSelect, 2);
    EXPECT_EQ(read(kDeviceFeatures), 0u);
    EXPECT_EQ(read(kSharedMemoryLengthLow), 0xffff'ffffu);  // no shared memory regions
    EXPECT_EQ(read(kStatus), 0u);
    EXPECT_EQ(read(kInterruptStatus), 0u);
}

TEST_F(VirtioMmioTest, ControlRegistersTakeOnlyAligned32BitAccesses) {
    EXPECT_FALSE(try_access(kStatus, 1, false));
    EXPECT_FALSE(try_access(kStatus, 2, true, 1));
    EXPECT_FALSE(try_access(kStatus, 8, false));
    EXPECT_FALSE(try_access(kStatus + 1, 4, false));
    EXPECT_FALSE(try_access(kQueueNotify + 2, 4, true, 0));
    EXPECT_FALSE(try_access(kVirtioMmioWindow, 4, false));  // beyond the window
    EXPECT_EQ(read(kStatus), 0u);                            // nothing was written
}

TEST_F(VirtioMmioTest, ConfigSpaceIsByteAccessibleAndZero) {
    EXPECT_TRUE(try_access(kConfig, 1, false));
    EXPECT_EQ(last_read, 0u);
    EXPECT_TRUE(try_access(kConfig + 2, 2, false));  // rows
    EXPECT_EQ(last_read, 0u);
    EXPECT_TRUE(try_access(kConfig + 4, 4, false));  // max_nr_ports
    EXPECT_EQ(last_read, 0u);
    EXPECT_TRUE(try_access(kConfig + 8, 8, false));  // emerg_wr and beyond: zero
    EXPECT_EQ(last_read, 0u);
    EXPECT_TRUE(try_access(kConfig + 0x80, 4, false));
    EXPECT_EQ(last_read, 0u);
    EXPECT_TRUE(try_access(kConfig + 8, 4, true, 'x'));  // emerg_wr is not offered: ignored
    EXPECT_TRUE(output.empty());
    EXPECT_FALSE(try_access(kConfig + 1, 2, false));  // misaligned
    EXPECT_FALSE(try_access(kConfig + 2, 4, false));
    EXPECT_FALSE(try_access(kConfig, 3, false));
}

TEST_F(VirtioMmioTest, ReadOnlyAndWriteOnlyRegisters) {
    write(kMagicValue, 0);
    EXPECT_EQ(read(kMagicValue), 0x74726976u);
    write(kQueueSizeMax, 1024);
    EXPECT_EQ(read(kQueueSizeMax), 64u);
    EXPECT_EQ(read(kQueueNotify), 0u);
    EXPECT_EQ(read(kDriverFeatures), 0u);
    EXPECT_EQ(read(kQueueDescriptorLow), 0u);
    write(kConfigGeneration, 7);
    EXPECT_EQ(read(kConfigGeneration), 0u);
}

TEST_F(VirtioMmioTest, QueuesBeyondTheDeviceAreAbsent) {
    write(kQueueSelect, 2);
    EXPECT_EQ(read(kQueueSizeMax), 0u);
    EXPECT_EQ(read(kQueueReady), 0u);
    write(kQueueSize, 8);
    write(kQueueReady, 1);
    EXPECT_EQ(read(kQueueReady), 0u);
    EXPECT_EQ(read(kStatus) & kNeedsReset, 0u);
}

// --- The full handshake and a round trip ------------------------------------------------------

void VirtioMmioTest::round_trip(std::uint64_t features) {
    start(features);
    EXPECT_EQ(console.transport().negotiated_features(), features);
    post_receive_buffers(4);  // Linux fills the receive queue at probe
    EXPECT_FALSE(line);

    transmit("hello\n");
    EXPECT_EQ(output, "hello\n");
    EXPECT_EQ(buffers_done, 1);
    ASSERT_EQ(tx.used_index(), 1);
    EXPECT_EQ(tx.used_element(0).id, 0u);
    EXPECT_EQ(tx.used_element(0).length, 0u);
    EXPECT_TRUE(line);
    EXPECT_EQ(take_interrupt(), kVirtioInterruptUsedBuffer);
    EXPECT_FALSE(line);

    EXPECT_TRUE(console.receive('o'));
    EXPECT_TRUE(line);
    EXPECT_EQ(take_interrupt(), kVirtioInterruptUsedBuffer);
    EXPECT_TRUE(console.receive('k'));
    EXPECT_TRUE(line);
    EXPECT_EQ(take_interrupt(), kVirtioInterruptUsedBuffer);
    ASSERT_EQ(rx.used_index(), 2);
    EXPECT_EQ(rx.used_element(0).id, 0u);
    EXPECT_EQ(rx.used_element(0).length, 1u);
    EXPECT_EQ(rx.used_element(1).id, 1u);
    EXPECT_EQ(guest_string(kRxBuffers, 1), "o");
    EXPECT_EQ(guest_string(kRxBuffers + 0x100, 1), "k");

    transmit("$ ");
    EXPECT_EQ(output, "hello\n$ ");
    EXPECT_EQ(buffers_done, 2);
    EXPECT_EQ(read(kStatus) & kNeedsReset, 0u);
    EXPECT_TRUE(failures.empty());
}

TEST_F(VirtioMmioTest, HandshakeAndRoundTripWithEventIndex) { round_trip(kLinuxFeatures); }

TEST_F(VirtioMmioTest, HandshakeAndRoundTripWithoutOptionalFeatures) { round_trip(kVersion1); }

TEST_F(VirtioMmioTest, InputWaitsForReceiveBuffers) {
    start();
    EXPECT_TRUE(console.receive('a'));
    EXPECT_TRUE(console.receive('b'));
    EXPECT_TRUE(console.receive('c'));
    EXPECT_FALSE(line);
    post_receive_buffers(1, 2);  // room for two of the three
    ASSERT_EQ(rx.used_index(), 1);
    EXPECT_EQ(rx.used_element(0).length, 2u);
    EXPECT_EQ(guest_string(kRxBuffers, 2), "ab");
    EXPECT_EQ(rx.available_event(), 1);  // with event index: notify me at the next buffer
    EXPECT_TRUE(line);
    take_interrupt();
    post_receive_buffers(1);
    ASSERT_EQ(rx.used_index(), 2);
    EXPECT_EQ(rx.used_element(1).length, 1u);
}

TEST_F(VirtioMmioTest, InputFifoHasALimit) {
    for (std::size_t i = 0; i < VirtioConsole::kInputCapacity; ++i) EXPECT_TRUE(console.receive('x'));
    EXPECT_FALSE(console.receive('y'));
}

TEST_F(VirtioMmioTest, NotificationsBeforeDriverOkWaitForIt) {
    negotiate(kLinuxFeatures);
    setup_queue(0, rx);
    setup_queue(1, tx);
    transmit("early");
    EXPECT_TRUE(output.empty());
    add_status(kDriverOk);
    EXPECT_EQ(output, "early");
}

TEST_F(VirtioMmioTest, DriverCanSuppressInterrupts) {
    start(kVersion1);
    tx.set_available_flags(testing::kAvailNoInterrupt);
    transmit("quiet");
    EXPECT_EQ(output, "quiet");
    EXPECT_EQ(tx.used_index(), 1);
    EXPECT_FALSE(line);
}

TEST_F(VirtioMmioTest, LongTransmitBuffersAreCut) {
    start();
    const std::uint64_t big = kRam + kExtentSize;  // 64 KiB of 'z' in the second extent, plus 16 more
    std::memset(memory.host(big, kExtentSize), 'z', kExtentSize);
    tx.add({{big, static_cast<std::uint32_t>(kExtentSize), false}, {kTxBuffers, 16, false}});
    write(kQueueNotify, 1);
    EXPECT_EQ(output.size(), VirtioConsole::kMaxOutputPerBuffer);
    EXPECT_EQ(buffers_done, 1);
    EXPECT_EQ(tx.used_index(), 1);
}

TEST_F(VirtioMmioTest, QueueCanBeStoppedAndSetUpAgain) {
    start();
    write(kQueueSelect, 1);
    write(kQueueReady, 0);
    EXPECT_EQ(read(kQueueReady), 0u);
    transmit("lost");
    EXPECT_TRUE(output.empty());
    DriverRing moved{memory, 16, kRam + 0x7000, kRam + 0x7400, kRam + 0x7800};
    write(kQueueSize, 16);
    write(kQueueDescriptorLow, static_cast<std::uint32_t>(moved.descriptors()));
    write(kQueueDriverLow, static_cast<std::uint32_t>(moved.available()));
    write(kQueueDeviceLow, static_cast<std::uint32_t>(moved.used()));
    write(kQueueReady, 1);
    std::memcpy(memory.host(kTxBuffers), "again", 5);
    moved.add({{kTxBuffers, 5, false}});
    write(kQueueNotify, 1);
    EXPECT_EQ(output, "again");
}

TEST_F(VirtioMmioTest, ResetClearsEverything) {
    start();
    transmit("x");
    EXPECT_TRUE(line);
    write(kStatus, 0);
    EXPECT_EQ(read(kStatus), 0u);
    EXPECT_EQ(read(kInterruptStatus), 0u);
    EXPECT_FALSE(line);
    write(kQueueSelect, 0);
    EXPECT_EQ(read(kQueueReady), 0u);
    write(kQueueSelect, 1);
    EXPECT_EQ(read(kQueueReady), 0u);
    // The driver starts over on fresh rings.
    std::memset(memory.host(kRam, 0x8000), 0, 0x8000);
    rx.restart();
    tx.restart();
    start();
    transmit("y");
    EXPECT_EQ(output, "xy");
}

TEST_F(VirtioMmioTest, ConfigChangeBumpsGenerationAndInterrupts) {
    start();
    const std::uint32_t generation = read(kConfigGeneration);
    {
        const LockGuard guard{console.transport().lock()};
        console.transport().config_changed();
    }
    EXPECT_NE(read(kConfigGeneration), generation);
    EXPECT_EQ(read(kInterruptStatus), kVirtioInterruptConfigChange);
    EXPECT_TRUE(line);
}

// --- Feature negotiation ----------------------------------------------------------------------

TEST_F(VirtioMmioTest, LegacyDriverIsRefused) {
    negotiate(kIndirectDesc);  // no VIRTIO_F_VERSION_1
    EXPECT_EQ(read(kStatus) & kFeaturesOk, 0u);
    EXPECT_EQ(read(kStatus) & kNeedsReset, 0u);  // a refusal, not a failure
    add_status(kFailed);                          // what Linux does next
    EXPECT_EQ(read(kStatus), kAcknowledge | kDriver | kFailed);
}

TEST_F(VirtioMmioTest, FeaturesNotOfferedAreRefused) {
    negotiate(kVersion1 | 1);  // VIRTIO_CONSOLE_F_SIZE was not offered
    EXPECT_EQ(read(kStatus) & kFeaturesOk, 0u);
}

TEST_F(VirtioMmioTest, FeatureBitsBeyond63AreRefused) {
    write(kStatus, kAcknowledge | kDriver);
    write(kDriverFeaturesSelect, 1);
    write(kDriverFeatures, 1);
    write(kDriverFeaturesSelect, 2);
    write(kDriverFeatures, 1);
    add_status(kFeaturesOk);
    EXPECT_EQ(read(kStatus) & kFeaturesOk, 0u);
}

TEST_F(VirtioMmioTest, FeaturesAreFixedOnceAccepted) {
    negotiate(kVersion1);
    write(kDriverFeatures, static_cast<std::uint32_t>(kEventIdx));
    EXPECT_EQ(console.transport().negotiated_features(), kVersion1);
}

// --- Status mistakes: DEVICE_NEEDS_RESET ------------------------------------------------------

TEST_F(VirtioMmioTest, DriverOkWithoutFeaturesOk) {
    write(kStatus, kAcknowledge | kDriver);
    add_status(kDriverOk);
    expect_needs_reset("DRIVER_OK set without FEATURES_OK");
    EXPECT_EQ(read(kStatus) & kDriverOk, 0u);
}

TEST_F(VirtioMmioTest, FeaturesOkBeforeDriver) {
    write(kDriverFeaturesSelect, 1);
    write(kDriverFeatures, 1);
    write(kStatus, kFeaturesOk);
    expect_needs_reset("FEATURES_OK set before ACKNOWLEDGE and DRIVER");
}

TEST_F(VirtioMmioTest, ClearingAStatusBit) {
    write(kStatus, kAcknowledge | kDriver);
    write(kStatus, kAcknowledge);
    expect_needs_reset("driver cleared a device status bit without a reset");
}

TEST_F(VirtioMmioTest, DriverCannotSetOrClearNeedsReset) {
    write(kStatus, kAcknowledge | kNeedsReset);
    EXPECT_EQ(read(kStatus), kAcknowledge);
}

// --- Queue setup mistakes ---------------------------------------------------------------------

class VirtioMmioQueueSetupTest : public VirtioMmioTest {
protected:
    void SetUp() override {
        VirtioMmioTest::SetUp();
        negotiate(kLinuxFeatures);
        write(kQueueSelect, 1);
        write(kQueueSize, 64);
        write(kQueueDescriptorLow, static_cast<std::uint32_t>(tx.descriptors()));
        write(kQueueDriverLow, static_cast<std::uint32_t>(tx.available()));
        write(kQueueDeviceLow, static_cast<std::uint32_t>(tx.used()));
    }
    void expect_refused(const char* reason) {
        write(kQueueReady, 1);
        EXPECT_EQ(read(kQueueReady), 0u);
        expect_needs_reset(reason);
        // The device stays inert until a reset, even if the driver carries on.
        add_status(kDriverOk);
        transmit("nothing");
        EXPECT_TRUE(output.empty());
        EXPECT_EQ(tx.used_index(), 0);
        // A reset clears the failure.
        write(kStatus, 0);
        EXPECT_EQ(read(kStatus), 0u);
        EXPECT_EQ(console.transport().failure_reason(), nullptr);
    }
};

TEST_F(VirtioMmioQueueSetupTest, SizeZero) {
    write(kQueueSize, 0);
    expect_refused("virtqueue size is zero");
}

TEST_F(VirtioMmioQueueSetupTest, SizeNotAPowerOfTwo) {
    write(kQueueSize, 48);
    expect_refused("virtqueue size is not a power of two");
}

TEST_F(VirtioMmioQueueSetupTest, SizeAboveMaximum) {
    write(kQueueSize, 128);
    expect_refused("QueueNum exceeds QueueNumMax");
}

TEST_F(VirtioMmioQueueSetupTest, HugeSize) {
    write(kQueueSize, 0x1'0040);  // would truncate to 64 in 16 bits
    expect_refused("QueueNum exceeds QueueNumMax");
}

TEST_F(VirtioMmioQueueSetupTest, DescriptorTableOutsideRam) {
    write(kQueueDescriptorLow, static_cast<std::uint32_t>(kRamEnd - 0x200));
    expect_refused("descriptor table is not in guest RAM");
}

TEST_F(VirtioMmioQueueSetupTest, DescriptorTableHighHalfOutsideRam) {
    write(kQueueDescriptorHigh, 1);
    expect_refused("descriptor table is not in guest RAM");
}

TEST_F(VirtioMmioQueueSetupTest, AvailableRingOutsideRam) {
    write(kQueueDriverLow, 0x1000);
    expect_refused("available ring is not in guest RAM");
}

TEST_F(VirtioMmioQueueSetupTest, UsedRingOutsideRam) {
    write(kQueueDeviceLow, static_cast<std::uint32_t>(kRamEnd - 0x100));
    expect_refused("used ring is not in guest RAM");
}

TEST_F(VirtioMmioQueueSetupTest, MisalignedUsedRing) {
    write(kQueueDeviceLow, static_cast<std::uint32_t>(tx.used() + 2));
    expect_refused("used ring is not 4-byte aligned");
}

TEST_F(VirtioMmioTest, QueueEnabledBeforeFeaturesOk) {
    write(kStatus, kAcknowledge | kDriver);
    write(kQueueSelect, 0);
    write(kQueueSize, 64);
    write(kQueueDescriptorLow, static_cast<std::uint32_t>(rx.descriptors()));
    write(kQueueDriverLow, static_cast<std::uint32_t>(rx.available()));
    write(kQueueDeviceLow, static_cast<std::uint32_t>(rx.used()));
    write(kQueueReady, 1);
    EXPECT_EQ(read(kQueueReady), 0u);
    expect_needs_reset("queue enabled before FEATURES_OK");
}

TEST_F(VirtioMmioTest, QueueRegistersWrittenWhileEnabled) {
    start();
    write(kQueueSelect, 1);
    write(kQueueSize, 16);
    expect_needs_reset("queue registers written while the queue is enabled");
    EXPECT_EQ(take_interrupt(), kVirtioInterruptConfigChange);  // past DRIVER_OK the driver is told
}

// --- Corrupt rings at run time ----------------------------------------------------------------

TEST_F(VirtioMmioTest, CorruptRingStopsTheDevice) {
    start();
    tx.set_descriptor(0, kTxBuffers, 4, testing::kDescNext, 1);
    tx.set_descriptor(1, kTxBuffers, 4, testing::kDescNext, 0);  // a loop
    tx.offer(0);
    write(kQueueNotify, 1);
    expect_needs_reset("descriptor chain loops");
    EXPECT_TRUE(line);
    EXPECT_EQ(take_interrupt(), kVirtioInterruptConfigChange);
    EXPECT_EQ(tx.used_index(), 0);

    // Nothing more happens on any queue until a reset.
    post_receive_buffers(1);
    EXPECT_TRUE(console.receive('q'));
    EXPECT_EQ(rx.used_index(), 0);
    tx.set_next_free(2);
    transmit("more");
    EXPECT_TRUE(output.empty());
    EXPECT_FALSE(line);
}

TEST_F(VirtioMmioTest, AvailableIndexJumpDuringReceive) {
    start();
    post_receive_buffers(1);
    rx.set_available_index(200);  // 200 buffers in a ring of 64
    EXPECT_TRUE(console.receive('a'));
    EXPECT_EQ(rx.used_index(), 0);
    expect_needs_reset("available index moved ahead by more than the queue size");
}

TEST_F(VirtioMmioTest, ReceiveBufferOutsideRam) {
    start();
    rx.add({{kRamEnd - 4, 64, true}});
    write(kQueueNotify, 0);
    EXPECT_TRUE(console.receive('a'));
    expect_needs_reset("descriptor buffer is not in guest RAM");
}

TEST_F(VirtioMmioTest, OwnerResetRecoversFromFailure) {
    start();
    tx.offer(64);  // head beyond the table
    write(kQueueNotify, 1);
    expect_needs_reset("available ring names a descriptor beyond the table");
    console.transport().reset();
    EXPECT_EQ(read(kStatus), 0u);
    EXPECT_EQ(console.transport().failure_reason(), nullptr);
    EXPECT_FALSE(line);
}

}  // namespace
}  // namespace lamina
