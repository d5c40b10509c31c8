// A virtio console of the board (device type 3, port 0 only: no
// multiport), driven by Lamina as a byte stream to the operator's tools:
// the management channel (docs/management-api.md). On QEMU it is a
// virtconsole whose chardev the launcher exposes as a UNIX socket.
//
// Receive: the receive queue is kept full of buffers; on the device's
// interrupt the bytes of each go, in order, to the receive handler.
// Transmit: send() copies bytes into free transmit buffers and tells the
// device. A host that stops reading must not stall Lamina: when no buffer
// comes back within a bounded wait the rest is dropped and counted.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/platform.hpp"
#include "core/result.hpp"
#include "core/spinlock.hpp"
#include "drivers/queue_buffers.hpp"
#include "drivers/virtio_mmio_driver.hpp"

namespace lamina::drivers {

class VirtioConsoleChannel final {
public:
    static constexpr std::uint32_t kReceiveQueue = 0;
    static constexpr std::uint32_t kTransmitQueue = 1;
    static constexpr std::size_t kBufferSize = 4 * KiB;
    static constexpr std::uint16_t kReceiveBuffers = 8;
    static constexpr std::uint16_t kTransmitBuffers = 32;

    // Gets received bytes, valid only during the call, in interrupt context
    // on the CPU that took the device's interrupt. It may call send().
    using ReceiveHandler = void (*)(void* context, std::span<const std::byte> bytes);

    VirtioConsoleChannel() = default;
    VirtioConsoleChannel(const VirtioConsoleChannel&) = delete;
    VirtioConsoleChannel& operator=(const VirtioConsoleChannel&) = delete;

    // Takes over the console device in `slot` (queues, buffers, interrupt
    // routed to this CPU). On error the device is left FAILED.
    [[nodiscard]] Status start(const VirtioMmioSlot& slot);
    void set_receive_handler(ReceiveHandler handler, void* context);
    // Queues all of `bytes` for the host; false when some had to be dropped.
    bool send(std::span<const std::byte> bytes);
    void handle_interrupt();

    [[nodiscard]] bool is_started() const { return started_; }
    [[nodiscard]] HostPhysAddr base() const { return device_.base(); }
    [[nodiscard]] std::uint64_t dropped_bytes() const { return dropped_bytes_.load(std::memory_order_relaxed); }

private:
    [[nodiscard]] Status set_up_queues();
    void receive_all();
    // A free transmit buffer, waiting (bounded) for the device to return one.
    [[nodiscard]] std::optional<std::uint16_t> take_transmit_buffer();
    [[nodiscard]] bool send_chunk(std::span<const std::byte> chunk);

    VirtioMmioDevice device_{};
    bool started_{false};

    SpinLock receive_lock_;  // the receive queue, its buffers and the handler
    QueueBuffers receive_{};
    ReceiveHandler receive_handler_{nullptr};
    void* receive_context_{nullptr};
    bool receive_failed_{false};

    SpinLock transmit_lock_;  // the transmit queue and its buffers
    TransmitBuffers<kTransmitBuffers> transmit_{};
    std::atomic<std::uint64_t> dropped_bytes_{0};
};

}  // namespace lamina::drivers
