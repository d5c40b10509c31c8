#include "virtual_devices/virtio_console.hpp"

#include <algorithm>

namespace lamina {

void VirtioConsole::connect(GuestMemory& memory, VirtioTransportHooks hooks, OutputSink sink, void* sink_context) {
    sink_ = sink;
    sink_context_ = sink_context;
    transport_.connect(memory, hooks);
}

bool VirtioConsole::receive(char c) {
    const LockGuard guard{transport_.lock()};
    if (input_count_ == input_.size()) return false;
    input_[(input_head_ + input_count_) % input_.size()] = c;
    ++input_count_;
    deliver_input();
    transport_.finish_queue_work(kReceiveQueue);
    return true;
}

void VirtioConsole::read_config(std::size_t /*offset*/, std::span<std::byte> bytes) {
    std::fill(bytes.begin(), bytes.end(), std::byte{0});
}

// emerg_wr is only writable with VIRTIO_CONSOLE_F_EMERG_WRITE, which is not offered.
void VirtioConsole::write_config(std::size_t /*offset*/, std::span<const std::byte> /*bytes*/) {}

void VirtioConsole::on_notify(std::uint32_t queue) {
    if (queue == kReceiveQueue) deliver_input();
    if (queue == kTransmitQueue) transmit();
}

void VirtioConsole::reset() {
    input_head_ = 0;
    input_count_ = 0;
}

// Fills receive buffers with waiting input, as much per buffer as fits.
void VirtioConsole::deliver_input() {
    Virtqueue* queue = transport_.live_queue(kReceiveQueue);
    if (queue == nullptr) return;
    while (input_count_ != 0) {
        const auto popped = queue->pop(chain_);
        if (!popped || !*popped) return;  // no buffer yet, or a broken ring (reported by the transport)
        std::size_t written = 0;
        while (input_count_ != 0) {
            // The FIFO's oldest bytes up to where it wraps.
            const std::size_t contiguous = std::min(input_count_, input_.size() - input_head_);
            const auto pending = std::as_bytes(std::span{input_}.subspan(input_head_, contiguous));
            const auto copied = chain_.write(transport_.memory(), written, pending);
            if (!copied || *copied == 0) break;
            input_head_ = (input_head_ + *copied) % input_.size();
            input_count_ -= *copied;
            written += *copied;
            if (*copied < contiguous) break;  // the buffer is full
        }
        if (!queue->push_used(chain_.head(), static_cast<std::uint32_t>(written))) return;
    }
}

void VirtioConsole::transmit() {
    Virtqueue* queue = transport_.live_queue(kTransmitQueue);
    if (queue == nullptr) return;
    for (;;) {
        const auto popped = queue->pop(chain_);
        if (!popped || !*popped) return;
        send_output(chain_);
        // The device writes nothing into transmit buffers.
        if (!queue->push_used(chain_.head(), 0)) return;
    }
}

void VirtioConsole::send_output(const DescriptorChain& chain) {
    if (sink_ == nullptr) return;
    std::array<char, 128> piece{};
    const std::uint64_t total = std::min<std::uint64_t>(chain.readable_bytes(), kMaxOutputPerBuffer);
    for (std::uint64_t offset = 0; offset < total;) {
        const std::size_t wanted = std::min<std::uint64_t>(piece.size(), total - offset);
        const auto copied = chain.read(transport_.memory(), offset, std::as_writable_bytes(std::span{piece}.first(wanted)));
        if (!copied || *copied == 0) return;
        offset += *copied;
        sink_(sink_context_, std::span<const char>{piece.data(), *copied}, offset == total);
    }
}

}  // namespace lamina
