#include "virtual_devices/virtio_input.hpp"

#include <algorithm>

namespace lamina {
namespace {

// Strings carry no NUL terminator (5.8.4).
constexpr char kName[] = "Lamina power button";
constexpr std::size_t kNameLength = sizeof(kName) - 1;

// Offsets in struct virtio_input_config.
constexpr std::size_t kSelectOffset = 0;
constexpr std::size_t kSubselOffset = 1;
constexpr std::size_t kSizeOffset = 2;

template <typename T>
void store_le(std::span<std::byte> bytes, std::size_t offset, T value) {
    for (std::size_t i = 0; i < sizeof(T); ++i) bytes[offset + i] = static_cast<std::byte>(value >> (8 * i));
}

}  // namespace

// --- Owner interface --------------------------------------------------------------------------

void VirtioInput::connect(GuestMemory& memory, VirtioTransportHooks hooks) { transport_.connect(memory, hooks); }

bool VirtioInput::press_power_button() {
    static constexpr std::array<InputEvent, 4> kPress{{
        {kEventKey, kKeyPower, 1},
        {kEventSync, kSyncReport, 0},
        {kEventKey, kKeyPower, 0},
        {kEventSync, kSyncReport, 0},
    }};
    const LockGuard guard{transport_.lock()};
    if (transport_.live_queue(kEventQueue) == nullptr) return false;
    // A whole press or none: a device should not drop part of a sequence (5.8.6.2).
    if (!has_room_for(kPress.size())) return true;
    for (const InputEvent& event : kPress) enqueue(event);
    deliver_events();
    transport_.finish_queue_work(kEventQueue);
    return true;
}

// --- Configuration space ----------------------------------------------------------------------

void VirtioInput::read_config(std::size_t offset, std::span<std::byte> bytes) {
    for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = config_byte(offset + i);
}

// The driver writes select and subsel; every other field is the device's.
void VirtioInput::write_config(std::size_t offset, std::span<const std::byte> bytes) {
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        const auto value = std::to_integer<std::uint8_t>(bytes[i]);
        if (offset + i == kSelectOffset) select_ = value;
        if (offset + i == kSubselOffset) subsel_ = value;
    }
    prepare_answer();
}

std::byte VirtioInput::config_byte(std::size_t offset) const {
    if (offset == kSelectOffset) return std::byte{select_};
    if (offset == kSubselOffset) return std::byte{subsel_};
    if (offset == kSizeOffset) return std::byte{answer_size_};
    if (offset < kAnswerOffset || offset - kAnswerOffset >= answer_.size()) return std::byte{0};  // reserved
    return answer_[offset - kAnswerOffset];
}

// Fills the union for the current query. A query the button has nothing
// for answers size 0 (5.8.5.2): the serial, input properties, absolute axes,
// event types it never sends, and anything unknown.
void VirtioInput::prepare_answer() {
    answer_ = {};
    answer_size_ = 0;
    switch (select_) {
        case kSelectName:
            if (subsel_ == 0) set_answer(std::as_bytes(std::span{kName, kNameLength}));
            return;
        case kSelectDeviceIds:
            if (subsel_ != 0) return;
            store_le<std::uint16_t>(answer_, 0, kBusVirtual);
            store_le<std::uint16_t>(answer_, 2, kVendor);
            store_le<std::uint16_t>(answer_, 4, kProduct);
            store_le<std::uint16_t>(answer_, 6, kVersion);
            answer_size_ = 8;
            return;
        case kSelectEventBits:
            if (subsel_ == kEventKey) set_bit(kKeyPower);
            // Linux's input core enables EV_SYN by itself and never asks;
            // the answer is for drivers that do.
            if (subsel_ == kEventSync) set_bit(kSyncReport);
            return;
        default: return;
    }
}

void VirtioInput::set_answer(std::span<const std::byte> answer) {
    const std::size_t size = std::min(answer.size(), answer_.size());
    std::copy_n(answer.begin(), size, answer_.begin());
    answer_size_ = static_cast<std::uint8_t>(size);
}

// Sets `bit` in the bitmap, which then extends to the byte holding it.
void VirtioInput::set_bit(std::uint16_t bit) {
    answer_[bit / 8] |= std::byte{static_cast<std::uint8_t>(1u << (bit % 8))};
    answer_size_ = std::max(answer_size_, static_cast<std::uint8_t>(bit / 8 + 1));
}

// --- Queues -----------------------------------------------------------------------------------

void VirtioInput::on_notify(std::uint32_t queue) {
    if (queue == kEventQueue) deliver_events();
    if (queue == kStatusQueue) return_status_buffers();
}

void VirtioInput::reset() {
    select_ = kSelectUnset;
    subsel_ = 0;
    prepare_answer();
    // A press meant for the previous driver is no news for the next one.
    pending_head_ = 0;
    pending_count_ = 0;
}

bool VirtioInput::has_room_for(std::size_t events) const { return pending_.size() - pending_count_ >= events; }

void VirtioInput::enqueue(InputEvent event) {
    pending_[(pending_head_ + pending_count_) % pending_.size()] = event;
    ++pending_count_;
}

// One waiting event per eventq buffer, oldest first.
void VirtioInput::deliver_events() {
    Virtqueue* queue = transport_.live_queue(kEventQueue);
    if (queue == nullptr) return;
    while (pending_count_ != 0) {
        const auto popped = queue->pop(chain_);
        if (!popped || !*popped) return;  // no buffer yet, or a broken ring (reported by the transport)
        if (chain_.writable_bytes() < kEventSize) {
            transport_.fail(Error{"virtio-input event buffer is smaller than an event"});
            return;
        }
        const InputEvent& event = pending_[pending_head_];
        std::array<std::byte, kEventSize> bytes{};
        store_le<std::uint16_t>(bytes, 0, event.type);
        store_le<std::uint16_t>(bytes, 2, event.code);
        store_le<std::uint32_t>(bytes, 4, event.value);
        if (const auto written = chain_.write(transport_.memory(), 0, bytes); !written) {
            transport_.fail(written.error());
            return;
        }
        pending_head_ = (pending_head_ + 1) % pending_.size();
        --pending_count_;
        if (!queue->push_used(chain_.head(), static_cast<std::uint32_t>(kEventSize))) return;
    }
}

// The button has no LEDs or other feedback: status buffers go back unread.
void VirtioInput::return_status_buffers() {
    Virtqueue* queue = transport_.live_queue(kStatusQueue);
    if (queue == nullptr) return;
    for (;;) {
        const auto popped = queue->pop(chain_);
        if (!popped || !*popped) return;
        if (!queue->push_used(chain_.head(), 0)) return;
    }
}

}  // namespace lamina
