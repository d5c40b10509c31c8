#include "core/frame_allocator.hpp"

#include <algorithm>

namespace lamina {

std::size_t FrameAllocator::bitmap_words_for(HostPhysRange span) {
    const std::uint64_t frames = span.size / kPageSize;
    return static_cast<std::size_t>((frames + 63) / 64);
}

Status FrameAllocator::init(HostPhysRange span, std::span<std::uint64_t> bitmap) {
    // A partial last frame would be tracked by no bit yet reachable through add_free/reserve.
    if (!span.base.is_aligned(kPageSize) || !is_aligned(span.size, kPageSize) || span.size == 0)
        return Error{"frame span is not page aligned"};
    if (bitmap.size() < bitmap_words_for(span)) return Error{"frame bitmap too small"};
    span_ = span;
    bitmap_ = bitmap;
    frame_count_ = static_cast<std::size_t>(span.size / kPageSize);
    std::fill(bitmap_.begin(), bitmap_.end(), ~std::uint64_t{0});
    free_frames_ = 0;
    search_hint_ = 0;
    return {};
}

bool FrameAllocator::is_used(std::size_t frame) const { return (bitmap_[frame / 64] >> (frame % 64)) & 1; }

void FrameAllocator::set_used(std::size_t frame, bool used) {
    const std::uint64_t bit = std::uint64_t{1} << (frame % 64);
    if (used) {
        bitmap_[frame / 64] |= bit;
    } else {
        bitmap_[frame / 64] &= ~bit;
    }
}

std::size_t FrameAllocator::frame_index(HostPhysAddr address) const {
    return static_cast<std::size_t>((address - span_.base) / kPageSize);
}

void FrameAllocator::add_free(HostPhysRange range) {
    const LockGuard guard{lock_};
    const std::uint64_t first = std::max(align_up(range.base.value(), kPageSize), span_.base.value());
    const std::uint64_t last = std::min(align_down(range.end().value(), kPageSize), span_.end().value());
    for (std::uint64_t address = first; address < last; address += kPageSize) {
        const std::size_t frame = frame_index(HostPhysAddr{address});
        if (!is_used(frame)) continue;
        set_used(frame, false);
        ++free_frames_;
    }
}

void FrameAllocator::reserve(HostPhysRange range) {
    const LockGuard guard{lock_};
    const std::uint64_t first = std::max(align_down(range.base.value(), kPageSize), span_.base.value());
    const std::uint64_t last = std::min(align_up(range.end().value(), kPageSize), span_.end().value());
    for (std::uint64_t address = first; address < last; address += kPageSize) {
        const std::size_t frame = frame_index(HostPhysAddr{address});
        if (is_used(frame)) continue;
        set_used(frame, true);
        --free_frames_;
    }
}

std::optional<std::size_t> FrameAllocator::find_run(std::size_t count, std::size_t alignment_frames) const {
    // Alignment is of the physical address, not of the index into the span.
    const std::size_t base_frame = static_cast<std::size_t>(span_.base.value() / kPageSize);
    const auto aligned_start = [&](std::size_t frame) {
        const std::size_t absolute = base_frame + frame;
        return align_up(absolute, alignment_frames) - base_frame;
    };
    for (int pass = 0; pass < 2; ++pass) {
        std::size_t frame = aligned_start(pass == 0 ? search_hint_ : 0);
        const std::size_t limit = pass == 0 ? frame_count_ : std::min(frame_count_, search_hint_ + count);
        while (frame + count <= limit) {
            std::size_t used_at = frame;
            while (used_at < frame + count && !is_used(used_at)) ++used_at;
            if (used_at == frame + count) return frame;
            frame = aligned_start(used_at + 1);
        }
    }
    return std::nullopt;
}

std::optional<HostPhysAddr> FrameAllocator::allocate(std::size_t count, std::uint64_t alignment) {
    if (count == 0 || alignment < kPageSize || (alignment & (alignment - 1)) != 0) return std::nullopt;
    const LockGuard guard{lock_};
    if (count > free_frames_) return std::nullopt;
    const auto run = find_run(count, static_cast<std::size_t>(alignment / kPageSize));
    if (!run) return std::nullopt;
    for (std::size_t frame = *run; frame < *run + count; ++frame) set_used(frame, true);
    free_frames_ -= count;
    search_hint_ = *run + count;
    return span_.base + static_cast<std::uint64_t>(*run) * kPageSize;
}

Status FrameAllocator::free(HostPhysAddr base, std::size_t count) {
    const LockGuard guard{lock_};
    if (count > frame_count_ || !base.is_aligned(kPageSize) || !span_.contains(HostPhysRange{base, count * kPageSize}))
        return Error{"freeing frames outside RAM"};
    const std::size_t first = frame_index(base);
    for (std::size_t frame = first; frame < first + count; ++frame) {
        if (!is_used(frame)) return Error{"freeing a frame that is already free"};
    }
    for (std::size_t frame = first; frame < first + count; ++frame) set_used(frame, false);
    free_frames_ += count;
    search_hint_ = std::min(search_hint_, first);
    return {};
}

std::size_t FrameAllocator::largest_free_run() const {
    const LockGuard guard{lock_};
    std::size_t best = 0;
    std::size_t current = 0;
    for (std::size_t frame = 0; frame < frame_count_; ++frame) {
        current = is_used(frame) ? 0 : current + 1;
        best = std::max(best, current);
    }
    return best;
}

}  // namespace lamina
