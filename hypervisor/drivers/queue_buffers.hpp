// One queue of a board device with a fixed-size DMA buffer per entry, by
// index: the uplink NIC and the management console receive into such
// buffers and transmit from them. Callers serialise the calls for a queue
// (each driver holds its queue's lock).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "core/result.hpp"
#include "drivers/virtio_mmio_driver.hpp"

namespace lamina::drivers {

class QueueBuffers final {
public:
    // Sets up queue `queue` of `device` with at most `wanted` entries and
    // one buffer of `buffer_size` bytes per entry.
    [[nodiscard]] Status set_up(VirtioMmioDevice& device, std::uint32_t queue, std::uint16_t wanted,
                                std::size_t buffer_size) {
        if (const Status status = device.setup_queue(queue, wanted, queue_); !status) return status;
        const auto memory = allocate_dma(std::size_t{queue_.size()} * buffer_size, device.dma());
        if (!memory) return memory.error();
        memory_ = *memory;
        buffer_size_ = buffer_size;
        dma_ = device.dma();
        return {};
    }

    [[nodiscard]] DriverQueue& queue() { return queue_; }
    [[nodiscard]] std::uint16_t count() const { return queue_.size(); }
    [[nodiscard]] std::size_t buffer_size() const { return buffer_size_; }
    [[nodiscard]] std::byte* buffer(std::uint16_t index) const { return memory_.at(offset(index)); }

    // Gives buffer `index` to the device to fill. No line of it stays
    // cached: none can be written back over what the device puts there.
    [[nodiscard]] Status post_writable(std::uint16_t index) {
        dma_.from_device(buffer(index), buffer_size_);
        const DmaBuffer chain{memory_.device_address(offset(index)), static_cast<std::uint32_t>(buffer_size_), true};
        return queue_.add({&chain, 1}, index);
    }

    // Gives the first `length` bytes of buffer `index` to the device to read.
    [[nodiscard]] Status post_readable(std::uint16_t index, std::size_t length) {
        dma_.to_device(buffer(index), length);
        const DmaBuffer chain{memory_.device_address(offset(index)), static_cast<std::uint32_t>(length), false};
        return queue_.add({&chain, 1}, index);
    }

    // What the device wrote into buffer `index`, made visible to Lamina.
    [[nodiscard]] std::byte* received(std::uint16_t index, std::size_t length) const {
        dma_.from_device(buffer(index), length);
        return buffer(index);
    }

private:
    [[nodiscard]] std::size_t offset(std::uint16_t index) const { return std::size_t{index} * buffer_size_; }

    DriverQueue queue_{};
    DmaRegion memory_{};
    std::size_t buffer_size_{0};
    DeviceDma dma_{};
};

// A transmit queue: buffers the device does not hold are on a stack of
// free indices, taken back from the used ring lazily (no interrupts).
template <std::uint16_t Capacity>
class TransmitBuffers final {
public:
    [[nodiscard]] Status set_up(VirtioMmioDevice& device, std::uint32_t queue, std::size_t buffer_size) {
        if (const Status status = buffers_.set_up(device, queue, Capacity, buffer_size); !status) return status;
        buffers_.queue().suppress_interrupts(true);  // sent buffers come back with the next send
        for (std::uint16_t index = 0; index < buffers_.count(); ++index) free_[free_count_++] = index;
        return {};
    }

    [[nodiscard]] QueueBuffers& buffers() { return buffers_; }
    // The used ring broke: nothing more can be sent.
    [[nodiscard]] bool failed() const { return failed_; }

    // Takes back what the device has sent; the first error it meets is
    // returned (and the queue is failed for good).
    [[nodiscard]] Status reclaim() {
        while (!failed_) {
            const auto used = buffers_.queue().reap();
            if (!used) {
                failed_ = true;
                return used.error();
            }
            if (!used->has_value()) break;
            free_[free_count_++] = static_cast<std::uint16_t>((*used)->token);
        }
        return {};
    }

    [[nodiscard]] std::optional<std::uint16_t> take() {
        if (failed_ || free_count_ == 0) return std::nullopt;
        return free_[--free_count_];
    }
    void put_back(std::uint16_t index) { free_[free_count_++] = index; }

private:
    QueueBuffers buffers_{};
    std::array<std::uint16_t, Capacity> free_{};
    std::uint16_t free_count_{0};
    bool failed_{false};
};

}  // namespace lamina::drivers
