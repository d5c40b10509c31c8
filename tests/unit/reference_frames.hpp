// Ethernet/IPv4/TCP frames for host tests, read and checked independently
// of virtual_devices/packet.cpp: byte accessors, checksums recomputed from
// scratch, and an ARP request built by hand. Frames start with a 14-byte
// Ethernet header and carry no VLAN tag.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "virtual_devices/packet.hpp"

namespace lamina::testing {

using Frame = std::vector<std::byte>;

constexpr packet::Ipv4Address ip(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
    return packet::Ipv4Address{(std::uint32_t{a} << 24) | (std::uint32_t{b} << 16) | (std::uint32_t{c} << 8) | d};
}

inline std::uint32_t get16(std::span<const std::byte> f, std::size_t at) {
    return (std::to_integer<std::uint32_t>(f[at]) << 8) | std::to_integer<std::uint32_t>(f[at + 1]);
}
inline std::uint32_t get32(std::span<const std::byte> f, std::size_t at) {
    return (get16(f, at) << 16) | get16(f, at + 2);
}
inline void put16(Frame& f, std::size_t at, std::uint32_t v) {
    f[at] = static_cast<std::byte>((v >> 8) & 0xff);
    f[at + 1] = static_cast<std::byte>(v & 0xff);
}
inline void put32(Frame& f, std::size_t at, std::uint32_t v) {
    put16(f, at, v >> 16);
    put16(f, at + 2, v & 0xffff);
}

inline MacAddress mac_at(std::span<const std::byte> f, std::size_t at) {
    MacAddress mac{};
    for (std::size_t i = 0; i < 6; ++i) mac.bytes[i] = std::to_integer<std::uint8_t>(f[at + i]);
    return mac;
}

inline std::vector<std::byte> text(const char* s) {
    std::vector<std::byte> out;
    for (; *s != '\0'; ++s) out.push_back(static_cast<std::byte>(*s));
    return out;
}

// The 16-bit ones' complement sum of f[begin, end), bytes beyond an odd end
// padded with zero, plus `extra`, folded.
inline std::uint16_t reference_sum(std::span<const std::byte> f, std::size_t begin, std::size_t end,
                                   std::uint64_t extra = 0) {
    std::uint64_t sum = extra;
    for (std::size_t i = begin; i < end; i += 2) {
        const std::uint32_t hi = std::to_integer<std::uint32_t>(f[i]);
        const std::uint32_t lo = i + 1 < end ? std::to_integer<std::uint32_t>(f[i + 1]) : 0;
        sum += (hi << 8) | lo;
    }
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(sum);
}

constexpr std::size_t kIpStart = 14;

inline std::size_t ip_header_size(std::span<const std::byte> f) {
    return (std::to_integer<std::size_t>(f[kIpStart]) & 0xf) * 4;
}
inline std::size_t tcp_start(std::span<const std::byte> f) { return kIpStart + ip_header_size(f); }
inline std::size_t tcp_size(std::span<const std::byte> f) { return get16(f, kIpStart + 2) - ip_header_size(f); }

// The TCP pseudo-header's sum: both addresses, the protocol and the TCP length.
inline std::uint64_t pseudo_header_sum(std::span<const std::byte> f) {
    return get16(f, kIpStart + 12) + get16(f, kIpStart + 14) + get16(f, kIpStart + 16) + get16(f, kIpStart + 18) +
           6 + tcp_size(f);
}

// A header whose checksum is right sums (checksum included) to 0xffff.
inline bool ipv4_checksum_ok(std::span<const std::byte> f) {
    return reference_sum(f, kIpStart, tcp_start(f)) == 0xffff;
}
inline bool tcp_checksum_ok(std::span<const std::byte> f) {
    return reference_sum(f, tcp_start(f), tcp_start(f) + tcp_size(f), pseudo_header_sum(f)) == 0xffff;
}
inline bool checksums_ok(std::span<const std::byte> f) { return ipv4_checksum_ok(f) && tcp_checksum_ok(f); }

// Fills in both checksums from scratch.
inline void fix_checksums(Frame& f) {
    put16(f, kIpStart + 10, 0);
    put16(f, kIpStart + 10, static_cast<std::uint16_t>(~reference_sum(f, kIpStart, tcp_start(f))));
    const std::size_t checksum_at = tcp_start(f) + 16;
    put16(f, checksum_at, 0);
    put16(f, checksum_at,
          static_cast<std::uint16_t>(~reference_sum(f, tcp_start(f), tcp_start(f) + tcp_size(f), pseudo_header_sum(f))));
}

// An ARP request ("who has `target`? tell `sender`"), broadcast.
inline Frame arp_request(MacAddress sender_mac, packet::Ipv4Address sender, packet::Ipv4Address target) {
    Frame f(42, std::byte{0});
    for (std::size_t i = 0; i < 6; ++i) {
        f[i] = std::byte{0xff};
        f[6 + i] = static_cast<std::byte>(sender_mac.bytes[i]);
        f[22 + i] = static_cast<std::byte>(sender_mac.bytes[i]);
    }
    put16(f, 12, 0x0806);
    put16(f, 14, 1);       // Ethernet
    put16(f, 16, 0x0800);  // IPv4
    f[18] = std::byte{6};
    f[19] = std::byte{4};
    put16(f, 20, 1);  // request
    put32(f, 28, sender.value);
    put32(f, 38, target.value);
    return f;
}

}  // namespace lamina::testing
