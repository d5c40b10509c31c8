// The board's network card (a virtio-net device behind virtio-mmio), driven
// by Lamina as the uplink port of the virtual switch.
//
// Receive: the receive queue is kept full of 2 KiB buffers. On the
// device's interrupt (on whichever CPU takes it) every frame the device
// returned goes, without its virtio-net header, to the receive handler the
// owner set (the switch), and its buffer goes back to the device.
// Transmit: receive_frame() (NetworkPort: the switch hands the port a frame
// to put on the wire) copies the frame behind a zero header into a free
// transmit buffer and tells the device; with no free buffer the frame is
// dropped. Buffers the device has sent are taken back lazily, on the next
// send and on interrupts.
//
// No offloads, no mergeable receive buffers, one queue pair, no control
// queue: frames are at most kMaxFrameSize bytes. Without a control queue the
// device's receive filter stays as the device resets it (QEMU's: promiscuous),
// which a switch uplink needs.
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
#include "virtual_devices/network_port.hpp"

namespace lamina::drivers {

// Everything the uplink counted since it started.
struct UplinkCounters final {
    std::uint64_t received_frames{0};
    std::uint64_t received_bytes{0};
    std::uint64_t receive_errors{0};   // buffers the device returned too short to hold a frame
    std::uint64_t receive_dropped{0};  // frames that arrived while no receive handler was set
    std::uint64_t sent_frames{0};
    std::uint64_t sent_bytes{0};
    std::uint64_t send_dropped{0};  // no free transmit buffer, or the device failed
    std::uint64_t send_refused{0};  // frames shorter than a header or longer than kMaxFrameSize
};

class VirtioNetUplink final : public NetworkPort {
public:
    static constexpr std::uint32_t kReceiveQueue = 0;
    static constexpr std::uint32_t kTransmitQueue = 1;
    static constexpr std::size_t kBufferSize = 2 * KiB;
    static constexpr std::uint16_t kReceiveBuffers = 128;
    static constexpr std::uint16_t kTransmitBuffers = 64;
    // struct virtio_net_hdr with num_buffers: always 12 bytes with VIRTIO_F_VERSION_1.
    static constexpr std::size_t kHeaderSize = 12;
    static_assert(kHeaderSize + kMaxFrameSize <= kBufferSize);

    // Gets each received Ethernet frame (without FCS); the bytes are valid
    // only during the call. Runs in interrupt context on the CPU that took
    // the device's interrupt, and must not call back into this receive path.
    using ReceiveHandler = void (*)(void* context, std::span<const std::byte> frame);

    VirtioNetUplink() = default;
    VirtioNetUplink(const VirtioNetUplink&) = delete;
    VirtioNetUplink& operator=(const VirtioNetUplink&) = delete;

    // Takes over the network device in `slot`: initialisation, queues and
    // buffers, then its interrupt, routed to this CPU. On error the device
    // is left FAILED and this object unusable.
    [[nodiscard]] Status start(const VirtioMmioSlot& slot);
    // Who gets received frames; until a handler is set they are dropped.
    void set_receive_handler(ReceiveHandler handler, void* context);

    // NetworkPort: sends `frame` on the wire; false when it was dropped.
    [[nodiscard]] bool receive_frame(std::span<const std::byte> frame) override;

    // Receives what arrived, takes back sent buffers, notes link changes.
    // The device's interrupt runs this; polling it is harmless.
    void handle_interrupt();

    [[nodiscard]] bool is_started() const { return started_; }
    // The device's address (VIRTIO_NET_F_MAC), else all zeros.
    [[nodiscard]] MacAddress mac() const { return mac_; }
    // Link state (VIRTIO_NET_F_STATUS); up when the device does not report it.
    [[nodiscard]] bool link_up() const { return link_up_.load(std::memory_order_relaxed); }
    [[nodiscard]] UplinkCounters counters() const;
    [[nodiscard]] HostPhysAddr base() const { return device_.base(); }
    [[nodiscard]] std::uint32_t interrupt_id() const { return device_.slot().interrupt_id; }

private:
    class Counter final {
    public:
        void add(std::uint64_t amount = 1) { value_.fetch_add(amount, std::memory_order_relaxed); }
        [[nodiscard]] std::uint64_t get() const { return value_.load(std::memory_order_relaxed); }

    private:
        std::atomic<std::uint64_t> value_{0};
    };

    [[nodiscard]] Status set_up_queues();
    void receive_all();
    void reclaim_sent();
    void read_link_state();

    VirtioMmioDevice device_{};
    MacAddress mac_{};
    std::atomic<bool> link_up_{true};
    bool started_{false};

    SpinLock receive_lock_;  // the receive queue, its buffers and the handler
    QueueBuffers receive_{};
    ReceiveHandler receive_handler_{nullptr};
    void* receive_context_{nullptr};
    bool receive_failed_{false};

    SpinLock transmit_lock_;  // the transmit queue and its buffers
    TransmitBuffers<kTransmitBuffers> transmit_{};

    Counter received_frames_;
    Counter received_bytes_;
    Counter receive_errors_;
    Counter receive_dropped_;
    Counter sent_frames_;
    Counter sent_bytes_;
    Counter send_dropped_;
    Counter send_refused_;
};

}  // namespace lamina::drivers
