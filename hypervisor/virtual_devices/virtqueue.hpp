// The device side of a virtio split virtqueue (virtio 1.2, 2.7): the
// descriptor table, the available ring (driver area) and the used ring
// (device area), all in guest RAM and all written by an untrusted guest.
//
// Everything the guest supplies is checked before it is used: ring
// placement and alignment, the available index, descriptor indices, chain
// length and loops, buffer addresses and lengths, the readable-then-writable
// order, flags, and indirect tables (one level). The first violation breaks
// the queue: every later call returns the same error, and the transport sets
// DEVICE_NEEDS_RESET. Guest memory is only reached through GuestMemory, so a
// hostile ring can never make the device touch anything but guest RAM.
//
// Not thread safe: the transport serialises calls under its lock.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/guest_memory.hpp"
#include "core/result.hpp"
#include "core/types.hpp"

namespace lamina {

// The largest queue Lamina's devices offer (QueueNumMax).
inline constexpr std::uint16_t kVirtqueueMaxSize = 256;
// The most buffers one chain may describe, indirect tables included. The
// spec bounds a chain by the queue size, but Linux builds indirect chains
// longer than small queues, so the bound is the largest queue instead.
inline constexpr std::size_t kMaxChainSegments = kVirtqueueMaxSize;

// One guest buffer of a chain, as validated: all of it is guest RAM.
struct DescriptorSegment final {
    GuestPhysAddr address{};
    std::uint32_t length{0};
    bool device_writable{false};
};

// A descriptor chain taken from the available ring: a snapshot of what the
// guest offered (later changes to the descriptors do not affect it).
// Device-readable segments come first, then device-writable ones.
class DescriptorChain final {
public:
    [[nodiscard]] std::uint16_t head() const { return head_; }
    [[nodiscard]] std::span<const DescriptorSegment> segments() const { return {segments_.data(), count_}; }
    [[nodiscard]] std::span<const DescriptorSegment> readable() const { return segments().first(readable_count_); }
    [[nodiscard]] std::span<const DescriptorSegment> writable() const { return segments().subspan(readable_count_); }
    [[nodiscard]] std::uint64_t readable_bytes() const { return readable_bytes_; }
    [[nodiscard]] std::uint64_t writable_bytes() const { return writable_bytes_; }

    // Copies readable bytes, from `offset` into the readable part, into
    // `destination`; returns how many (fewer when the part ends first).
    [[nodiscard]] Result<std::size_t> read(GuestMemory& memory, std::uint64_t offset,
                                           std::span<std::byte> destination) const;
    // Copies `source` into the writable part from `offset`; returns how many
    // bytes fitted.
    [[nodiscard]] Result<std::size_t> write(GuestMemory& memory, std::uint64_t offset,
                                            std::span<const std::byte> source) const;

private:
    friend class Virtqueue;

    void clear(std::uint16_t head);

    std::array<DescriptorSegment, kMaxChainSegments> segments_{};
    std::size_t count_{0};
    std::size_t readable_count_{0};
    std::uint64_t readable_bytes_{0};
    std::uint64_t writable_bytes_{0};
    std::uint16_t head_{0};
};

// Where the driver put the queue's three parts, and how big it is.
struct VirtqueueLayout final {
    std::uint16_t size{0};          // entries: a power of two
    GuestPhysAddr descriptors{};    // descriptor table (Descriptor Area)
    GuestPhysAddr available{};      // available ring (Driver Area)
    GuestPhysAddr used{};           // used ring (Device Area)
};

// Negotiated features that change how the rings are read.
struct VirtqueueFeatures final {
    bool indirect_descriptors{false};  // VIRTIO_F_INDIRECT_DESC
    bool event_index{false};           // VIRTIO_F_EVENT_IDX
};

class Virtqueue final {
public:
    // Validates the layout (size, alignment, every part inside guest RAM)
    // and enables the queue with fresh indices. On error the queue stays
    // disabled.
    [[nodiscard]] Status configure(GuestMemory& memory, const VirtqueueLayout& layout, VirtqueueFeatures features,
                                   std::uint16_t max_size = kVirtqueueMaxSize);
    // Disables the queue (device or queue reset).
    void reset();

    [[nodiscard]] bool is_enabled() const { return memory_ != nullptr; }
    [[nodiscard]] bool is_broken() const { return broken_; }
    [[nodiscard]] Error failure() const { return failure_; }
    [[nodiscard]] std::uint16_t size() const { return layout_.size; }

    // Takes the next available chain into `chain`: true when there was one,
    // false when the ring is empty. With event index, false also asks the
    // driver to notify when it adds the next buffer (and looks once more, so
    // a buffer added meanwhile is not missed).
    [[nodiscard]] Result<bool> pop(DescriptorChain& chain);
    // Returns a chain taken by pop() to the driver, with the number of bytes
    // the device wrote into its writable part.
    [[nodiscard]] Status push_used(std::uint16_t head, std::uint32_t written_length);
    // Whether the driver wants a used-buffer notification for what was
    // pushed since the last call (VRING_AVAIL_F_NO_INTERRUPT, or used_event
    // with VIRTIO_F_EVENT_IDX). Call after a batch of push_used().
    [[nodiscard]] bool needs_notification();

private:
    struct Descriptor final {
        std::uint64_t address;
        std::uint32_t length;
        std::uint16_t flags;
        std::uint16_t next;
    };

    [[nodiscard]] Error fail(Error error);
    [[nodiscard]] Result<std::uint16_t> available_count();
    [[nodiscard]] Result<bool> has_available();
    [[nodiscard]] Status publish_available_event();
    [[nodiscard]] Result<Descriptor> read_descriptor(GuestPhysAddr address, std::uint16_t allowed_flags);
    [[nodiscard]] Status walk_chain(std::uint16_t head, DescriptorChain& chain);
    [[nodiscard]] Status walk_indirect_table(const Descriptor& table, DescriptorChain& chain);
    [[nodiscard]] Status append(const Descriptor& descriptor, DescriptorChain& chain);
    [[nodiscard]] bool is_in_flight(std::uint16_t head) const;
    void set_in_flight(std::uint16_t head, bool in_flight);

    GuestMemory* memory_{nullptr};  // null while disabled
    VirtqueueLayout layout_{};
    VirtqueueFeatures features_{};
    std::uint16_t next_available_{0};  // the device's position in the available ring
    std::uint16_t next_used_{0};       // the used index the device publishes next
    std::uint16_t signalled_used_{0};  // used index when needs_notification() last ran
    bool broken_{false};
    Error failure_{};
    // Heads popped and not yet pushed back: the guest cannot offer one twice,
    // and a device model cannot return one it does not hold.
    std::array<std::uint64_t, kVirtqueueMaxSize / 64> in_flight_{};
};

}  // namespace lamina
