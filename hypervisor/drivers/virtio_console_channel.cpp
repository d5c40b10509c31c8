#include "drivers/virtio_console_channel.hpp"

#include <algorithm>

#include "arch/aarch64/cpu.hpp"
#include "arch/arch.hpp"
#include "core/console.hpp"

namespace lamina::drivers {
namespace {

// How long send() waits for the host to take a buffer before dropping.
constexpr std::uint64_t kTransmitWaitMicroseconds = 200'000;

}  // namespace

Status VirtioConsoleChannel::start(const VirtioMmioSlot& slot) {
    device_ = VirtioMmioDevice{slot};
    // No device features: no size reporting, no multiport, no emergency write.
    if (const auto features = device_.begin_init(0); !features) return features.error();
    if (const Status status = set_up_queues(); !status) {
        device_.mark_failed();
        return status;
    }
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
    const auto on_interrupt = [](void* channel) { static_cast<VirtioConsoleChannel*>(channel)->handle_interrupt(); };
    if (!arch::route_device_interrupt(slot.interrupt_id, on_interrupt, this)) {
        started_ = false;
        device_.mark_failed();
        return Error{"the console's interrupt cannot be routed"};
    }
    return {};
}

Status VirtioConsoleChannel::set_up_queues() {
    if (const Status status = receive_.set_up(device_, kReceiveQueue, kReceiveBuffers, kBufferSize); !status)
        return status;
    return transmit_.set_up(device_, kTransmitQueue, kBufferSize);
}

void VirtioConsoleChannel::set_receive_handler(ReceiveHandler handler, void* context) {
    const LockGuard guard{receive_lock_};
    receive_handler_ = handler;
    receive_context_ = context;
}

void VirtioConsoleChannel::handle_interrupt() {
    if (!started_) return;
    (void)device_.acknowledge_interrupt();  // first: what arrives from now on interrupts again
    receive_all();
}

void VirtioConsoleChannel::receive_all() {
    const LockGuard guard{receive_lock_};
    bool reposted = false;
    while (!receive_failed_) {
        const auto used = receive_.queue().reap();
        if (!used) {
            log::error("board: management console receive queue broken ({})", used.error().message);
            receive_failed_ = true;
            break;
        }
        if (!used->has_value()) break;
        const auto index = static_cast<std::uint16_t>((*used)->token);
        const std::uint32_t length = std::min<std::uint32_t>((*used)->written, kBufferSize);
        std::byte* buffer = receive_.received(index, length);
        if (receive_handler_ != nullptr && length != 0) receive_handler_(receive_context_, {buffer, length});
        if (receive_.post_writable(index)) reposted = true;
    }
    if (reposted && receive_.queue().publish()) device_.notify(kReceiveQueue);
}

std::optional<std::uint16_t> VirtioConsoleChannel::take_transmit_buffer() {
    const std::uint64_t frequency = arch::counter_frequency();
    const std::uint64_t deadline = arch::counter_now() + frequency * kTransmitWaitMicroseconds / 1'000'000;
    for (;;) {
        if (!transmit_.reclaim() || transmit_.failed()) return std::nullopt;  // counted as dropped by send()
        if (const auto index = transmit_.take()) return index;
        if (arch::counter_now() >= deadline) return std::nullopt;
    }
}

bool VirtioConsoleChannel::send_chunk(std::span<const std::byte> chunk) {
    const auto index = take_transmit_buffer();
    if (!index) return false;
    std::copy(chunk.begin(), chunk.end(), transmit_.buffers().buffer(*index));
    if (!transmit_.buffers().post_readable(*index, chunk.size())) {
        transmit_.put_back(*index);
        return false;
    }
    if (transmit_.buffers().queue().publish()) device_.notify(kTransmitQueue);
    return true;
}

bool VirtioConsoleChannel::send(std::span<const std::byte> bytes) {
    if (!started_) return false;
    const LockGuard guard{transmit_lock_};
    while (!bytes.empty()) {
        const std::size_t size = std::min(bytes.size(), kBufferSize);
        if (!send_chunk(bytes.first(size))) {
            dropped_bytes_.fetch_add(bytes.size(), std::memory_order_relaxed);
            return false;
        }
        bytes = bytes.subspan(size);
    }
    return true;
}

}  // namespace lamina::drivers
