// The virtio-mmio transport, version 2 (modern, virtio 1.2 section 4.2): the
// register window a guest's virtio_mmio driver programs, in front of a
// device model (console, network, block) that implements the device type.
//
// The transport owns the feature negotiation, the device status machine, the
// virtqueues and the interrupt line; the model sees only its queues and its
// configuration space. Control registers take 32-bit aligned accesses only;
// anything else is refused (the access fails and the VM is stopped with a
// report), as is any access beyond the window. Reads of write-only and
// reserved registers return 0, writes to read-only ones are ignored.
//
// Driver mistakes with the queues (bad size, rings outside RAM, a corrupt
// ring) set DEVICE_NEEDS_RESET with a static reason the owner can log; the
// device then does nothing until the driver resets it.
//
// Locking: the transport's lock covers every register access and every call
// into the model. Work that does not start with a register access (input
// for a console) takes lock() itself before using the queues.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/guest_memory.hpp"
#include "core/mmio_device.hpp"
#include "core/result.hpp"
#include "core/spinlock.hpp"
#include "virtual_devices/virtio_mmio_spec.hpp"
#include "virtual_devices/virtqueue.hpp"

namespace lamina {

inline constexpr std::uint64_t kVirtioMmioWindow = 0x200;  // registers, then config space from 0x100
inline constexpr std::uint32_t kVirtioMaxQueues = 8;
inline constexpr std::uint32_t kVirtioVendorId = 0x414e'4d4c;  // "LMNA" in memory order

// What a device type provides to the transport. Called with the transport's
// lock held.
class VirtioDeviceModel {
public:
    [[nodiscard]] virtual std::uint32_t device_id() const = 0;
    // Device-type feature bits (0-23 and 50-63); the transport adds its own.
    [[nodiscard]] virtual std::uint64_t device_features() const = 0;
    // A last say on the features the driver chose (all were offered):
    // false refuses them and the driver sees FEATURES_OK stay clear.
    [[nodiscard]] virtual bool accept_features(std::uint64_t /*features*/) { return true; }
    [[nodiscard]] virtual std::uint32_t queue_count() const = 0;
    // The largest size the device accepts for `queue` (a power of two).
    [[nodiscard]] virtual std::uint16_t queue_max_size(std::uint32_t queue) const = 0;
    // Device-specific configuration space, little endian, from offset 0x100.
    [[nodiscard]] virtual std::size_t config_size() const = 0;
    virtual void read_config(std::size_t offset, std::span<std::byte> bytes) = 0;
    virtual void write_config(std::size_t offset, std::span<const std::byte> bytes) = 0;
    // The driver added buffers to `queue` (only sent while the device is live).
    virtual void on_notify(std::uint32_t queue) = 0;
    // Back to the initial state (device reset by the driver or the owner).
    virtual void reset() = 0;

protected:
    ~VirtioDeviceModel() = default;
};

// How the transport reaches the rest of the VM.
struct VirtioTransportHooks final {
    // The device's interrupt line (level, asserted while InterruptStatus != 0).
    void (*set_interrupt_level)(void* context, bool asserted){nullptr};
    // Optional: the device entered DEVICE_NEEDS_RESET, and why (for the log).
    void (*device_failed)(void* context, Error reason){nullptr};
    void* context{nullptr};
};

class VirtioMmioTransport final : public MmioDevice {
public:
    explicit VirtioMmioTransport(VirtioDeviceModel& model) : model_{model} {}

    // Before the guest runs: its RAM (for the queues) and the interrupt line.
    void connect(GuestMemory& memory, VirtioTransportHooks hooks);
    // Device reset, as when the driver writes 0 to Status (e.g. VM restart).
    void reset();
    [[nodiscard]] bool access(MmioAccess& access) override;

    // --- For the device model, with lock() held ---------------------------------------
    [[nodiscard]] SpinLock& lock() { return lock_; }
    [[nodiscard]] GuestMemory& memory() { return *memory_; }
    // `queue` when the device is live (DRIVER_OK, not failed) and the driver
    // enabled that queue; otherwise null.
    [[nodiscard]] Virtqueue* live_queue(std::uint32_t queue);
    // After popping and pushing on `queue` outside on_notify(): a queue the
    // driver corrupted puts the device in DEVICE_NEEDS_RESET, and new used
    // buffers interrupt the driver unless it suppressed that. (After
    // on_notify() the transport does this for every queue itself.)
    void finish_queue_work(std::uint32_t queue);
    // The configuration space changed: new generation, and an interrupt.
    void config_changed();
    // The device cannot go on: DEVICE_NEEDS_RESET (the first reason is kept).
    void fail(Error reason);
    [[nodiscard]] std::uint64_t negotiated_features() const { return negotiated_features_; }

    // --- For the owner and tests -------------------------------------------------------
    [[nodiscard]] std::uint32_t status() const { return status_; }
    [[nodiscard]] std::uint32_t interrupt_status() const { return interrupt_status_; }
    // Why DEVICE_NEEDS_RESET is set, or null.
    [[nodiscard]] const char* failure_reason() const { return failed_ ? failure_.message : nullptr; }

private:
    // What the driver wrote for one queue; applied when it sets QueueReady.
    struct QueueSetup final {
        std::uint32_t size{0};
        std::uint64_t descriptors{0};
        std::uint64_t driver_area{0};
        std::uint64_t device_area{0};
        bool ready{false};
    };

    void reset_locked();
    [[nodiscard]] bool register_access(MmioAccess& access);
    [[nodiscard]] bool config_access(MmioAccess& access);
    [[nodiscard]] std::uint32_t read_register(std::uint64_t offset);
    void write_register(std::uint64_t offset, std::uint32_t value);
    [[nodiscard]] std::uint64_t offered_features() const;
    [[nodiscard]] bool features_acceptable();
    void write_driver_features(std::uint32_t value);
    void write_status(std::uint32_t value);
    [[nodiscard]] bool is_live() const;
    [[nodiscard]] QueueSetup* selected_queue_setup();
    [[nodiscard]] std::uint32_t selected_queue_max_size() const;
    void write_queue_setup(std::uint64_t offset, std::uint32_t value);
    void write_queue_ready(std::uint32_t value);
    void notify(std::uint32_t queue);
    void raise_interrupt(std::uint32_t bits);
    void update_interrupt_line();

    VirtioDeviceModel& model_;
    GuestMemory* memory_{nullptr};
    VirtioTransportHooks hooks_{};
    SpinLock lock_{};

    std::uint32_t status_{0};
    std::uint32_t interrupt_status_{0};
    std::uint32_t config_generation_{0};
    std::uint32_t device_features_select_{0};
    std::uint32_t driver_features_select_{0};
    std::uint64_t driver_features_{0};
    bool driver_wants_unknown_features_{false};  // bits beyond 63 were written
    std::uint64_t negotiated_features_{0};
    std::uint32_t queue_select_{0};
    std::array<QueueSetup, kVirtioMaxQueues> queue_setup_{};
    std::array<Virtqueue, kVirtioMaxQueues> queues_{};
    bool failed_{false};
    Error failure_{};
};

}  // namespace lamina
