// The driver side of a virtio split virtqueue (virtio 1.2, 2.7), for
// Lamina's drivers of the board's own devices: Lamina writes the descriptor
// table and the available ring, the device writes the used ring. All three
// live in memory Lamina owns and the device reaches by DMA.
//
// The bookkeeping is plain C++ over memory, so the host unit tests run it
// against the device-side Virtqueue. How the device sees the memory is the
// `Dma` parameter, an object with
//     void write_barrier();  void read_barrier();  void full_barrier();
//     void to_device(const std::byte* data, std::size_t size);    // Lamina wrote it
//     void from_device(const std::byte* data, std::size_t size);  // the device wrote it
// On the board that is DeviceDma (drivers/virtio_mmio_driver.hpp): DMA
// barriers, and cache maintenance for devices that do not snoop the caches.
//
// The device is trusted to follow the protocol, but its answers are still
// checked: a used element naming a descriptor that does not head a chain in
// flight, reporting more bytes than the chain can take, or a used index
// running ahead of the ring breaks the queue (reap() then returns the same
// error for good) instead of corrupting the free list.
//
// Not thread safe: a driver serialises the calls for one queue.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "core/result.hpp"
#include "core/types.hpp"

namespace lamina {

static_assert(std::endian::native == std::endian::little, "virtio rings are little endian");

// The largest queue Lamina's drivers set up.
inline constexpr std::uint16_t kDriverQueueMaxSize = 256;

// One buffer of a chain, as the device addresses it.
struct DmaBuffer final {
    std::uint64_t device_address{0};
    std::uint32_t length{0};
    bool device_writable{false};
};

// A chain the device has finished with.
struct UsedBuffer final {
    std::uint64_t token{0};   // what add() was given for the chain
    std::uint32_t written{0};  // bytes the device wrote into its writable part
};

template <typename Dma>
class VirtioDriverQueue final {
public:
    // The parts inside the ring memory for a queue of `size` entries: the
    // descriptor table, the available ring right after it, and the used ring
    // on a page of its own, so that invalidating it for a device that does
    // not snoop caches never discards a line Lamina wrote.
    [[nodiscard]] static constexpr std::uint64_t available_offset(std::uint16_t size) {
        return kDescriptorSize * size;
    }
    [[nodiscard]] static constexpr std::uint64_t used_offset(std::uint16_t size) {
        return align_up(available_offset(size) + kRingHeaderSize + 2 * std::uint64_t{size} + 2, kPageSize);
    }
    [[nodiscard]] static constexpr std::uint64_t ring_bytes(std::uint16_t size) {
        return used_offset(size) + kRingHeaderSize + kUsedElementSize * size + 2;
    }

    // Lays out and zeroes a queue of `size` entries (a power of two, at
    // most kDriverQueueMaxSize) in `ring`: page aligned, at least
    // ring_bytes(size) long, and seen by the device at `device_address`.
    [[nodiscard]] Status init(std::uint16_t size, std::span<std::byte> ring, std::uint64_t device_address, Dma dma) {
        forget();
        if (size == 0 || (size & (size - 1)) != 0 || size > kDriverQueueMaxSize)
            return Error{"driver queue size is not a power of two up to 256"};
        if (ring.size() < ring_bytes(size)) return Error{"driver queue memory is too small"};
        if (!is_aligned(reinterpret_cast<std::uintptr_t>(ring.data()), kPageSize) ||
            !is_aligned(device_address, kPageSize))
            return Error{"driver queue memory is not page aligned"};
        for (std::uint64_t i = 0; i < ring_bytes(size); ++i) ring[i] = std::byte{0};
        ring_ = ring.data();
        device_address_ = device_address;
        dma_ = dma;
        size_ = size;
        dma_.to_device(ring_, ring_bytes(size));
        // Every descriptor starts on the free list, in table order.
        for (std::uint16_t i = 0; i < size; ++i) next_[i] = static_cast<std::uint16_t>(i + 1);
        free_head_ = 0;
        free_count_ = size;
        return {};
    }

    [[nodiscard]] bool is_ready() const { return ring_ != nullptr; }
    [[nodiscard]] std::uint16_t size() const { return size_; }
    [[nodiscard]] std::uint16_t free_descriptors() const { return free_count_; }
    [[nodiscard]] bool is_broken() const { return broken_; }
    [[nodiscard]] Error failure() const { return failure_; }

    // Where the device finds the three parts (QueueDesc, QueueDriver, QueueDevice).
    [[nodiscard]] std::uint64_t descriptor_area() const { return device_address_; }
    [[nodiscard]] std::uint64_t driver_area() const { return device_address_ + available_offset(size_); }
    [[nodiscard]] std::uint64_t device_area() const { return device_address_ + used_offset(size_); }

    // Asks the device not to interrupt when it returns buffers (a hint the
    // device may ignore: VIRTQ_AVAIL_F_NO_INTERRUPT).
    void suppress_interrupts(bool suppress) {
        if (ring_ == nullptr) return;
        store<std::uint16_t>(available_offset(size_), suppress ? kAvailableNoInterrupt : 0);
        dma_.to_device(ring_ + available_offset(size_), 2);
    }

    // Writes a chain for `buffers` (device-readable ones first) into free
    // descriptors and puts it in the available ring, not yet visible to the
    // device: publish() does that. `token` comes back from reap().
    [[nodiscard]] Status add(std::span<const DmaBuffer> buffers, std::uint64_t token) {
        if (ring_ == nullptr) return Error{"driver queue is not set up"};
        if (broken_) return failure_;
        if (buffers.empty()) return Error{"driver queue chain is empty"};
        for (std::size_t i = 1; i < buffers.size(); ++i)
            if (buffers[i - 1].device_writable && !buffers[i].device_writable)
                return Error{"driver queue chain has a readable buffer after a writable one"};
        if (buffers.size() > free_count_) return Error{"driver queue is full"};

        const std::uint16_t head = free_head_;
        std::uint16_t index = head;
        std::uint64_t writable = 0;
        for (std::size_t i = 0; i < buffers.size(); ++i) {
            const bool last = i + 1 == buffers.size();
            const std::uint16_t flags = static_cast<std::uint16_t>((buffers[i].device_writable ? kDescriptorWrite : 0) |
                                                                   (last ? 0 : kDescriptorNext));
            const std::uint16_t next = last ? 0 : next_[index];
            write_descriptor(index, buffers[i], flags, next);
            if (buffers[i].device_writable) writable += buffers[i].length;
            if (!last) index = next;
        }
        free_head_ = next_[index];
        free_count_ = static_cast<std::uint16_t>(free_count_ - buffers.size());
        chain_length_[head] = static_cast<std::uint16_t>(buffers.size());
        writable_bytes_[head] = writable;
        tokens_[head] = token;

        const std::uint64_t slot = available_offset(size_) + kRingHeaderSize + 2 * (next_available_ % size_);
        store<std::uint16_t>(slot, head);
        dma_.to_device(ring_ + slot, 2);
        ++next_available_;
        return {};
    }

    // Makes the chains added since the last call visible to the device.
    // True when the device wants to be notified of them (it did not set
    // VIRTQ_USED_F_NO_NOTIFY); false also when there was nothing new.
    [[nodiscard]] bool publish() {
        if (ring_ == nullptr || next_available_ == published_available_) return false;
        dma_.write_barrier();  // descriptors and ring entries before the index
        const std::uint64_t index = available_offset(size_) + 2;
        store<std::uint16_t>(index, next_available_);
        dma_.to_device(ring_ + index, 2);
        published_available_ = next_available_;
        dma_.full_barrier();  // the index is out before the device's flag is read
        dma_.from_device(ring_ + used_offset(size_), 2);
        return (load<std::uint16_t>(used_offset(size_)) & kUsedNoNotify) == 0;
    }

    // The next chain the device returned, if any; its descriptors are free
    // again when this returns it.
    [[nodiscard]] Result<std::optional<UsedBuffer>> reap() {
        if (ring_ == nullptr) return Error{"driver queue is not set up"};
        if (broken_) return failure_;
        const std::uint64_t used = used_offset(size_);
        dma_.from_device(ring_ + used, kRingHeaderSize);
        const std::uint16_t device_index = load<std::uint16_t>(used + 2);
        const auto pending = static_cast<std::uint16_t>(device_index - last_used_);
        if (pending == 0) return std::optional<UsedBuffer>{};
        if (pending > static_cast<std::uint16_t>(published_available_ - last_used_))
            return fail(Error{"device's used index ran ahead of the published chains"});
        dma_.read_barrier();  // the elements the index covers, not older ones
        const std::uint64_t element = used + kRingHeaderSize + kUsedElementSize * (last_used_ % size_);
        dma_.from_device(ring_ + element, kUsedElementSize);
        const std::uint32_t id = load<std::uint32_t>(element);
        const std::uint32_t written = load<std::uint32_t>(element + 4);
        if (id >= size_ || chain_length_[id] == 0)
            return fail(Error{"device returned a descriptor that heads no chain in flight"});
        if (written > writable_bytes_[id]) return fail(Error{"device wrote more bytes than the chain holds"});
        ++last_used_;
        const UsedBuffer buffer{tokens_[id], written};
        release_chain(static_cast<std::uint16_t>(id));
        return std::optional<UsedBuffer>{buffer};
    }

    // Chains added and not yet reaped.
    [[nodiscard]] std::uint16_t in_flight() const {
        return static_cast<std::uint16_t>(next_available_ - last_used_);
    }

private:
    static constexpr std::uint64_t kDescriptorSize = 16;
    static constexpr std::uint64_t kUsedElementSize = 8;
    static constexpr std::uint64_t kRingHeaderSize = 4;  // flags and idx
    static constexpr std::uint16_t kDescriptorNext = 1;
    static constexpr std::uint16_t kDescriptorWrite = 2;
    static constexpr std::uint16_t kAvailableNoInterrupt = 1;
    static constexpr std::uint16_t kUsedNoNotify = 1;

    // Ring fields are accessed once each, never merged or torn by the compiler.
    template <typename T>
    void store(std::uint64_t offset, T value) {
        *reinterpret_cast<volatile T*>(ring_ + offset) = value;
    }
    template <typename T>
    [[nodiscard]] T load(std::uint64_t offset) const {
        return *reinterpret_cast<const volatile T*>(ring_ + offset);
    }

    void write_descriptor(std::uint16_t index, const DmaBuffer& buffer, std::uint16_t flags, std::uint16_t next) {
        const std::uint64_t at = kDescriptorSize * index;
        store<std::uint64_t>(at, buffer.device_address);
        store<std::uint32_t>(at + 8, buffer.length);
        store<std::uint16_t>(at + 12, flags);
        store<std::uint16_t>(at + 14, next);
        dma_.to_device(ring_ + at, kDescriptorSize);
    }

    // The chain's descriptors go back on the free list. The links come from
    // Lamina's own copy (next_), never from memory the device can reach.
    void release_chain(std::uint16_t head) {
        std::uint16_t tail = head;
        for (std::uint16_t i = 1; i < chain_length_[head]; ++i) tail = next_[tail];
        next_[tail] = free_head_;
        free_head_ = head;
        free_count_ = static_cast<std::uint16_t>(free_count_ + chain_length_[head]);
        chain_length_[head] = 0;
        writable_bytes_[head] = 0;
    }

    // Back to an unused queue (without a temporary copy: the object is big
    // for a hypervisor stack).
    void forget() {
        ring_ = nullptr;
        device_address_ = 0;
        size_ = 0;
        free_head_ = 0;
        free_count_ = 0;
        next_available_ = 0;
        published_available_ = 0;
        last_used_ = 0;
        broken_ = false;
        failure_ = Error{};
        chain_length_.fill(0);
        writable_bytes_.fill(0);
    }

    [[nodiscard]] Error fail(Error error) {
        broken_ = true;
        failure_ = error;
        return error;
    }

    std::byte* ring_{nullptr};
    std::uint64_t device_address_{0};
    Dma dma_{};
    std::uint16_t size_{0};
    std::uint16_t free_head_{0};
    std::uint16_t free_count_{0};
    std::uint16_t next_available_{0};       // the available index after the last add()
    std::uint16_t published_available_{0};  // the available index the device sees
    std::uint16_t last_used_{0};            // the used index up to which chains were reaped
    bool broken_{false};
    Error failure_{};
    // Per descriptor: the free-list or chain link, and for chain heads in
    // flight, the chain's length (0: not a head in flight), writable bytes
    // and token.
    std::array<std::uint16_t, kDriverQueueMaxSize> next_{};
    std::array<std::uint16_t, kDriverQueueMaxSize> chain_length_{};
    std::array<std::uint64_t, kDriverQueueMaxSize> writable_bytes_{};
    std::array<std::uint64_t, kDriverQueueMaxSize> tokens_{};
};

}  // namespace lamina
