#include "virtual_devices/virtual_switch.hpp"

namespace lamina {
namespace {

// Constant-initialised: there is no constructor to run before the first VM
// is created, on any CPU.
constinit VirtualSwitch g_switch;

// A frame the switch can forward: a whole Ethernet header, no more than one
// MTU, and a source address that names one station.
[[nodiscard]] bool is_forwardable(std::span<const std::byte> frame) {
    if (frame.size() < kMinFrameSize || frame.size() > kMaxFrameSize) return false;
    const MacAddress source = frame_source(frame);
    return !source.is_multicast() && !source.is_zero();
}

[[nodiscard]] std::uint32_t next_generation(std::uint32_t generation) {
    return generation == ~std::uint32_t{0} ? 1 : generation + 1;  // 0 is never handed out
}

}  // namespace

VirtualSwitch& virtual_switch() { return g_switch; }

class VirtualSwitch::Emitter final : public FrameSink {
public:
    explicit Emitter(VirtualSwitch& owner) : owner_{owner} {}
    void emit(NetworkId network, std::span<const std::byte> frame) override { owner_.emit(network, frame); }

private:
    VirtualSwitch& owner_;
};

// --- Ports ------------------------------------------------------------------------------------

Result<SwitchPortId> VirtualSwitch::attach(NetworkPort& port, NetworkId network,
                                           std::optional<MacAddress> station) {
    const LockGuard guard{lock_};
    if (is_attached(port)) return Error{"network port is already attached to the switch"};
    if (station && (station->is_multicast() || station->is_zero()))
        return Error{"a port's own address must be a unicast address"};
    if (station) {
        const MacEntry* owner = find_address(*station, network);
        if (owner != nullptr && owner->pinned)
            return Error{"another network card on this network has this MAC address"};
    }
    for (std::uint16_t slot = 0; slot < kMaxPorts; ++slot) {
        Port& candidate = ports_[slot];
        if (candidate.port != nullptr) continue;
        candidate = Port{&port, network, next_generation(candidate.generation), SwitchPortStats{}};
        if (station) pin(*station, network, slot);
        return SwitchPortId{slot, candidate.generation};
    }
    return Error{"virtual switch has no free port"};
}

void VirtualSwitch::detach(SwitchPortId id) {
    const LockGuard guard{lock_};
    if (!is_attached(id)) return;
    ports_[id.slot].port = nullptr;  // the generation stays, so the old handle stays dead
    forget_addresses_of(id.slot);
}

Result<SwitchPortStats> VirtualSwitch::port_stats(SwitchPortId id) const {
    const LockGuard guard{lock_};
    if (!is_attached(id)) return Error{"no such switch port"};
    return ports_[id.slot].stats;
}

bool VirtualSwitch::is_attached(SwitchPortId id) const {
    return id.slot < kMaxPorts && id.generation != 0 && ports_[id.slot].port != nullptr &&
           ports_[id.slot].generation == id.generation;
}

bool VirtualSwitch::is_attached(const NetworkPort& port) const {
    for (const Port& candidate : ports_)
        if (candidate.port == &port) return true;
    return false;
}

// --- MAC table --------------------------------------------------------------------------------

std::size_t VirtualSwitch::learned_addresses() const {
    const LockGuard guard{lock_};
    std::size_t count = 0;
    for (const MacEntry& entry : table_) count += entry.in_use() ? 1 : 0;
    return count;
}

VirtualSwitch::MacEntry* VirtualSwitch::find_address(MacAddress address, NetworkId network) {
    for (MacEntry& entry : table_)
        if (entry.in_use() && entry.network == network && entry.address == address) return &entry;
    return nullptr;
}

// A free entry if there is one (free entries were last heard at 0), else
// the unpinned one heard from longest ago. Pinned entries are at most one
// per port, far fewer than the table holds.
VirtualSwitch::MacEntry& VirtualSwitch::least_recently_heard() {
    MacEntry* oldest = nullptr;
    for (MacEntry& entry : table_)
        if (!entry.pinned && (oldest == nullptr || entry.last_heard < oldest->last_heard)) oldest = &entry;
    return *oldest;
}

void VirtualSwitch::learn(MacAddress source, NetworkId network, std::uint16_t slot) {
    MacEntry* entry = find_address(source, network);
    if (entry != nullptr && entry->pinned) {
        if (entry->slot == slot) entry->last_heard = ++clock_;
        return;  // another port sending with a pinned address does not take it over
    }
    if (entry == nullptr) entry = &least_recently_heard();
    *entry = MacEntry{source, network, slot, ++clock_};
}

void VirtualSwitch::pin(MacAddress address, NetworkId network, std::uint16_t slot) {
    MacEntry* entry = find_address(address, network);
    if (entry == nullptr) entry = &least_recently_heard();
    *entry = MacEntry{address, network, slot, ++clock_, true};
}

void VirtualSwitch::forget_addresses_of(std::uint16_t slot) {
    for (MacEntry& entry : table_)
        if (entry.in_use() && entry.slot == slot) entry = MacEntry{};
}

// --- Forwarding -------------------------------------------------------------------------------

void VirtualSwitch::send(SwitchPortId from, std::span<const std::byte> frame) {
    const LockGuard guard{lock_};
    if (!is_attached(from)) return;  // a late frame from a port being unplugged
    Port& sender = ports_[from.slot];
    if (!is_forwardable(frame)) {
        ++sender.stats.dropped_malformed;
        return;
    }
    ++sender.stats.received_frames;
    sender.stats.received_bytes += frame.size();
    learn(frame_source(frame), sender.network, from.slot);
    if (balancer_.any_service()) {
        Emitter emitter{*this};
        if (balancer_.inspect(sender.network, frame, now_ns(), emitter)) return;
    }
    forward(from.slot, classify(from.slot, sender.network, frame), frame);
}

void VirtualSwitch::tick_services() {
    const LockGuard guard{lock_};
    Emitter emitter{*this};
    if (balancer_.any_service()) balancer_.tick(now_ns(), emitter);
}

// The balancer addresses stations it has heard from and replicas, whose
// addresses are pinned: a destination the table does not hold is dropped,
// never flooded.
void VirtualSwitch::emit(NetworkId network, std::span<const std::byte> frame) {
    const MacAddress destination = frame_destination(frame);
    const MacEntry* entry = destination.is_multicast() ? nullptr : find_address(destination, network);
    if (entry == nullptr) return;
    deliver(ports_[entry->slot], frame);
}

VirtualSwitch::Route VirtualSwitch::classify(std::uint16_t from, NetworkId network, std::span<const std::byte> frame) {
    const MacAddress destination = frame_destination(frame);
    if (destination.is_multicast()) return Route{Route::Kind::flood};  // broadcast too
    const MacEntry* entry = find_address(destination, network);
    if (entry == nullptr) return Route{Route::Kind::flood};
    if (entry->slot == from) return Route{Route::Kind::to_sender};
    return Route{Route::Kind::unicast, entry->slot};
}

void VirtualSwitch::forward(std::uint16_t from, Route route, std::span<const std::byte> frame) {
    switch (route.kind) {
        case Route::Kind::flood: flood(from, ports_[from].network, frame); return;
        case Route::Kind::unicast: deliver(ports_[route.slot], frame); return;
        // The destination is on the sender's side: it already has the frame.
        case Route::Kind::to_sender: ++ports_[from].stats.dropped_to_sender; return;
    }
}

void VirtualSwitch::flood(std::uint16_t from, NetworkId network, std::span<const std::byte> frame) {
    for (std::uint16_t slot = 0; slot < kMaxPorts; ++slot) {
        Port& port = ports_[slot];
        if (slot != from && port.port != nullptr && port.network == network) deliver(port, frame);
    }
}

void VirtualSwitch::deliver(Port& port, std::span<const std::byte> frame) {
    if (!port.port->receive_frame(frame)) {
        ++port.stats.dropped_no_room;
        return;
    }
    ++port.stats.delivered_frames;
    port.stats.delivered_bytes += frame.size();
}

}  // namespace lamina
