#include "virtual_devices/virtio_mmio.hpp"

#include <algorithm>

namespace lamina {
namespace {

// Register offsets (virtio 1.2, 4.2.2).
namespace reg {
constexpr std::uint64_t magic_value = 0x000;
constexpr std::uint64_t version = 0x004;
constexpr std::uint64_t device_id = 0x008;
constexpr std::uint64_t vendor_id = 0x00c;
constexpr std::uint64_t device_features = 0x010;
constexpr std::uint64_t device_features_select = 0x014;
constexpr std::uint64_t driver_features = 0x020;
constexpr std::uint64_t driver_features_select = 0x024;
constexpr std::uint64_t queue_select = 0x030;
constexpr std::uint64_t queue_size_max = 0x034;
constexpr std::uint64_t queue_size = 0x038;
constexpr std::uint64_t queue_ready = 0x044;
constexpr std::uint64_t queue_notify = 0x050;
constexpr std::uint64_t interrupt_status = 0x060;
constexpr std::uint64_t interrupt_ack = 0x064;
constexpr std::uint64_t status = 0x070;
constexpr std::uint64_t queue_descriptors_low = 0x080;
constexpr std::uint64_t queue_descriptors_high = 0x084;
constexpr std::uint64_t queue_driver_low = 0x090;
constexpr std::uint64_t queue_driver_high = 0x094;
constexpr std::uint64_t queue_device_low = 0x0a0;
constexpr std::uint64_t queue_device_high = 0x0a4;
constexpr std::uint64_t shared_memory_length_low = 0x0b0;
constexpr std::uint64_t shared_memory_base_high = 0x0bc;
constexpr std::uint64_t config_generation = 0x0fc;
constexpr std::uint64_t config = 0x100;
}  // namespace reg

constexpr std::uint32_t kMagicValue = 0x7472'6976;  // "virt"
constexpr std::uint32_t kVersion = 2;

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
    return access.offset < reg::config ? register_access(access) : config_access(access);
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
    const std::uint64_t offset = access.offset - reg::config;
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
        case reg::magic_value: return kMagicValue;
        case reg::version: return kVersion;
        case reg::device_id: return model_.device_id();
        case reg::vendor_id: return kVirtioVendorId;
        case reg::device_features:
            if (device_features_select_ > 1) return 0;
            return static_cast<std::uint32_t>(offered_features() >> (32 * device_features_select_));
        case reg::queue_size_max: return selected_queue_max_size();
        case reg::queue_ready: {
            const QueueSetup* setup = selected_queue_setup();
            return setup != nullptr && setup->ready ? 1 : 0;
        }
        case reg::interrupt_status: return interrupt_status_;
        case reg::status: return status_;
        case reg::config_generation: return config_generation_;
        default:
            // No shared memory regions: their length and base read as all ones.
            if (offset >= reg::shared_memory_length_low && offset <= reg::shared_memory_base_high) return 0xffff'ffff;
            return 0;  // write-only and reserved registers
    }
}

void VirtioMmioTransport::write_register(std::uint64_t offset, std::uint32_t value) {
    switch (offset) {
        case reg::device_features_select: device_features_select_ = value; return;
        case reg::driver_features: write_driver_features(value); return;
        case reg::driver_features_select: driver_features_select_ = value; return;
        case reg::queue_select: queue_select_ = value; return;
        case reg::queue_size:
        case reg::queue_descriptors_low:
        case reg::queue_descriptors_high:
        case reg::queue_driver_low:
        case reg::queue_driver_high:
        case reg::queue_device_low:
        case reg::queue_device_high: write_queue_setup(offset, value); return;
        case reg::queue_ready: write_queue_ready(value); return;
        case reg::queue_notify: notify(value); return;
        case reg::interrupt_ack:
            interrupt_status_ &= ~value;
            update_interrupt_line();
            return;
        case reg::status: write_status(value); return;
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
        case reg::queue_size: setup->size = value; return;
        case reg::queue_descriptors_low:
        case reg::queue_descriptors_high: setup->descriptors = with_half(setup->descriptors, value, high); return;
        case reg::queue_driver_low:
        case reg::queue_driver_high: setup->driver_area = with_half(setup->driver_area, value, high); return;
        case reg::queue_device_low:
        case reg::queue_device_high: setup->device_area = with_half(setup->device_area, value, high); return;
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
