// A learning Ethernet switch inside Lamina. Its ports are NetworkPorts: the
// VMs' virtio-net devices, later the uplink NIC.
//
// Every port is on one network. Networks are wholly separate segments: a
// frame never leaves its sender's network. Flooding stays inside it, and the
// MAC table is keyed by (network, address), so an address learned on one
// network is never used to forward a frame of another.
//
// Forwarding: the source address of every well-formed frame is learned on
// the port it came in on (an address heard on a new port moves there).
// Unicast to a learned address goes to that port only; unknown unicast,
// multicast and broadcast are flooded to every other port of the network. A
// frame is never sent back to its sender.
//
// A VM's NIC is attached with its own address, which is pinned to its port
// from the start: reachable before the VM has sent anything, never replaced
// when the table is full, and not moved by another port sending with it
// (a VM cannot take over another VM's address).
//
// Bounded: kMaxPorts ports and kMacTableSize addresses; when the table is
// full, a new address replaces the one heard from least recently. Nothing
// is allocated.
//
// Services (docs/services.md): before forwarding, the switch shows each
// frame to its ServiceBalancer, which may take it (ARP for a service
// address, a connection to or from a service) and send rewritten frames on
// through the switch itself. The balancer's frames go only to an address
// the switch knows: never flooded, so a probe of a replica or a rewritten
// connection never leaves through the uplink or reaches another VM.
//
// Locking: one spin lock covers the ports, the table and the statistics. It
// is held while the switch hands frames to ports, so after detach() returns
// the switch never calls that port again. Lock order: the switch's lock,
// then a port's own locks (a virtio-net device's transport lock). So a
// port's receive_frame() must not call into the switch, and a port must not
// call send() while holding a lock its receive_frame() takes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "core/result.hpp"
#include "core/spinlock.hpp"
#include "virtual_devices/network_port.hpp"
#include "virtual_devices/service_balancer.hpp"

namespace lamina {

// A port's handle: its slot and which attachment of that slot, so a handle
// kept past detach() never names the next port attached there.
struct SwitchPortId final {
    std::uint16_t slot{0};
    std::uint32_t generation{0};  // never 0 in a handle attach() gave out

    [[nodiscard]] constexpr bool operator==(const SwitchPortId&) const = default;
};

// What one port did since it was attached.
struct SwitchPortStats final {
    std::uint64_t received_frames{0};   // well-formed frames the port sent into the switch
    std::uint64_t received_bytes{0};
    std::uint64_t delivered_frames{0};  // frames the port took from the switch
    std::uint64_t delivered_bytes{0};
    std::uint64_t dropped_no_room{0};   // frames for the port that it refused (its ring was empty)
    std::uint64_t dropped_malformed{0};  // frames from the port: bad size, multicast or zero source
    std::uint64_t dropped_to_sender{0};  // frames from the port for an address learned on it
};

class VirtualSwitch final {
public:
    static constexpr std::size_t kMaxPorts = 32;
    static constexpr std::size_t kMacTableSize = 256;

    constexpr VirtualSwitch() = default;
    VirtualSwitch(const VirtualSwitch&) = delete;
    VirtualSwitch& operator=(const VirtualSwitch&) = delete;

    // Plugs `port` into `network`, with `station` (a VM NIC's own address)
    // pinned to it; an error when every port is taken, `port` is attached
    // already, or another port of the network has `station` as its own.
    [[nodiscard]] Result<SwitchPortId> attach(NetworkPort& port, NetworkId network,
                                              std::optional<MacAddress> station = std::nullopt);
    // Unplugs the port and forgets the addresses learned on it. Nothing for
    // a handle that is no longer attached.
    void detach(SwitchPortId port);
    // A frame from `from` (Ethernet II, no FCS). Frames from a handle that is
    // no longer attached are ignored.
    void send(SwitchPortId from, std::span<const std::byte> frame);

    // Where the balancer's time comes from (monotonic nanoseconds); unset, time stands still at 0.
    void set_clock(std::uint64_t (*now_ns)()) { clock_source_ = now_ns; }
    // Runs `use(balancer, now_ns)` under the switch's lock: the service
    // manager's way in. `use` must not call back into the switch.
    template <typename Use>
    decltype(auto) with_services(Use&& use) {
        const LockGuard guard{lock_};
        return use(balancer_, now_ns());
    }
    // The balancer's periodic work (probes, timeouts, finished connections).
    void tick_services();

    [[nodiscard]] Result<SwitchPortStats> port_stats(SwitchPortId port) const;
    // Addresses in the MAC table, all networks together.
    [[nodiscard]] std::size_t learned_addresses() const;

private:
    struct Port final {
        NetworkPort* port{nullptr};  // null: the slot is free
        NetworkId network{};
        std::uint32_t generation{0};
        SwitchPortStats stats{};
    };

    struct MacEntry final {
        MacAddress address{};
        NetworkId network{};
        std::uint16_t slot{0};
        std::uint64_t last_heard{0};  // the switch's clock when the address last sent; 0: free
        bool pinned{false};           // a port's own address: stays until the port is detached

        [[nodiscard]] bool in_use() const { return last_heard != 0; }
    };

    // Where a frame goes.
    struct Route final {
        enum class Kind : std::uint8_t { flood, unicast, to_sender };
        Kind kind{Kind::flood};
        std::uint16_t slot{0};  // for unicast
    };

    [[nodiscard]] bool is_attached(SwitchPortId id) const;
    [[nodiscard]] bool is_attached(const NetworkPort& port) const;
    [[nodiscard]] MacEntry* find_address(MacAddress address, NetworkId network);
    [[nodiscard]] MacEntry& least_recently_heard();
    void learn(MacAddress source, NetworkId network, std::uint16_t slot);
    void pin(MacAddress address, NetworkId network, std::uint16_t slot);
    void forget_addresses_of(std::uint16_t slot);
    [[nodiscard]] Route classify(std::uint16_t from, NetworkId network, std::span<const std::byte> frame);
    void forward(std::uint16_t from, Route route, std::span<const std::byte> frame);
    void flood(std::uint16_t from, NetworkId network, std::span<const std::byte> frame);
    // A frame from the balancer: forwarded by its destination inside `network`.
    void emit(NetworkId network, std::span<const std::byte> frame);
    // Hands the balancer's frames back to emit(). Made on the stack when
    // needed, so the switch itself has no vtable and stays zero-initialised
    // (in .bss, not in the image).
    class Emitter;
    [[nodiscard]] std::uint64_t now_ns() const { return clock_source_ != nullptr ? clock_source_() : 0; }
    void deliver(Port& port, std::span<const std::byte> frame);

    mutable SpinLock lock_{};
    std::array<Port, kMaxPorts> ports_{};
    std::array<MacEntry, kMacTableSize> table_{};
    std::uint64_t clock_{0};  // counts learned frames: orders the table's entries by age
    std::uint64_t (*clock_source_)(){nullptr};
    ServiceBalancer balancer_{};
};

// The hypervisor's switch, shared by every VM.
[[nodiscard]] VirtualSwitch& virtual_switch();

}  // namespace lamina
