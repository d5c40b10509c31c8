#include "virtual_devices/virtqueue.hpp"

#include <algorithm>
#include <atomic>

#include "core/bytes.hpp"

namespace lamina {
namespace {

constexpr std::uint16_t kDescriptorNext = 1;      // VIRTQ_DESC_F_NEXT
constexpr std::uint16_t kDescriptorWrite = 2;     // VIRTQ_DESC_F_WRITE
constexpr std::uint16_t kDescriptorIndirect = 4;  // VIRTQ_DESC_F_INDIRECT
constexpr std::uint16_t kAvailableNoInterrupt = 1;  // VIRTQ_AVAIL_F_NO_INTERRUPT

constexpr std::uint64_t kDescriptorSize = 16;
constexpr std::uint64_t kUsedElementSize = 8;
constexpr std::uint64_t kRingHeaderSize = 4;  // flags and idx, before the ring entries

// Bytes of each part for a queue of `size` entries, event fields included
// (virtio 1.2, 2.7: 16 * size, 6 + 2 * size, 6 + 8 * size).
constexpr std::uint64_t descriptor_table_bytes(std::uint64_t size) { return kDescriptorSize * size; }
constexpr std::uint64_t available_ring_bytes(std::uint64_t size) { return kRingHeaderSize + 2 * size + 2; }
constexpr std::uint64_t used_ring_bytes(std::uint64_t size) { return kRingHeaderSize + kUsedElementSize * size + 2; }

// A chain may not describe more than 2^32 bytes (virtio 1.2, 2.7.5.1).
constexpr std::uint64_t kMaxChainBytes = std::uint64_t{1} << 32;

}  // namespace

// --- DescriptorChain ------------------------------------------------------------------------

void DescriptorChain::clear(std::uint16_t head) {
    head_ = head;
    count_ = 0;
    readable_count_ = 0;
    readable_bytes_ = 0;
    writable_bytes_ = 0;
}

Result<std::size_t> DescriptorChain::read(GuestMemory& memory, std::uint64_t offset,
                                          std::span<std::byte> destination) const {
    std::size_t copied = 0;
    for (const DescriptorSegment& segment : readable()) {
        if (copied == destination.size()) break;
        if (offset >= segment.length) {
            offset -= segment.length;
            continue;
        }
        const std::size_t count = std::min<std::uint64_t>(segment.length - offset, destination.size() - copied);
        if (const Status status = memory.read_bytes(segment.address + offset, destination.subspan(copied, count)); !status)
            return status.error();
        copied += count;
        offset = 0;
    }
    return copied;
}

Result<std::size_t> DescriptorChain::write(GuestMemory& memory, std::uint64_t offset,
                                           std::span<const std::byte> source) const {
    std::size_t copied = 0;
    for (const DescriptorSegment& segment : writable()) {
        if (copied == source.size()) break;
        if (offset >= segment.length) {
            offset -= segment.length;
            continue;
        }
        const std::size_t count = std::min<std::uint64_t>(segment.length - offset, source.size() - copied);
        if (const Status status = memory.write_bytes(segment.address + offset, source.subspan(copied, count)); !status)
            return status.error();
        copied += count;
        offset = 0;
    }
    return copied;
}

// --- Virtqueue: setup -------------------------------------------------------------------------

Status Virtqueue::configure(GuestMemory& memory, const VirtqueueLayout& layout, VirtqueueFeatures features,
                            std::uint16_t max_size) {
    reset();
    const std::uint16_t size = layout.size;
    if (size == 0) return Error{"virtqueue size is zero"};
    if ((size & (size - 1)) != 0) return Error{"virtqueue size is not a power of two"};
    if (size > std::min(max_size, kVirtqueueMaxSize)) return Error{"virtqueue size exceeds the device's maximum"};
    if (!layout.descriptors.is_aligned(16)) return Error{"descriptor table is not 16-byte aligned"};
    if (!layout.available.is_aligned(2)) return Error{"available ring is not 2-byte aligned"};
    if (!layout.used.is_aligned(4)) return Error{"used ring is not 4-byte aligned"};
    if (!memory.is_ram(layout.descriptors, descriptor_table_bytes(size)))
        return Error{"descriptor table is not in guest RAM"};
    if (!memory.is_ram(layout.available, available_ring_bytes(size))) return Error{"available ring is not in guest RAM"};
    if (!memory.is_ram(layout.used, used_ring_bytes(size))) return Error{"used ring is not in guest RAM"};
    memory_ = &memory;
    layout_ = layout;
    features_ = features;
    return {};
}

void Virtqueue::reset() {
    memory_ = nullptr;
    layout_ = VirtqueueLayout{};
    features_ = VirtqueueFeatures{};
    next_available_ = 0;
    next_used_ = 0;
    signalled_used_ = 0;
    broken_ = false;
    failure_ = Error{};
    in_flight_ = {};
}

Error Virtqueue::fail(Error error) {
    broken_ = true;
    failure_ = error;
    return error;
}

// --- Virtqueue: taking chains -----------------------------------------------------------------

Result<std::uint16_t> Virtqueue::available_count() {
    const auto index = memory_->read<std::uint16_t>(layout_.available + 2);
    if (!index) return Error{"available ring is not readable"};
    const auto count = static_cast<std::uint16_t>(*index - next_available_);
    // The driver can only offer what fits in the table; more means a corrupt index.
    if (count > layout_.size) return Error{"available index moved ahead by more than the queue size"};
    return count;
}

// Tells the driver (event index) to notify once it publishes the entry after
// the last one the device has taken.
Status Virtqueue::publish_available_event() {
    const GuestPhysAddr available_event = layout_.used + kRingHeaderSize + kUsedElementSize * layout_.size;
    if (!memory_->write<std::uint16_t>(available_event, next_available_)) return Error{"used ring is not writable"};
    return {};
}

Result<bool> Virtqueue::has_available() {
    auto count = available_count();
    if (!count) return count.error();
    if (*count != 0 || !features_.event_index) return *count != 0;
    if (const Status published = publish_available_event(); !published) return published.error();
    // The driver may have added a buffer before it could see the new event
    // index; it will not notify for that one, so look again.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    count = available_count();
    if (!count) return count.error();
    return *count != 0;
}

Result<bool> Virtqueue::pop(DescriptorChain& chain) {
    if (!is_enabled()) return Error{"virtqueue is not enabled"};
    if (broken_) return failure_;
    const auto available = has_available();
    if (!available) return fail(available.error());
    if (!*available) return false;
    // Ring entries and descriptors were written before the index the driver published.
    std::atomic_thread_fence(std::memory_order_acquire);
    const GuestPhysAddr entry = layout_.available + kRingHeaderSize + 2 * (next_available_ % layout_.size);
    const auto head = memory_->read<std::uint16_t>(entry);
    if (!head) return fail(Error{"available ring is not readable"});
    if (*head >= layout_.size) return fail(Error{"available ring names a descriptor beyond the table"});
    if (is_in_flight(*head)) return fail(Error{"available ring offers a chain the device still holds"});
    if (const Status walked = walk_chain(*head, chain); !walked) return fail(walked.error());
    set_in_flight(*head, true);
    ++next_available_;
    return true;
}

Result<Virtqueue::Descriptor> Virtqueue::read_descriptor(GuestPhysAddr address, std::uint16_t allowed_flags) {
    // One snapshot: every decision below is made on this copy.
    std::array<std::byte, kDescriptorSize> bytes{};
    if (!memory_->read_bytes(address, bytes)) return Error{"descriptor is not in guest RAM"};
    const Descriptor descriptor{*load_le<std::uint64_t>(bytes, 0), *load_le<std::uint32_t>(bytes, 8),
                                *load_le<std::uint16_t>(bytes, 12), *load_le<std::uint16_t>(bytes, 14)};
    if ((descriptor.flags & ~allowed_flags) != 0) {
        if ((descriptor.flags & kDescriptorIndirect) != 0 && (allowed_flags & kDescriptorIndirect) == 0)
            return Error{features_.indirect_descriptors ? "indirect descriptor inside an indirect table"
                                                        : "indirect descriptor without VIRTIO_F_INDIRECT_DESC"};
        return Error{"descriptor has unknown flags"};
    }
    return descriptor;
}

Status Virtqueue::walk_chain(std::uint16_t head, DescriptorChain& chain) {
    chain.clear(head);
    const std::uint16_t allowed =
        kDescriptorNext | kDescriptorWrite | (features_.indirect_descriptors ? kDescriptorIndirect : 0);
    std::uint16_t index = head;
    // A chain visits each table entry at most once; more steps means a loop.
    for (std::uint32_t steps = 0; steps < layout_.size; ++steps) {
        const auto descriptor = read_descriptor(layout_.descriptors + kDescriptorSize * index, allowed);
        if (!descriptor) return descriptor.error();
        if ((descriptor->flags & kDescriptorIndirect) != 0) {
            // An indirect table ends the chain (virtio 1.2, 2.7.5.3).
            if ((descriptor->flags & kDescriptorNext) != 0) return Error{"indirect descriptor also has NEXT"};
            return walk_indirect_table(*descriptor, chain);
        }
        if (const Status appended = append(*descriptor, chain); !appended) return appended;
        if ((descriptor->flags & kDescriptorNext) == 0) return {};
        if (descriptor->next >= layout_.size) return Error{"descriptor chain continues beyond the table"};
        index = descriptor->next;
    }
    return Error{"descriptor chain loops"};
}

Status Virtqueue::walk_indirect_table(const Descriptor& table, DescriptorChain& chain) {
    // The WRITE flag of the descriptor naming the table means nothing (2.7.5.3.2).
    if (table.length == 0 || table.length % kDescriptorSize != 0)
        return Error{"indirect table length is not a non-zero multiple of 16"};
    const GuestPhysAddr base{table.address};
    if (!memory_->is_ram(base, table.length)) return Error{"indirect table is not in guest RAM"};
    const std::uint64_t entries = table.length / kDescriptorSize;
    std::uint64_t index = 0;
    for (std::uint64_t steps = 0; steps < entries; ++steps) {
        const auto descriptor = read_descriptor(base + kDescriptorSize * index, kDescriptorNext | kDescriptorWrite);
        if (!descriptor) return descriptor.error();
        if (const Status appended = append(*descriptor, chain); !appended) return appended;
        if ((descriptor->flags & kDescriptorNext) == 0) return {};
        if (descriptor->next >= entries) return Error{"indirect chain continues beyond its table"};
        index = descriptor->next;
    }
    return Error{"indirect descriptor chain loops"};
}

Status Virtqueue::append(const Descriptor& descriptor, DescriptorChain& chain) {
    if (chain.count_ == chain.segments_.size()) return Error{"descriptor chain has too many buffers"};
    const bool writable = (descriptor.flags & kDescriptorWrite) != 0;
    if (!writable && chain.count_ != chain.readable_count_)  // the driver must put writable buffers last
        return Error{"device-readable descriptor after a device-writable one"};
    const GuestPhysAddr address{descriptor.address};
    if (descriptor.length != 0) {
        if (descriptor.address > ~std::uint64_t{0} - (descriptor.length - 1))
            return Error{"descriptor buffer wraps around the address space"};
        if (!memory_->is_ram(address, descriptor.length)) return Error{"descriptor buffer is not in guest RAM"};
    }
    if (chain.readable_bytes_ + chain.writable_bytes_ + descriptor.length > kMaxChainBytes)
        return Error{"descriptor chain describes more than 4 GiB"};
    chain.segments_[chain.count_++] = DescriptorSegment{address, descriptor.length, writable};
    if (writable) {
        chain.writable_bytes_ += descriptor.length;
    } else {
        ++chain.readable_count_;
        chain.readable_bytes_ += descriptor.length;
    }
    return {};
}

bool Virtqueue::is_in_flight(std::uint16_t head) const { return ((in_flight_[head / 64] >> (head % 64)) & 1) != 0; }

void Virtqueue::set_in_flight(std::uint16_t head, bool in_flight) {
    const std::uint64_t bit = std::uint64_t{1} << (head % 64);
    in_flight_[head / 64] = in_flight ? (in_flight_[head / 64] | bit) : (in_flight_[head / 64] & ~bit);
}

// --- Virtqueue: returning chains --------------------------------------------------------------

Status Virtqueue::push_used(std::uint16_t head, std::uint32_t written_length) {
    if (!is_enabled()) return Error{"virtqueue is not enabled"};
    if (broken_) return failure_;
    if (head >= layout_.size || !is_in_flight(head)) return fail(Error{"device returned a chain it does not hold"});
    const GuestPhysAddr element = layout_.used + kRingHeaderSize + kUsedElementSize * (next_used_ % layout_.size);
    // Two 4-byte stores: a 4-aligned element may straddle a page (and extent) boundary.
    if (!memory_->write<std::uint32_t>(element, head) || !memory_->write<std::uint32_t>(element + 4, written_length))
        return fail(Error{"used ring is not writable"});
    // The element must be visible before the index that publishes it.
    std::atomic_thread_fence(std::memory_order_release);
    ++next_used_;
    if (!memory_->write<std::uint16_t>(layout_.used + 2, next_used_)) return fail(Error{"used ring is not writable"});
    set_in_flight(head, false);
    return {};
}

bool Virtqueue::needs_notification() {
    if (!is_enabled() || broken_) return false;
    const std::uint16_t previous = signalled_used_;
    signalled_used_ = next_used_;
    if (previous == next_used_) return false;
    // The used index store must be visible before the driver's suppression
    // fields are read, or a driver that just re-enabled interrupts is missed.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (!features_.event_index) {
        const auto flags = memory_->read<std::uint16_t>(layout_.available);
        return !flags || (*flags & kAvailableNoInterrupt) == 0;
    }
    const auto used_event = memory_->read<std::uint16_t>(layout_.available + kRingHeaderSize + 2 * layout_.size);
    if (!used_event) return true;
    // Notify when the entry at used_event was among those pushed since the
    // last decision (vring_need_event in the spec's virtio_ring.h).
    return static_cast<std::uint16_t>(next_used_ - *used_event - 1) < static_cast<std::uint16_t>(next_used_ - previous);
}

}  // namespace lamina
