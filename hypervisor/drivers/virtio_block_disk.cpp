#include "drivers/virtio_block_disk.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include "arch/aarch64/platform_cpu.hpp"
#include "core/console.hpp"

namespace lamina::drivers {
namespace {

// Device-type features (virtio 1.2, 5.2.3) Lamina takes when offered.
constexpr std::uint64_t kFeatureSizeMax = std::uint64_t{1} << 1;
constexpr std::uint64_t kFeatureSegmentMax = std::uint64_t{1} << 2;
constexpr std::uint64_t kFeatureReadOnly = std::uint64_t{1} << 5;
constexpr std::uint64_t kFeatureBlockSize = std::uint64_t{1} << 6;
constexpr std::uint64_t kFeatureFlush = std::uint64_t{1} << 9;

// struct virtio_blk_config
constexpr std::size_t kConfigCapacity = 0;
constexpr std::size_t kConfigSizeMax = 8;
constexpr std::size_t kConfigBlockSize = 20;

// struct virtio_blk_req: the header (type, reserved, sector), the data, the
// status byte. The status byte sits half a page away from the header so
// that invalidating it never touches the header's cache line.
constexpr std::size_t kHeaderSize = 16;
constexpr std::size_t kStatusOffset = kPageSize / 2;
constexpr std::uint8_t kStatusOk = 0;
constexpr std::uint8_t kStatusIoError = 1;
constexpr std::uint8_t kStatusUnsupported = 2;
constexpr std::uint8_t kStatusPending = 0xff;  // not a value the device writes

// One request of three descriptors at a time.
constexpr std::uint16_t kQueueSize = 4;
constexpr std::uint16_t kDescriptorsPerRequest = 3;

}  // namespace

Status VirtioBlockDisk::start(const VirtioMmioSlot& slot) {
    device_ = VirtioMmioDevice{slot};
    const auto features = device_.begin_init(kFeatureSizeMax | kFeatureSegmentMax | kFeatureReadOnly |
                                             kFeatureBlockSize | kFeatureFlush);
    if (!features) return features.error();
    const auto abandon = [&](Error error) {
        device_.mark_failed();
        return error;
    };
    if (const Status status = device_.setup_queue(kRequestQueue, kQueueSize, queue_); !status)
        return abandon(status.error());
    if (queue_.size() < kDescriptorsPerRequest) return abandon(Error{"disk's request queue is too small"});
    const auto request = allocate_dma(kPageSize, device_.dma());
    if (!request) return abandon(request.error());
    const auto bounce = allocate_dma(kBounceBytes, device_.dma());
    if (!bounce) return abandon(bounce.error());
    request_ = *request;
    bounce_ = *bounce;
    queue_.suppress_interrupts(true);  // completions are polled

    sector_count_ = device_.config64(kConfigCapacity);
    if (device_.has_feature(kFeatureSizeMax)) {
        // The largest segment the device takes; Lamina uses one data segment per request.
        const std::uint32_t size_max = device_.config32(kConfigSizeMax);
        if (size_max >= kSectorSize) max_transfer_ = std::min<std::size_t>(kBounceBytes, align_down(size_max, kSectorSize));
    }
    if (device_.has_feature(kFeatureBlockSize)) {
        const std::uint32_t block_size = device_.config32(kConfigBlockSize);
        if (block_size >= kSectorSize && (block_size & (block_size - 1)) == 0) block_size_ = block_size;
    }
    read_only_ = device_.has_feature(kFeatureReadOnly);
    has_flush_ = device_.has_feature(kFeatureFlush);
    device_.finish_init();
    started_ = true;
    return {};
}

Error VirtioBlockDisk::fail(Error error) {
    if (!failed_.exchange(true, std::memory_order_relaxed)) {
        log::error("board: disk failed: {}; every later request fails", error.message);
        device_.mark_failed();
    }
    return error;
}

Status VirtioBlockDisk::check_range(std::uint64_t sector, std::size_t bytes) const {
    if (!started_) return Error{"disk is not started"};
    if (failed_.load(std::memory_order_relaxed)) return Error{"disk has failed"};
    if (bytes % kSectorSize != 0) return Error{"disk transfer is not a whole number of sectors"};
    const std::uint64_t count = bytes / kSectorSize;
    if (sector > sector_count_ || count > sector_count_ - sector) return Error{"disk transfer lies outside the disk"};
    return {};
}

Status VirtioBlockDisk::read(std::uint64_t sector, std::span<std::byte> bytes) {
    const LockGuard guard{lock_};
    if (const Status status = check_range(sector, bytes.size()); !status) return status;
    for (std::size_t done = 0; done < bytes.size();) {
        const std::size_t piece = std::min(max_transfer_, bytes.size() - done);
        if (const Status status = submit(RequestType::read, sector + done / kSectorSize, piece); !status)
            return status;
        std::copy_n(bounce_.data, piece, bytes.data() + done);
        done += piece;
    }
    return {};
}

Status VirtioBlockDisk::write(std::uint64_t sector, std::span<const std::byte> bytes) {
    const LockGuard guard{lock_};
    if (const Status status = check_range(sector, bytes.size()); !status) return status;
    if (read_only_) return Error{"disk is read-only"};
    for (std::size_t done = 0; done < bytes.size();) {
        const std::size_t piece = std::min(max_transfer_, bytes.size() - done);
        std::copy_n(bytes.data() + done, piece, bounce_.data);
        if (const Status status = submit(RequestType::write, sector + done / kSectorSize, piece); !status)
            return status;
        done += piece;
    }
    return {};
}

Status VirtioBlockDisk::flush() {
    const LockGuard guard{lock_};
    if (const Status status = check_range(0, 0); !status) return status;
    if (!has_flush_) return {};  // no write cache: every completed write is already stable
    return submit(RequestType::flush, 0, 0);
}

Status VirtioBlockDisk::submit(RequestType type, std::uint64_t sector, std::size_t length) {
    const DeviceDma dma = device_.dma();
    const auto type_value = static_cast<std::uint32_t>(type);
    const std::uint32_t reserved = 0;
    std::memcpy(request_.at(0), &type_value, 4);
    std::memcpy(request_.at(4), &reserved, 4);
    std::memcpy(request_.at(8), &sector, 8);
    *request_.at(kStatusOffset) = std::byte{kStatusPending};
    dma.to_device(request_.at(0), kHeaderSize);
    dma.to_device(request_.at(kStatusOffset), 1);
    if (type == RequestType::write) dma.to_device(bounce_.data, length);
    if (type == RequestType::read) dma.from_device(bounce_.data, length);

    std::array<DmaBuffer, kDescriptorsPerRequest> chain{};
    std::size_t count = 0;
    chain[count++] = DmaBuffer{request_.device_address(0), kHeaderSize, false};
    if (length != 0)
        chain[count++] = DmaBuffer{bounce_.device_address(), static_cast<std::uint32_t>(length), type == RequestType::read};
    chain[count++] = DmaBuffer{request_.device_address(kStatusOffset), 1, true};
    const std::uint64_t token = next_token_++;
    if (const Status status = queue_.add({chain.data(), count}, token); !status) return fail(status.error());
    if (queue_.publish()) device_.notify(kRequestQueue);
    if (const Status status = wait_for_completion(token); !status) return status;

    dma.from_device(request_.at(kStatusOffset), 1);
    if (type == RequestType::read) dma.from_device(bounce_.data, length);
    switch (static_cast<std::uint8_t>(*request_.at(kStatusOffset))) {
        case kStatusOk: return {};
        case kStatusIoError: return Error{"disk reported an I/O error"};
        case kStatusUnsupported: return Error{"disk does not support the request"};
        default: return fail(Error{"disk completed a request without a valid status"});
    }
}

// Polls the used ring: requests are synchronous, and the lock holder is the
// only one waiting.
Status VirtioBlockDisk::wait_for_completion(std::uint64_t token) {
    const std::uint64_t deadline = arch::counter_now() + arch::counter_frequency() * kRequestTimeoutMs / 1000;
    for (;;) {
        const auto used = queue_.reap();
        if (!used) return fail(used.error());
        if (used->has_value()) {
            if ((*used)->token != token) return fail(Error{"disk completed a request that was not pending"});
            return {};
        }
        if (arch::counter_now() > deadline) return fail(Error{"disk did not complete a request within 2 seconds"});
        relax_while_spinning();
    }
}

}  // namespace lamina::drivers
