// packet: parsing ARP requests and IPv4/TCP segments (and refusing what is
// not one), rewriting addresses with incremental checksum updates (checked
// against checksums recomputed from scratch here), and the frames the
// switch builds itself.
#include "virtual_devices/packet.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <random>
#include <vector>

#include "reference_frames.hpp"

namespace lamina {
namespace {

using packet::Ipv4Address;
using namespace testing;
namespace tcp_flags = packet::tcp_flags;

constexpr MacAddress kClientMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};
constexpr MacAddress kServerMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}};
constexpr MacAddress kOtherMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x77}};

// --- A frame builder, independent of packet.cpp --------------------------------------------------

struct TcpFrameSpec {
    MacAddress destination_mac{kServerMac};
    MacAddress source_mac{kClientMac};
    Ipv4Address source{ip(10, 0, 2, 15)};
    Ipv4Address destination{ip(10, 0, 2, 50)};
    std::uint16_t source_port{40000};
    std::uint16_t destination_port{80};
    std::uint32_t sequence{0x11223344};
    std::uint32_t acknowledgement{0x55667788};
    std::uint8_t flags{tcp_flags::kAck};
    std::size_t ip_options{0};   // bytes, a multiple of 4
    std::size_t tcp_options{0};  // bytes, a multiple of 4
    std::vector<std::byte> payload{};
    std::size_t padding{0};  // Ethernet padding after the IPv4 packet
};

Frame build(const TcpFrameSpec& spec) {
    const std::size_t ihl = 20 + spec.ip_options;
    const std::size_t thl = 20 + spec.tcp_options;
    const std::size_t total = ihl + thl + spec.payload.size();
    Frame f(14 + total + spec.padding, std::byte{0});
    for (std::size_t i = 0; i < 6; ++i) {
        f[i] = static_cast<std::byte>(spec.destination_mac.bytes[i]);
        f[6 + i] = static_cast<std::byte>(spec.source_mac.bytes[i]);
    }
    put16(f, 12, 0x0800);
    const std::size_t ipo = 14;
    f[ipo] = static_cast<std::byte>(0x40 | (ihl / 4));
    put16(f, ipo + 2, static_cast<std::uint32_t>(total));
    put16(f, ipo + 4, 0x1234);  // identification
    put16(f, ipo + 6, 0x4000);  // don't fragment
    f[ipo + 8] = std::byte{64};
    f[ipo + 9] = std::byte{6};
    put32(f, ipo + 12, spec.source.value);
    put32(f, ipo + 16, spec.destination.value);
    for (std::size_t i = 0; i < spec.ip_options; ++i) f[ipo + 20 + i] = std::byte{1};  // NOPs
    const std::size_t tcpo = ipo + ihl;
    put16(f, tcpo, spec.source_port);
    put16(f, tcpo + 2, spec.destination_port);
    put32(f, tcpo + 4, spec.sequence);
    put32(f, tcpo + 8, spec.acknowledgement);
    f[tcpo + 12] = static_cast<std::byte>((thl / 4) << 4);
    f[tcpo + 13] = static_cast<std::byte>(spec.flags);
    put16(f, tcpo + 14, 65535);
    for (std::size_t i = 0; i < spec.tcp_options; ++i) f[tcpo + 20 + i] = std::byte{1};  // NOPs
    for (std::size_t i = 0; i < spec.payload.size(); ++i) f[tcpo + thl + i] = spec.payload[i];
    for (std::size_t i = 0; i < spec.padding; ++i) f[14 + total + i] = std::byte{0xee};
    fix_checksums(f);
    return f;
}

// --- parse_tcp -----------------------------------------------------------------------------------

TEST(PacketTest, ParsesPlainSegment) {
    TcpFrameSpec spec;
    spec.flags = tcp_flags::kAck | 0x08;  // PSH
    spec.payload = text("GET / HTTP/1.1\r\n\r\n");
    const Frame f = build(spec);
    ASSERT_TRUE(ipv4_checksum_ok(f));
    ASSERT_TRUE(tcp_checksum_ok(f));
    const auto segment = packet::parse_tcp(f);
    ASSERT_TRUE(segment.has_value());
    EXPECT_EQ(segment->ip_offset, 14u);
    EXPECT_EQ(segment->tcp_offset, 34u);
    EXPECT_EQ(segment->payload_size, spec.payload.size());
    EXPECT_EQ(segment->source, spec.source);
    EXPECT_EQ(segment->destination, spec.destination);
    EXPECT_EQ(segment->source_port, 40000);
    EXPECT_EQ(segment->destination_port, 80);
    EXPECT_EQ(segment->sequence, 0x11223344u);
    EXPECT_EQ(segment->acknowledgement, 0x55667788u);
    EXPECT_TRUE(segment->has(tcp_flags::kAck));
    EXPECT_FALSE(segment->has(tcp_flags::kSyn));
    EXPECT_FALSE(segment->is_connection_request());
}

TEST(PacketTest, ParsesSegmentWithIpAndTcpOptions) {
    TcpFrameSpec spec;
    spec.ip_options = 8;
    spec.tcp_options = 12;
    spec.flags = tcp_flags::kSyn;
    spec.payload = text("abc");
    const Frame f = build(spec);
    const auto segment = packet::parse_tcp(f);
    ASSERT_TRUE(segment.has_value());
    EXPECT_EQ(segment->ip_offset, 14u);
    EXPECT_EQ(segment->tcp_offset, 14u + 28u);
    EXPECT_EQ(segment->payload_size, 3u);
    EXPECT_TRUE(segment->is_connection_request());
}

TEST(PacketTest, MaximumHeaderLengths) {
    TcpFrameSpec spec;
    spec.ip_options = 40;   // IHL 15
    spec.tcp_options = 40;  // data offset 15
    const Frame f = build(spec);
    const auto segment = packet::parse_tcp(f);
    ASSERT_TRUE(segment.has_value());
    EXPECT_EQ(segment->tcp_offset, 14u + 60u);
    EXPECT_EQ(segment->payload_size, 0u);
}

TEST(PacketTest, SynAckIsNotAConnectionRequest) {
    TcpFrameSpec spec;
    spec.flags = tcp_flags::kSyn | tcp_flags::kAck;
    const auto segment = packet::parse_tcp(build(spec));
    ASSERT_TRUE(segment.has_value());
    EXPECT_TRUE(segment->has(tcp_flags::kSyn));
    EXPECT_FALSE(segment->is_connection_request());
}

TEST(PacketTest, EthernetPaddingIsNotPayload) {
    TcpFrameSpec spec;  // 54 bytes: a NIC pads it to 60
    spec.padding = 6;
    const Frame f = build(spec);
    ASSERT_EQ(f.size(), 60u);
    const auto segment = packet::parse_tcp(f);
    ASSERT_TRUE(segment.has_value());
    EXPECT_EQ(segment->payload_size, 0u);

    spec.payload = text("x");
    spec.padding = 5;
    const auto with_data = packet::parse_tcp(build(spec));
    ASSERT_TRUE(with_data.has_value());
    EXPECT_EQ(with_data->payload_size, 1u);
}

TEST(PacketTest, RejectsNonIpv4EtherTypes) {
    Frame f = build(TcpFrameSpec{});
    put16(f, 12, 0x86dd);  // IPv6
    EXPECT_FALSE(packet::parse_tcp(f).has_value());
    put16(f, 12, 0x0806);  // ARP
    EXPECT_FALSE(packet::parse_tcp(f).has_value());
    put16(f, 12, 0x8100);  // VLAN-tagged
    EXPECT_FALSE(packet::parse_tcp(f).has_value());
}

TEST(PacketTest, RejectsWrongIpVersion) {
    Frame f = build(TcpFrameSpec{});
    f[14] = std::byte{0x65};
    EXPECT_FALSE(packet::parse_tcp(f).has_value());
}

TEST(PacketTest, RejectsNonTcp) {
    for (const std::uint8_t protocol : {1, 17, 41, 0}) {
        Frame f = build(TcpFrameSpec{});
        f[14 + 9] = static_cast<std::byte>(protocol);
        EXPECT_FALSE(packet::parse_tcp(f).has_value()) << int{protocol};
    }
}

TEST(PacketTest, RejectsFragments) {
    {
        Frame f = build(TcpFrameSpec{});
        put16(f, 14 + 6, 0x2000);  // more fragments, offset 0
        EXPECT_FALSE(packet::parse_tcp(f).has_value());
    }
    {
        Frame f = build(TcpFrameSpec{});
        put16(f, 14 + 6, 0x0010);  // a later fragment
        EXPECT_FALSE(packet::parse_tcp(f).has_value());
    }
    {
        Frame f = build(TcpFrameSpec{});
        put16(f, 14 + 6, 0x1fff);  // the last fragment, far in
        EXPECT_FALSE(packet::parse_tcp(f).has_value());
    }
    {
        Frame f = build(TcpFrameSpec{});
        put16(f, 14 + 6, 0x0000);  // no flags at all: whole
        EXPECT_TRUE(packet::parse_tcp(f).has_value());
        put16(f, 14 + 6, 0x4000);  // don't fragment: whole
        EXPECT_TRUE(packet::parse_tcp(f).has_value());
    }
}

TEST(PacketTest, RejectsTruncatedFrames) {
    TcpFrameSpec spec;
    spec.payload = text("hello world");
    const Frame f = build(spec);
    ASSERT_TRUE(packet::parse_tcp(f).has_value());
    // Every prefix shorter than the IPv4 packet is refused (total length lies).
    for (std::size_t size = 0; size < f.size(); ++size) {
        const auto prefix = std::span<const std::byte>{f}.first(size);
        EXPECT_FALSE(packet::parse_tcp(prefix).has_value()) << size;
    }
}

TEST(PacketTest, RejectsTruncatedHeadersEvenWhenLengthsAgree) {
    // An IPv4 header with options but the frame ends inside the TCP header.
    TcpFrameSpec spec;
    spec.tcp_options = 20;
    Frame f = build(spec);
    f.resize(14 + 20 + 30);
    put16(f, 14 + 2, 50);  // total length matches what is there
    EXPECT_FALSE(packet::parse_tcp(f).has_value());  // data offset says 40 bytes of TCP header
}

TEST(PacketTest, RejectsBadHeaderLengths) {
    {
        Frame f = build(TcpFrameSpec{});
        f[14] = std::byte{0x44};  // IHL 4: 16 bytes, under the minimum
        EXPECT_FALSE(packet::parse_tcp(f).has_value());
    }
    {
        Frame f = build(TcpFrameSpec{});
        f[14] = std::byte{0x40};  // IHL 0
        EXPECT_FALSE(packet::parse_tcp(f).has_value());
    }
    {
        Frame f = build(TcpFrameSpec{});
        f[14] = std::byte{0x4f};  // IHL 15: 60 bytes, beyond the 40-byte packet
        EXPECT_FALSE(packet::parse_tcp(f).has_value());
    }
    {
        Frame f = build(TcpFrameSpec{});
        put16(f, 14 + 2, 39);  // total shorter than both minimum headers
        EXPECT_FALSE(packet::parse_tcp(f).has_value());
    }
    {
        Frame f = build(TcpFrameSpec{});
        put16(f, 14 + 2, 0);
        EXPECT_FALSE(packet::parse_tcp(f).has_value());
    }
    {
        Frame f = build(TcpFrameSpec{});
        put16(f, 14 + 2, static_cast<std::uint32_t>(f.size() - 14 + 1));  // longer than the frame
        EXPECT_FALSE(packet::parse_tcp(f).has_value());
    }
    {
        Frame f = build(TcpFrameSpec{});
        put16(f, 14 + 2, 0xffff);
        EXPECT_FALSE(packet::parse_tcp(f).has_value());
    }
    {
        Frame f = build(TcpFrameSpec{});
        f[34 + 12] = std::byte{0x40};  // TCP data offset 4: 16 bytes
        EXPECT_FALSE(packet::parse_tcp(f).has_value());
    }
    {
        Frame f = build(TcpFrameSpec{});
        f[34 + 12] = std::byte{0x00};
        EXPECT_FALSE(packet::parse_tcp(f).has_value());
    }
    {
        Frame f = build(TcpFrameSpec{});
        f[34 + 12] = std::byte{0x60};  // 24 bytes, but the segment holds 20
        EXPECT_FALSE(packet::parse_tcp(f).has_value());
    }
    {
        TcpFrameSpec spec;
        spec.payload = text("abcd");
        Frame f = build(spec);
        f[34 + 12] = std::byte{0x60};  // 24 bytes: the payload becomes options
        const auto segment = packet::parse_tcp(f);
        ASSERT_TRUE(segment.has_value());
        EXPECT_EQ(segment->payload_size, 0u);
    }
}

TEST(PacketTest, RandomBytesNeverCrashTheParser) {
    std::mt19937 random{1234};
    TcpFrameSpec base_spec;
    base_spec.payload = text("0123456789");
    Frame base = build(base_spec);
    for (int round = 0; round < 20000; ++round) {
        Frame f = base;
        const int flips = 1 + static_cast<int>(random() % 6);
        for (int i = 0; i < flips; ++i) f[14 + random() % (f.size() - 14)] = static_cast<std::byte>(random());
        f.resize(random() % (f.size() + 1));
        const auto segment = packet::parse_tcp(f);
        if (segment) {
            EXPECT_LE(segment->tcp_offset + 20 + segment->payload_size, f.size());
        }
    }
}

// --- Incremental checksum rewrites ---------------------------------------------------------------

TEST(PacketTest, RewriteDestinationChangesAddressesAndKeepsChecksums) {
    TcpFrameSpec spec;
    spec.payload = text("GET /");
    Frame f = build(spec);
    const auto segment = packet::parse_tcp(f);
    ASSERT_TRUE(segment.has_value());
    packet::rewrite_destination(f, *segment, kOtherMac, ip(10, 0, 2, 101));
    EXPECT_EQ(mac_at(f, 0), kOtherMac);
    EXPECT_EQ(mac_at(f, 6), kClientMac);
    EXPECT_EQ(get32(f, 14 + 16), ip(10, 0, 2, 101).value);
    EXPECT_EQ(get32(f, 14 + 12), spec.source.value);
    EXPECT_TRUE(ipv4_checksum_ok(f));
    EXPECT_TRUE(tcp_checksum_ok(f));
    // The result equals the frame built with the new address from scratch.
    TcpFrameSpec expected_spec = spec;
    expected_spec.destination_mac = kOtherMac;
    expected_spec.destination = ip(10, 0, 2, 101);
    const Frame expected = build(expected_spec);
    // Checksums may differ only as 0x0000 against 0xffff.
    EXPECT_EQ(std::vector<std::byte>(f.begin(), f.begin() + 24), std::vector<std::byte>(expected.begin(), expected.begin() + 24));
}

TEST(PacketTest, RewriteSourceChangesAddressesAndKeepsChecksums) {
    TcpFrameSpec spec;
    spec.payload = text("HTTP/1.1 200 OK\r\n");
    Frame f = build(spec);
    const auto segment = packet::parse_tcp(f);
    ASSERT_TRUE(segment.has_value());
    packet::rewrite_source(f, *segment, kOtherMac, ip(10, 0, 2, 50));
    EXPECT_EQ(mac_at(f, 6), kOtherMac);
    EXPECT_EQ(mac_at(f, 0), kServerMac);
    EXPECT_EQ(get32(f, 14 + 12), ip(10, 0, 2, 50).value);
    EXPECT_EQ(get32(f, 14 + 16), spec.destination.value);
    EXPECT_TRUE(ipv4_checksum_ok(f));
    EXPECT_TRUE(tcp_checksum_ok(f));
    // Ports, sequence numbers and payload are untouched.
    const auto again = packet::parse_tcp(f);
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(again->source_port, spec.source_port);
    EXPECT_EQ(again->destination_port, spec.destination_port);
    EXPECT_EQ(again->sequence, spec.sequence);
    EXPECT_EQ(again->payload_size, spec.payload.size());
}

TEST(PacketTest, RewritesKeepChecksumsForRandomAddressesAndPayloads) {
    std::mt19937 random{20240611};
    for (int round = 0; round < 5000; ++round) {
        TcpFrameSpec spec;
        spec.source = Ipv4Address{static_cast<std::uint32_t>(random())};
        spec.destination = Ipv4Address{static_cast<std::uint32_t>(random())};
        spec.source_port = static_cast<std::uint16_t>(random());
        spec.destination_port = static_cast<std::uint16_t>(random());
        spec.sequence = static_cast<std::uint32_t>(random());
        spec.acknowledgement = static_cast<std::uint32_t>(random());
        spec.flags = static_cast<std::uint8_t>(random());
        spec.ip_options = 4 * (random() % 11);
        spec.tcp_options = 4 * (random() % 11);
        spec.padding = random() % 4 == 0 ? random() % 8 : 0;
        // Odd and even lengths alike, up to what fits in one MTU.
        const std::size_t max_payload = 1500 - 40 - spec.ip_options - spec.tcp_options;
        const std::size_t payload = round % 3 == 0 ? random() % 8 : random() % (max_payload + 1);
        for (std::size_t i = 0; i < payload; ++i) spec.payload.push_back(static_cast<std::byte>(random()));
        // Sometimes addresses of all ones or all zeros, which stress the folding.
        if (round % 50 == 1) spec.source = Ipv4Address{0xffffffff};
        if (round % 50 == 2) spec.destination = Ipv4Address{0};
        Frame f = build(spec);
        ASSERT_TRUE(ipv4_checksum_ok(f));
        ASSERT_TRUE(tcp_checksum_ok(f));

        auto segment = packet::parse_tcp(f);
        ASSERT_TRUE(segment.has_value()) << round;
        ASSERT_EQ(segment->payload_size, payload);
        Ipv4Address new_destination{static_cast<std::uint32_t>(random())};
        if (round % 50 == 3) new_destination = Ipv4Address{0xffffffff};
        if (round % 50 == 4) new_destination = Ipv4Address{0};
        if (round % 50 == 5) new_destination = spec.destination;  // no change at all
        packet::rewrite_destination(f, *segment, kOtherMac, new_destination);
        ASSERT_TRUE(ipv4_checksum_ok(f)) << "round " << round;
        ASSERT_TRUE(tcp_checksum_ok(f)) << "round " << round;
        ASSERT_EQ(get32(f, 14 + 16), new_destination.value);

        segment = packet::parse_tcp(f);
        ASSERT_TRUE(segment.has_value());
        ASSERT_EQ(segment->destination, new_destination);
        const Ipv4Address new_source{static_cast<std::uint32_t>(random())};
        packet::rewrite_source(f, *segment, kClientMac, new_source);
        ASSERT_TRUE(ipv4_checksum_ok(f)) << "round " << round;
        ASSERT_TRUE(tcp_checksum_ok(f)) << "round " << round;
        ASSERT_EQ(get32(f, 14 + 12), new_source.value);
        ASSERT_EQ(get32(f, 14 + 16), new_destination.value);
    }
}

TEST(PacketTest, RewritesAreReversible) {
    std::mt19937 random{99};
    for (int round = 0; round < 500; ++round) {
        TcpFrameSpec spec;
        spec.source = Ipv4Address{static_cast<std::uint32_t>(random())};
        spec.destination = Ipv4Address{static_cast<std::uint32_t>(random())};
        for (std::size_t i = 0, n = random() % 300; i < n; ++i)
            spec.payload.push_back(static_cast<std::byte>(random()));
        const Frame original = build(spec);
        Frame f = original;
        packet::rewrite_destination(f, *packet::parse_tcp(f), kOtherMac, Ipv4Address{static_cast<std::uint32_t>(random())});
        packet::rewrite_destination(f, *packet::parse_tcp(f), spec.destination_mac, spec.destination);
        ASSERT_TRUE(ipv4_checksum_ok(f));
        ASSERT_TRUE(tcp_checksum_ok(f));
        // Everything but possibly the checksum representation (0 vs 0xffff) is back.
        Frame a = f;
        Frame b = original;
        put16(a, 24, 0);
        put16(b, 24, 0);
        put16(a, 34 + 16, 0);
        put16(b, 34 + 16, 0);
        ASSERT_EQ(a, b);
    }
}

TEST(PacketTest, OnesComplementSumHandlesOddLengthsAndInitialValues) {
    const Frame bytes{std::byte{0x01}, std::byte{0x02}, std::byte{0x03}};
    EXPECT_EQ(packet::ones_complement_sum(bytes), 0x0102 + 0x0300);
    EXPECT_EQ(packet::ones_complement_sum(bytes, 0x10), 0x0102 + 0x0300 + 0x10);
    const Frame carry{std::byte{0xff}, std::byte{0xff}, std::byte{0x00}, std::byte{0x02}};
    EXPECT_EQ(packet::ones_complement_sum(carry), 0x0002);  // 0xffff + 2 = 0x10001 -> 0x0002
    EXPECT_EQ(packet::ones_complement_sum({}), 0);
    EXPECT_EQ(packet::ones_complement_sum({}, 0x12345), 0x2346);
    std::mt19937 random{5};
    for (int round = 0; round < 200; ++round) {
        Frame f(random() % 1600);
        for (auto& b : f) b = static_cast<std::byte>(random());
        EXPECT_EQ(packet::ones_complement_sum(f), reference_sum(f, 0, f.size()));
    }
}

// --- Frames the switch builds ---------------------------------------------------------------------

TEST(PacketTest, BuildTcpSegmentHasValidChecksumsAndFields) {
    std::mt19937 random{7};
    for (int round = 0; round < 1000; ++round) {
        packet::TcpEndpoints endpoints{kClientMac,
                                       kServerMac,
                                       Ipv4Address{static_cast<std::uint32_t>(random())},
                                       Ipv4Address{static_cast<std::uint32_t>(random())},
                                       static_cast<std::uint16_t>(random()),
                                       static_cast<std::uint16_t>(random())};
        const std::uint32_t sequence = static_cast<std::uint32_t>(random());
        const std::uint32_t acknowledgement = static_cast<std::uint32_t>(random());
        const std::uint8_t flags = round % 2 == 0 ? tcp_flags::kSyn : tcp_flags::kRst;
        Frame out(kMaxFrameSize, std::byte{0xcc});
        const std::size_t size = packet::build_tcp_segment(out, endpoints, sequence, acknowledgement, flags);
        ASSERT_EQ(size, 54u);
        out.resize(size);
        ASSERT_TRUE(ipv4_checksum_ok(out)) << round;
        ASSERT_TRUE(tcp_checksum_ok(out)) << round;
        EXPECT_EQ(mac_at(out, 0), kServerMac);
        EXPECT_EQ(mac_at(out, 6), kClientMac);
        const auto segment = packet::parse_tcp(out);
        ASSERT_TRUE(segment.has_value());
        EXPECT_EQ(segment->source, endpoints.source);
        EXPECT_EQ(segment->destination, endpoints.destination);
        EXPECT_EQ(segment->source_port, endpoints.source_port);
        EXPECT_EQ(segment->destination_port, endpoints.destination_port);
        EXPECT_EQ(segment->sequence, sequence);
        EXPECT_EQ(segment->acknowledgement, acknowledgement);
        EXPECT_EQ(segment->flags, flags);
        EXPECT_EQ(segment->payload_size, 0u);
        EXPECT_EQ(std::to_integer<int>(out[14 + 8]), 64);  // a TTL
        EXPECT_NE(get16(out, 34 + 14), 0u);              // a window
    }
}

TEST(PacketTest, BuiltSegmentSurvivesRewrites) {
    const packet::TcpEndpoints endpoints{kClientMac, kServerMac, ip(10, 0, 2, 50), ip(10, 0, 2, 100), 61000, 80};
    Frame out(kMaxFrameSize);
    out.resize(packet::build_tcp_segment(out, endpoints, 1, 0, tcp_flags::kSyn));
    const auto segment = packet::parse_tcp(out);
    ASSERT_TRUE(segment.has_value());
    EXPECT_TRUE(segment->is_connection_request());
    packet::rewrite_source(out, *segment, kOtherMac, ip(192, 168, 1, 1));
    EXPECT_TRUE(ipv4_checksum_ok(out));
    EXPECT_TRUE(tcp_checksum_ok(out));
}

TEST(PacketTest, ParsesArpRequest) {
    const Frame f = arp_request(kClientMac, ip(10, 0, 2, 15), ip(10, 0, 2, 50));
    const auto request = packet::parse_arp_request(f);
    ASSERT_TRUE(request.has_value());
    EXPECT_EQ(request->sender_mac, kClientMac);
    EXPECT_EQ(request->sender_ip, ip(10, 0, 2, 15));
    EXPECT_EQ(request->target_ip, ip(10, 0, 2, 50));

    Frame padded = f;
    padded.resize(60, std::byte{0});  // as it arrives from a NIC
    EXPECT_TRUE(packet::parse_arp_request(padded).has_value());
}

TEST(PacketTest, RejectsWhatIsNotAnArpRequest) {
    const Frame good = arp_request(kClientMac, ip(10, 0, 2, 15), ip(10, 0, 2, 50));
    for (std::size_t size = 0; size < good.size(); ++size)
        EXPECT_FALSE(packet::parse_arp_request(std::span<const std::byte>{good}.first(size)).has_value()) << size;
    const auto broken = [&](std::size_t at, std::byte value) {
        Frame f = good;
        f[at] = value;
        return packet::parse_arp_request(f).has_value();
    };
    EXPECT_FALSE(broken(13, std::byte{0x00}));  // EtherType 0x0800
    EXPECT_FALSE(broken(15, std::byte{6}));     // hardware type 6
    EXPECT_FALSE(broken(16, std::byte{0x86}));  // protocol 0x86dd-ish
    EXPECT_FALSE(broken(18, std::byte{8}));     // hardware size
    EXPECT_FALSE(broken(19, std::byte{16}));    // protocol size
    EXPECT_FALSE(broken(21, std::byte{2}));     // a reply
    EXPECT_FALSE(packet::parse_arp_request(build(TcpFrameSpec{})).has_value());
}

TEST(PacketTest, ArpReplyRoundTrip) {
    const Frame request_frame = arp_request(kClientMac, ip(10, 0, 2, 15), ip(10, 0, 2, 50));
    const auto request = packet::parse_arp_request(request_frame);
    ASSERT_TRUE(request.has_value());
    Frame reply(kMaxFrameSize, std::byte{0xcc});
    const std::size_t size = packet::build_arp_reply(reply, *request, kOtherMac, ip(10, 0, 2, 50));
    ASSERT_EQ(size, 60u);
    reply.resize(size);
    EXPECT_EQ(mac_at(reply, 0), kClientMac);
    EXPECT_EQ(mac_at(reply, 6), kOtherMac);
    EXPECT_EQ(get16(reply, 12), 0x0806u);
    EXPECT_EQ(get16(reply, 14), 1u);
    EXPECT_EQ(get16(reply, 16), 0x0800u);
    EXPECT_EQ(std::to_integer<int>(reply[18]), 6);
    EXPECT_EQ(std::to_integer<int>(reply[19]), 4);
    EXPECT_EQ(get16(reply, 20), 2u);  // reply
    EXPECT_EQ(mac_at(reply, 22), kOtherMac);
    EXPECT_EQ(get32(reply, 28), ip(10, 0, 2, 50).value);
    EXPECT_EQ(mac_at(reply, 32), kClientMac);
    EXPECT_EQ(get32(reply, 38), ip(10, 0, 2, 15).value);
    for (std::size_t i = 42; i < 60; ++i) EXPECT_EQ(reply[i], std::byte{0}) << i;
    // A reply is not mistaken for a request.
    EXPECT_FALSE(packet::parse_arp_request(reply).has_value());
    // Turned back into a request (opcode 1), it parses as one from the answerer.
    put16(reply, 20, 1);
    const auto back = packet::parse_arp_request(reply);
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(back->sender_mac, kOtherMac);
    EXPECT_EQ(back->sender_ip, ip(10, 0, 2, 50));
    EXPECT_EQ(back->target_ip, ip(10, 0, 2, 15));
}

}  // namespace
}  // namespace lamina
