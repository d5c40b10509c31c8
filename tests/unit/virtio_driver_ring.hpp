// The driver's side of a split virtqueue for tests: writes descriptors and
// the available ring straight into fake guest RAM, in the layout and order a
// Linux guest uses, and reads back what the device put in the used ring.
#pragma once

#include <cstdint>
#include <initializer_list>

#include "fake_guest_memory.hpp"

namespace lamina::testing {

inline constexpr std::uint16_t kDescNext = 1;
inline constexpr std::uint16_t kDescWrite = 2;
inline constexpr std::uint16_t kDescIndirect = 4;
inline constexpr std::uint16_t kAvailNoInterrupt = 1;

struct DriverBuffer final {
    std::uint64_t address;
    std::uint32_t length;
    bool device_writable;
};

struct UsedElement final {
    std::uint32_t id;
    std::uint32_t length;
};

class DriverRing final {
public:
    DriverRing(FakeGuestMemory& memory, std::uint16_t size, std::uint64_t descriptors, std::uint64_t available,
               std::uint64_t used)
        : memory_{memory}, size_{size}, descriptors_{descriptors}, available_{available}, used_{used} {}

    [[nodiscard]] std::uint16_t size() const { return size_; }
    [[nodiscard]] std::uint64_t descriptors() const { return descriptors_; }
    [[nodiscard]] std::uint64_t available() const { return available_; }
    [[nodiscard]] std::uint64_t used() const { return used_; }

    // One 16-byte descriptor at `index` of the table at `table`.
    void write_descriptor(std::uint64_t table, std::uint32_t index, std::uint64_t address, std::uint32_t length,
                          std::uint16_t flags, std::uint16_t next) {
        const std::uint64_t at = table + 16ull * index;
        memory_.poke<std::uint64_t>(at, address);
        memory_.poke<std::uint32_t>(at + 8, length);
        memory_.poke<std::uint16_t>(at + 12, flags);
        memory_.poke<std::uint16_t>(at + 14, next);
    }
    void set_descriptor(std::uint16_t index, std::uint64_t address, std::uint32_t length, std::uint16_t flags,
                        std::uint16_t next = 0) {
        write_descriptor(descriptors_, index, address, length, flags, next);
    }

    // A chain of `buffers` in the next descriptors (in table order), offered
    // and published; returns its head.
    std::uint16_t add(std::initializer_list<DriverBuffer> buffers, bool publish_now = true) {
        const std::uint16_t head = next_free_;
        std::size_t remaining = buffers.size();
        for (const DriverBuffer& buffer : buffers) {
            const std::uint16_t index = next_free_;
            next_free_ = static_cast<std::uint16_t>((next_free_ + 1) % size_);
            --remaining;
            const std::uint16_t flags = static_cast<std::uint16_t>((buffer.device_writable ? kDescWrite : 0) |
                                                                   (remaining != 0 ? kDescNext : 0));
            set_descriptor(index, buffer.address, buffer.length, flags, remaining != 0 ? next_free_ : 0);
        }
        offer(head, publish_now);
        return head;
    }

    // Puts `head` in the next available slot; publishing bumps avail->idx.
    void offer(std::uint16_t head, bool publish_now = true) {
        memory_.poke<std::uint16_t>(available_ + 4 + 2ull * (pending_index_ % size_), head);
        ++pending_index_;
        if (publish_now) publish();
    }
    void publish() { set_available_index(pending_index_); }

    void set_available_index(std::uint16_t index) {
        pending_index_ = index;
        memory_.poke<std::uint16_t>(available_ + 2, index);
    }
    void set_available_flags(std::uint16_t flags) { memory_.poke<std::uint16_t>(available_, flags); }
    void set_used_event(std::uint16_t index) { memory_.poke<std::uint16_t>(available_ + 4 + 2ull * size_, index); }
    void set_next_free(std::uint16_t index) { next_free_ = index; }
    // Back to a freshly zeroed ring (after a device reset).
    void restart() {
        next_free_ = 0;
        pending_index_ = 0;
    }

    [[nodiscard]] std::uint16_t used_index() { return memory_.peek<std::uint16_t>(used_ + 2); }
    [[nodiscard]] UsedElement used_element(std::uint16_t position) {
        const std::uint64_t at = used_ + 4 + 8ull * (position % size_);
        return UsedElement{memory_.peek<std::uint32_t>(at), memory_.peek<std::uint32_t>(at + 4)};
    }
    [[nodiscard]] std::uint16_t available_event() { return memory_.peek<std::uint16_t>(used_ + 4 + 8ull * size_); }

private:
    FakeGuestMemory& memory_;
    std::uint16_t size_;
    std::uint64_t descriptors_;
    std::uint64_t available_;
    std::uint64_t used_;
    std::uint16_t next_free_{0};
    std::uint16_t pending_index_{0};
};

}  // namespace lamina::testing
