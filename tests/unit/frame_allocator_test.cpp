// FrameAllocator over a fake physical span: the allocator only stores
// numbers, so any address range works without backing memory.
#include "core/frame_allocator.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <vector>

namespace lamina {
namespace {

constexpr HostPhysAddr kBase{0x4000'0000};
constexpr std::uint64_t kSpanSize = 64 * MiB;
constexpr std::size_t kFrames = kSpanSize / kPageSize;
constexpr HostPhysRange kSpan{kBase, kSpanSize};

// An initialised allocator with its own exactly sized bitmap (so ASan sees any
// write past the words the allocator asked for).
struct Harness {
    explicit Harness(HostPhysRange span_in, bool all_free = true)
        : span{span_in}, bitmap(FrameAllocator::bitmap_words_for(span_in)) {
        const Status status = allocator.init(span, bitmap);
        EXPECT_TRUE(status.ok()) << status.error().message;
        if (all_free) allocator.add_free(span);
    }

    [[nodiscard]] HostPhysAddr frame(std::size_t index) const { return span.base + index * kPageSize; }

    HostPhysRange span;
    std::vector<std::uint64_t> bitmap;
    FrameAllocator allocator;
};

// Allocates single frames until the allocator runs dry.
std::set<std::uint64_t> drain(FrameAllocator& allocator) {
    std::set<std::uint64_t> frames;
    while (const auto frame = allocator.allocate()) {
        EXPECT_TRUE(frames.insert(frame->value()).second) << "frame handed out twice: " << frame->value();
    }
    return frames;
}

// --- init -------------------------------------------------------------------

TEST(FrameAllocator, BitmapWordsRoundUpToWholeWords) {
    EXPECT_EQ(FrameAllocator::bitmap_words_for({kBase, 64 * kPageSize}), 1u);
    EXPECT_EQ(FrameAllocator::bitmap_words_for({kBase, 65 * kPageSize}), 2u);
    EXPECT_EQ(FrameAllocator::bitmap_words_for(kSpan), kFrames / 64);
}

TEST(FrameAllocator, InitRefusesUnalignedBase) {
    std::vector<std::uint64_t> bitmap(FrameAllocator::bitmap_words_for(kSpan) + 1);
    FrameAllocator allocator;
    EXPECT_FALSE(allocator.init({kBase + 0x800, kSpanSize}, bitmap).ok());
}

TEST(FrameAllocator, InitRefusesSpanEndingInAPartialFrame) {
    // A partial last frame must not become an allocatable frame past the span.
    const HostPhysRange span{kBase, kSpanSize + 0x800};
    std::vector<std::uint64_t> bitmap(FrameAllocator::bitmap_words_for(span) + 1);
    FrameAllocator allocator;
    EXPECT_FALSE(allocator.init(span, bitmap).ok());
}

TEST(FrameAllocator, InitRefusesEmptySpan) {
    std::vector<std::uint64_t> bitmap(1);
    FrameAllocator allocator;
    EXPECT_FALSE(allocator.init({kBase, 0}, bitmap).ok());
}

TEST(FrameAllocator, InitRefusesTooSmallBitmapAndAcceptsExactSize) {
    std::vector<std::uint64_t> bitmap(FrameAllocator::bitmap_words_for(kSpan));
    FrameAllocator allocator;
    EXPECT_FALSE(allocator.init(kSpan, std::span{bitmap}.first(bitmap.size() - 1)).ok());
    EXPECT_TRUE(allocator.init(kSpan, bitmap).ok());
}

TEST(FrameAllocator, StartsWithEveryFrameUsed) {
    Harness h{kSpan, /*all_free=*/false};
    EXPECT_EQ(h.allocator.free_frames(), 0u);
    EXPECT_EQ(h.allocator.largest_free_run(), 0u);
    EXPECT_FALSE(h.allocator.allocate().has_value());
}

TEST(FrameAllocator, ReinitForgetsEarlierState) {
    Harness h{kSpan};
    ASSERT_TRUE(h.allocator.allocate(10).has_value());
    ASSERT_TRUE(h.allocator.init(kSpan, h.bitmap).ok());
    EXPECT_EQ(h.allocator.free_frames(), 0u);
    EXPECT_FALSE(h.allocator.allocate().has_value());
}

// --- add_free / reserve -----------------------------------------------------

TEST(FrameAllocator, AddFreeOfWholeSpanFreesEveryFrame) {
    Harness h{kSpan};
    EXPECT_EQ(h.allocator.free_frames(), kFrames);
    EXPECT_EQ(h.allocator.largest_free_run(), kFrames);
}

TEST(FrameAllocator, AddFreeRoundsUnalignedRangeInward) {
    Harness h{kSpan, /*all_free=*/false};
    // [base + 0x800, base + 0x3800) contains whole frames 1 and 2 only.
    h.allocator.add_free({kBase + 0x800, 3 * kPageSize});
    EXPECT_EQ(h.allocator.free_frames(), 2u);
    EXPECT_EQ(drain(h.allocator), (std::set<std::uint64_t>{h.frame(1).value(), h.frame(2).value()}));
}

TEST(FrameAllocator, AddFreeOfRangeWithinOneFrameFreesNothing) {
    Harness h{kSpan, /*all_free=*/false};
    h.allocator.add_free({kBase + 0x100, 0x800});
    EXPECT_EQ(h.allocator.free_frames(), 0u);
}

TEST(FrameAllocator, AddFreeClipsToSpan) {
    Harness h{kSpan, /*all_free=*/false};
    h.allocator.add_free({kBase - 16 * kPageSize, 32 * kPageSize});  // straddles the start
    EXPECT_EQ(h.allocator.free_frames(), 16u);
    h.allocator.add_free({kSpan.end() - 8 * kPageSize, 64 * kPageSize});  // straddles the end
    EXPECT_EQ(h.allocator.free_frames(), 24u);
    h.allocator.add_free({kBase - GiB, 64 * kPageSize});  // entirely below
    h.allocator.add_free({kSpan.end(), GiB});            // entirely above
    EXPECT_EQ(h.allocator.free_frames(), 24u);
    const auto frames = drain(h.allocator);
    EXPECT_EQ(frames.size(), 24u);
    EXPECT_EQ(*frames.begin(), kBase.value());
    EXPECT_EQ(*frames.rbegin(), (kSpan.end() - kPageSize).value());
}

TEST(FrameAllocator, AddFreeTwiceCountsFramesOnce) {
    Harness h{kSpan, /*all_free=*/false};
    h.allocator.add_free({kBase, 8 * kPageSize});
    h.allocator.add_free({kBase + 4 * kPageSize, 8 * kPageSize});
    EXPECT_EQ(h.allocator.free_frames(), 12u);
    EXPECT_EQ(drain(h.allocator).size(), 12u);
}

TEST(FrameAllocator, ReserveRoundsUnalignedRangeOutward) {
    Harness h{kSpan};
    // [base + 0x1800, base + 0x2800) touches frames 1 and 2.
    h.allocator.reserve({kBase + 0x1800, 0x1000});
    EXPECT_EQ(h.allocator.free_frames(), kFrames - 2);
    const auto frames = drain(h.allocator);
    EXPECT_EQ(frames.size(), kFrames - 2);
    EXPECT_EQ(frames.count(h.frame(0).value()), 1u);
    EXPECT_EQ(frames.count(h.frame(1).value()), 0u);
    EXPECT_EQ(frames.count(h.frame(2).value()), 0u);
    EXPECT_EQ(frames.count(h.frame(3).value()), 1u);
}

TEST(FrameAllocator, ReserveOfASingleByteTakesItsFrame) {
    Harness h{kSpan};
    h.allocator.reserve({h.frame(7) + 0x123, 1});
    EXPECT_EQ(h.allocator.free_frames(), kFrames - 1);
    EXPECT_EQ(drain(h.allocator).count(h.frame(7).value()), 0u);
}

TEST(FrameAllocator, ReserveClipsToSpanAndCountsFramesOnce) {
    Harness h{kSpan};
    h.allocator.reserve({kBase - GiB, GiB + 4 * kPageSize});  // straddles the start
    h.allocator.reserve({kBase + 2 * kPageSize, 4 * kPageSize});  // overlaps the first reservation
    h.allocator.reserve({kSpan.end() - kPageSize, GiB});      // straddles the end
    h.allocator.reserve({kSpan.end(), GiB});                  // entirely above
    EXPECT_EQ(h.allocator.free_frames(), kFrames - 7);
    EXPECT_EQ(drain(h.allocator).size(), kFrames - 7);
}

TEST(FrameAllocator, HolesAreNeverHandedOut) {
    // Two RAM banks with a 16 MiB hole between them.
    Harness h{kSpan, /*all_free=*/false};
    const HostPhysRange bank0{kBase, 16 * MiB};
    const HostPhysRange bank1{kBase + 32 * MiB, 32 * MiB};
    h.allocator.add_free(bank0);
    h.allocator.add_free(bank1);
    EXPECT_EQ(h.allocator.free_frames(), (48 * MiB) / kPageSize);
    EXPECT_EQ(h.allocator.largest_free_run(), (32 * MiB) / kPageSize);

    // Enough free frames in total, but no run spans the hole.
    EXPECT_FALSE(h.allocator.allocate((32 * MiB) / kPageSize + 1).has_value());
    EXPECT_EQ(h.allocator.free_frames(), (48 * MiB) / kPageSize);

    for (const std::uint64_t frame : drain(h.allocator)) {
        EXPECT_TRUE(bank0.contains(HostPhysAddr{frame}) || bank1.contains(HostPhysAddr{frame})) << frame;
    }
}

// --- allocate ---------------------------------------------------------------

TEST(FrameAllocator, AllocatesContiguousRunsThatDoNotOverlap) {
    Harness h{kSpan};
    const auto a = h.allocator.allocate(100);
    const auto b = h.allocator.allocate(37);
    ASSERT_TRUE(a && b);
    const HostPhysRange ra{*a, 100 * kPageSize};
    const HostPhysRange rb{*b, 37 * kPageSize};
    EXPECT_TRUE(kSpan.contains(ra));
    EXPECT_TRUE(kSpan.contains(rb));
    EXPECT_FALSE(ra.overlaps(rb));
    EXPECT_EQ(h.allocator.free_frames(), kFrames - 137);
}

TEST(FrameAllocator, HonoursPhysicalAlignmentWhenSpanBaseIsNotAligned) {
    // The span starts 1 MiB past a 2 MiB boundary: frame index 0 is "aligned"
    // as an index but not as a physical address.
    const HostPhysRange span{HostPhysAddr{0x4010'0000}, 64 * MiB};
    Harness h{span};

    const auto single = h.allocator.allocate(1, 2 * MiB);
    ASSERT_TRUE(single);
    EXPECT_EQ(single->value(), 0x4020'0000u);

    const auto block = h.allocator.allocate(512, 2 * MiB);
    ASSERT_TRUE(block);
    EXPECT_TRUE(block->is_aligned(2 * MiB)) << block->value();
    EXPECT_EQ(block->value(), 0x4040'0000u);

    // The frames skipped for alignment stay free for other requests.
    const auto frames = drain(h.allocator);
    EXPECT_EQ(frames.size(), span.size / kPageSize - 513);
    EXPECT_EQ(frames.count(0x4010'0000), 1u);
    EXPECT_EQ(frames.count(0x4020'1000), 1u);
    EXPECT_EQ(frames.count(0x4020'0000), 0u);
    EXPECT_EQ(frames.count(0x4040'0000), 0u);
    EXPECT_EQ(frames.count(0x405f'f000), 0u);
    EXPECT_EQ(frames.count(0x4060'0000), 1u);
}

TEST(FrameAllocator, EveryAlignedAllocationIsPhysicallyAligned) {
    const HostPhysRange span{HostPhysAddr{0x4010'3000}, 32 * MiB};
    Harness h{span};
    for (const std::uint64_t alignment : {8 * KiB, 64 * KiB, 1 * MiB, 2 * MiB}) {
        for (const std::size_t count : {1u, 3u, 16u}) {
            const auto frames = h.allocator.allocate(count, alignment);
            ASSERT_TRUE(frames) << alignment << " " << count;
            EXPECT_TRUE(frames->is_aligned(alignment)) << frames->value() << " alignment " << alignment;
            EXPECT_TRUE(span.contains(HostPhysRange{*frames, count * kPageSize}));
        }
    }
}

TEST(FrameAllocator, AlignedAllocationFailsWhenNoAlignedRunExists) {
    // No 1 GiB boundary lies inside [0x4010'0000, 0x4410'0000).
    Harness h{{HostPhysAddr{0x4010'0000}, 64 * MiB}};
    EXPECT_FALSE(h.allocator.allocate(1, GiB).has_value());
    // The span is exactly one 2 MiB block too short to hold 32 aligned blocks.
    EXPECT_FALSE(h.allocator.allocate(32 * 512, 2 * MiB).has_value());
    EXPECT_TRUE(h.allocator.allocate(31 * 512, 2 * MiB).has_value());
}

TEST(FrameAllocator, AlignedAllocationSkipsUsedFrames) {
    Harness h{kSpan};
    ASSERT_EQ(h.allocator.allocate(), std::optional{kBase});
    const auto aligned = h.allocator.allocate(1, 2 * MiB);
    ASSERT_TRUE(aligned);
    EXPECT_EQ(*aligned, kBase + 2 * MiB);
}

TEST(FrameAllocator, ExhaustionReturnsNullopt) {
    Harness h{kSpan};
    const auto all = h.allocator.allocate(kFrames);
    ASSERT_EQ(all, std::optional{kBase});
    EXPECT_EQ(h.allocator.free_frames(), 0u);
    EXPECT_FALSE(h.allocator.allocate().has_value());
    EXPECT_FALSE(h.allocator.allocate(1, 2 * MiB).has_value());
    EXPECT_EQ(h.allocator.free_frames(), 0u);
}

TEST(FrameAllocator, RefusesMoreFramesThanTheSpanHolds) {
    Harness h{kSpan};
    EXPECT_FALSE(h.allocator.allocate(kFrames + 1).has_value());
    EXPECT_FALSE(h.allocator.allocate(std::numeric_limits<std::size_t>::max()).has_value());
    EXPECT_EQ(h.allocator.free_frames(), kFrames);
}

TEST(FrameAllocator, RefusesZeroCount) {
    Harness h{kSpan};
    EXPECT_FALSE(h.allocator.allocate(0).has_value());
    EXPECT_EQ(h.allocator.free_frames(), kFrames);
}

TEST(FrameAllocator, RefusesNonPowerOfTwoAlignment) {
    Harness h{kSpan};
    for (const std::uint64_t alignment : {std::uint64_t{0}, 3 * kPageSize, 6 * KiB, 12 * KiB, 2 * MiB + kPageSize}) {
        EXPECT_FALSE(h.allocator.allocate(1, alignment).has_value()) << alignment;
    }
    EXPECT_EQ(h.allocator.free_frames(), kFrames);
}

// --- free -------------------------------------------------------------------

TEST(FrameAllocator, FreedFramesCanBeAllocatedAgain) {
    Harness h{kSpan};
    ASSERT_TRUE(h.allocator.allocate(kFrames).has_value());
    ASSERT_TRUE(h.allocator.free(h.frame(1000), 3).ok());
    EXPECT_EQ(h.allocator.free_frames(), 3u);
    EXPECT_EQ(h.allocator.largest_free_run(), 3u);
    EXPECT_EQ(h.allocator.allocate(3), std::optional{h.frame(1000)});
    EXPECT_EQ(h.allocator.free_frames(), 0u);
}

TEST(FrameAllocator, FreeBehindTheSearchPositionIsFound) {
    Harness h{kSpan};
    const auto first = h.allocator.allocate();
    ASSERT_TRUE(h.allocator.allocate(kFrames - 1).has_value());
    ASSERT_TRUE(first);
    ASSERT_TRUE(h.allocator.free(*first).ok());
    EXPECT_EQ(h.allocator.allocate(), first);
}

TEST(FrameAllocator, FindsRunsAddedBehindTheSearchPosition) {
    Harness h{kSpan, /*all_free=*/false};
    h.allocator.add_free({h.frame(10), 3 * kPageSize});
    ASSERT_EQ(h.allocator.allocate(3), std::optional{h.frame(10)});
    ASSERT_TRUE(h.allocator.free(h.frame(10), 3).ok());
    // Frames 8..12 are free; the only run of four starts before frames 10..12.
    h.allocator.add_free({h.frame(8), 2 * kPageSize});
    EXPECT_EQ(h.allocator.allocate(4), std::optional{h.frame(8)});
    // Frames 0..1 appear behind the search position after an allocation.
    h.allocator.add_free({h.frame(0), 2 * kPageSize});
    EXPECT_EQ(h.allocator.allocate(2), std::optional{h.frame(0)});
    EXPECT_EQ(h.allocator.allocate(), std::optional{h.frame(12)});
    EXPECT_FALSE(h.allocator.allocate().has_value());
}

TEST(FrameAllocator, RefusesDoubleFree) {
    Harness h{kSpan};
    const auto frames = h.allocator.allocate(4);
    ASSERT_TRUE(frames);
    ASSERT_TRUE(h.allocator.free(*frames, 4).ok());
    const std::size_t free_before = h.allocator.free_frames();
    EXPECT_FALSE(h.allocator.free(*frames, 4).ok());
    EXPECT_FALSE(h.allocator.free(*frames + kPageSize).ok());
    EXPECT_EQ(h.allocator.free_frames(), free_before);
    EXPECT_EQ(drain(h.allocator).size(), free_before);
}

TEST(FrameAllocator, RefusesFreeOfPartlyFreeRangeAndChangesNothing) {
    Harness h{kSpan, /*all_free=*/false};
    h.allocator.add_free({kBase, 4 * kPageSize});
    ASSERT_EQ(h.allocator.allocate(4), std::optional{kBase});
    ASSERT_TRUE(h.allocator.free(h.frame(1)).ok());
    ASSERT_EQ(h.allocator.free_frames(), 1u);

    // Frame 1 is already free: the whole request is refused, frames 0, 2 and 3 stay allocated.
    EXPECT_FALSE(h.allocator.free(kBase, 4).ok());
    EXPECT_EQ(h.allocator.free_frames(), 1u);
    EXPECT_EQ(drain(h.allocator), std::set<std::uint64_t>{h.frame(1).value()});
    EXPECT_TRUE(h.allocator.free(h.frame(0)).ok());
    EXPECT_TRUE(h.allocator.free(h.frame(2), 2).ok());
}

TEST(FrameAllocator, RefusesFreeOutsideTheSpanAndChangesNothing) {
    Harness h{kSpan};
    ASSERT_TRUE(h.allocator.allocate(kFrames).has_value());
    const auto refused = [&](HostPhysAddr base, std::size_t count) {
        EXPECT_FALSE(h.allocator.free(base, count).ok()) << base.value() << " x" << count;
        EXPECT_EQ(h.allocator.free_frames(), 0u);
    };
    refused(kBase - kPageSize, 1);                  // just below
    refused(kBase - kPageSize, 2);                  // straddles the start
    refused(kSpan.end(), 1);                        // just past the end
    refused(kSpan.end() - kPageSize, 2);            // straddles the end
    refused(kBase, kFrames + 1);                    // longer than the span
    refused(kBase + kPageSize, kFrames);            // runs one frame past the end
    refused(kBase + 0x800, 1);                      // not page aligned
    refused(HostPhysAddr{0}, 1);                    // far below
    refused(HostPhysAddr{~std::uint64_t{0} & ~(kPageSize - 1)}, 1);  // far above
    refused(kBase + kPageSize, std::numeric_limits<std::size_t>::max());  // byte count overflows
    refused(kBase + kPageSize, (std::numeric_limits<std::size_t>::max() / kPageSize) + 2);
    EXPECT_EQ(h.allocator.largest_free_run(), 0u);
    // The last frame of the span is inside.
    EXPECT_TRUE(h.allocator.free(kSpan.end() - kPageSize).ok());
    EXPECT_EQ(h.allocator.free_frames(), 1u);
}

TEST(FrameAllocator, LargestFreeRunFollowsFragmentation) {
    Harness h{kSpan};
    ASSERT_TRUE(h.allocator.allocate(kFrames).has_value());
    ASSERT_TRUE(h.allocator.free(h.frame(10), 5).ok());
    ASSERT_TRUE(h.allocator.free(h.frame(100), 7).ok());
    ASSERT_TRUE(h.allocator.free(h.frame(kFrames - 2), 2).ok());
    EXPECT_EQ(h.allocator.largest_free_run(), 7u);
    ASSERT_TRUE(h.allocator.free(h.frame(15), 3).ok());  // joins the first run: 10..17
    EXPECT_EQ(h.allocator.largest_free_run(), 8u);
    EXPECT_EQ(h.allocator.free_frames(), 17u);
}

// --- randomised sequences against a model -----------------------------------

// What the allocator should believe: one flag per frame of the span.
class Model {
public:
    explicit Model(HostPhysRange span) : span_{span}, free_(span.size / kPageSize, false) {}

    void set(std::size_t first, std::size_t count, bool is_free) {
        for (std::size_t i = first; i < first + count; ++i) free_[i] = is_free;
    }
    [[nodiscard]] bool all(std::size_t first, std::size_t count, bool is_free) const {
        for (std::size_t i = first; i < first + count; ++i) {
            if (free_[i] != is_free) return false;
        }
        return true;
    }
    [[nodiscard]] bool is_free(std::size_t frame) const { return free_[frame]; }
    [[nodiscard]] std::size_t index(HostPhysAddr address) const { return (address - span_.base) / kPageSize; }
    [[nodiscard]] std::size_t frames() const { return free_.size(); }

    [[nodiscard]] std::size_t free_count() const {
        std::size_t count = 0;
        for (const bool f : free_) count += f ? 1 : 0;
        return count;
    }
    [[nodiscard]] std::size_t largest_run() const {
        std::size_t best = 0;
        std::size_t current = 0;
        for (const bool f : free_) {
            current = f ? current + 1 : 0;
            best = std::max(best, current);
        }
        return best;
    }
    // Whether any free run of `count` frames starts at a physically aligned address.
    [[nodiscard]] bool has_aligned_run(std::size_t count, std::uint64_t alignment) const {
        for (std::uint64_t start = align_up(span_.base.value(), alignment);
             start + count * kPageSize <= span_.end().value(); start += alignment) {
            if (all(index(HostPhysAddr{start}), count, true)) return true;
        }
        return false;
    }

private:
    HostPhysRange span_;
    std::vector<bool> free_;
};

TEST(FrameAllocator, RandomisedSequenceMatchesModel) {
    // 8 MiB starting off a 2 MiB boundary, with a reserved hole in the middle.
    const HostPhysRange span{HostPhysAddr{0x4010'0000}, 8 * MiB};
    Harness h{span};
    Model model{span};
    model.set(0, model.frames(), true);
    const HostPhysRange hole{span.base + 3 * MiB + 0x234, MiB};  // rounds out to 257 frames
    h.allocator.reserve(hole);
    model.set(model.index(span.base + 3 * MiB), 257, false);
    ASSERT_EQ(h.allocator.free_frames(), model.free_count());

    std::mt19937_64 rng{0x1a'3171'a5eedULL};
    const auto uniform = [&](std::uint64_t lo, std::uint64_t hi) {
        return std::uniform_int_distribution<std::uint64_t>{lo, hi}(rng);
    };
    constexpr std::uint64_t kAlignments[] = {4 * KiB, 4 * KiB, 4 * KiB, 8 * KiB, 64 * KiB, 1 * MiB, 2 * MiB};
    std::map<std::uint64_t, std::size_t> live;  // base -> frame count
    std::size_t successes = 0;
    std::size_t failures = 0;

    for (int step = 0; step < 6000; ++step) {
        SCOPED_TRACE(step);
        const std::uint64_t action = uniform(0, 99);
        if (action < 50) {
            const std::size_t count = uniform(0, 9) == 0 ? uniform(64, 600) : uniform(1, 24);
            const std::uint64_t alignment = kAlignments[uniform(0, std::size(kAlignments) - 1)];
            const bool possible = model.has_aligned_run(count, alignment);
            const auto frames = h.allocator.allocate(count, alignment);
            ASSERT_EQ(frames.has_value(), possible) << "count " << count << " alignment " << alignment;
            if (frames) {
                ++successes;
                ASSERT_TRUE(frames->is_aligned(alignment)) << frames->value();
                ASSERT_TRUE(span.contains(HostPhysRange{*frames, count * kPageSize})) << frames->value();
                const std::size_t first = model.index(*frames);
                ASSERT_TRUE(model.all(first, count, true)) << "overlaps a used frame at " << frames->value();
                model.set(first, count, false);
                live.emplace(frames->value(), count);
            } else {
                ++failures;
            }
        } else if (action < 85 && !live.empty()) {
            // Free a live allocation: whole, or only its first part.
            auto it = std::next(live.begin(), static_cast<std::ptrdiff_t>(uniform(0, live.size() - 1)));
            const auto [base, count] = *it;
            const std::size_t freed = uniform(0, 3) == 0 ? uniform(1, count) : count;
            ASSERT_TRUE(h.allocator.free(HostPhysAddr{base}, freed).ok());
            model.set(model.index(HostPhysAddr{base}), freed, true);
            live.erase(it);
            if (freed < count) live.emplace(base + freed * kPageSize, count - freed);
        } else if (action < 93) {
            // A free that touches at least one free frame must be refused whole.
            const std::size_t frame = uniform(0, model.frames() - 1);
            if (!model.is_free(frame)) continue;
            const std::size_t before = uniform(0, std::min<std::size_t>(frame, 4));
            const std::size_t count = before + 1 + uniform(0, std::min<std::size_t>(model.frames() - frame - 1, 4));
            ASSERT_FALSE(h.allocator.free(h.frame(frame - before), count).ok());
        } else if (action < 97) {
            // Out of the span or unaligned.
            const HostPhysAddr bad = uniform(0, 2) == 0   ? span.end() + uniform(0, 16) * kPageSize
                                     : uniform(0, 1) == 0 ? span.base - uniform(1, 16) * kPageSize
                                                          : span.base + uniform(0, model.frames() - 1) * kPageSize + 0x10;
            ASSERT_FALSE(h.allocator.free(bad, uniform(1, 4)).ok()) << bad.value();
        } else if (action < 99) {
            ASSERT_FALSE(h.allocator.allocate(uniform(0, 1) == 0 ? 0 : uniform(1, 8), 3 * kPageSize).has_value());
        } else {
            // Give back a small range that is free in the model (re-adding is a no-op).
            const std::size_t frame = uniform(0, model.frames() - 1);
            if (model.is_free(frame)) h.allocator.add_free({h.frame(frame), kPageSize});
        }
        ASSERT_EQ(h.allocator.free_frames(), model.free_count());
        if (step % 64 == 0) {
            ASSERT_EQ(h.allocator.largest_free_run(), model.largest_run());
        }
    }
    // The sequence exercised both outcomes, so the checks above compared something.
    EXPECT_GT(successes, 1000u);
    EXPECT_GT(failures, 10u);

    for (const auto& [base, count] : live) {
        ASSERT_TRUE(h.allocator.free(HostPhysAddr{base}, count).ok());
        model.set(model.index(HostPhysAddr{base}), count, true);
    }
    EXPECT_EQ(h.allocator.free_frames(), model.frames() - 257);
    EXPECT_EQ(h.allocator.free_frames(), model.free_count());
    EXPECT_EQ(h.allocator.largest_free_run(), model.largest_run());
}

}  // namespace
}  // namespace lamina
