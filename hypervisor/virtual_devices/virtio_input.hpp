// A virtio input device (device id 18, virtio 1.2 section 5.8) that is a
// single power button: the key the owner presses to ask the guest for an
// orderly shutdown (Linux reports KEY_POWER to logind or acpid).
//
// The configuration space answers the select/subsel queries: a name, device
// ids, and for EV_BITS the events the button sends (EV_KEY with KEY_POWER,
// EV_SYN with SYN_REPORT); everything else has size 0. Queue 0 (eventq)
// carries events to the guest in the 8-byte buffers the driver posts; a press
// whose events find no buffer waits in a small ring until the driver posts
// some. Queue 1 (statusq) carries LED and similar feedback, which a power
// button has none of: its buffers are returned unread.
//
// The device owns its transport: map transport() as the VM's MMIO device.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/guest_memory.hpp"
#include "virtual_devices/virtio_mmio.hpp"
#include "virtual_devices/virtqueue.hpp"

namespace lamina {

class VirtioInput final : public VirtioDeviceModel {
public:
    static constexpr std::uint32_t kDeviceId = 18;
    static constexpr std::uint32_t kEventQueue = 0;
    static constexpr std::uint32_t kStatusQueue = 1;
    // Linux fills the whole eventq with 8-byte buffers: 64 is plenty for
    // a button and costs the guest only half a page.
    static constexpr std::uint16_t kQueueSize = 64;
    // Events waiting for eventq buffers: four presses.
    static constexpr std::size_t kPendingCapacity = 16;

    // What configuration space `select` asks for (5.8.4).
    static constexpr std::uint8_t kSelectUnset = 0x00;
    static constexpr std::uint8_t kSelectName = 0x01;
    static constexpr std::uint8_t kSelectSerial = 0x02;
    static constexpr std::uint8_t kSelectDeviceIds = 0x03;
    static constexpr std::uint8_t kSelectPropertyBits = 0x10;
    static constexpr std::uint8_t kSelectEventBits = 0x11;
    static constexpr std::uint8_t kSelectAbsoluteInfo = 0x12;

    // Linux evdev codes (include/uapi/linux/input-event-codes.h), which
    // virtio input carries unchanged.
    static constexpr std::uint16_t kEventSync = 0x00;  // EV_SYN
    static constexpr std::uint16_t kEventKey = 0x01;   // EV_KEY
    static constexpr std::uint16_t kSyncReport = 0;    // SYN_REPORT
    static constexpr std::uint16_t kKeyPower = 116;    // KEY_POWER
    static constexpr std::uint16_t kBusVirtual = 0x06;  // BUS_VIRTUAL

    // What ID_DEVIDS reports besides the bus.
    static constexpr std::uint16_t kVendor = 0x4c4d;  // "LM"
    static constexpr std::uint16_t kProduct = 0x0001;
    static constexpr std::uint16_t kVersion = 0x0001;

    VirtioInput() = default;
    VirtioInput(const VirtioInput&) = delete;
    VirtioInput& operator=(const VirtioInput&) = delete;

    // Before the guest runs; resets the device.
    void connect(GuestMemory& memory, VirtioTransportHooks hooks);
    [[nodiscard]] VirtioMmioTransport& transport() { return transport_; }
    // Presses and releases the button. False when the guest has no driver
    // for it (the device is not live), so nobody would see the press. A
    // press while four earlier ones still wait for buffers adds nothing:
    // the guest will see a press anyway. Takes the transport's lock.
    [[nodiscard]] bool press_power_button();

    // VirtioDeviceModel.
    [[nodiscard]] std::uint32_t device_id() const override { return kDeviceId; }
    [[nodiscard]] std::uint64_t device_features() const override { return 0; }  // the device type defines none
    [[nodiscard]] std::uint32_t queue_count() const override { return 2; }
    [[nodiscard]] std::uint16_t queue_max_size(std::uint32_t /*queue*/) const override { return kQueueSize; }
    [[nodiscard]] std::size_t config_size() const override { return kConfigSize; }
    void read_config(std::size_t offset, std::span<std::byte> bytes) override;
    void write_config(std::size_t offset, std::span<const std::byte> bytes) override;
    void on_notify(std::uint32_t queue) override;
    void reset() override;

private:
    // struct virtio_input_config: select, subsel, size, 5 reserved bytes,
    // then a 128-byte union (string, bitmap, absinfo or devids).
    static constexpr std::size_t kConfigSize = 136;
    static constexpr std::size_t kAnswerOffset = 8;
    static constexpr std::size_t kAnswerCapacity = 128;
    static constexpr std::size_t kEventSize = 8;  // struct virtio_input_event

    struct InputEvent final {
        std::uint16_t type;
        std::uint16_t code;
        std::uint32_t value;
    };

    [[nodiscard]] std::byte config_byte(std::size_t offset) const;
    void prepare_answer();
    void set_answer(std::span<const std::byte> answer);
    void set_bit(std::uint16_t bit);
    [[nodiscard]] bool has_room_for(std::size_t events) const;
    void enqueue(InputEvent event);
    void deliver_events();
    void return_status_buffers();

    VirtioMmioTransport transport_{*this};
    DescriptorChain chain_{};  // scratch for pop(): too big for the stack
    std::uint8_t select_{kSelectUnset};
    std::uint8_t subsel_{0};
    // The union as it reads for select_ and subsel_, and how much of it counts.
    std::array<std::byte, kAnswerCapacity> answer_{};
    std::uint8_t answer_size_{0};
    std::array<InputEvent, kPendingCapacity> pending_{};
    std::size_t pending_head_{0};
    std::size_t pending_count_{0};
};

}  // namespace lamina
