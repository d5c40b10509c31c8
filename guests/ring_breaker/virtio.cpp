#include "virtio.hpp"

#include "arch.hpp"

namespace ring_breaker {
namespace {

using guest::arch::memory_barrier;

// Register offsets (virtio 1.2, 4.2.2).
namespace reg {
constexpr std::uint32_t magic_value = 0x000;
constexpr std::uint32_t version = 0x004;
constexpr std::uint32_t device_id = 0x008;
constexpr std::uint32_t device_features = 0x010;
constexpr std::uint32_t device_features_select = 0x014;
constexpr std::uint32_t driver_features = 0x020;
constexpr std::uint32_t driver_features_select = 0x024;
constexpr std::uint32_t queue_select = 0x030;
constexpr std::uint32_t queue_size_max = 0x034;
constexpr std::uint32_t queue_size = 0x038;
constexpr std::uint32_t queue_ready = 0x044;
constexpr std::uint32_t queue_notify = 0x050;
constexpr std::uint32_t interrupt_status = 0x060;
constexpr std::uint32_t interrupt_ack = 0x064;
constexpr std::uint32_t status = 0x070;
constexpr std::uint32_t queue_descriptors_low = 0x080;
constexpr std::uint32_t queue_descriptors_high = 0x084;
constexpr std::uint32_t queue_driver_low = 0x090;
constexpr std::uint32_t queue_driver_high = 0x094;
constexpr std::uint32_t queue_device_low = 0x0a0;
constexpr std::uint32_t queue_device_high = 0x0a4;
constexpr std::uint32_t config_generation = 0x0fc;
constexpr std::uint32_t config = 0x100;
}  // namespace reg

constexpr std::uint32_t low(std::uint64_t value) { return static_cast<std::uint32_t>(value); }
constexpr std::uint32_t high(std::uint64_t value) { return static_cast<std::uint32_t>(value >> 32); }

// The rings are written and read through volatile references: the device
// changes the used ring behind the compiler's back, and the order of the
// driver's stores matters.
template <typename T>
[[nodiscard]] volatile T& shared(T& object) {
    return const_cast<volatile T&>(object);
}

// Smallest data cache line of the CPU (CTR_EL0.DminLine, log2 of words).
[[nodiscard]] std::size_t data_cache_line_bytes() {
    std::uint64_t ctr;
    asm volatile("mrs %0, ctr_el0" : "=r"(ctr));
    return std::size_t{4} << ((ctr >> 16) & 0xf);
}

}  // namespace

// --- Cache maintenance -------------------------------------------------------

// DC CIVAC works by address whatever the memory type, so it reaches the
// lines Lamina's cacheable alias may hold: dirty ones (the used ring, data
// it wrote) go to RAM, stale clean ones (a ring it read before the guest
// changed it) go away. Only Lamina writes through the cache, and only while
// it handles a notification, so no line can hold a stale dirty copy of what
// the guest wrote after the previous sync. (Under QEMU, which does not model
// caches, this is free insurance for real hardware.)
void dma_sync(const void* dma_memory, std::size_t bytes) {
    const std::size_t line = data_cache_line_bytes();
    const auto start = reinterpret_cast<std::uintptr_t>(dma_memory) & ~(line - 1);
    const auto end = reinterpret_cast<std::uintptr_t>(dma_memory) + bytes;
    asm volatile("dsb sy" ::: "memory");
    for (std::uintptr_t address = start; address < end; address += line)
        asm volatile("dc civac, %0" ::"r"(address) : "memory");
    asm volatile("dsb sy" ::: "memory");
}

// --- Queue -------------------------------------------------------------------

void Queue::clear() {
    for (auto& descriptor : memory_.descriptors) {
        auto& d = shared(descriptor);
        d.address = 0;
        d.length = 0;
        d.flags = 0;
        d.next = 0;
    }
    auto& available = shared(memory_.available);
    available.flags = 0;
    available.index = 0;
    for (auto& entry : available.ring) entry = 0;
    available.used_event = 0;
    auto& used = shared(memory_.used);
    used.flags = 0;
    used.index = 0;
    for (auto& element : used.ring) {
        element.id = 0;
        element.length = 0;
    }
    used.available_event = 0;
    memory_barrier();
}

void Queue::set_descriptor(std::uint16_t index, std::uint64_t address, std::uint32_t length, std::uint16_t flags,
                           std::uint16_t next) {
    auto& d = shared(memory_.descriptors[index % kQueueSize]);
    d.address = address;
    d.length = length;
    d.flags = flags;
    d.next = next;
}

void Queue::set_ring_entry(std::uint16_t slot, std::uint16_t head) {
    shared(memory_.available).ring[slot % kQueueSize] = head;
}

void Queue::offer(std::uint16_t head) {
    const std::uint16_t index = available_index();
    set_ring_entry(index, head);
    publish_available_index(static_cast<std::uint16_t>(index + 1));
}

void Queue::publish_available_index(std::uint16_t index) {
    memory_barrier();  // descriptors and ring entries before the index that offers them
    shared(memory_.available).index = index;
    memory_barrier();
}

std::uint16_t Queue::available_index() const { return shared(memory_.available).index; }

std::uint16_t Queue::used_index() const {
    const std::uint16_t index = shared(memory_.used).index;
    memory_barrier();  // the index before the elements it covers
    return index;
}

UsedElement Queue::used_element(std::uint16_t position) const {
    const auto& element = shared(memory_.used).ring[position % kQueueSize];
    return UsedElement{element.id, element.length};
}

std::uintptr_t Queue::descriptor_area() const { return reinterpret_cast<std::uintptr_t>(&memory_.descriptors[0]); }
std::uintptr_t Queue::driver_area() const { return reinterpret_cast<std::uintptr_t>(&memory_.available); }
std::uintptr_t Queue::device_area() const { return reinterpret_cast<std::uintptr_t>(&memory_.used); }

// --- VirtioDevice ------------------------------------------------------------

std::uint32_t VirtioDevice::read(std::uint32_t offset) const { return guest::arch::read32(base_ + offset); }

void VirtioDevice::write(std::uint32_t offset, std::uint32_t value) const {
    guest::arch::write32(base_ + offset, value);
}

std::uint32_t VirtioDevice::magic() const { return read(reg::magic_value); }
std::uint32_t VirtioDevice::version() const { return read(reg::version); }
std::uint32_t VirtioDevice::device_id() const { return read(reg::device_id); }
std::uint32_t VirtioDevice::status() const { return read(reg::status); }
std::uint32_t VirtioDevice::interrupt_status() const { return read(reg::interrupt_status); }

void VirtioDevice::acknowledge_interrupts(std::uint32_t bits) const { write(reg::interrupt_ack, bits); }

void VirtioDevice::reset() const { write(reg::status, 0); }

std::uint64_t VirtioDevice::offered_features() const {
    write(reg::device_features_select, 0);
    const std::uint64_t low_half = read(reg::device_features);
    write(reg::device_features_select, 1);
    const std::uint64_t high_half = read(reg::device_features);
    return low_half | (high_half << 32);
}

std::string_view VirtioDevice::negotiate(std::uint64_t features) const {
    reset();
    if (status() != 0) return "status not 0 after a reset";
    write(reg::status, kStatusAcknowledge);
    write(reg::status, kStatusAcknowledge | kStatusDriver);
    if ((offered_features() & features) != features) return "features not offered";
    write(reg::driver_features_select, 0);
    write(reg::driver_features, low(features));
    write(reg::driver_features_select, 1);
    write(reg::driver_features, high(features));
    write(reg::status, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk);
    if ((status() & kStatusFeaturesOk) == 0) return "FEATURES_OK refused";
    return {};
}

std::uint32_t VirtioDevice::queue_max_size(std::uint32_t queue) const {
    write(reg::queue_select, queue);
    return read(reg::queue_size_max);
}

bool VirtioDevice::enable_queue(std::uint32_t queue, std::uint16_t size, std::uintptr_t descriptors,
                                std::uintptr_t driver_area, std::uintptr_t device_area) const {
    write(reg::queue_select, queue);
    write(reg::queue_size, size);
    write(reg::queue_descriptors_low, low(descriptors));
    write(reg::queue_descriptors_high, high(descriptors));
    write(reg::queue_driver_low, low(driver_area));
    write(reg::queue_driver_high, high(driver_area));
    write(reg::queue_device_low, low(device_area));
    write(reg::queue_device_high, high(device_area));
    write(reg::queue_ready, 1);
    return read(reg::queue_ready) == 1;
}

void VirtioDevice::move_descriptor_table(std::uint32_t queue, std::uintptr_t descriptors) const {
    write(reg::queue_select, queue);
    write(reg::queue_descriptors_low, low(descriptors));
    write(reg::queue_descriptors_high, high(descriptors));
}

void VirtioDevice::set_driver_ok() const { write(reg::status, status() | kStatusDriverOk); }

void VirtioDevice::notify(std::uint32_t queue) const {
    memory_barrier();  // the rings before the doorbell
    write(reg::queue_notify, queue);
}

std::uint8_t VirtioDevice::config8(std::uint32_t offset) const {
    return guest::arch::read8(base_ + reg::config + offset);
}

std::uint32_t VirtioDevice::config32(std::uint32_t offset) const { return read(reg::config + offset); }

std::uint64_t VirtioDevice::config64(std::uint32_t offset) const {
    for (;;) {
        const std::uint32_t generation = read(reg::config_generation);
        const std::uint64_t value = config32(offset) | (std::uint64_t{config32(offset + 4)} << 32);
        if (read(reg::config_generation) == generation) return value;
    }
}

}  // namespace ring_breaker
