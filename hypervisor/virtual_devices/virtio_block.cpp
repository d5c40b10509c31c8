#include "virtual_devices/virtio_block.hpp"

#include <algorithm>

#include "core/bytes.hpp"

namespace lamina {
namespace {

static_assert(VirtioBlock::kBounceBufferSize % kSectorSize == 0, "the bounce buffer holds whole sectors");
static_assert(VirtioBlock::kMaxDataSegments + 2 <= kMaxChainSegments, "a whole request fits in one chain");

// Fields of struct virtio_blk_config that Lamina fills (5.2.4).
constexpr std::size_t kConfigCapacity = 0;
constexpr std::size_t kConfigSegMax = 12;
constexpr std::size_t kConfigBlockSize = 20;

template <typename T>
void store_le(std::span<std::byte> bytes, std::size_t offset, T value) {
    for (std::size_t i = 0; i < sizeof(T); ++i) bytes[offset + i] = static_cast<std::byte>(value >> (8 * i));
}

// The used length is how many bytes from the start of the writable part the
// device wrote (virtio 1.2, 2.7.8). The status is that part's last byte, so
// it extends the prefix only when all the data before it was written.
std::uint32_t used_length(std::uint64_t data_written, bool status_written, std::uint64_t writable_bytes) {
    const bool whole = status_written && data_written + 1 == writable_bytes;
    return static_cast<std::uint32_t>(std::min<std::uint64_t>(whole ? writable_bytes : data_written, 0xffff'ffff));
}

}  // namespace

// --- Owner interface --------------------------------------------------------------------------

void VirtioBlock::connect(GuestMemory& memory, VirtioTransportHooks hooks, BlockBackend& backend,
                          std::string_view serial) {
    {
        const LockGuard guard{transport_.lock()};
        backend_ = &backend;
        serial_ = {};  // shorter serials are NUL padded
        std::copy_n(serial.begin(), std::min(serial.size(), serial_.size()), serial_.begin());
        statistics_ = {};
    }
    transport_.connect(memory, hooks);
}

void VirtioBlock::disconnect() {
    {
        const LockGuard guard{transport_.lock()};
        backend_ = nullptr;
    }
    transport_.reset();
}

VirtioBlockStatistics VirtioBlock::statistics() {
    const LockGuard guard{transport_.lock()};
    return statistics_;
}

// --- Features and configuration space ---------------------------------------------------------

std::uint64_t VirtioBlock::device_features() const {
    const std::uint64_t features = kFeatureSegMax | kFeatureBlockSize | kFeatureFlush;
    return backend_ != nullptr && backend_->is_read_only() ? features | kFeatureReadOnly : features;
}

std::array<std::byte, VirtioBlock::kConfigSize> VirtioBlock::config() const {
    std::array<std::byte, kConfigSize> bytes{};  // size_max and geometry: their features are not offered
    store_le<std::uint64_t>(bytes, kConfigCapacity, backend_ == nullptr ? 0 : backend_->sector_count());
    store_le<std::uint32_t>(bytes, kConfigSegMax, kMaxDataSegments);
    store_le<std::uint32_t>(bytes, kConfigBlockSize, static_cast<std::uint32_t>(kSectorSize));
    return bytes;
}

void VirtioBlock::read_config(std::size_t offset, std::span<std::byte> bytes) {
    const auto image = config();
    std::fill(bytes.begin(), bytes.end(), std::byte{0});
    if (offset >= image.size()) return;
    std::copy_n(image.begin() + static_cast<std::ptrdiff_t>(offset), std::min(bytes.size(), image.size() - offset),
                bytes.begin());
}

// Every field is read-only for the driver (writeback needs CONFIG_WCE, not offered).
void VirtioBlock::write_config(std::size_t /*offset*/, std::span<const std::byte> /*bytes*/) {}

// --- Requests ---------------------------------------------------------------------------------

void VirtioBlock::on_notify(std::uint32_t queue) {
    if (queue == kRequestQueue) serve_requests();
}

void VirtioBlock::serve_requests() {
    if (backend_ == nullptr) return;  // disconnected: requests wait, the backend is gone
    Virtqueue* queue = transport_.live_queue(kRequestQueue);
    if (queue == nullptr) return;
    for (;;) {
        const auto popped = queue->pop(chain_);
        if (!popped || !*popped) return;  // empty, or a broken ring (reported by the transport)
        if (!queue->push_used(chain_.head(), serve(chain_))) return;
    }
}

// Runs one request and writes its status; returns the used length.
std::uint32_t VirtioBlock::serve(const DescriptorChain& chain) {
    // The status goes in the chain's last byte; a chain that ends with a
    // readable buffer has nowhere to put it, so the driver learns nothing.
    if (chain.writable_bytes() == 0) {
        ++statistics_.errors;
        return 0;
    }
    const Outcome outcome = execute(chain);
    if (outcome.status != kStatusOk) ++statistics_.errors;
    const std::array<std::byte, 1> status{std::byte{outcome.status}};
    const auto stored = chain.write(transport_.memory(), chain.writable_bytes() - 1, status);
    return used_length(outcome.data_written, stored && *stored == 1, chain.writable_bytes());
}

VirtioBlock::Outcome VirtioBlock::execute(const DescriptorChain& chain) {
    // One copy of the header: the guest may change it while the request runs.
    std::array<std::byte, kHeaderSize> header{};
    const auto copied = chain.read(transport_.memory(), 0, header);
    if (!copied || *copied != header.size()) return {};
    const std::uint64_t sector = *load_le<std::uint64_t>(header, 8);
    switch (*load_le<std::uint32_t>(header, 0)) {
        case kRequestIn: return read_sectors(chain, sector);
        case kRequestOut: return write_sectors(chain, sector);
        case kRequestFlush: return flush();
        case kRequestGetId: return get_id(chain);
        default: return Outcome{kStatusUnsupported, 0};
    }
}

// VIRTIO_BLK_T_IN: from the disk into the writable part, a bounce buffer at a time.
VirtioBlock::Outcome VirtioBlock::read_sectors(const DescriptorChain& chain, std::uint64_t sector) {
    const std::uint64_t length = chain.writable_bytes() - 1;  // all but the status byte
    Outcome outcome{};
    if (!is_inside_disk(sector, length)) return outcome;
    while (outcome.data_written < length) {
        const std::uint64_t done = outcome.data_written;
        const auto piece = std::span{bounce_}.first(std::min<std::uint64_t>(bounce_.size(), length - done));
        if (!backend_->read(sector + done / kSectorSize, piece)) return outcome;
        const auto copied = chain.write(transport_.memory(), done, piece);
        if (!copied) return outcome;
        outcome.data_written += *copied;
        if (*copied != piece.size()) return outcome;
    }
    ++statistics_.read_requests;
    statistics_.bytes_read += length;
    outcome.status = kStatusOk;
    return outcome;
}

// VIRTIO_BLK_T_OUT: the readable part after the header onto the disk.
VirtioBlock::Outcome VirtioBlock::write_sectors(const DescriptorChain& chain, std::uint64_t sector) {
    const std::uint64_t length = chain.readable_bytes() - kHeaderSize;  // execute() read a whole header
    if (backend_->is_read_only() || !is_inside_disk(sector, length)) return {};
    if (!copy_to_disk(chain, sector, length)) return {};
    // A driver that did not take FLUSH assumes there is no write cache.
    if ((transport_.negotiated_features() & kFeatureFlush) == 0 && !backend_->flush()) return {};
    ++statistics_.write_requests;
    statistics_.bytes_written += length;
    return Outcome{kStatusOk, 0};
}

Status VirtioBlock::copy_to_disk(const DescriptorChain& chain, std::uint64_t sector, std::uint64_t length) {
    for (std::uint64_t done = 0; done < length;) {
        const auto piece = std::span{bounce_}.first(std::min<std::uint64_t>(bounce_.size(), length - done));
        const auto copied = chain.read(transport_.memory(), kHeaderSize + done, piece);
        if (!copied) return copied.error();
        if (*copied != piece.size()) return Error{"write request shorter than its data"};
        if (const Status written = backend_->write(sector + done / kSectorSize, piece); !written) return written;
        done += piece.size();
    }
    return {};
}

// VIRTIO_BLK_T_FLUSH; accepted on read-only disks too (firmware sends it there).
VirtioBlock::Outcome VirtioBlock::flush() {
    if (!backend_->flush()) return {};
    ++statistics_.flushes;
    return Outcome{kStatusOk, 0};
}

// VIRTIO_BLK_T_GET_ID: the serial, NUL padded to 20 bytes, as much as fits.
VirtioBlock::Outcome VirtioBlock::get_id(const DescriptorChain& chain) {
    const std::uint64_t room = chain.writable_bytes() - 1;
    const auto id = std::as_bytes(std::span{serial_}).first(std::min<std::uint64_t>(room, serial_.size()));
    const auto copied = chain.write(transport_.memory(), 0, id);
    if (!copied) return {};
    return Outcome{kStatusOk, *copied};
}

// Whole sectors, all inside the disk; compared in sectors so nothing wraps.
bool VirtioBlock::is_inside_disk(std::uint64_t sector, std::uint64_t length) const {
    if (length % kSectorSize != 0) return false;
    const std::uint64_t capacity = backend_->sector_count();
    return sector <= capacity && length / kSectorSize <= capacity - sector;
}

}  // namespace lamina
