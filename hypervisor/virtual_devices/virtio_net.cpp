#include "virtual_devices/virtio_net.hpp"

#include <algorithm>

namespace lamina {
namespace {

// The header of every received packet: with no offloads negotiated, no
// flags, no segmentation, and the packet in one buffer (num_buffers = 1,
// the last field, little endian).
constexpr std::array<std::byte, VirtioNet::kHeaderSize> kReceiveHeader{
    std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0},
    std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{1}, std::byte{0}};

constexpr std::uint16_t kQueuePairs = 1;

void store_le16(std::span<std::byte> bytes, std::size_t offset, std::uint16_t value) {
    bytes[offset] = static_cast<std::byte>(value & 0xff);
    bytes[offset + 1] = static_cast<std::byte>(value >> 8);
}

}  // namespace

// --- Owner interface --------------------------------------------------------------------------

Status VirtioNet::connect(GuestMemory& memory, VirtioTransportHooks hooks, VirtualSwitch& network_switch,
                          NetworkId network, MacAddress mac) {
    if (mac.is_multicast() || mac.is_zero()) return Error{"virtio-net MAC address is multicast or zero"};
    disconnect();
    const auto port = network_switch.attach(*this, network, mac);
    if (!port) return port.error();
    switch_ = &network_switch;
    port_ = *port;
    mac_ = mac;
    transport_.connect(memory, hooks);
    return {};
}

// The switch and the handle stay: a transmit pass still finishing on another
// CPU sends with a handle the switch no longer knows, and the frame is dropped.
void VirtioNet::disconnect() {
    if (switch_ != nullptr) switch_->detach(port_);
}

VirtioNetStats VirtioNet::stats() {
    const LockGuard guard{transport_.lock()};
    return stats_;
}

bool VirtioNet::access(MmioAccess& access) {
    const bool handled = transport_.access(access);
    if (transmit_pending_.load()) transmit_pending_frames();
    return handled;
}

// --- Configuration space ----------------------------------------------------------------------

std::array<std::byte, VirtioNet::kConfigSize> VirtioNet::config_bytes() const {
    std::array<std::byte, kConfigSize> config{};
    for (std::size_t i = 0; i < mac_.bytes.size(); ++i) config[i] = static_cast<std::byte>(mac_.bytes[i]);
    store_le16(config, 6, kStatusLinkUp);
    store_le16(config, 8, kQueuePairs);
    store_le16(config, 10, static_cast<std::uint16_t>(kEthernetMtu));
    return config;
}

void VirtioNet::read_config(std::size_t offset, std::span<std::byte> bytes) {
    const auto config = config_bytes();
    const std::size_t start = std::min(offset, config.size());
    const std::size_t count = std::min(bytes.size(), config.size() - start);
    std::copy_n(config.begin() + static_cast<std::ptrdiff_t>(start), count, bytes.begin());
}

// Every field is read-only for a modern driver (the MAC can only be changed
// through the control queue, which is not offered).
void VirtioNet::write_config(std::size_t /*offset*/, std::span<const std::byte> /*bytes*/) {}

void VirtioNet::on_notify(std::uint32_t queue) {
    // Receive buffers wait in their ring until a frame comes; transmitting
    // waits until the transport's lock is released (see the header).
    if (queue == kTransmitQueue) transmit_pending_.store(true);
}

// --- Transmit: guest to switch ----------------------------------------------------------------

// One CPU at a time: a CPU that finds another at work leaves, and the one at
// work sees the mark the other set before it stops. (The mark is set before
// the other CPU tests `transmitting_`, and cleared here only after the
// worker set `transmitting_`, so one of the two always sees the other.)
void VirtioNet::transmit_pending_frames() {
    while (transmit_pending_.load()) {
        if (transmitting_.exchange(true)) return;
        transmit_pending_.store(false);
        const bool emptied = transmit_pass();
        if (!emptied) transmit_pending_.store(true);  // the rest at the next access
        transmitting_.store(false);
        if (!emptied) return;
    }
}

// Sends frames until the ring is empty (true) or kMaxFramesPerPass were
// taken (false).
bool VirtioNet::transmit_pass() {
    for (std::size_t taken = 0; taken < kMaxFramesPerPass; ++taken) {
        const auto frame_size = take_transmit_frame();
        if (!frame_size) return true;
        if (*frame_size != 0 && switch_ != nullptr)
            switch_->send(port_, std::span<const std::byte>{transmit_frame_.data(), *frame_size});
    }
    return false;
}

// Under the transport's lock: the next transmit packet, its frame copied
// into transmit_frame_ and the packet given back to the driver. The frame's
// size, 0 when there is nothing to send (a malformed packet), nullopt when
// the ring is empty, not running or broken.
std::optional<std::size_t> VirtioNet::take_transmit_frame() {
    const LockGuard guard{transport_.lock()};
    Virtqueue* queue = transport_.live_queue(kTransmitQueue);
    if (queue == nullptr) return std::nullopt;
    const auto popped = queue->pop(chain_);
    if (!popped || !*popped) {
        transport_.finish_queue_work(kTransmitQueue);  // a broken ring: DEVICE_NEEDS_RESET
        return std::nullopt;
    }
    const std::size_t frame_size = copy_transmit_frame(chain_);
    const Status pushed = queue->push_used(chain_.head(), 0);  // the device writes nothing back
    transport_.finish_queue_work(kTransmitQueue);
    if (!pushed) return std::nullopt;
    return frame_size;
}

// A malformed packet is the guest's mistake with one packet, not a broken
// ring: it is counted and completed, and the device goes on.
std::size_t VirtioNet::copy_transmit_frame(const DescriptorChain& chain) {
    const std::uint64_t packet = chain.readable_bytes();
    if (packet < kHeaderSize + kMinFrameSize || packet > kHeaderSize + kMaxFrameSize) {
        ++stats_.tx_errors;
        return 0;
    }
    // The header asks for nothing: no offload was negotiated.
    const std::size_t frame_size = packet - kHeaderSize;
    const auto destination = std::span{transmit_frame_}.first(frame_size);
    const auto copied = chain.read(transport_.memory(), kHeaderSize, destination);
    if (!copied || *copied != frame_size) {
        ++stats_.tx_errors;
        return 0;
    }
    ++stats_.tx_packets;
    stats_.tx_bytes += frame_size;
    return frame_size;
}

// --- Receive: switch to guest -----------------------------------------------------------------

// Called with the switch's lock held: takes only this device's lock and
// never waits for the guest.
bool VirtioNet::receive_frame(std::span<const std::byte> frame) {
    const LockGuard guard{transport_.lock()};
    Virtqueue* queue = transport_.live_queue(kReceiveQueue);
    if (queue == nullptr || frame.size() > kMaxFrameSize) return drop_received();
    const auto popped = queue->pop(chain_);
    if (!popped || !*popped) {
        transport_.finish_queue_work(kReceiveQueue);  // a broken ring: DEVICE_NEEDS_RESET
        return drop_received();
    }
    const std::uint32_t written = fill_receive_buffer(chain_, frame);
    const Status pushed = queue->push_used(chain_.head(), written);
    transport_.finish_queue_work(kReceiveQueue);  // interrupts the driver unless it asked not to be
    return pushed.ok() && written != 0;
}

// The header and the frame into the buffer: the bytes written, or 0 when
// they do not fit (the buffer goes back empty, as the frame is dropped).
std::uint32_t VirtioNet::fill_receive_buffer(const DescriptorChain& chain, std::span<const std::byte> frame) {
    const std::size_t packet = kHeaderSize + frame.size();
    if (chain.writable_bytes() < packet) {
        ++stats_.rx_errors;
        return 0;
    }
    GuestMemory& memory = transport_.memory();
    const auto header = chain.write(memory, 0, kReceiveHeader);
    const auto body = chain.write(memory, kHeaderSize, frame);
    if (!header || !body || *header != kHeaderSize || *body != frame.size()) {
        ++stats_.rx_errors;
        return 0;
    }
    ++stats_.rx_packets;
    stats_.rx_bytes += frame.size();
    return static_cast<std::uint32_t>(packet);
}

bool VirtioNet::drop_received() {
    ++stats_.rx_dropped;
    return false;
}

}  // namespace lamina
