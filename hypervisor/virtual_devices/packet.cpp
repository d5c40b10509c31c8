#include "virtual_devices/packet.hpp"

namespace lamina::packet {
namespace {

constexpr std::size_t kEtherTypeOffset = 12;
constexpr std::size_t kIpv4MinHeader = 20;
constexpr std::size_t kTcpMinHeader = 20;
constexpr std::size_t kArpPacketSize = 28;

// IPv4 header fields, relative to the header.
constexpr std::size_t kIpVersionLength = 0;
constexpr std::size_t kIpTotalLength = 2;
constexpr std::size_t kIpFragment = 6;
constexpr std::size_t kIpTtl = 8;
constexpr std::size_t kIpProtocol = 9;
constexpr std::size_t kIpChecksum = 10;
constexpr std::size_t kIpSource = 12;
constexpr std::size_t kIpDestination = 16;

// TCP header fields, relative to the header.
constexpr std::size_t kTcpSourcePort = 0;
constexpr std::size_t kTcpDestinationPort = 2;
constexpr std::size_t kTcpSequence = 4;
constexpr std::size_t kTcpAcknowledgement = 8;
constexpr std::size_t kTcpDataOffset = 12;
constexpr std::size_t kTcpFlags = 13;
constexpr std::size_t kTcpWindow = 14;
constexpr std::size_t kTcpChecksum = 16;

constexpr std::uint16_t kFragmentMask = 0x3fff;  // "more fragments" and the offset
constexpr std::uint16_t kProbeWindow = 1024;

[[nodiscard]] std::uint16_t fold(std::uint32_t sum) {
    while ((sum >> 16) != 0) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(sum);
}

// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m') for each 16-bit half that changed.
[[nodiscard]] std::uint16_t replace_in_checksum(std::uint16_t checksum, std::uint32_t old_value,
                                                std::uint32_t new_value) {
    std::uint32_t sum = static_cast<std::uint16_t>(~checksum);
    sum += static_cast<std::uint16_t>(~(old_value >> 16)) + static_cast<std::uint16_t>(~old_value & 0xffff);
    sum += (new_value >> 16) + (new_value & 0xffff);
    return static_cast<std::uint16_t>(~fold(sum));
}

void replace_address(std::span<std::byte> frame, const TcpSegment& segment, std::size_t field, Ipv4Address old_ip,
                     Ipv4Address new_ip) {
    const std::size_t ip_checksum = segment.ip_offset + kIpChecksum;
    const std::size_t tcp_checksum = segment.tcp_offset + kTcpChecksum;
    store16(frame, ip_checksum, replace_in_checksum(load16(frame, ip_checksum), old_ip.value, new_ip.value));
    // The TCP checksum covers the addresses through its pseudo-header.
    store16(frame, tcp_checksum, replace_in_checksum(load16(frame, tcp_checksum), old_ip.value, new_ip.value));
    store32(frame, segment.ip_offset + field, new_ip.value);
}

[[nodiscard]] std::uint32_t pseudo_header_sum(Ipv4Address source, Ipv4Address destination, std::size_t tcp_size) {
    return (source.value >> 16) + (source.value & 0xffff) + (destination.value >> 16) + (destination.value & 0xffff) +
           kProtocolTcp + static_cast<std::uint32_t>(tcp_size);
}

void write_ethernet(std::span<std::byte> out, MacAddress destination, MacAddress source, std::uint16_t type) {
    store_mac(out, 0, destination);
    store_mac(out, 6, source);
    store16(out, kEtherTypeOffset, type);
}

}  // namespace

std::uint16_t ones_complement_sum(std::span<const std::byte> bytes, std::uint32_t initial) {
    std::uint32_t sum = initial;
    std::size_t i = 0;
    for (; i + 1 < bytes.size(); i += 2) sum += load16(bytes, i);
    if (i < bytes.size()) sum += std::to_integer<std::uint32_t>(bytes[i]) << 8;
    return fold(sum);
}

std::optional<Ipv4Address> parse_ipv4(std::string_view text) {
    std::uint32_t address = 0;
    for (int part = 0; part < 4; ++part) {
        if (part != 0) {
            if (text.empty() || text.front() != '.') return std::nullopt;
            text.remove_prefix(1);
        }
        std::size_t digits = 0;
        std::uint32_t value = 0;
        while (digits < text.size() && digits < 4 && text[digits] >= '0' && text[digits] <= '9')
            value = value * 10 + static_cast<std::uint32_t>(text[digits++] - '0');
        if (digits == 0 || digits > 3 || value > 255 || (digits > 1 && text[0] == '0')) return std::nullopt;
        text.remove_prefix(digits);
        address = (address << 8) | value;
    }
    if (!text.empty()) return std::nullopt;
    return Ipv4Address{address};
}

std::optional<ArpRequest> parse_arp_request(std::span<const std::byte> frame) {
    if (frame.size() < kEthernetHeaderSize + kArpPacketSize) return std::nullopt;
    if (load16(frame, kEtherTypeOffset) != kEtherTypeArp) return std::nullopt;
    const std::span<const std::byte> arp = frame.subspan(kEthernetHeaderSize);
    // Ethernet hardware (1), IPv4 protocol, 6- and 4-byte addresses, request (1).
    if (load16(arp, 0) != 1 || load16(arp, 2) != kEtherTypeIpv4 || arp[4] != std::byte{6} || arp[5] != std::byte{4} ||
        load16(arp, 6) != 1)
        return std::nullopt;
    return ArpRequest{load_mac(arp, 8), Ipv4Address{load32(arp, 14)}, Ipv4Address{load32(arp, 24)}};
}

std::optional<TcpSegment> parse_tcp(std::span<const std::byte> frame) {
    if (frame.size() < kEthernetHeaderSize + kIpv4MinHeader) return std::nullopt;
    if (load16(frame, kEtherTypeOffset) != kEtherTypeIpv4) return std::nullopt;
    const std::span<const std::byte> ip = frame.subspan(kEthernetHeaderSize);
    const unsigned version_length = std::to_integer<unsigned>(ip[kIpVersionLength]);
    const std::size_t header_size = (version_length & 0xf) * 4u;
    const std::size_t total = load16(ip, kIpTotalLength);
    if ((version_length >> 4) != 4 || header_size < kIpv4MinHeader || total < header_size + kTcpMinHeader ||
        total > ip.size())
        return std::nullopt;
    if (std::to_integer<std::uint8_t>(ip[kIpProtocol]) != kProtocolTcp) return std::nullopt;
    if ((load16(ip, kIpFragment) & kFragmentMask) != 0) return std::nullopt;
    const std::span<const std::byte> tcp = ip.subspan(header_size, total - header_size);
    const std::size_t tcp_header = (std::to_integer<std::size_t>(tcp[kTcpDataOffset]) >> 4) * 4;
    if (tcp_header < kTcpMinHeader || tcp_header > tcp.size()) return std::nullopt;
    TcpSegment segment{};
    segment.tcp_offset = kEthernetHeaderSize + header_size;
    segment.payload_size = tcp.size() - tcp_header;
    segment.source = Ipv4Address{load32(ip, kIpSource)};
    segment.destination = Ipv4Address{load32(ip, kIpDestination)};
    segment.source_port = load16(tcp, kTcpSourcePort);
    segment.destination_port = load16(tcp, kTcpDestinationPort);
    segment.sequence = load32(tcp, kTcpSequence);
    segment.acknowledgement = load32(tcp, kTcpAcknowledgement);
    segment.flags = std::to_integer<std::uint8_t>(tcp[kTcpFlags]);
    return segment;
}

void rewrite_destination(std::span<std::byte> frame, const TcpSegment& segment, MacAddress mac, Ipv4Address ip) {
    store_mac(frame, 0, mac);
    replace_address(frame, segment, kIpDestination, segment.destination, ip);
}

void rewrite_source(std::span<std::byte> frame, const TcpSegment& segment, MacAddress mac, Ipv4Address ip) {
    store_mac(frame, 6, mac);
    replace_address(frame, segment, kIpSource, segment.source, ip);
}

std::size_t build_arp_reply(std::span<std::byte> out, const ArpRequest& request, MacAddress answer_mac,
                            Ipv4Address answer_ip) {
    write_ethernet(out, request.sender_mac, answer_mac, kEtherTypeArp);
    const std::span<std::byte> arp = out.subspan(kEthernetHeaderSize, kArpPacketSize);
    store16(arp, 0, 1);
    store16(arp, 2, kEtherTypeIpv4);
    arp[4] = std::byte{6};
    arp[5] = std::byte{4};
    store16(arp, 6, 2);  // reply
    store_mac(arp, 8, answer_mac);
    store32(arp, 14, answer_ip.value);
    store_mac(arp, 18, request.sender_mac);
    store32(arp, 24, request.sender_ip.value);
    // Pad to the 60-byte Ethernet minimum, as a NIC would.
    constexpr std::size_t kMinimumFrame = 60;
    for (std::size_t i = kEthernetHeaderSize + kArpPacketSize; i < kMinimumFrame; ++i) out[i] = std::byte{0};
    return kMinimumFrame;
}

std::size_t build_tcp_segment(std::span<std::byte> out, const TcpEndpoints& endpoints, std::uint32_t sequence,
                              std::uint32_t acknowledgement, std::uint8_t flags) {
    constexpr std::size_t kIpStart = kEthernetHeaderSize;
    constexpr std::size_t kTcpStart = kIpStart + kIpv4MinHeader;
    constexpr std::size_t kFrameSize = kTcpStart + kTcpMinHeader;
    write_ethernet(out, endpoints.destination_mac, endpoints.source_mac, kEtherTypeIpv4);
    const std::span<std::byte> ip = out.subspan(kIpStart, kIpv4MinHeader);
    for (std::byte& b : ip) b = std::byte{0};
    ip[kIpVersionLength] = std::byte{0x45};
    store16(ip, kIpTotalLength, kIpv4MinHeader + kTcpMinHeader);
    store16(ip, kIpFragment, 0x4000);  // don't fragment
    ip[kIpTtl] = std::byte{64};
    ip[kIpProtocol] = std::byte{kProtocolTcp};
    store32(ip, kIpSource, endpoints.source.value);
    store32(ip, kIpDestination, endpoints.destination.value);
    store16(ip, kIpChecksum, static_cast<std::uint16_t>(~ones_complement_sum(ip)));

    const std::span<std::byte> tcp = out.subspan(kTcpStart, kTcpMinHeader);
    for (std::byte& b : tcp) b = std::byte{0};
    store16(tcp, kTcpSourcePort, endpoints.source_port);
    store16(tcp, kTcpDestinationPort, endpoints.destination_port);
    store32(tcp, kTcpSequence, sequence);
    store32(tcp, kTcpAcknowledgement, acknowledgement);
    tcp[kTcpDataOffset] = std::byte{(kTcpMinHeader / 4) << 4};
    tcp[kTcpFlags] = std::byte{flags};
    store16(tcp, kTcpWindow, kProbeWindow);
    const std::uint32_t pseudo = pseudo_header_sum(endpoints.source, endpoints.destination, kTcpMinHeader);
    store16(tcp, kTcpChecksum, static_cast<std::uint16_t>(~ones_complement_sum(tcp, pseudo)));
    return kFrameSize;
}

}  // namespace lamina::packet
