// libFuzzer target for the device side of a split virtqueue. The input is a
// little program: the queue size, flags (below), where the driver put the
// three rings, an image of the ring area of guest RAM, then a stream of
// operations (pop, push_used, guest writes to its rings, notification
// checks) run until the queue breaks or the input ends.
//
// Besides the sanitizers, it checks what the Virtqueue promises: every
// popped chain is well formed and lies in guest RAM, chains it holds can be
// returned, anything else breaks the queue for good, and nothing outside
// guest RAM is ever written (guard bytes around the fake RAM).
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "fake_guest_memory.hpp"
#include "virtual_devices/virtqueue.hpp"

namespace {

using lamina::DescriptorChain;
using lamina::GuestPhysAddr;
using lamina::Virtqueue;
using lamina::VirtqueueFeatures;
using lamina::VirtqueueLayout;
using lamina::testing::FakeGuestMemory;

constexpr std::uint64_t kRam = 0x4000'0000;
constexpr std::uint64_t kFirstExtent = 0x1000;  // rings often straddle the boundary between the extents
constexpr std::uint64_t kRamSize = 0x1'0000;
constexpr std::uint64_t kRingArea = 0x1400;  // rings, and guest writes, land near the start of RAM

// Input flags: which features, and how much of the input to tame so the
// fuzzer gets past the first checks and reaches the deeper ones.
constexpr std::uint8_t kFlagIndirect = 1;
constexpr std::uint8_t kFlagEventIndex = 2;
constexpr std::uint8_t kFlagAlignRings = 4;
constexpr std::uint8_t kFlagAimAtRam = 8;          // descriptor addresses inside RAM
constexpr std::uint8_t kFlagTameDescriptors = 16;  // short lengths, mostly valid flags and heads, small tables

// Reads the input front to back; zeros once it runs out.
class Input final {
public:
    Input(const std::uint8_t* data, std::size_t size) : data_{data}, size_{size} {}
    [[nodiscard]] bool empty() const { return position_ >= size_; }
    std::uint8_t byte() { return empty() ? 0 : data_[position_++]; }
    std::uint16_t u16() { return static_cast<std::uint16_t>(byte() | (byte() << 8)); }
    std::size_t take(std::size_t wanted, const std::uint8_t** bytes) {
        const std::size_t count = empty() ? 0 : std::min(wanted, size_ - position_);
        *bytes = data_ + position_;
        position_ += count;
        return count;
    }

private:
    const std::uint8_t* data_;
    std::size_t size_;
    std::size_t position_{0};
};

void check(bool holds) {
    if (!holds) __builtin_trap();
}

// What pop() promises about a chain it returns.
void check_chain(FakeGuestMemory& memory, const DescriptorChain& chain, std::uint16_t queue_size) {
    check(chain.head() < queue_size);
    check(!chain.segments().empty() && chain.segments().size() <= lamina::kMaxChainSegments);
    std::uint64_t readable = 0;
    std::uint64_t writable = 0;
    bool seen_writable = false;
    for (const lamina::DescriptorSegment& segment : chain.segments()) {
        check(!(seen_writable && !segment.device_writable));  // readable ones first
        seen_writable = seen_writable || segment.device_writable;
        (segment.device_writable ? writable : readable) += segment.length;
        check(memory.is_ram(segment.address, segment.length));
    }
    check(readable == chain.readable_bytes() && writable == chain.writable_bytes());
    check(readable + writable <= (std::uint64_t{1} << 32));
}

// Uses the chain as a device would: reads some readable bytes, writes some writable ones.
void touch_chain(FakeGuestMemory& memory, const DescriptorChain& chain) {
    std::array<std::byte, 512> scratch{};
    check(chain.read(memory, 0, scratch).ok());
    scratch.fill(std::byte{0x3c});
    check(chain.write(memory, 0, scratch).ok());
}

// Rewrites `entries` descriptors of the table at `table` (main or indirect)
// per the flags; an indirect descriptor's own table is tamed too, once.
void tame_table(lamina::GuestMemory& memory, std::uint64_t table, std::uint64_t entries, std::uint8_t flags,
                bool is_indirect_table) {
    for (std::uint64_t i = 0; i < entries; ++i) {
        const GuestPhysAddr field{table + 16 * i};
        const auto address = memory.read<std::uint64_t>(field);
        const auto length = memory.read<std::uint32_t>(field + 8);
        const auto descriptor_flags = memory.read<std::uint16_t>(field + 12);
        const auto next = memory.read<std::uint16_t>(field + 14);
        if (!address || !length || !descriptor_flags || !next) continue;
        std::uint64_t new_address = kRam + *address % kRamSize;
        std::uint32_t new_length = *length;
        auto new_flags = *descriptor_flags;
        auto new_next = *next;
        if ((flags & kFlagTameDescriptors) != 0) {
            new_length %= 0x1000;
            new_flags &= 0x7;
            new_next = static_cast<std::uint16_t>(new_next % (entries + 1));  // now and then one too far
            if ((new_flags & 4) != 0 && !is_indirect_table) {
                new_length = (new_length % 32 + 1) * 16;
                new_address = kRam + lamina::align_down(*address % (kRamSize - new_length), 8);
                tame_table(memory, new_address, new_length / 16, flags, true);
            }
        }
        (void)memory.write<std::uint64_t>(field, new_address);
        (void)memory.write<std::uint32_t>(field + 8, new_length);
        (void)memory.write<std::uint16_t>(field + 12, new_flags);
        (void)memory.write<std::uint16_t>(field + 14, new_next);
    }
}

// With kFlagTameDescriptors: an available index that is not too far ahead
// and heads inside the table, so chains actually get popped.
void tame_available_ring(lamina::GuestMemory& memory, const VirtqueueLayout& layout) {
    const GuestPhysAddr index_field = layout.available + 2;
    if (const auto index = memory.read<std::uint16_t>(index_field))
        (void)memory.write<std::uint16_t>(index_field, static_cast<std::uint16_t>(*index % (layout.size + 1)));
    for (std::uint64_t i = 0; i < layout.size; ++i) {
        const GuestPhysAddr entry = layout.available + 4 + 2 * i;
        if (const auto head = memory.read<std::uint16_t>(entry))
            (void)memory.write<std::uint16_t>(entry, static_cast<std::uint16_t>(*head % layout.size));
    }
}

void remove_held(std::vector<std::uint16_t>& held, std::size_t index) {
    held[index] = held.back();
    held.pop_back();
}

// The queue is broken: everything keeps failing, nothing more is written.
void check_stays_broken(Virtqueue& queue, DescriptorChain& chain, std::uint16_t some_head) {
    check(queue.is_broken());
    check(!queue.pop(chain).ok());
    check(!queue.push_used(some_head, 0).ok());
    check(!queue.needs_notification());
}

void run(Input& input, FakeGuestMemory& memory, DescriptorChain& chain) {
    const std::uint8_t size_code = input.byte();
    const std::uint8_t flags = input.byte();
    const auto queue_size = static_cast<std::uint16_t>(1u << (size_code % 9));  // 1..256
    const bool align = (flags & kFlagAlignRings) != 0;
    const auto place = [&](std::uint64_t alignment) {
        const std::uint64_t address = kRam - 0x100 + input.u16() % kRingArea;  // sometimes below RAM
        return align ? lamina::align_down(address, alignment) : address;
    };
    const VirtqueueLayout layout{queue_size, GuestPhysAddr{place(16)}, GuestPhysAddr{place(2)},
                                 GuestPhysAddr{place(4)}};
    const VirtqueueFeatures features{(flags & kFlagIndirect) != 0, (flags & kFlagEventIndex) != 0};

    // The input's image, repeated over the start of guest RAM where the rings
    // are: even a short input fills them.
    const std::uint8_t* image = nullptr;
    const std::size_t image_size = input.take(input.u16() % (2 * kRingArea), &image);
    if (image_size != 0) {
        std::array<std::uint8_t, 2 * kRingArea> tiled{};
        for (std::size_t offset = 0; offset < tiled.size(); offset += image_size) {
            const std::size_t count = std::min(image_size, tiled.size() - offset);
            std::copy_n(image, count, tiled.begin() + static_cast<std::ptrdiff_t>(offset));
        }
        check(memory.write_bytes(GuestPhysAddr{kRam}, std::as_bytes(std::span{tiled})).ok());
    }
    if ((flags & kFlagAimAtRam) != 0) tame_table(memory, layout.descriptors.value(), queue_size, flags, false);
    if ((flags & kFlagTameDescriptors) != 0) tame_available_ring(memory, layout);

    Virtqueue queue;
    if (!queue.configure(memory, layout, features).ok()) {
        check(!queue.is_enabled());
        return;
    }
    std::vector<std::uint16_t> held;
    while (!input.empty()) {
        switch (input.byte() % 5) {
            case 0: {
                const auto popped = queue.pop(chain);
                if (!popped) return check_stays_broken(queue, chain, held.empty() ? 0 : held.front());
                if (!*popped) break;
                check_chain(memory, chain, queue_size);
                touch_chain(memory, chain);
                held.push_back(chain.head());
                break;
            }
            case 1: {  // return a chain the device holds: must work
                if (held.empty()) break;
                const std::size_t index = input.byte() % held.size();
                check(queue.push_used(held[index], input.u16()).ok());
                remove_held(held, index);
                break;
            }
            case 2: {  // return any head: works only for one the device holds
                const std::uint16_t head = input.u16();
                const auto it = std::find(held.begin(), held.end(), head);
                const bool holds = it != held.end();
                const bool pushed = queue.push_used(head, 0).ok();
                check(pushed == holds);
                if (!pushed) return check_stays_broken(queue, chain, head);
                remove_held(held, static_cast<std::size_t>(it - held.begin()));
                break;
            }
            case 3: {  // the guest changes its rings under the device
                const std::uint64_t address = kRam + input.u16() % kRingArea;
                memory.poke<std::uint16_t>(address, input.u16());
                break;
            }
            default: (void)queue.needs_notification(); break;
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FakeGuestMemory memory{{{kRam, kFirstExtent}, {kRam + kFirstExtent, kRamSize - kFirstExtent}}};
    static DescriptorChain chain;  // 4 KiB: kept off the stack, as the device models do
    Input input{data, size};
    run(input, memory, chain);
    check(memory.guards_intact());
    return 0;
}
