// VirtualSwitch: learning and forwarding, the separation of networks, the
// bounded MAC table, ports coming and going, frame checks and statistics,
// with fake ports that record what they receive.
#include "virtual_devices/virtual_switch.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace lamina {
namespace {

using Frame = std::vector<std::byte>;

constexpr NetworkId kNetwork1{1};
constexpr NetworkId kNetwork2{2};
constexpr MacAddress kBroadcast{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
constexpr MacAddress kMulticast{{0x01, 0x00, 0x5e, 0x00, 0x00, 0x01}};

// A locally administered station address, numbered.
constexpr MacAddress station(std::uint16_t number) {
    return MacAddress{{0x02, 0x00, 0x00, 0x00, static_cast<std::uint8_t>(number >> 8),
                       static_cast<std::uint8_t>(number & 0xff)}};
}

// An Ethernet II frame of `size` bytes (IPv4 type, a recognisable payload).
Frame make_frame(MacAddress destination, MacAddress source, std::size_t size = 64) {
    Frame frame(size, std::byte{0x5a});
    for (std::size_t i = 0; i < 6 && i < size; ++i) frame[i] = static_cast<std::byte>(destination.bytes[i]);
    for (std::size_t i = 0; i < 6 && 6 + i < size; ++i) frame[6 + i] = static_cast<std::byte>(source.bytes[i]);
    if (size >= 14) {
        frame[12] = std::byte{0x08};
        frame[13] = std::byte{0x00};
    }
    return frame;
}

class FakePort final : public NetworkPort {
public:
    bool receive_frame(std::span<const std::byte> frame) override {
        if (!accepting) return false;
        frames.emplace_back(frame.begin(), frame.end());
        return true;
    }

    [[nodiscard]] std::size_t count() const { return frames.size(); }

    bool accepting{true};
    std::vector<Frame> frames;
};

class VirtualSwitchTest : public ::testing::Test {
protected:
    SwitchPortId attach(FakePort& port, NetworkId network) {
        const auto id = network_switch.attach(port, network);
        EXPECT_TRUE(id.ok()) << id.error().message;
        return *id;
    }
    void send(SwitchPortId from, MacAddress destination, MacAddress source, std::size_t size = 64) {
        const Frame frame = make_frame(destination, source, size);
        network_switch.send(from, frame);
    }
    SwitchPortStats stats(SwitchPortId id) {
        const auto result = network_switch.port_stats(id);
        EXPECT_TRUE(result.ok());
        return result.ok() ? *result : SwitchPortStats{};
    }
    void clear_all() {
        for (FakePort* port : {&a, &b, &c, &d}) port->frames.clear();
    }

    VirtualSwitch network_switch;
    FakePort a, b, c, d;
};

// --- Learning and forwarding ------------------------------------------------------------------

TEST_F(VirtualSwitchTest, UnknownUnicastFloodsThenLearnedAddressGoesToOnePort) {
    const SwitchPortId port_a = attach(a, kNetwork1);
    const SwitchPortId port_b = attach(b, kNetwork1);
    attach(c, kNetwork1);

    send(port_a, station(2), station(1));  // station 2 not heard yet
    EXPECT_EQ(a.count(), 0u);
    EXPECT_EQ(b.count(), 1u);
    EXPECT_EQ(c.count(), 1u);
    EXPECT_EQ(b.frames[0], make_frame(station(2), station(1)));

    send(port_b, station(1), station(2));  // station 1 was learned on port a
    EXPECT_EQ(a.count(), 1u);
    EXPECT_EQ(c.count(), 1u);

    send(port_a, station(2), station(1));  // and station 2 on port b now
    EXPECT_EQ(b.count(), 2u);
    EXPECT_EQ(c.count(), 1u);
    EXPECT_EQ(network_switch.learned_addresses(), 2u);
}

TEST_F(VirtualSwitchTest, BroadcastAndMulticastFloodToEveryOtherPort) {
    const SwitchPortId port_a = attach(a, kNetwork1);
    attach(b, kNetwork1);
    attach(c, kNetwork1);
    send(port_a, kBroadcast, station(1));
    send(port_a, kMulticast, station(1));
    EXPECT_EQ(a.count(), 0u);
    EXPECT_EQ(b.count(), 2u);
    EXPECT_EQ(c.count(), 2u);
}

TEST_F(VirtualSwitchTest, NeverSendsAFrameBackToItsSender) {
    const SwitchPortId port_a = attach(a, kNetwork1);
    const SwitchPortId port_b = attach(b, kNetwork1);
    send(port_a, kBroadcast, station(1));
    send(port_a, kBroadcast, station(3));  // two stations behind port a
    b.frames.clear();
    send(port_a, station(3), station(1));  // for a station on the sender's side
    EXPECT_EQ(a.count(), 0u);
    EXPECT_EQ(b.count(), 0u);
    EXPECT_EQ(stats(port_a).dropped_to_sender, 1u);
    EXPECT_EQ(stats(port_b).delivered_frames, 2u);  // the two broadcasts only
}

TEST_F(VirtualSwitchTest, AddressThatMovesFollowsItsNewPort) {
    const SwitchPortId port_a = attach(a, kNetwork1);
    const SwitchPortId port_b = attach(b, kNetwork1);
    const SwitchPortId port_c = attach(c, kNetwork1);
    send(port_a, kBroadcast, station(1));
    send(port_b, kBroadcast, station(1));  // the station is now behind port b
    clear_all();
    send(port_c, station(1), station(3));
    EXPECT_EQ(a.count(), 0u);
    EXPECT_EQ(b.count(), 1u);
    EXPECT_EQ(network_switch.learned_addresses(), 2u);
}

// --- Separate networks ------------------------------------------------------------------------

TEST_F(VirtualSwitchTest, FloodingStaysInsideTheSendersNetwork) {
    const SwitchPortId port_a = attach(a, kNetwork1);
    attach(b, kNetwork1);
    const SwitchPortId port_c = attach(c, kNetwork2);
    attach(d, kNetwork2);

    send(port_a, kBroadcast, station(1));
    send(port_a, station(9), station(1));  // unknown unicast
    send(port_a, kMulticast, station(1));
    EXPECT_EQ(b.count(), 3u);
    EXPECT_EQ(c.count(), 0u);
    EXPECT_EQ(d.count(), 0u);

    send(port_c, kBroadcast, station(3));
    EXPECT_EQ(d.count(), 1u);
    EXPECT_EQ(a.count(), 0u);
    EXPECT_EQ(b.count(), 3u);
}

TEST_F(VirtualSwitchTest, AddressLearnedOnOneNetworkIsNotUsedFromAnother) {
    const SwitchPortId port_a = attach(a, kNetwork1);
    const SwitchPortId port_c = attach(c, kNetwork2);
    attach(d, kNetwork2);
    send(port_a, kBroadcast, station(1));  // station 1 learned on network 1

    send(port_c, station(1), station(3));  // unknown on network 2: flooded there only
    EXPECT_EQ(a.count(), 0u);
    EXPECT_EQ(d.count(), 1u);
}

TEST_F(VirtualSwitchTest, SameAddressOnTwoNetworksIsTwoStations) {
    const SwitchPortId port_a = attach(a, kNetwork1);
    const SwitchPortId port_b = attach(b, kNetwork1);
    const SwitchPortId port_c = attach(c, kNetwork2);
    const SwitchPortId port_d = attach(d, kNetwork2);
    send(port_a, kBroadcast, station(1));
    send(port_c, kBroadcast, station(1));  // does not move network 1's station 1
    EXPECT_EQ(network_switch.learned_addresses(), 2u);
    clear_all();

    send(port_b, station(1), station(2));
    send(port_d, station(1), station(4));
    EXPECT_EQ(a.count(), 1u);
    EXPECT_EQ(c.count(), 1u);
    EXPECT_EQ(b.count(), 0u);
    EXPECT_EQ(d.count(), 0u);
}

// --- MAC table --------------------------------------------------------------------------------

TEST_F(VirtualSwitchTest, FullTableReplacesTheAddressHeardFromLeastRecently) {
    const SwitchPortId port_a = attach(a, kNetwork1);
    const SwitchPortId port_b = attach(b, kNetwork1);
    attach(c, kNetwork1);
    for (std::uint16_t n = 0; n < VirtualSwitch::kMacTableSize; ++n) send(port_a, kBroadcast, station(100 + n));
    EXPECT_EQ(network_switch.learned_addresses(), VirtualSwitch::kMacTableSize);
    send(port_a, kBroadcast, station(100));  // heard again: now the most recent
    send(port_a, kBroadcast, station(7));    // a new one replaces station 101
    EXPECT_EQ(network_switch.learned_addresses(), VirtualSwitch::kMacTableSize);
    clear_all();

    send(port_b, station(100), station(2));  // still known: port a only
    EXPECT_EQ(a.count(), 1u);
    EXPECT_EQ(c.count(), 0u);
    // Learning station 2 just replaced station 102; station 101 was the first to go.
    send(port_b, station(101), station(2));
    EXPECT_EQ(a.count(), 2u);
    EXPECT_EQ(c.count(), 1u);  // unknown again: flooded
    send(port_b, station(7), station(2));
    EXPECT_EQ(a.count(), 3u);
    EXPECT_EQ(c.count(), 1u);
}

// --- Pinned addresses (a VM NIC's own) -------------------------------------------------------

TEST_F(VirtualSwitchTest, PinnedAddressIsReachableBeforeItsPortSendsAnything) {
    ASSERT_TRUE(network_switch.attach(a, kNetwork1, station(1)).ok());
    const SwitchPortId port_b = attach(b, kNetwork1);
    attach(c, kNetwork1);
    send(port_b, station(1), station(2));
    EXPECT_EQ(a.count(), 1u);
    EXPECT_EQ(c.count(), 0u);  // not flooded
    EXPECT_EQ(network_switch.learned_addresses(), 2u);
}

TEST_F(VirtualSwitchTest, AnotherPortSendingWithAPinnedAddressDoesNotTakeItOver) {
    ASSERT_TRUE(network_switch.attach(a, kNetwork1, station(1)).ok());
    const SwitchPortId port_b = attach(b, kNetwork1);
    const SwitchPortId port_c = attach(c, kNetwork1);
    send(port_b, kBroadcast, station(1));  // b pretends to be a
    clear_all();
    send(port_c, station(1), station(3));
    EXPECT_EQ(a.count(), 1u);
    EXPECT_EQ(b.count(), 0u);
}

TEST_F(VirtualSwitchTest, PinnedAddressOutlastsAFullTableAndGoesWithItsPort) {
    const auto port_a = network_switch.attach(a, kNetwork1, station(1));
    ASSERT_TRUE(port_a.ok());
    const SwitchPortId port_b = attach(b, kNetwork1);
    attach(c, kNetwork1);
    for (std::uint16_t n = 0; n < 2 * VirtualSwitch::kMacTableSize; ++n) send(port_b, kBroadcast, station(100 + n));
    clear_all();
    send(port_b, station(1), station(2));
    EXPECT_EQ(a.count(), 1u);
    EXPECT_EQ(c.count(), 0u);

    network_switch.detach(*port_a);
    clear_all();
    send(port_b, station(1), station(2));  // forgotten with its port: flooded to the ports left
    EXPECT_EQ(c.count(), 1u);
}

TEST_F(VirtualSwitchTest, TwoPortsOfOneNetworkCannotOwnTheSameAddress) {
    ASSERT_TRUE(network_switch.attach(a, kNetwork1, station(1)).ok());
    const auto refused = network_switch.attach(b, kNetwork1, station(1));
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(std::string{refused.error().message}.find("MAC address"), std::string::npos);
    EXPECT_TRUE(network_switch.attach(b, kNetwork2, station(1)).ok());  // another network: another station
}

TEST_F(VirtualSwitchTest, PortsOwnAddressMustBeUnicast) {
    EXPECT_FALSE(network_switch.attach(a, kNetwork1, kBroadcast).ok());
    EXPECT_FALSE(network_switch.attach(a, kNetwork1, kMulticast).ok());
    EXPECT_FALSE(network_switch.attach(a, kNetwork1, MacAddress{}).ok());
    EXPECT_TRUE(network_switch.attach(a, kNetwork1, station(1)).ok());
}

// --- Ports ------------------------------------------------------------------------------------

TEST_F(VirtualSwitchTest, DetachedPortGetsNothingAndItsAddressesAreForgotten) {
    const SwitchPortId port_a = attach(a, kNetwork1);
    const SwitchPortId port_b = attach(b, kNetwork1);
    attach(c, kNetwork1);
    send(port_a, kBroadcast, station(1));
    network_switch.detach(port_a);
    EXPECT_EQ(network_switch.learned_addresses(), 0u);
    clear_all();

    send(port_b, kBroadcast, station(2));
    send(port_b, station(1), station(2));  // forgotten: flooded to the ports left
    EXPECT_EQ(a.count(), 0u);
    EXPECT_EQ(c.count(), 2u);
    EXPECT_FALSE(network_switch.port_stats(port_a).ok());
}

TEST_F(VirtualSwitchTest, OldHandleDoesNotNameTheNextPortInItsSlot) {
    const SwitchPortId port_a = attach(a, kNetwork1);
    attach(b, kNetwork1);
    network_switch.detach(port_a);
    const SwitchPortId port_d = attach(d, kNetwork2);  // takes the free slot
    EXPECT_EQ(port_d.slot, port_a.slot);
    EXPECT_NE(port_d, port_a);

    send(port_a, kBroadcast, station(1));  // a late frame from the old port
    EXPECT_EQ(b.count(), 0u);
    EXPECT_EQ(network_switch.learned_addresses(), 0u);
    EXPECT_EQ(stats(port_d).received_frames, 0u);
    network_switch.detach(port_a);  // no effect on the new port
    EXPECT_TRUE(network_switch.port_stats(port_d).ok());
}

TEST_F(VirtualSwitchTest, PortsAreBounded) {
    std::vector<FakePort> ports(VirtualSwitch::kMaxPorts);
    std::vector<SwitchPortId> ids;
    for (FakePort& port : ports) ids.push_back(attach(port, kNetwork1));
    const auto refused = network_switch.attach(a, kNetwork1);
    ASSERT_FALSE(refused.ok());
    EXPECT_STREQ(refused.error().message, "virtual switch has no free port");
    network_switch.detach(ids[5]);
    EXPECT_TRUE(network_switch.attach(a, kNetwork1).ok());
}

TEST_F(VirtualSwitchTest, PortCannotBeAttachedTwice) {
    attach(a, kNetwork1);
    const auto again = network_switch.attach(a, kNetwork2);
    ASSERT_FALSE(again.ok());
    EXPECT_STREQ(again.error().message, "network port is already attached to the switch");
}

TEST_F(VirtualSwitchTest, DetachingAnUnknownHandleDoesNothing) {
    const SwitchPortId port_a = attach(a, kNetwork1);
    network_switch.detach(SwitchPortId{});
    network_switch.detach(SwitchPortId{40, 1});
    EXPECT_TRUE(network_switch.port_stats(port_a).ok());
    EXPECT_FALSE(network_switch.port_stats(SwitchPortId{}).ok());
}

// --- Frame checks -----------------------------------------------------------------------------

TEST_F(VirtualSwitchTest, FramesOfWrongSizeAreDroppedAndCounted) {
    const SwitchPortId port_a = attach(a, kNetwork1);
    attach(b, kNetwork1);
    send(port_a, kBroadcast, station(1), kMinFrameSize - 1);
    send(port_a, kBroadcast, station(1), kMaxFrameSize + 1);
    network_switch.send(port_a, std::span<const std::byte>{});
    EXPECT_EQ(b.count(), 0u);
    EXPECT_EQ(stats(port_a).dropped_malformed, 3u);
    EXPECT_EQ(network_switch.learned_addresses(), 0u);

    send(port_a, kBroadcast, station(1), kMinFrameSize);
    send(port_a, kBroadcast, station(1), kMaxFrameSize);
    ASSERT_EQ(b.count(), 2u);
    EXPECT_EQ(b.frames[0].size(), kMinFrameSize);
    EXPECT_EQ(b.frames[1].size(), kMaxFrameSize);
}

TEST_F(VirtualSwitchTest, FramesFromMulticastOrZeroSourceAreDropped) {
    const SwitchPortId port_a = attach(a, kNetwork1);
    attach(b, kNetwork1);
    send(port_a, kBroadcast, kMulticast);
    send(port_a, kBroadcast, kBroadcast);
    send(port_a, kBroadcast, MacAddress{});
    EXPECT_EQ(b.count(), 0u);
    EXPECT_EQ(stats(port_a).dropped_malformed, 3u);
    EXPECT_EQ(stats(port_a).received_frames, 0u);
    EXPECT_EQ(network_switch.learned_addresses(), 0u);
}

TEST_F(VirtualSwitchTest, ZeroDestinationIsUnknownUnicast) {
    const SwitchPortId port_a = attach(a, kNetwork1);
    attach(b, kNetwork1);
    send(port_a, MacAddress{}, station(1));  // free table entries must not match it
    EXPECT_EQ(b.count(), 1u);
}

// --- Statistics -------------------------------------------------------------------------------

TEST_F(VirtualSwitchTest, StatisticsPerPort) {
    const SwitchPortId port_a = attach(a, kNetwork1);
    const SwitchPortId port_b = attach(b, kNetwork1);
    const SwitchPortId port_c = attach(c, kNetwork1);
    c.accepting = false;  // its ring is empty
    send(port_a, kBroadcast, station(1), 100);
    send(port_a, kBroadcast, station(1), 200);
    send(port_b, station(1), station(2), 60);
    send(port_a, kBroadcast, kMulticast, 80);

    const SwitchPortStats from_a = stats(port_a);
    EXPECT_EQ(from_a.received_frames, 2u);
    EXPECT_EQ(from_a.received_bytes, 300u);
    EXPECT_EQ(from_a.delivered_frames, 1u);
    EXPECT_EQ(from_a.delivered_bytes, 60u);
    EXPECT_EQ(from_a.dropped_malformed, 1u);
    EXPECT_EQ(from_a.dropped_no_room, 0u);

    const SwitchPortStats to_b = stats(port_b);
    EXPECT_EQ(to_b.received_frames, 1u);
    EXPECT_EQ(to_b.received_bytes, 60u);
    EXPECT_EQ(to_b.delivered_frames, 2u);
    EXPECT_EQ(to_b.delivered_bytes, 300u);

    const SwitchPortStats to_c = stats(port_c);
    EXPECT_EQ(to_c.delivered_frames, 0u);
    EXPECT_EQ(to_c.dropped_no_room, 2u);

    network_switch.detach(port_c);  // a new attachment starts from zero
    EXPECT_EQ(stats(attach(c, kNetwork1)).dropped_no_room, 0u);
}

TEST(VirtualSwitchSingletonTest, OneSwitchForTheHypervisor) {
    EXPECT_EQ(&virtual_switch(), &virtual_switch());
    EXPECT_EQ(virtual_switch().learned_addresses(), 0u);
}

}  // namespace
}  // namespace lamina
