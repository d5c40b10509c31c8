#include "virtual_devices/virtio_mmio.hpp"

#include <algorithm>

namespace lamina {
namespace {

namespace reg = virtio_mmio_register;

// Status bits the driver sets; DEVICE_NEEDS_RESET belongs to the device.
constexpr std::uint32_t kDriverStatusBits = kVirtioStatusAcknowledge | kVirtioStatusDriver | kVirtioStatusDriverOk |
                                            kVirtioStatusFeaturesOk | kVirtioStatusFailed;

constexpr std::uint64_t kTransportFeatures =
    kVirtioFeatureVersion1 | kVirtioFeatureIndirectDescriptors | kVirtioFeatureEventIndex;
// Bits a device type may offer: 0-23 and 50-63 (24-49 belong to the
// transport and future extensions).
constexpr std::uint64_t kDeviceTypeFeatureMask = ((std::uint64_t{1} << 24) - 1) | ~((std::uint64_t{1} << 50) - 1);

// Replaces the low or high half of a 64-bit queue address.
constexpr std::uint64_t with_half(std::uint64_t address, std::uint32_t value, bool high) {
    return high ? (address & 0xffff'ffffull) | (std::uint64_t{value} << 32)
                : (address & ~0xffff'ffffull) | value;
}

// The largest power of two not above `value` (0 for 0).
constexpr std::uint32_t power_of_two_floor(std::uint32_t value) {
    std::uint32_t result = value == 0 ? 0 : 1;
    while (result != 0 && result <= value / 2) result *= 2;
    return result;
}

}  // namespace

// --- Owner interface --------------------------------------------------------------------------

void VirtioMmioTransport::connect(GuestMemory& memory, VirtioTransportHooks hooks) {
    const LockGuard guard{lock_};
    memory_ = &memory;
    hooks_ = hooks;
    reset_locked();
}

void VirtioMmioTransport::reset() {
    const LockGuard guard{lock_};
    reset_locked();
}

void VirtioMmioTransport::reset_locked() {
    model_.reset();
    for (Virtqueue& queue : queues_) queue.reset();
    queue_setup_ = {};
    status_ = 0;
    interrupt_status_ = 0;
    device_features_select_ = 0;
    driver_features_select_ = 0;
    driver_features_ = 0;
    driver_wants_unknown_features_ = false;
    negotiated_features_ = 0;
    queue_select_ = 0;
    failed_ = false;
    failure_ = Error{};
    update_interrupt_line();
}

bool VirtioMmioTransport::access(MmioAccess& access) {
    if (access.offset >= kVirtioMmioWindow) return false;
    const LockGuard guard{lock_};
    return access.offset < reg::kConfig ? register_access(access) : config_access(access);
}

// --- Register window --------------------------------------------------------------------------

bool VirtioMmioTransport::register_access(MmioAccess& access) {
    // The driver must use 32-bit aligned accesses here (4.2.2.2).
    if (access.size != 4 || (access.offset & 3) != 0) return false;
    if (access.is_write) {
        write_register(access.offset, static_cast<std::uint32_t>(access.value));
    } else {
        access.value = read_register(access.offset);
    }
    return true;
}

// Configuration space: naturally aligned 1, 2, 4 or 8-byte accesses; bytes
// beyond what the model defines read as zero and ignore writes.
bool VirtioMmioTransport::config_access(MmioAccess& access) {
    const unsigned size = access.size;
    if (size != 1 && size != 2 && size != 4 && size != 8) return false;
    const std::uint64_t offset = access.offset - reg::kConfig;
    if (offset % size != 0) return false;
    const std::size_t config_size = model_.config_size();
    const std::size_t defined = offset >= config_size ? 0 : std::min<std::size_t>(size, config_size - offset);
    std::array<std::byte, 8> bytes{};
    const auto defined_bytes = std::span{bytes}.first(defined);
    if (access.is_write) {
        for (unsigned i = 0; i < size; ++i) bytes[i] = static_cast<std::byte>(access.value >> (8 * i));
        if (defined != 0) model_.write_config(offset, defined_bytes);
        return true;
    }
    if (defined != 0) model_.read_config(offset, defined_bytes);
    std::uint64_t value = 0;
    for (unsigned i = 0; i < size; ++i) value |= std::uint64_t{std::to_integer<std::uint8_t>(bytes[i])} << (8 * i);
    access.value = value;
    return true;
}

std::uint32_t VirtioMmioTransport::read_register(std::uint64_t offset) {
    switch (offset) {
        case reg::kMagicValue: return kVirtioMmioMagic;
        case reg::kVersion: return kVirtioMmioModernVersion;
        case reg::kDeviceId: return model_.device_id();
        case reg::kVendorId: return kVirtioVendorId;
        case reg::kDeviceFeatures:
            if (device_features_select_ > 1) return 0;
            return static_cast<std::uint32_t>(offered_features() >> (32 * device_features_select_));
        case reg::kQueueSizeMax: return selected_queue_max_size();
        case reg::kQueueReady: {
            const QueueSetup* setup = selected_queue_setup();
            return setup != nullptr && setup->ready ? 1 : 0;
        }
        case reg::kInterruptStatus: return interrupt_status_;
        case reg::kStatus: return status_;
        case reg::kConfigGeneration: return config_generation_;
        default:
            // No shared memory regions: their length and base read as all ones.
            if (offset >= reg::kSharedMemoryLengthLow && offset <= reg::kSharedMemoryBaseHigh) return 0xffff'ffff;
            return 0;  // write-only and reserved registers
    }
}

void VirtioMmioTransport::write_register(std::uint64_t offset, std::uint32_t value) {
    switch (offset) {
        case reg::kDeviceFeaturesSelect: device_features_select_ = value; return;
        case reg::kDriverFeatures: write_driver_features(value); return;
        case reg::kDriverFeaturesSelect: driver_features_select_ = value; return;
        case reg::kQueueSelect: queue_select_ = value; return;
        case reg::kQueueSize:
        case reg::kQueueDescriptorLow:
        case reg::kQueueDescriptorHigh:
        case reg::kQueueDriverLow:
        case reg::kQueueDriverHigh:
        case reg::kQueueDeviceLow:
        case reg::kQueueDeviceHigh: write_queue_setup(offset, value); return;
        case reg::kQueueReady: write_queue_ready(value); return;
        case reg::kQueueNotify: notify(value); return;
        case reg::kInterruptAcknowledge:
            interrupt_status_ &= ~value;
            update_interrupt_line();
            return;
        case reg::kStatus: write_status(value); return;
        default: return;  // read-only and reserved registers ignore writes
    }
}

// --- Features and status ----------------------------------------------------------------------

std::uint64_t VirtioMmioTransport::offered_features() const {
    return kTransportFeatures | (model_.device_features() & kDeviceTypeFeatureMask);
}

void VirtioMmioTransport::write_driver_features(std::uint32_t value) {
    // Once FEATURES_OK is accepted the negotiated set is final.
    if ((status_ & kVirtioStatusFeaturesOk) != 0) return;
    if (driver_features_select_ > 1) {
        driver_wants_unknown_features_ = driver_wants_unknown_features_ || value != 0;
        return;
    }
    driver_features_ = with_half(driver_features_, value, driver_features_select_ == 1);
}

bool VirtioMmioTransport::features_acceptable() {
    if (driver_wants_unknown_features_) return false;
    if ((driver_features_ & ~offered_features()) != 0) return false;
    if ((driver_features_ & kVirtioFeatureVersion1) == 0) return false;  // no legacy drivers
    return model_.accept_features(driver_features_);
}

void VirtioMmioTransport::write_status(std::uint32_t value) {
    if (value == 0) {
        reset_locked();
        return;
    }
    const std::uint32_t current = status_ & kDriverStatusBits;
    const std::uint32_t requested = value & kDriverStatusBits;
    // Only a reset clears status bits (3.1.1).
    if ((requested & current) != current) {
        fail(Error{"driver cleared a device status bit without a reset"});
        return;
    }
    std::uint32_t added = requested & ~current;
    if ((added & kVirtioStatusFeaturesOk) != 0) {
        constexpr std::uint32_t kIntroduced = kVirtioStatusAcknowledge | kVirtioStatusDriver;
        if ((requested & kIntroduced) != kIntroduced) {
            fail(Error{"FEATURES_OK set before ACKNOWLEDGE and DRIVER"});
            added &= ~kVirtioStatusFeaturesOk;
        } else if (!features_acceptable()) {
            added &= ~kVirtioStatusFeaturesOk;  // refused: the driver reads FEATURES_OK back clear
        } else {
            negotiated_features_ = driver_features_;
        }
    }
    if ((added & kVirtioStatusDriverOk) != 0 && ((current | added) & kVirtioStatusFeaturesOk) == 0) {
        fail(Error{"DRIVER_OK set without FEATURES_OK"});
        added &= ~kVirtioStatusDriverOk;
    }
    status_ |= added;
    // Buffers offered before DRIVER_OK had their notifications ignored.
    if ((added & kVirtioStatusDriverOk) != 0) {
        for (std::uint32_t queue = 0; queue < kVirtioMaxQueues; ++queue) notify(queue);
    }
}

bool VirtioMmioTransport::is_live() const {
    return (status_ & kVirtioStatusDriverOk) != 0 &&
           (status_ & (kVirtioStatusDeviceNeedsReset | kVirtioStatusFailed)) == 0;
}

void VirtioMmioTransport::fail(Error reason) {
    if (!failed_) {
        failed_ = true;
        failure_ = reason;
        if (hooks_.device_failed != nullptr) hooks_.device_failed(hooks_.context, reason);
    }
    if ((status_ & kVirtioStatusDeviceNeedsReset) != 0) return;
    status_ |= kVirtioStatusDeviceNeedsReset;
    // A driver past DRIVER_OK learns of it through a configuration change (2.1.2).
    if ((status_ & kVirtioStatusDriverOk) != 0) raise_interrupt(kVirtioInterruptConfigChange);
}

void VirtioMmioTransport::config_changed() {
    ++config_generation_;
    if ((status_ & kVirtioStatusDriverOk) != 0) raise_interrupt(kVirtioInterruptConfigChange);
}

// --- Queues -----------------------------------------------------------------------------------

VirtioMmioTransport::QueueSetup* VirtioMmioTransport::selected_queue_setup() {
    const std::uint32_t count = std::min(model_.queue_count(), kVirtioMaxQueues);
    return queue_select_ < count ? &queue_setup_[queue_select_] : nullptr;
}

std::uint32_t VirtioMmioTransport::selected_queue_max_size() const {
    const std::uint32_t count = std::min(model_.queue_count(), kVirtioMaxQueues);
    if (queue_select_ >= count) return 0;  // no such queue
    const std::uint32_t model_max = model_.queue_max_size(queue_select_);
    return power_of_two_floor(std::min<std::uint32_t>(model_max, kVirtqueueMaxSize));
}

void VirtioMmioTransport::write_queue_setup(std::uint64_t offset, std::uint32_t value) {
    QueueSetup* setup = selected_queue_setup();
    if (setup == nullptr) return;  // no such queue: nothing to configure
    // The driver must not touch these while the queue is enabled (4.2.2.2).
    if (setup->ready) {
        fail(Error{"queue registers written while the queue is enabled"});
        return;
    }
    const bool high = (offset & 4) != 0;
    switch (offset) {
        case reg::kQueueSize: setup->size = value; return;
        case reg::kQueueDescriptorLow:
        case reg::kQueueDescriptorHigh: setup->descriptors = with_half(setup->descriptors, value, high); return;
        case reg::kQueueDriverLow:
        case reg::kQueueDriverHigh: setup->driver_area = with_half(setup->driver_area, value, high); return;
        case reg::kQueueDeviceLow:
        case reg::kQueueDeviceHigh: setup->device_area = with_half(setup->device_area, value, high); return;
        default: return;
    }
}

void VirtioMmioTransport::write_queue_ready(std::uint32_t value) {
    QueueSetup* setup = selected_queue_setup();
    if (setup == nullptr) return;
    Virtqueue& queue = queues_[queue_select_];
    if ((value & 1) == 0) {  // the driver stops using the queue
        queue.reset();
        setup->ready = false;
        return;
    }
    if (setup->ready) return;
    if ((status_ & kVirtioStatusFeaturesOk) == 0) {
        fail(Error{"queue enabled before FEATURES_OK"});
        return;
    }
    if (memory_ == nullptr) {
        fail(Error{"virtio device has no guest memory connected"});
        return;
    }
    const std::uint32_t max_size = selected_queue_max_size();
    if (setup->size > max_size) {
        fail(Error{"QueueNum exceeds QueueNumMax"});
        return;
    }
    const VirtqueueLayout layout{static_cast<std::uint16_t>(setup->size), GuestPhysAddr{setup->descriptors},
                                 GuestPhysAddr{setup->driver_area}, GuestPhysAddr{setup->device_area}};
    const VirtqueueFeatures features{(negotiated_features_ & kVirtioFeatureIndirectDescriptors) != 0,
                                     (negotiated_features_ & kVirtioFeatureEventIndex) != 0};
    if (const Status configured = queue.configure(*memory_, layout, features, static_cast<std::uint16_t>(max_size));
        !configured) {
        fail(configured.error());
        return;
    }
    setup->ready = true;
}

Virtqueue* VirtioMmioTransport::live_queue(std::uint32_t queue) {
    if (queue >= std::min(model_.queue_count(), kVirtioMaxQueues) || !is_live()) return nullptr;
    Virtqueue& candidate = queues_[queue];
    if (!queue_setup_[queue].ready || !candidate.is_enabled() || candidate.is_broken()) return nullptr;
    return &candidate;
}

void VirtioMmioTransport::notify(std::uint32_t queue) {
    // Notifications for queues that are not live (or do not exist) are dropped.
    if (live_queue(queue) == nullptr) return;
    model_.on_notify(queue);
    for (std::uint32_t index = 0; index < kVirtioMaxQueues; ++index) finish_queue_work(index);
}

void VirtioMmioTransport::finish_queue_work(std::uint32_t queue) {
    if (queue >= kVirtioMaxQueues) return;
    Virtqueue& work = queues_[queue];
    if (!work.is_enabled()) return;
    if (work.is_broken()) {
        fail(work.failure());
        return;
    }
    if (work.needs_notification()) raise_interrupt(kVirtioInterruptUsedBuffer);
}

// --- Interrupt --------------------------------------------------------------------------------

void VirtioMmioTransport::raise_interrupt(std::uint32_t bits) {
    interrupt_status_ |= bits;
    update_interrupt_line();
}

void VirtioMmioTransport::update_interrupt_line() {
    if (hooks_.set_interrupt_level != nullptr) hooks_.set_interrupt_level(hooks_.context, interrupt_status_ != 0);
}

}  // namespace lamina
