// A deliberately small virtio-mmio (modern, version 2) driver for the
// ring_breaker guest: just enough to bring a device up correctly, so that
// the guest can then break it on purpose. Register offsets, status bits and
// ring layouts are those of virtio 1.2 (sections 2.1, 2.7 and 4.2.2).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ring_breaker {

// --- The virtual board's virtio windows (guests/README.md) --------------------

inline constexpr std::uintptr_t kVirtioBase = 0x0a00'0000;
inline constexpr std::uintptr_t kVirtioSlotSize = 0x200;
// Lamina declares at most 16 windows; QEMU's own virt board has 32 (handy
// for running this guest natively).
inline constexpr unsigned kMaxVirtioSlots = 32;

// --- Device identification and status ---------------------------------------

inline constexpr std::uint32_t kVirtioMagic = 0x7472'6976;  // "virt"
inline constexpr std::uint32_t kVirtioVersion = 2;         // modern virtio-mmio

inline constexpr std::uint32_t kDeviceNet = 1;
inline constexpr std::uint32_t kDeviceBlock = 2;
inline constexpr std::uint32_t kDeviceConsole = 3;

inline constexpr std::uint32_t kStatusAcknowledge = 0x01;
inline constexpr std::uint32_t kStatusDriver = 0x02;
inline constexpr std::uint32_t kStatusDriverOk = 0x04;
inline constexpr std::uint32_t kStatusFeaturesOk = 0x08;
inline constexpr std::uint32_t kStatusNeedsReset = 0x40;
inline constexpr std::uint32_t kStatusFailed = 0x80;
// What a device that was brought up correctly reads back.
inline constexpr std::uint32_t kStatusLive =
    kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk;

inline constexpr std::uint32_t kInterruptUsedBuffer = 0x1;
inline constexpr std::uint32_t kInterruptConfigChange = 0x2;

inline constexpr std::uint64_t kFeatureVersion1 = std::uint64_t{1} << 32;

// --- Split virtqueue layout --------------------------------------------------

inline constexpr std::uint16_t kDescriptorNext = 1;
inline constexpr std::uint16_t kDescriptorWrite = 2;
inline constexpr std::uint16_t kDescriptorIndirect = 4;

// Every queue this guest sets up has this many entries (all of Lamina's
// devices accept at least 128).
inline constexpr std::uint16_t kQueueSize = 16;

struct Descriptor final {
    std::uint64_t address;
    std::uint32_t length;
    std::uint16_t flags;
    std::uint16_t next;
};
static_assert(sizeof(Descriptor) == 16);

struct AvailableRing final {
    std::uint16_t flags;
    std::uint16_t index;
    std::uint16_t ring[kQueueSize];
    std::uint16_t used_event;
};

struct UsedElement final {
    std::uint32_t id;
    std::uint32_t length;
};

struct UsedRing final {
    std::uint16_t flags;
    std::uint16_t index;
    UsedElement ring[kQueueSize];
    std::uint16_t available_event;
};
static_assert(sizeof(UsedRing) == 4 + 8 * kQueueSize + 4);  // avail_event, then padding

// The guest runs with its MMU off, so its own accesses to RAM are Device
// memory that bypasses the caches, while Lamina reaches the same RAM through
// a cacheable mapping. What one side writes on a cache line the other side
// writes too could be lost when the line is cleaned, so every part that the
// driver writes and every part that the device writes lives on a page of
// its own, and dma_sync() cleans and invalidates them all around each
// notification (see virtio.cpp).
inline constexpr std::size_t kPage = 4096;

struct alignas(kPage) QueueMemory final {
    Descriptor descriptors[kQueueSize];
    alignas(kPage) AvailableRing available;
    alignas(kPage) UsedRing used;
};

// --- A driver's view of one split virtqueue ----------------------------------

class Queue final {
public:
    constexpr explicit Queue(QueueMemory& memory) : memory_{memory} {}

    // Zeroes the rings and starts counting from 0 (after a device reset).
    void clear();

    void set_descriptor(std::uint16_t index, std::uint64_t address, std::uint32_t length, std::uint16_t flags,
                        std::uint16_t next = 0);
    // Puts `head` in the next available slot and publishes the new index.
    void offer(std::uint16_t head);
    // Publishes an arbitrary available index (an attack: it need not be
    // backed by ring entries).
    void publish_available_index(std::uint16_t index);
    [[nodiscard]] std::uint16_t available_index() const;
    // Writes ring slot `slot` without publishing it.
    void set_ring_entry(std::uint16_t slot, std::uint16_t head);

    [[nodiscard]] std::uint16_t used_index() const;
    [[nodiscard]] UsedElement used_element(std::uint16_t position) const;

    [[nodiscard]] std::uintptr_t descriptor_area() const;
    [[nodiscard]] std::uintptr_t driver_area() const;
    [[nodiscard]] std::uintptr_t device_area() const;

private:
    QueueMemory& memory_;
};

// Cleans and invalidates every page this guest shares with its devices
// (rings and buffers: `dma_memory` of `bytes` bytes), so that what the guest
// wrote is in RAM for Lamina and what Lamina wrote is in RAM for the guest.
void dma_sync(const void* dma_memory, std::size_t bytes);

// --- One virtio-mmio register window -----------------------------------------

class VirtioDevice final {
public:
    VirtioDevice() = default;
    constexpr VirtioDevice(std::uintptr_t base, unsigned slot) : base_{base}, slot_{slot} {}

    [[nodiscard]] std::uintptr_t base() const { return base_; }
    [[nodiscard]] unsigned slot() const { return slot_; }

    [[nodiscard]] std::uint32_t magic() const;
    [[nodiscard]] std::uint32_t version() const;
    [[nodiscard]] std::uint32_t device_id() const;
    [[nodiscard]] std::uint32_t status() const;
    [[nodiscard]] bool needs_reset() const { return (status() & kStatusNeedsReset) != 0; }
    [[nodiscard]] std::uint32_t interrupt_status() const;
    void acknowledge_interrupts(std::uint32_t bits) const;

    // Status = 0: the device forgets its queues, features and any failure.
    void reset() const;
    // Reset, ACKNOWLEDGE, DRIVER, the driver features `features` (each must
    // be offered), FEATURES_OK read back. Empty on success, else what failed.
    [[nodiscard]] std::string_view negotiate(std::uint64_t features) const;
    // Programs queue `queue` (size and the three areas) and sets QueueReady.
    // Whether the device took it: QueueReady reads back 1.
    [[nodiscard]] bool enable_queue(std::uint32_t queue, std::uint16_t size, std::uintptr_t descriptors,
                                    std::uintptr_t driver_area, std::uintptr_t device_area) const;
    [[nodiscard]] std::uint32_t queue_max_size(std::uint32_t queue) const;
    // Rewrites the descriptor table address of the selected, enabled queue
    // (which a driver must not do).
    void move_descriptor_table(std::uint32_t queue, std::uintptr_t descriptors) const;
    void set_driver_ok() const;
    void notify(std::uint32_t queue) const;

    // Configuration space (from offset 0x100), byte and 32-bit reads.
    [[nodiscard]] std::uint8_t config8(std::uint32_t offset) const;
    [[nodiscard]] std::uint32_t config32(std::uint32_t offset) const;
    // A 64-bit field read consistently (ConfigGeneration unchanged around it).
    [[nodiscard]] std::uint64_t config64(std::uint32_t offset) const;

private:
    [[nodiscard]] std::uint32_t read(std::uint32_t offset) const;
    void write(std::uint32_t offset, std::uint32_t value) const;
    [[nodiscard]] std::uint64_t offered_features() const;

    std::uintptr_t base_{0};
    unsigned slot_{0};
};

}  // namespace ring_breaker
