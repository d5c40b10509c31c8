// VirtioNet on the virtio-mmio transport and the virtual switch: a fake
// driver (registers as Linux's virtio_mmio and virtio_net program them,
// rings in fake guest RAM) sends and receives frames through the switch,
// to a recording port or to another VirtioNet, including mistakes with one
// packet (counted, the device goes on) and with the rings (the device needs
// a reset). Guard bytes around the fake RAM are checked after every test.
#include "virtual_devices/virtio_net.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "fake_guest_memory.hpp"
#include "virtio_driver_ring.hpp"

namespace lamina {
namespace {

using testing::DriverRing;
using testing::FakeGuestMemory;
using Frame = std::vector<std::byte>;

using namespace virtio_mmio_register;

constexpr std::uint32_t kAcknowledge = 1;
constexpr std::uint32_t kDriver = 2;
constexpr std::uint32_t kDriverOk = 4;
constexpr std::uint32_t kFeaturesOk = 8;
constexpr std::uint32_t kNeedsReset = 0x40;

constexpr std::uint64_t kNetMtu = 1ull << 3;
constexpr std::uint64_t kNetMac = 1ull << 5;
constexpr std::uint64_t kNetStatus = 1ull << 16;
constexpr std::uint64_t kIndirectDesc = 1ull << 28;
constexpr std::uint64_t kEventIdx = 1ull << 29;
constexpr std::uint64_t kVersion1 = 1ull << 32;
constexpr std::uint64_t kOffered = kNetMtu | kNetMac | kNetStatus | kIndirectDesc | kEventIdx | kVersion1;

constexpr std::size_t kHeader = VirtioNet::kHeaderSize;
constexpr std::uint16_t kRingSize = VirtioNet::kQueueSize;

// Guest RAM: the two rings, then 2 KiB packet buffers (a receive buffer per
// receive descriptor, a transmit buffer per transmit descriptor).
constexpr std::uint64_t kRam = 0x4000'0000;
constexpr std::uint64_t kRamSize = 0x20'0000;
constexpr std::uint64_t kRxBuffers = kRam + 0x1'0000;
constexpr std::uint64_t kTxBuffers = kRam + 0x9'0000;
constexpr std::uint64_t kBufferStride = 0x800;

constexpr NetworkId kNetwork1{1};
constexpr NetworkId kNetwork2{2};
constexpr MacAddress kBroadcast{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
constexpr MacAddress kMacA{{0x52, 0x54, 0x00, 0x00, 0x00, 0x0a}};
constexpr MacAddress kMacB{{0x52, 0x54, 0x00, 0x00, 0x00, 0x0b}};
constexpr MacAddress kMacPort{{0x52, 0x54, 0x00, 0x00, 0x00, 0xee}};

// An Ethernet II frame of `size` bytes whose payload counts up from `seed`.
Frame make_frame(MacAddress destination, MacAddress source, std::size_t size = 64, std::uint8_t seed = 0) {
    Frame frame(size);
    for (std::size_t i = 0; i < size; ++i) frame[i] = static_cast<std::byte>(seed + i);
    for (std::size_t i = 0; i < 6; ++i) {
        frame[i] = static_cast<std::byte>(destination.bytes[i]);
        frame[6 + i] = static_cast<std::byte>(source.bytes[i]);
    }
    frame[12] = std::byte{0x08};
    frame[13] = std::byte{0x00};
    return frame;
}

// A port that records what the switch gives it.
class RecordingPort final : public NetworkPort {
public:
    bool receive_frame(std::span<const std::byte> frame) override {
        frames.emplace_back(frame.begin(), frame.end());
        return true;
    }
    std::vector<Frame> frames;
};

// One VM: its RAM, its network card and the driver's side of the rings.
class Guest final {
public:
    Guest(VirtualSwitch& network_switch, NetworkId network, MacAddress mac) {
        const VirtioTransportHooks hooks{&record_level, &record_failure, this};
        const Status connected = net.connect(memory, hooks, network_switch, network, mac);
        EXPECT_TRUE(connected.ok()) << connected.error().message;
    }
    ~Guest() {
        net.disconnect();
        EXPECT_TRUE(memory.guards_intact());
    }

    static void record_level(void* self, bool asserted) {
        auto& guest = *static_cast<Guest*>(self);
        if (asserted && !guest.line) ++guest.interrupts;
        guest.line = asserted;
    }
    static void record_failure(void* self, Error reason) {
        static_cast<Guest*>(self)->failures.emplace_back(reason.message);
    }

    // --- Registers, through the device the VM maps ------------------------------------
    std::uint32_t read(std::uint64_t offset, unsigned size = 4) {
        MmioAccess access{offset, size, false, 0};
        EXPECT_TRUE(net.mmio_device().access(access)) << "read at " << std::hex << offset;
        return static_cast<std::uint32_t>(access.value);
    }
    void write(std::uint64_t offset, std::uint32_t value, unsigned size = 4) {
        MmioAccess access{offset, size, true, value};
        EXPECT_TRUE(net.mmio_device().access(access)) << "write at " << std::hex << offset;
    }
    void add_status(std::uint32_t bits) { write(kStatus, read(kStatus) | bits); }

    // Linux: virtio_mmio_probe, virtio_dev_probe, virtnet_probe.
    void negotiate(std::uint64_t features = kOffered) {
        ASSERT_EQ(read(kMagicValue), 0x74726976u);
        ASSERT_EQ(read(kDeviceId), 1u);
        write(kStatus, 0);
        add_status(kAcknowledge);
        add_status(kDriver);
        write(kDeviceFeaturesSelect, 1);
        const std::uint64_t offered_high = read(kDeviceFeatures);
        write(kDeviceFeaturesSelect, 0);
        EXPECT_EQ((offered_high << 32) | read(kDeviceFeatures), kOffered);
        write(kDriverFeaturesSelect, 1);
        write(kDriverFeatures, static_cast<std::uint32_t>(features >> 32));
        write(kDriverFeaturesSelect, 0);
        write(kDriverFeatures, static_cast<std::uint32_t>(features));
        add_status(kFeaturesOk);
        ASSERT_NE(read(kStatus) & kFeaturesOk, 0u);
    }
    void setup_queue(std::uint32_t index, const DriverRing& ring) {
        write(kQueueSelect, index);
        EXPECT_EQ(read(kQueueSizeMax), kRingSize);
        write(kQueueSize, ring.size());
        write(kQueueDescriptorLow, static_cast<std::uint32_t>(ring.descriptors()));
        write(kQueueDescriptorHigh, static_cast<std::uint32_t>(ring.descriptors() >> 32));
        write(kQueueDriverLow, static_cast<std::uint32_t>(ring.available()));
        write(kQueueDriverHigh, static_cast<std::uint32_t>(ring.available() >> 32));
        write(kQueueDeviceLow, static_cast<std::uint32_t>(ring.used()));
        write(kQueueDeviceHigh, static_cast<std::uint32_t>(ring.used() >> 32));
        write(kQueueReady, 1);
        EXPECT_EQ(read(kQueueReady), 1u);
    }
    void start(std::uint64_t features = kOffered) {
        negotiate(features);
        setup_queue(VirtioNet::kReceiveQueue, rx);
        setup_queue(VirtioNet::kTransmitQueue, tx);
        add_status(kDriverOk);
        ASSERT_EQ(read(kStatus), kAcknowledge | kDriver | kFeaturesOk | kDriverOk);
    }
    // Linux's vm_interrupt, then asking for the next used buffer of each queue.
    std::uint32_t take_interrupt() {
        const std::uint32_t cause = read(kInterruptStatus);
        write(kInterruptAcknowledge, cause);
        rx.set_used_event(rx.used_index());
        tx.set_used_event(tx.used_index());
        return cause;
    }

    // --- Packets ------------------------------------------------------------------------
    // Receive buffers of `size` bytes, one descriptor each (Linux's small buffers).
    void post_receive_buffers(int count, std::uint32_t size = kBufferStride) {
        for (int i = 0; i < count; ++i) {
            const std::uint16_t head = rx.add({{rx_buffer(next_rx_), size, true}});
            EXPECT_EQ(head, next_rx_);
            next_rx_ = static_cast<std::uint16_t>((next_rx_ + 1) % kRingSize);
        }
        write(kQueueNotify, VirtioNet::kReceiveQueue);
    }
    // Header and frame in one buffer, as Linux sends with VERSION_1.
    void transmit(const Frame& frame, bool notify = true) { transmit_packet(packet_of(frame), notify); }
    void transmit_packet(const Frame& packet, bool notify = true) {
        const std::uint64_t buffer = kTxBuffers + kBufferStride * (next_tx_++ % kRingSize);
        std::memcpy(memory.host(buffer, packet.size()), packet.data(), packet.size());
        tx.add({{buffer, static_cast<std::uint32_t>(packet.size()), false}});
        if (notify) write(kQueueNotify, VirtioNet::kTransmitQueue);
    }
    [[nodiscard]] static Frame packet_of(const Frame& frame) {
        Frame packet(kHeader, std::byte{0});
        packet.insert(packet.end(), frame.begin(), frame.end());
        return packet;
    }
    // What the device writes for a received frame: the header says one buffer.
    [[nodiscard]] static Frame received_form(const Frame& frame) {
        Frame packet = packet_of(frame);
        packet[10] = std::byte{1};
        return packet;
    }
    // The packet the device wrote for the `position`-th used receive buffer.
    [[nodiscard]] Frame received_packet(std::uint16_t position) {
        const testing::UsedElement used = rx.used_element(position);
        const std::byte* start = memory.host(rx_buffer(static_cast<std::uint16_t>(used.id)), used.length);
        return start == nullptr ? Frame{} : Frame(start, start + used.length);
    }
    [[nodiscard]] static std::uint64_t rx_buffer(std::uint16_t index) { return kRxBuffers + kBufferStride * index; }

    FakeGuestMemory memory{{{kRam, kRamSize}}};
    VirtioNet net;
    DriverRing rx{memory, kRingSize, kRam, kRam + 0x1000, kRam + 0x2000};
    DriverRing tx{memory, kRingSize, kRam + 0x3000, kRam + 0x4000, kRam + 0x5000};
    bool line{false};
    int interrupts{0};
    std::vector<std::string> failures;

private:
    std::uint16_t next_rx_{0};
    std::uint32_t next_tx_{0};
};

class VirtioNetTest : public ::testing::Test {
protected:
    void SetUp() override {
        const auto id = network_switch.attach(port, kNetwork1);
        ASSERT_TRUE(id.ok());
        port_id = *id;
    }
    // A frame from the recording port's station, through the switch.
    void send_from_port(const Frame& frame) { network_switch.send(port_id, frame); }
    SwitchPortStats port_stats() { return *network_switch.port_stats(port_id); }

    void expect_needs_reset(const char* reason) {
        EXPECT_NE(guest.read(kStatus) & kNeedsReset, 0u);
        ASSERT_NE(guest.net.transport().failure_reason(), nullptr);
        EXPECT_STREQ(guest.net.transport().failure_reason(), reason);
        ASSERT_FALSE(guest.failures.empty());
        EXPECT_EQ(guest.failures.front(), reason);
    }

    VirtualSwitch network_switch;
    RecordingPort port;
    SwitchPortId port_id{};
    Guest guest{network_switch, kNetwork1, kMacA};
};

// --- Identification and configuration ---------------------------------------------------------

TEST_F(VirtioNetTest, ConfigurationSpaceHoldsMacStatusPairsAndMtu) {
    for (unsigned i = 0; i < 6; ++i) EXPECT_EQ(guest.read(kConfig + i, 1), kMacA.bytes[i]) << i;
    EXPECT_EQ(guest.read(kConfig + 6, 2), VirtioNet::kStatusLinkUp);
    EXPECT_EQ(guest.read(kConfig + 8, 2), 1u);     // max_virtqueue_pairs
    EXPECT_EQ(guest.read(kConfig + 10, 2), 1500u);  // mtu
    EXPECT_EQ(guest.read(kConfig + 12, 4), 0u);     // speed and beyond: not offered
    EXPECT_EQ(guest.read(kConfig + 4, 4), 0x0001'0a00u);  // mac[4..5], then status
    guest.write(kConfig, 0xff, 1);                         // read-only: ignored
    EXPECT_EQ(guest.read(kConfig, 1), kMacA.bytes[0]);
    EXPECT_EQ(guest.net.mac(), kMacA);
}

TEST_F(VirtioNetTest, OffersTwoQueuesOfTheLargestSize) {
    guest.negotiate();
    guest.write(kQueueSelect, 0);
    EXPECT_EQ(guest.read(kQueueSizeMax), 256u);
    guest.write(kQueueSelect, 1);
    EXPECT_EQ(guest.read(kQueueSizeMax), 256u);
    guest.write(kQueueSelect, 2);  // no control queue
    EXPECT_EQ(guest.read(kQueueSizeMax), 0u);
}

TEST_F(VirtioNetTest, DriverMayTakeFewerFeatures) {
    guest.start(kVersion1);
    EXPECT_EQ(guest.net.transport().negotiated_features(), kVersion1);
    guest.transmit(make_frame(kBroadcast, kMacA));
    EXPECT_EQ(port.frames.size(), 1u);
}

// --- Transmit -----------------------------------------------------------------------------------

TEST_F(VirtioNetTest, TransmittedFrameReachesAPortOnTheSwitch) {
    guest.start();
    const Frame frame = make_frame(kMacPort, kMacA, 100);
    guest.transmit(frame);
    ASSERT_EQ(port.frames.size(), 1u);
    EXPECT_EQ(port.frames[0], frame);  // without the virtio header
    ASSERT_EQ(guest.tx.used_index(), 1);
    EXPECT_EQ(guest.tx.used_element(0).length, 0u);
    EXPECT_TRUE(guest.line);
    EXPECT_EQ(guest.take_interrupt(), kVirtioInterruptUsedBuffer);

    const VirtioNetStats stats = guest.net.stats();
    EXPECT_EQ(stats.tx_packets, 1u);
    EXPECT_EQ(stats.tx_bytes, 100u);
    EXPECT_EQ(stats.tx_errors, 0u);
    EXPECT_EQ(port_stats().delivered_frames, 1u);
}

TEST_F(VirtioNetTest, HeaderAndFrameInSeparateBuffers) {
    guest.start();
    const Frame frame = make_frame(kMacPort, kMacA, 300, 7);
    const Frame packet = Guest::packet_of(frame);
    std::memcpy(guest.memory.host(kTxBuffers, packet.size()), packet.data(), packet.size());
    // Header, then the frame in two pieces, as from a scatter-gather list.
    guest.tx.add({{kTxBuffers, kHeader, false}, {kTxBuffers + kHeader, 20, false},
                  {kTxBuffers + kHeader + 20, 280, false}});
    guest.write(kQueueNotify, VirtioNet::kTransmitQueue);
    ASSERT_EQ(port.frames.size(), 1u);
    EXPECT_EQ(port.frames[0], frame);
}

TEST_F(VirtioNetTest, FramesLeaveInTheOrderTheGuestQueuedThem) {
    guest.start();
    for (std::uint8_t seed = 0; seed < 10; ++seed) guest.transmit(make_frame(kMacPort, kMacA, 64, seed), false);
    guest.write(kQueueNotify, VirtioNet::kTransmitQueue);
    ASSERT_EQ(port.frames.size(), 10u);
    for (std::uint8_t seed = 0; seed < 10; ++seed) EXPECT_EQ(port.frames[seed], make_frame(kMacPort, kMacA, 64, seed));
    EXPECT_EQ(guest.tx.used_index(), 10);
}

TEST_F(VirtioNetTest, FullRingIsSentInOnePass) {
    guest.start();
    for (std::uint32_t i = 0; i < kRingSize; ++i) guest.transmit(make_frame(kMacPort, kMacA), false);
    guest.write(kQueueNotify, VirtioNet::kTransmitQueue);
    EXPECT_EQ(port.frames.size(), kRingSize);
    EXPECT_EQ(guest.tx.used_index(), kRingSize);
    // With event index, the device asks to be notified at the next packet.
    EXPECT_EQ(guest.tx.available_event(), kRingSize);
}

// One vCPU queues and notifies while another keeps reading a register of
// the same device: either CPU may be the one moving frames, and none may be
// lost or overtaken.
TEST_F(VirtioNetTest, TwoCpusOnOneDeviceKeepEveryFrameInOrder) {
    constexpr std::uint8_t kFrames = 200;  // fewer than the ring: no descriptor is reused
    guest.start();
    std::atomic<bool> done{false};
    std::thread other_cpu{[this, &done] {
        while (!done.load()) (void)guest.read(kInterruptStatus);
    }};
    for (std::uint8_t i = 0; i < kFrames; ++i) guest.transmit(make_frame(kMacPort, kMacA, 64, i));
    done.store(true);
    other_cpu.join();

    ASSERT_EQ(port.frames.size(), kFrames);  // with no access after the last notification
    for (std::uint8_t i = 0; i < kFrames; ++i) EXPECT_EQ(port.frames[i], make_frame(kMacPort, kMacA, 64, i));
    EXPECT_EQ(guest.tx.used_index(), kFrames);
}

TEST_F(VirtioNetTest, PacketsQueuedBeforeDriverOkLeaveAtDriverOk) {
    guest.negotiate();
    guest.setup_queue(VirtioNet::kReceiveQueue, guest.rx);
    guest.setup_queue(VirtioNet::kTransmitQueue, guest.tx);
    guest.transmit(make_frame(kBroadcast, kMacA));
    EXPECT_TRUE(port.frames.empty());
    guest.add_status(kDriverOk);
    EXPECT_EQ(port.frames.size(), 1u);
}

TEST_F(VirtioNetTest, MalformedPacketsAreCompletedAndNotForwarded) {
    guest.start();
    guest.transmit_packet(Frame(kHeader + kMinFrameSize - 1, std::byte{0}));  // too short for an Ethernet header
    guest.transmit(make_frame(kMacPort, kMacA, kMaxFrameSize + 1));  // longer than one MTU
    guest.transmit_packet(Frame(kHeader - 2, std::byte{0}));         // not even a whole virtio header
    EXPECT_TRUE(port.frames.empty());
    ASSERT_EQ(guest.tx.used_index(), 3);
    for (std::uint16_t i = 0; i < 3; ++i) EXPECT_EQ(guest.tx.used_element(i).length, 0u);
    EXPECT_EQ(guest.net.stats().tx_errors, 3u);
    EXPECT_EQ(guest.read(kStatus) & kNeedsReset, 0u);

    // One packet's mistake does not stop the device.
    guest.transmit(make_frame(kMacPort, kMacA, kMaxFrameSize));
    EXPECT_EQ(port.frames.size(), 1u);
    EXPECT_EQ(guest.net.stats().tx_packets, 1u);
}

TEST_F(VirtioNetTest, BrokenTransmitRingNeedsReset) {
    guest.start();
    guest.tx.set_descriptor(0, kTxBuffers, 64, testing::kDescNext, 1);
    guest.tx.set_descriptor(1, kTxBuffers, 64, testing::kDescNext, 0);  // a loop
    guest.tx.offer(0);
    guest.write(kQueueNotify, VirtioNet::kTransmitQueue);
    expect_needs_reset("descriptor chain loops");
    EXPECT_TRUE(port.frames.empty());
    EXPECT_EQ(guest.take_interrupt(), kVirtioInterruptConfigChange);

    // A reset and a fresh start bring it back.
    guest.write(kStatus, 0);
    std::memset(guest.memory.host(kRam, 0x6000), 0, 0x6000);
    guest.rx.restart();
    guest.tx.restart();
    guest.start();
    guest.transmit(make_frame(kMacPort, kMacA));
    EXPECT_EQ(port.frames.size(), 1u);
}

// --- Receive ------------------------------------------------------------------------------------

TEST_F(VirtioNetTest, FrameFromTheSwitchLandsInAReceiveBuffer) {
    guest.start();
    guest.post_receive_buffers(4);
    EXPECT_FALSE(guest.line);
    const Frame frame = make_frame(kMacA, kMacPort, 200, 3);
    send_from_port(frame);

    ASSERT_EQ(guest.rx.used_index(), 1);
    EXPECT_EQ(guest.rx.used_element(0).length, kHeader + frame.size());
    const Frame packet = guest.received_packet(0);
    ASSERT_EQ(packet.size(), kHeader + frame.size());
    for (std::size_t i = 0; i < 10; ++i) EXPECT_EQ(packet[i], std::byte{0}) << "header byte " << i;
    EXPECT_EQ(packet[10], std::byte{1});  // num_buffers, little endian
    EXPECT_EQ(packet[11], std::byte{0});
    EXPECT_EQ(Frame(packet.begin() + kHeader, packet.end()), frame);

    EXPECT_TRUE(guest.line);
    EXPECT_EQ(guest.interrupts, 1);
    EXPECT_EQ(guest.take_interrupt(), kVirtioInterruptUsedBuffer);
    EXPECT_FALSE(guest.line);

    const VirtioNetStats stats = guest.net.stats();
    EXPECT_EQ(stats.rx_packets, 1u);
    EXPECT_EQ(stats.rx_bytes, 200u);
    EXPECT_EQ(port_stats().received_frames, 1u);
}

TEST_F(VirtioNetTest, LargestFrameFitsLinuxSmallBuffer) {
    guest.start();
    guest.post_receive_buffers(1, kHeader + kMaxFrameSize);
    send_from_port(make_frame(kMacA, kMacPort, kMaxFrameSize));
    ASSERT_EQ(guest.rx.used_index(), 1);
    EXPECT_EQ(guest.rx.used_element(0).length, kHeader + kMaxFrameSize);
}

TEST_F(VirtioNetTest, FrameWithoutReceiveBufferIsDropped) {
    guest.start();
    send_from_port(make_frame(kMacA, kMacPort));
    EXPECT_EQ(guest.rx.used_index(), 0);
    EXPECT_FALSE(guest.line);
    EXPECT_EQ(guest.net.stats().rx_dropped, 1u);
    // The switch counts the device's refusal against its port.
    guest.transmit(make_frame(kBroadcast, kMacA));
    const auto device_port = network_switch.port_stats(guest.net.switch_port());
    ASSERT_TRUE(device_port.ok());
    EXPECT_EQ(device_port->dropped_no_room, 1u);
    EXPECT_EQ(device_port->received_frames, 1u);
    EXPECT_EQ(guest.read(kStatus) & kNeedsReset, 0u);
}

TEST_F(VirtioNetTest, FramesBeforeTheDriverIsReadyAreDropped) {
    send_from_port(make_frame(kMacA, kMacPort));
    guest.negotiate();
    send_from_port(make_frame(kMacA, kMacPort));
    EXPECT_EQ(guest.net.stats().rx_dropped, 2u);
}

TEST_F(VirtioNetTest, FrameTooBigForTheBufferIsDroppedAndTheBufferReturned) {
    guest.start();
    guest.post_receive_buffers(1, 100);
    send_from_port(make_frame(kMacA, kMacPort, 200));
    ASSERT_EQ(guest.rx.used_index(), 1);
    EXPECT_EQ(guest.rx.used_element(0).length, 0u);
    EXPECT_EQ(guest.net.stats().rx_errors, 1u);
    EXPECT_EQ(guest.net.stats().rx_packets, 0u);
    EXPECT_EQ(guest.read(kStatus) & kNeedsReset, 0u);
}

TEST_F(VirtioNetTest, BrokenReceiveRingNeedsReset) {
    guest.start();
    guest.post_receive_buffers(1);
    guest.rx.set_available_index(1000);  // far more buffers than the ring holds
    send_from_port(make_frame(kMacA, kMacPort));
    EXPECT_EQ(guest.rx.used_index(), 0);
    expect_needs_reset("available index moved ahead by more than the queue size");
    EXPECT_EQ(guest.net.stats().rx_dropped, 1u);
}

TEST_F(VirtioNetTest, ReceiveBufferOutsideRamNeedsReset) {
    guest.start();
    guest.rx.add({{kRam + kRamSize - 16, 2048, true}});
    guest.write(kQueueNotify, VirtioNet::kReceiveQueue);
    send_from_port(make_frame(kMacA, kMacPort));
    expect_needs_reset("descriptor buffer is not in guest RAM");
}

// --- Switch attachment ------------------------------------------------------------------------

TEST_F(VirtioNetTest, DisconnectedDeviceGetsNothing) {
    guest.start();
    guest.post_receive_buffers(2);
    guest.net.disconnect();
    send_from_port(make_frame(kBroadcast, kMacPort));
    EXPECT_EQ(guest.rx.used_index(), 0);
    EXPECT_EQ(guest.net.stats().rx_dropped, 0u);  // not even offered
    guest.transmit(make_frame(kBroadcast, kMacA));
    EXPECT_TRUE(port.frames.empty());  // completed, but no longer on the switch
    EXPECT_EQ(guest.tx.used_index(), 1);
    guest.net.disconnect();  // twice is harmless
}

TEST(VirtioNetConnectTest, DisconnectWithoutConnectIsSafe) {
    VirtioNet net;
    net.disconnect();
    EXPECT_EQ(net.stats().rx_packets, 0u);
}

TEST(VirtioNetConnectTest, RefusesGroupOrZeroAddressAndAFullSwitch) {
    VirtualSwitch network_switch;
    FakeGuestMemory memory{{{kRam, 0x1'0000}}};
    VirtioNet net;
    EXPECT_FALSE(net.connect(memory, {}, network_switch, kNetwork1, kBroadcast).ok());
    EXPECT_FALSE(net.connect(memory, {}, network_switch, kNetwork1, MacAddress{}).ok());

    std::vector<RecordingPort> ports(VirtualSwitch::kMaxPorts);
    for (RecordingPort& port : ports) ASSERT_TRUE(network_switch.attach(port, kNetwork1).ok());
    const Status full = net.connect(memory, {}, network_switch, kNetwork1, kMacA);
    ASSERT_FALSE(full.ok());
    EXPECT_STREQ(full.error().message, "virtual switch has no free port");
}

TEST(VirtioNetConnectTest, ReconnectingMovesTheDevice) {
    VirtualSwitch network_switch;
    FakeGuestMemory memory{{{kRam, 0x1'0000}}};
    VirtioNet net;
    ASSERT_TRUE(net.connect(memory, {}, network_switch, kNetwork1, kMacA).ok());
    const SwitchPortId first = net.switch_port();
    ASSERT_TRUE(net.connect(memory, {}, network_switch, kNetwork2, kMacB).ok());
    EXPECT_EQ(net.mac(), kMacB);
    EXPECT_NE(net.switch_port(), first);
    EXPECT_FALSE(network_switch.port_stats(first).ok());  // the first attachment was undone

    RecordingPort on_network1;
    RecordingPort on_network2;
    const auto id1 = network_switch.attach(on_network1, kNetwork1);
    const auto id2 = network_switch.attach(on_network2, kNetwork2);
    ASSERT_TRUE(id1.ok() && id2.ok());
    network_switch.send(*id1, make_frame(kBroadcast, kMacPort));
    network_switch.send(*id2, make_frame(kBroadcast, kMacPort));
    // Offered only network 2's frame (and refused it: the driver is not running).
    EXPECT_EQ(network_switch.port_stats(net.switch_port())->dropped_no_room, 1u);
    net.disconnect();
}

// --- Two VMs ----------------------------------------------------------------------------------

class VirtioNetPairTest : public ::testing::Test {
protected:
    VirtualSwitch network_switch;
    Guest a{network_switch, kNetwork1, kMacA};
    Guest b{network_switch, kNetwork1, kMacB};
};

TEST_F(VirtioNetPairTest, TwoDevicesTalkThroughTheSwitch) {
    a.start();
    b.start();
    a.post_receive_buffers(4);
    b.post_receive_buffers(4);

    const Frame request = make_frame(kMacB, kMacA, 98, 1);
    a.transmit(request);  // B is not known yet: flooded, and B is the only other port
    ASSERT_EQ(b.rx.used_index(), 1);
    EXPECT_EQ(b.received_packet(0), Guest::received_form(request));
    EXPECT_TRUE(b.line);

    const Frame reply = make_frame(kMacA, kMacB, 98, 2);
    b.transmit(reply);
    ASSERT_EQ(a.rx.used_index(), 1);
    EXPECT_EQ(a.received_packet(0), Guest::received_form(reply));
    EXPECT_EQ(b.rx.used_index(), 1);  // not sent back

    EXPECT_EQ(a.net.stats().tx_packets, 1u);
    EXPECT_EQ(a.net.stats().rx_packets, 1u);
    EXPECT_EQ(b.net.stats().tx_packets, 1u);
    EXPECT_EQ(b.net.stats().rx_packets, 1u);
    EXPECT_EQ(network_switch.learned_addresses(), 2u);
}

TEST(VirtioNetNetworksTest, DevicesOnDifferentNetworksDoNotSeeEachOther) {
    VirtualSwitch network_switch;
    Guest a{network_switch, kNetwork1, kMacA};
    Guest b{network_switch, kNetwork2, kMacB};
    a.start();
    b.start();
    a.post_receive_buffers(4);
    b.post_receive_buffers(4);
    a.transmit(make_frame(kBroadcast, kMacA));
    a.transmit(make_frame(kMacB, kMacA));
    b.transmit(make_frame(kBroadcast, kMacB));
    b.transmit(make_frame(kMacA, kMacB));  // A's address is known, but on network 1
    EXPECT_EQ(a.rx.used_index(), 0);
    EXPECT_EQ(b.rx.used_index(), 0);
}

// Each VM sends to the other from its own thread: each transmit takes the
// switch's lock and then the other device's lock, which must not deadlock
// against the other direction.
TEST_F(VirtioNetPairTest, BothDirectionsAtOnceDoNotDeadlock) {
    constexpr std::uint8_t kFrames = 200;  // fewer than the receive buffers: none is refilled
    a.start();
    b.start();
    a.post_receive_buffers(kRingSize);
    b.post_receive_buffers(kRingSize);
    std::atomic<bool> go{false};
    const auto sender = [&go](Guest& from, MacAddress source, MacAddress destination) {
        while (!go.load()) std::this_thread::yield();
        for (std::uint8_t i = 0; i < kFrames; ++i) from.transmit(make_frame(destination, source, 64, i));
    };
    std::thread to_b{sender, std::ref(a), kMacA, kMacB};
    std::thread to_a{sender, std::ref(b), kMacB, kMacA};
    go.store(true);
    to_b.join();
    to_a.join();

    ASSERT_EQ(a.rx.used_index(), kFrames);
    ASSERT_EQ(b.rx.used_index(), kFrames);
    for (std::uint8_t i = 0; i < kFrames; ++i) {  // each direction in order
        EXPECT_EQ(b.received_packet(i), Guest::received_form(make_frame(kMacB, kMacA, 64, i)));
        EXPECT_EQ(a.received_packet(i), Guest::received_form(make_frame(kMacA, kMacB, 64, i)));
    }
    EXPECT_TRUE(a.failures.empty());
    EXPECT_TRUE(b.failures.empty());
}

}  // namespace
}  // namespace lamina
