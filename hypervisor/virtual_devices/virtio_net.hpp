// A virtio network device (device id 1): a VM's network card, plugged into
// a port of the virtual switch. Queue 0 (receiveq) takes frames to the
// guest, queue 1 (transmitq) brings its frames out. Offered: MAC, STATUS
// (the link is always up) and MTU (1500); no checksum or segmentation
// offloads, no mergeable receive buffers, no control queue, one queue pair.
// Every packet is the 12-byte struct virtio_net_hdr (VERSION_1, so with
// num_buffers) followed by one Ethernet frame.
//
// Map the device itself (mmio_device()), not transport(): frames leave for
// the switch after a register access returns, outside the transport's lock.
//
// Locking. The switch calls receive_frame() with its lock held, and that
// takes this device's transport lock: switch, then transport. Transmitting
// therefore must not reach the switch while holding the transport lock (VM
// A sending to VM B while B sends to A would deadlock). So the transport's
// on_notify() only marks transmit work, and access() moves the frames once
// the transport is unlocked: one packet at a time it locks the transport,
// takes the packet and completes it, unlocks, then sends the frame. One CPU
// at a time does this for a device, so a VM's frames keep their order.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "core/guest_memory.hpp"
#include "core/mmio_device.hpp"
#include "core/result.hpp"
#include "virtual_devices/network_port.hpp"
#include "virtual_devices/virtio_mmio.hpp"
#include "virtual_devices/virtqueue.hpp"
#include "virtual_devices/virtual_switch.hpp"

namespace lamina {

// What one device did since it was created.
struct VirtioNetStats final {
    std::uint64_t rx_packets{0};  // frames written into the guest's receive buffers
    std::uint64_t rx_bytes{0};    // their frame bytes (without the header)
    std::uint64_t rx_dropped{0};  // frames for the guest while it had no receive buffer (or no running device)
    std::uint64_t rx_errors{0};   // frames that did not fit the receive buffer the guest offered
    std::uint64_t tx_packets{0};  // frames the guest sent into the switch
    std::uint64_t tx_bytes{0};
    std::uint64_t tx_errors{0};  // transmit packets that were not a header and one well-formed frame
};

class VirtioNet final : public VirtioDeviceModel, public NetworkPort, public MmioDevice {
public:
    static constexpr std::uint32_t kDeviceId = 1;
    static constexpr std::uint32_t kReceiveQueue = 0;
    static constexpr std::uint32_t kTransmitQueue = 1;
    static constexpr std::uint16_t kQueueSize = kVirtqueueMaxSize;
    static constexpr std::size_t kHeaderSize = 12;  // struct virtio_net_hdr, num_buffers included

    static constexpr std::uint64_t kFeatureMtu = std::uint64_t{1} << 3;      // VIRTIO_NET_F_MTU
    static constexpr std::uint64_t kFeatureMac = std::uint64_t{1} << 5;      // VIRTIO_NET_F_MAC
    static constexpr std::uint64_t kFeatureStatus = std::uint64_t{1} << 16;  // VIRTIO_NET_F_STATUS
    static constexpr std::uint16_t kStatusLinkUp = 1;                        // VIRTIO_NET_S_LINK_UP

    // Frames one transmit pass takes at most. Twice the ring, so a ring the
    // guest filled before notifying is emptied in one pass; only a guest that
    // keeps refilling meanwhile hits it. The rest then waits for the next
    // access to the device's registers (such as the driver acknowledging an
    // interrupt), so one exit cannot hold a CPU for ever.
    static constexpr std::size_t kMaxFramesPerPass = 2 * std::size_t{kQueueSize};

    VirtioNet() = default;
    VirtioNet(const VirtioNet&) = delete;
    VirtioNet& operator=(const VirtioNet&) = delete;

    // Before the guest runs: attaches the device to `network` of the switch
    // with address `mac`, and resets it. An error (and nothing changed but a
    // previous connection undone) when the switch is full or `mac` is not a
    // station address.
    [[nodiscard]] Status connect(GuestMemory& memory, VirtioTransportHooks hooks, VirtualSwitch& network_switch,
                                 NetworkId network, MacAddress mac);
    // Unplugs the device from the switch: it is never called from there
    // again. Before the VM's memory goes, with its vCPUs stopped. Nothing
    // when the device was never connected.
    void disconnect();

    // What the VM maps at the device's window.
    [[nodiscard]] MmioDevice& mmio_device() { return *this; }
    [[nodiscard]] VirtioMmioTransport& transport() { return transport_; }
    [[nodiscard]] MacAddress mac() const { return mac_; }
    // The device's port on the switch (for the switch's port statistics).
    [[nodiscard]] SwitchPortId switch_port() const { return port_; }
    [[nodiscard]] VirtioNetStats stats();

    // MmioDevice: the transport's registers, then any transmit work.
    [[nodiscard]] bool access(MmioAccess& access) override;

    // NetworkPort: a frame for the guest, into its next receive buffer.
    [[nodiscard]] bool receive_frame(std::span<const std::byte> frame) override;

    // VirtioDeviceModel.
    [[nodiscard]] std::uint32_t device_id() const override { return kDeviceId; }
    [[nodiscard]] std::uint64_t device_features() const override {
        return kFeatureMtu | kFeatureMac | kFeatureStatus;
    }
    [[nodiscard]] std::uint32_t queue_count() const override { return 2; }
    [[nodiscard]] std::uint16_t queue_max_size(std::uint32_t /*queue*/) const override { return kQueueSize; }
    [[nodiscard]] std::size_t config_size() const override { return kConfigSize; }
    void read_config(std::size_t offset, std::span<std::byte> bytes) override;
    void write_config(std::size_t offset, std::span<const std::byte> bytes) override;
    void on_notify(std::uint32_t queue) override;
    void reset() override {}

private:
    // struct virtio_net_config up to mtu: mac[6], status, max_virtqueue_pairs, mtu.
    static constexpr std::size_t kConfigSize = 12;

    [[nodiscard]] std::array<std::byte, kConfigSize> config_bytes() const;
    void transmit_pending_frames();
    [[nodiscard]] bool transmit_pass();
    [[nodiscard]] std::optional<std::size_t> take_transmit_frame();
    [[nodiscard]] std::size_t copy_transmit_frame(const DescriptorChain& chain);
    [[nodiscard]] std::uint32_t fill_receive_buffer(const DescriptorChain& chain, std::span<const std::byte> frame);
    [[nodiscard]] bool drop_received();

    VirtioMmioTransport transport_{*this};
    DescriptorChain chain_{};  // scratch for pop(), only with the transport's lock held
    VirtualSwitch* switch_{nullptr};
    SwitchPortId port_{};
    MacAddress mac_{};
    VirtioNetStats stats_{};  // under the transport's lock

    // The driver notified the transmit queue and no pass has looked since.
    std::atomic<bool> transmit_pending_{false};
    // A CPU is moving this device's frames to the switch.
    std::atomic<bool> transmitting_{false};
    // The frame in flight to the switch; only the transmitting CPU uses it.
    std::array<std::byte, kMaxFrameSize> transmit_frame_{};
};

}  // namespace lamina
