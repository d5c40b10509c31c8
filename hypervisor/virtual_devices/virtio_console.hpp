// A virtio console (device id 3) with one port and no optional features: the
// guest's hvc0. Queue 0 (receiveq) carries input to the guest, queue 1
// (transmitq) its output. Output goes to a sink (Lamina's console line
// buffer for the VM, as for the PL011); input typed for the VM waits in a
// small FIFO until the driver has posted receive buffers.
//
// The console owns its transport: map transport() as the VM's MMIO device.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/guest_memory.hpp"
#include "virtual_devices/virtio_mmio.hpp"
#include "virtual_devices/virtqueue.hpp"

namespace lamina {

class VirtioConsole final : public VirtioDeviceModel {
public:
    static constexpr std::uint32_t kDeviceId = 3;
    static constexpr std::uint32_t kReceiveQueue = 0;
    static constexpr std::uint32_t kTransmitQueue = 1;
    // Linux keeps the receive queue full of page-sized buffers: a modest
    // queue keeps that to 256 KiB of guest memory.
    static constexpr std::uint16_t kQueueSize = 64;
    static constexpr std::size_t kInputCapacity = 64;
    // Output taken from one transmit buffer at most; the rest is dropped, so
    // a hostile guest cannot hold the device (and its lock) for long.
    static constexpr std::size_t kMaxOutputPerBuffer = 64 * 1024;

    // Receives guest output, in pieces; `buffer_done` marks the last piece
    // of a transmit buffer, where a partial line (a prompt) can be shown.
    using OutputSink = void (*)(void* context, std::span<const char> bytes, bool buffer_done);

    VirtioConsole() = default;
    VirtioConsole(const VirtioConsole&) = delete;
    VirtioConsole& operator=(const VirtioConsole&) = delete;

    // Before the guest runs; resets the device.
    void connect(GuestMemory& memory, VirtioTransportHooks hooks, OutputSink sink, void* sink_context);
    [[nodiscard]] VirtioMmioTransport& transport() { return transport_; }
    // A character typed for this VM; false when the input FIFO is full.
    bool receive(char c);

    // VirtioDeviceModel.
    [[nodiscard]] std::uint32_t device_id() const override { return kDeviceId; }
    [[nodiscard]] std::uint64_t device_features() const override { return 0; }  // no SIZE, MULTIPORT, EMERG_WRITE
    [[nodiscard]] std::uint32_t queue_count() const override { return 2; }
    [[nodiscard]] std::uint16_t queue_max_size(std::uint32_t /*queue*/) const override { return kQueueSize; }
    [[nodiscard]] std::size_t config_size() const override { return kConfigSize; }
    void read_config(std::size_t offset, std::span<std::byte> bytes) override;
    void write_config(std::size_t offset, std::span<const std::byte> bytes) override;
    void on_notify(std::uint32_t queue) override;
    void reset() override;

private:
    // struct virtio_console_config: cols, rows, max_nr_ports, emerg_wr. All
    // zero: none of the features that give them meaning is offered.
    static constexpr std::size_t kConfigSize = 12;

    void deliver_input();
    void transmit();
    void send_output(const DescriptorChain& chain);

    VirtioMmioTransport transport_{*this};
    DescriptorChain chain_{};  // scratch for pop(): too big for the stack
    OutputSink sink_{nullptr};
    void* sink_context_{nullptr};
    std::array<char, kInputCapacity> input_{};
    std::size_t input_head_{0};
    std::size_t input_count_{0};
};

}  // namespace lamina
