#include "drivers/virtio_net_uplink.hpp"

#include <algorithm>

#include "arch/aarch64/cpu.hpp"
#include "core/console.hpp"

namespace lamina::drivers {
namespace {

// Device-type features (virtio 1.2, 5.1.3): the address and the link
// state, when offered. No checksum, segmentation or merged buffers.
constexpr std::uint64_t kFeatureMac = std::uint64_t{1} << 5;
constexpr std::uint64_t kFeatureStatus = std::uint64_t{1} << 16;

// struct virtio_net_config
constexpr std::size_t kConfigMac = 0;
constexpr std::size_t kConfigStatus = 6;
constexpr std::uint16_t kStatusLinkUp = 1;

}  // namespace

Status VirtioNetUplink::start(const VirtioMmioSlot& slot) {
    device_ = VirtioMmioDevice{slot};
    if (const auto features = device_.begin_init(kFeatureMac | kFeatureStatus); !features) return features.error();
    if (const Status status = set_up_queues(); !status) {
        device_.mark_failed();
        return status;
    }
    if (device_.has_feature(kFeatureMac)) {
        std::array<std::byte, 6> bytes{};
        device_.config_bytes(kConfigMac, bytes);
        std::transform(bytes.begin(), bytes.end(), mac_.bytes.begin(),
                       [](std::byte b) { return static_cast<std::uint8_t>(b); });
    }
    read_link_state();
    for (std::uint16_t index = 0; index < receive_.count(); ++index) {
        if (const Status status = receive_.post_writable(index); !status) {
            device_.mark_failed();
            return status;
        }
    }
    (void)receive_.queue().publish();
    device_.finish_init();
    device_.notify(kReceiveQueue);  // not before DRIVER_OK (virtio 1.2, 3.1.1)
    started_ = true;
    const auto on_interrupt = [](void* nic) { static_cast<VirtioNetUplink*>(nic)->handle_interrupt(); };
    if (!arch::route_device_interrupt(slot.interrupt_id, on_interrupt, this)) {
        started_ = false;
        device_.mark_failed();
        return Error{"the NIC's interrupt cannot be routed"};
    }
    return {};
}

Status VirtioNetUplink::set_up_queues() {
    if (const Status status = receive_.set_up(device_, kReceiveQueue, kReceiveBuffers, kBufferSize); !status)
        return status;
    return transmit_.set_up(device_, kTransmitQueue, kBufferSize);
}

void VirtioNetUplink::set_receive_handler(ReceiveHandler handler, void* context) {
    const LockGuard guard{receive_lock_};
    receive_handler_ = handler;
    receive_context_ = context;
}

void VirtioNetUplink::handle_interrupt() {
    if (!started_) return;
    // Acknowledged first: whatever the device returns from now on raises
    // the interrupt again.
    const std::uint32_t status = device_.acknowledge_interrupt();
    if ((status & kVirtioInterruptConfigChange) != 0) read_link_state();
    receive_all();
    const LockGuard guard{transmit_lock_};
    reclaim_sent();
}

void VirtioNetUplink::receive_all() {
    const LockGuard guard{receive_lock_};
    bool reposted = false;
    while (!receive_failed_) {
        const auto used = receive_.queue().reap();
        if (!used) {
            log::error("board: uplink receive queue broken ({}); no more frames from the NIC", used.error().message);
            receive_failed_ = true;
            break;
        }
        if (!used->has_value()) break;
        const auto index = static_cast<std::uint16_t>((*used)->token);
        const std::uint32_t length = (*used)->written;
        std::byte* buffer = receive_.received(index, length);
        if (length < kHeaderSize + kMinFrameSize || length - kHeaderSize > kMaxFrameSize) {
            receive_errors_.add();
        } else if (receive_handler_ == nullptr) {
            receive_dropped_.add();
        } else {
            received_frames_.add();
            received_bytes_.add(length - kHeaderSize);
            receive_handler_(receive_context_, {buffer + kHeaderSize, length - kHeaderSize});
        }
        if (const Status status = receive_.post_writable(index); !status) {
            log::error("board: uplink receive buffer lost ({})", status.error().message);
            continue;
        }
        reposted = true;
    }
    if (reposted && receive_.queue().publish()) device_.notify(kReceiveQueue);
}

void VirtioNetUplink::reclaim_sent() {
    if (const Status status = transmit_.reclaim(); !status)
        log::error("board: uplink transmit queue broken ({}); no more frames to the NIC", status.error().message);
}

bool VirtioNetUplink::receive_frame(std::span<const std::byte> frame) {
    if (frame.size() < kMinFrameSize || frame.size() > kMaxFrameSize) {
        send_refused_.add();
        return false;
    }
    const LockGuard guard{transmit_lock_};
    if (started_) reclaim_sent();
    const auto index = started_ ? transmit_.take() : std::nullopt;
    if (!index) {
        send_dropped_.add();
        return false;
    }
    std::byte* buffer = transmit_.buffers().buffer(*index);
    std::fill_n(buffer, kHeaderSize, std::byte{0});  // no checksum or segmentation asked of the device
    std::copy(frame.begin(), frame.end(), buffer + kHeaderSize);
    if (const Status status = transmit_.buffers().post_readable(*index, kHeaderSize + frame.size()); !status) {
        transmit_.put_back(*index);
        send_dropped_.add();
        return false;
    }
    if (transmit_.buffers().queue().publish()) device_.notify(kTransmitQueue);
    sent_frames_.add();
    sent_bytes_.add(frame.size());
    return true;
}

void VirtioNetUplink::read_link_state() {
    if (!device_.has_feature(kFeatureStatus)) return;
    const bool up = (device_.config16(kConfigStatus) & kStatusLinkUp) != 0;
    if (link_up_.exchange(up, std::memory_order_relaxed) != up && started_)
        log::info("board: uplink link {}", up ? "up" : "down");
}

UplinkCounters VirtioNetUplink::counters() const {
    return UplinkCounters{received_frames_.get(), received_bytes_.get(), receive_errors_.get(),
                          receive_dropped_.get(),  sent_frames_.get(),    sent_bytes_.get(),
                          send_dropped_.get(),     send_refused_.get()};
}

}  // namespace lamina::drivers
