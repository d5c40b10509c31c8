// What the virtual switch connects: a port is anything that can take an
// Ethernet frame (a VM's virtio-net device, the uplink NIC). Frames are plain
// Ethernet II frames without the FCS; no offloads, so at most one MTU of
// payload (1500 bytes) plus the 14-byte header and one 802.1Q tag.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace lamina {

inline constexpr std::size_t kEthernetHeaderSize = 14;
inline constexpr std::size_t kEthernetMtu = 1500;
inline constexpr std::size_t kMaxFrameSize = kEthernetHeaderSize + 4 + kEthernetMtu;  // 4: one VLAN tag
inline constexpr std::size_t kMinFrameSize = kEthernetHeaderSize;

// Which separate segment of the switch a port is on.
enum class NetworkId : std::uint8_t {};

struct MacAddress final {
    std::array<std::uint8_t, 6> bytes{};

    [[nodiscard]] constexpr bool is_multicast() const { return (bytes[0] & 1) != 0; }  // broadcast too
    [[nodiscard]] constexpr bool is_zero() const {
        for (const auto b : bytes)
            if (b != 0) return false;
        return true;
    }
    [[nodiscard]] constexpr bool operator==(const MacAddress&) const = default;
};

// A frame's destination and source addresses (the caller checked its size).
[[nodiscard]] inline MacAddress frame_destination(std::span<const std::byte> frame) {
    MacAddress mac{};
    for (std::size_t i = 0; i < 6; ++i) mac.bytes[i] = static_cast<std::uint8_t>(frame[i]);
    return mac;
}
[[nodiscard]] inline MacAddress frame_source(std::span<const std::byte> frame) {
    MacAddress mac{};
    for (std::size_t i = 0; i < 6; ++i) mac.bytes[i] = static_cast<std::uint8_t>(frame[6 + i]);
    return mac;
}

class NetworkPort {
public:
    // The switch hands this port a frame. Must not block and must not call
    // back into the switch; a port with no room drops the frame and returns
    // false (counted as a drop), as a real NIC does when its ring is empty.
    [[nodiscard]] virtual bool receive_frame(std::span<const std::byte> frame) = 0;

protected:
    ~NetworkPort() = default;
};

}  // namespace lamina
