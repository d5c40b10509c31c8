#include "virtual_devices/virtio_balloon.hpp"

#include <algorithm>
#include <array>

#include "core/bytes.hpp"

namespace lamina {
namespace {

// Fields of struct virtio_balloon_config (5.5.4).
constexpr std::size_t kConfigTargetPages = 0;  // num_pages: the device's
constexpr std::size_t kConfigActualPages = 4;  // actual: the driver's

// A 32-bit PFN in 4096-byte units is an address below 2^44: it cannot wrap.
static_assert(32 + VirtioBalloon::kPfnShift < 64, "every PFN has an address");

template <typename T>
void store_le(std::span<std::byte> bytes, std::size_t offset, T value) {
    for (std::size_t i = 0; i < sizeof(T); ++i) bytes[offset + i] = static_cast<std::byte>(value >> (8 * i));
}

}  // namespace

// --- Owner interface --------------------------------------------------------------------------

void VirtioBalloon::connect(GuestMemory& memory, VirtioTransportHooks hooks, VirtioBalloonHooks memory_hooks) {
    {
        const LockGuard guard{transport_.lock()};
        memory_hooks_ = memory_hooks;
        statistics_ = {};
    }
    transport_.connect(memory, hooks);
}

void VirtioBalloon::set_target_pages(std::uint32_t pages) {
    const LockGuard guard{transport_.lock()};
    target_pages_ = pages;
    transport_.config_changed();
}

std::uint32_t VirtioBalloon::actual_pages() {
    const LockGuard guard{transport_.lock()};
    return actual_pages_;
}

VirtioBalloonStatistics VirtioBalloon::statistics() {
    const LockGuard guard{transport_.lock()};
    return statistics_;
}

// --- Features and configuration space ---------------------------------------------------------

// A driver that would use deflated pages before the device has seen them
// could touch memory the deflate hook has not returned yet; the device may
// refuse it (5.5.3.2).
bool VirtioBalloon::accept_features(std::uint64_t features) { return (features & kFeatureMustTellHost) != 0; }

void VirtioBalloon::read_config(std::size_t offset, std::span<std::byte> bytes) {
    std::array<std::byte, kConfigSize> image{};
    store_le<std::uint32_t>(image, kConfigTargetPages, target_pages_);
    store_le<std::uint32_t>(image, kConfigActualPages, actual_pages_);
    std::fill(bytes.begin(), bytes.end(), std::byte{0});
    if (offset >= image.size()) return;
    std::copy_n(image.begin() + static_cast<std::ptrdiff_t>(offset), std::min(bytes.size(), image.size() - offset),
                bytes.begin());
}

// Only `actual` is the driver's to write; byte by byte, so any access size
// the transport allows updates the bytes it covers.
void VirtioBalloon::write_config(std::size_t offset, std::span<const std::byte> bytes) {
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        const std::size_t at = offset + i;
        if (at < kConfigActualPages || at >= kConfigActualPages + sizeof(actual_pages_)) continue;
        const unsigned shift = 8 * static_cast<unsigned>(at - kConfigActualPages);
        const std::uint32_t byte = std::to_integer<std::uint8_t>(bytes[i]);
        actual_pages_ = (actual_pages_ & ~(std::uint32_t{0xff} << shift)) | (byte << shift);
    }
}

// --- Queues -----------------------------------------------------------------------------------

void VirtioBalloon::on_notify(std::uint32_t queue) {
    if (queue == kInflateQueue || queue == kDeflateQueue) serve(queue);
}

void VirtioBalloon::reset() {
    actual_pages_ = 0;  // the next driver starts with an empty balloon
    if (memory_hooks_.reset != nullptr) memory_hooks_.reset(memory_hooks_.context);
}

void VirtioBalloon::serve(std::uint32_t queue_index) {
    Virtqueue* queue = transport_.live_queue(queue_index);
    if (queue == nullptr) return;
    const bool inflate = queue_index == kInflateQueue;
    for (;;) {
        const auto popped = queue->pop(chain_);
        if (!popped || !*popped) return;  // empty, or a broken ring (reported by the transport)
        Status served = check_page_list(chain_);
        if (served) served = hand_over_pages(chain_, inflate);
        if (!served) {
            transport_.fail(served.error());
            return;
        }
        // The device writes nothing: using the buffer is the acknowledgement.
        if (!queue->push_used(chain_.head(), 0)) return;
    }
}

Status VirtioBalloon::check_page_list(const DescriptorChain& chain) const {
    if (chain.writable_bytes() != 0) return Error{"virtio-balloon page list has device-writable buffers"};
    if (chain.readable_bytes() % kPfnSize != 0) return Error{"virtio-balloon page list is not whole PFNs"};
    if (chain.readable_bytes() / kPfnSize > kMaxPagesPerBuffer) return Error{"virtio-balloon page list is too long"};
    return {};
}

// Copies the list a chunk at a time (one snapshot: the guest may rewrite it
// meanwhile) and gives each page to a hook.
Status VirtioBalloon::hand_over_pages(const DescriptorChain& chain, bool inflate) {
    std::array<std::byte, kPfnsPerChunk * kPfnSize> chunk{};
    const std::uint64_t total = chain.readable_bytes();
    for (std::uint64_t offset = 0; offset < total;) {
        const std::size_t wanted = std::min<std::uint64_t>(chunk.size(), total - offset);
        const auto pfns = std::span{chunk}.first(wanted);
        const auto copied = chain.read(transport_.memory(), offset, pfns);
        if (!copied) return copied.error();
        if (*copied != wanted) return Error{"virtio-balloon page list ended early"};
        for (std::size_t at = 0; at < wanted; at += kPfnSize) {
            hand_over_page(*load_le<std::uint32_t>(pfns, at), inflate);
        }
        offset += wanted;
    }
    return {};
}

void VirtioBalloon::hand_over_page(std::uint32_t pfn, bool inflate) {
    const GuestPhysAddr page{std::uint64_t{pfn} << kPfnShift};
    const auto hook = inflate ? memory_hooks_.inflate : memory_hooks_.deflate;
    if (hook == nullptr || !hook(memory_hooks_.context, page)) {
        ++statistics_.pages_refused;
        return;
    }
    ++(inflate ? statistics_.pages_inflated : statistics_.pages_deflated);
}

}  // namespace lamina
