// Just enough of ARP, IPv4 and TCP for the switch's service balancer: find
// the fields of a frame, rewrite addresses with incremental checksum updates
// (RFC 1624), and build the few frames the switch sends itself (ARP replies,
// readiness probes). Frames are untrusted: every view checks sizes first.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "virtual_devices/network_port.hpp"

namespace lamina::packet {

inline constexpr std::uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr std::uint16_t kEtherTypeArp = 0x0806;
inline constexpr std::uint8_t kProtocolTcp = 6;

// An IPv4 address in host order, so that a replica's address is "base + n".
struct Ipv4Address final {
    std::uint32_t value{0};

    [[nodiscard]] constexpr bool operator==(const Ipv4Address&) const = default;
};

namespace tcp_flags {
inline constexpr std::uint8_t kFin = 0x01;
inline constexpr std::uint8_t kSyn = 0x02;
inline constexpr std::uint8_t kRst = 0x04;
inline constexpr std::uint8_t kAck = 0x10;
}  // namespace tcp_flags

[[nodiscard]] inline std::uint16_t load16(std::span<const std::byte> bytes, std::size_t offset) {
    return static_cast<std::uint16_t>((std::to_integer<unsigned>(bytes[offset]) << 8) |
                                      std::to_integer<unsigned>(bytes[offset + 1]));
}
[[nodiscard]] inline std::uint32_t load32(std::span<const std::byte> bytes, std::size_t offset) {
    return (std::uint32_t{load16(bytes, offset)} << 16) | load16(bytes, offset + 2);
}
inline void store16(std::span<std::byte> bytes, std::size_t offset, std::uint16_t value) {
    bytes[offset] = static_cast<std::byte>(value >> 8);
    bytes[offset + 1] = static_cast<std::byte>(value);
}
inline void store32(std::span<std::byte> bytes, std::size_t offset, std::uint32_t value) {
    store16(bytes, offset, static_cast<std::uint16_t>(value >> 16));
    store16(bytes, offset + 2, static_cast<std::uint16_t>(value));
}
inline void store_mac(std::span<std::byte> bytes, std::size_t offset, MacAddress mac) {
    for (std::size_t i = 0; i < mac.bytes.size(); ++i) bytes[offset + i] = static_cast<std::byte>(mac.bytes[i]);
}
[[nodiscard]] inline MacAddress load_mac(std::span<const std::byte> bytes, std::size_t offset) {
    MacAddress mac{};
    for (std::size_t i = 0; i < mac.bytes.size(); ++i) mac.bytes[i] = std::to_integer<std::uint8_t>(bytes[offset + i]);
    return mac;
}

// "A.B.C.D" in decimal, each part 0-255 without leading zeros; nullopt otherwise.
[[nodiscard]] std::optional<Ipv4Address> parse_ipv4(std::string_view text);

// An ARP request for an IPv4 address (Ethernet, untagged).
struct ArpRequest final {
    MacAddress sender_mac{};
    Ipv4Address sender_ip{};
    Ipv4Address target_ip{};
};
[[nodiscard]] std::optional<ArpRequest> parse_arp_request(std::span<const std::byte> frame);

// Where the fields of an untagged, unfragmented IPv4 TCP segment are.
struct TcpSegment final {
    std::size_t ip_offset{kEthernetHeaderSize};
    std::size_t tcp_offset{0};
    std::size_t payload_size{0};
    Ipv4Address source{};
    Ipv4Address destination{};
    std::uint16_t source_port{0};
    std::uint16_t destination_port{0};
    std::uint32_t sequence{0};
    std::uint32_t acknowledgement{0};
    std::uint8_t flags{0};

    [[nodiscard]] bool has(std::uint8_t flag) const { return (flags & flag) != 0; }
    // The opening SYN of a connection (not the SYN-ACK answering it).
    [[nodiscard]] bool is_connection_request() const { return has(tcp_flags::kSyn) && !has(tcp_flags::kAck); }
};
[[nodiscard]] std::optional<TcpSegment> parse_tcp(std::span<const std::byte> frame);

// Rewrites the segment's destination (or source) MAC and IPv4 address,
// keeping the IPv4 and TCP checksums right.
void rewrite_destination(std::span<std::byte> frame, const TcpSegment& segment, MacAddress mac, Ipv4Address ip);
void rewrite_source(std::span<std::byte> frame, const TcpSegment& segment, MacAddress mac, Ipv4Address ip);

// The ones' complement sum (RFC 1071) of `bytes`, folded, not inverted.
[[nodiscard]] std::uint16_t ones_complement_sum(std::span<const std::byte> bytes, std::uint32_t initial = 0);

// Frames the switch originates. Each writes into `out` (at least
// kMaxFrameSize bytes) and returns the frame's size.
[[nodiscard]] std::size_t build_arp_reply(std::span<std::byte> out, const ArpRequest& request, MacAddress answer_mac,
                                          Ipv4Address answer_ip);
struct TcpEndpoints final {
    MacAddress source_mac{};
    MacAddress destination_mac{};
    Ipv4Address source{};
    Ipv4Address destination{};
    std::uint16_t source_port{0};
    std::uint16_t destination_port{0};
};
[[nodiscard]] std::size_t build_tcp_segment(std::span<std::byte> out, const TcpEndpoints& endpoints,
                                            std::uint32_t sequence, std::uint32_t acknowledgement,
                                            std::uint8_t flags);

}  // namespace lamina::packet
