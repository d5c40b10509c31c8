#include "core/memory.hpp"

#include <algorithm>

#include "core/console.hpp"

namespace lamina {
namespace {

FrameAllocator g_frames;

HostPhysRange span_of(const Platform& platform) {
    std::uint64_t low = ~std::uint64_t{0};
    std::uint64_t high = 0;
    for (std::size_t i = 0; i < platform.memory_count; ++i) {
        low = std::min(low, platform.memory[i].base.value());
        high = std::max(high, platform.memory[i].end().value());
    }
    low = align_down(low, kPageSize);
    return HostPhysRange{HostPhysAddr{low}, align_up(high, kPageSize) - low};
}

bool collides(HostPhysRange candidate, std::span<const HostPhysRange> in_use, const Platform& platform) {
    for (const HostPhysRange& used : in_use) {
        if (candidate.overlaps(used)) return true;
    }
    for (std::size_t i = 0; i < platform.reserved_count; ++i) {
        if (candidate.overlaps(platform.reserved[i])) return true;
    }
    return false;
}

bool inside_ram(HostPhysRange candidate, const Platform& platform) {
    for (std::size_t i = 0; i < platform.memory_count; ++i) {
        if (platform.memory[i].contains(candidate)) return true;
    }
    return false;
}

// A free page-aligned place for `size` bytes: tried at the start of each RAM
// bank and right after each range in use.
std::optional<HostPhysRange> find_free_area(std::uint64_t size, std::span<const HostPhysRange> in_use,
                                            const Platform& platform) {
    const auto try_at = [&](std::uint64_t base) -> std::optional<HostPhysRange> {
        const HostPhysRange candidate{HostPhysAddr{align_up(base, kPageSize)}, size};
        if (inside_ram(candidate, platform) && !collides(candidate, in_use, platform)) return candidate;
        return std::nullopt;
    };
    for (std::size_t i = 0; i < platform.memory_count; ++i) {
        if (auto found = try_at(platform.memory[i].base.value())) return found;
    }
    for (const HostPhysRange& used : in_use) {
        if (auto found = try_at(used.end().value())) return found;
    }
    return std::nullopt;
}

}  // namespace

FrameAllocator& frame_allocator() { return g_frames; }

Status init_memory(const Platform& platform, std::span<const HostPhysRange> in_use) {
    if (platform.memory_count == 0) return Error{"no RAM described"};
    const HostPhysRange span = span_of(platform);
    const std::size_t words = FrameAllocator::bitmap_words_for(span);
    const auto area = find_free_area(words * sizeof(std::uint64_t), in_use, platform);
    if (!area) return Error{"no room for the frame bitmap"};
    auto* bitmap = reinterpret_cast<std::uint64_t*>(area->base.value());
    if (const Status status = g_frames.init(span, {bitmap, words}); !status) return status;
    for (std::size_t i = 0; i < platform.memory_count; ++i) g_frames.add_free(platform.memory[i]);
    for (const HostPhysRange& used : in_use) g_frames.reserve(used);
    for (std::size_t i = 0; i < platform.reserved_count; ++i) g_frames.reserve(platform.reserved[i]);
    g_frames.reserve(*area);
    return {};
}

}  // namespace lamina
