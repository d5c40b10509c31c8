// Owns every 4 KiB frame of RAM that Lamina and the boot modules do not use.
// One bit per frame over the span from the lowest to the highest RAM byte;
// holes between RAM banks simply stay marked as used.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "core/result.hpp"
#include "core/spinlock.hpp"
#include "core/types.hpp"

namespace lamina {

class FrameAllocator final {
public:
    // Bitmap words needed to track `span`.
    [[nodiscard]] static std::size_t bitmap_words_for(HostPhysRange span);

    // Starts with every frame in `span` used; `bitmap` must hold bitmap_words_for(span) words.
    [[nodiscard]] Status init(HostPhysRange span, std::span<std::uint64_t> bitmap);
    // Hands the whole frames inside `range` to the allocator.
    void add_free(HostPhysRange range);
    // Takes every frame that `range` touches away from the allocator.
    void reserve(HostPhysRange range);

    // `count` contiguous frames whose first frame is aligned to `alignment` bytes.
    [[nodiscard]] std::optional<HostPhysAddr> allocate(std::size_t count = 1, std::uint64_t alignment = kPageSize);
    // Returns frames; freeing a frame that is not allocated is refused.
    [[nodiscard]] Status free(HostPhysAddr base, std::size_t count = 1);

    [[nodiscard]] std::size_t free_frames() const { return free_frames_; }
    [[nodiscard]] std::size_t largest_free_run() const;

private:
    [[nodiscard]] bool is_used(std::size_t frame) const;
    void set_used(std::size_t frame, bool used);
    [[nodiscard]] std::size_t frame_index(HostPhysAddr address) const;
    [[nodiscard]] std::optional<std::size_t> find_run(std::size_t count, std::size_t alignment_frames) const;

    HostPhysRange span_{};
    std::span<std::uint64_t> bitmap_{};
    std::size_t frame_count_{0};
    std::size_t free_frames_{0};
    std::size_t search_hint_{0};
    mutable SpinLock lock_;
};

}  // namespace lamina
