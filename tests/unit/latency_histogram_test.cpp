// LatencyHistogram (bucket geometry, percentile accuracy against exact
// percentiles of known distributions, saturation, merge) and LatencyWindow
// (per-second slots: expiry, long idle gaps, partial windows, totals).
#include "core/latency_histogram.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

namespace lamina {
namespace {

constexpr std::uint64_t kUs = 1'000;
constexpr std::uint64_t kMs = 1'000'000;
constexpr std::uint64_t kSec = 1'000'000'000;
constexpr double kTolerance = 0.06;

// The exact percentile by the histogram's definition: the smallest recorded
// value with at least `percent` % of the values at or below it.
std::uint64_t exact_percentile(std::vector<std::uint64_t> values, unsigned percent) {
    std::sort(values.begin(), values.end());
    const std::size_t rank = std::max<std::size_t>(1, (values.size() * percent + 99) / 100);
    return values[rank - 1];
}

void expect_within_tolerance(std::uint64_t reported, std::uint64_t exact, unsigned percent) {
    const double error =
        std::abs(static_cast<double>(reported) - static_cast<double>(exact)) / static_cast<double>(exact);
    EXPECT_LE(error, kTolerance) << "p" << percent << ": reported " << reported << " ns, exact " << exact << " ns";
}

// Values at or above 16 µs and below the top of the last bucket.
void expect_accurate_percentiles(const std::vector<std::uint64_t>& values) {
    LatencyHistogram histogram;
    for (const std::uint64_t value : values) histogram.record(value);
    ASSERT_EQ(histogram.count(), values.size());
    for (unsigned percent = 1; percent <= 100; ++percent) {
        expect_within_tolerance(histogram.percentile_ns(percent), exact_percentile(values, percent), percent);
    }
}

TEST(LatencyHistogram, FitsInOneKibibyteAndIsConstexprConstructible) {
    static_assert(sizeof(LatencyHistogram) < 1024);
    constexpr LatencyHistogram histogram{};
    EXPECT_EQ(histogram.count(), 0U);
}

TEST(LatencyHistogram, EmptyReportsZero) {
    const LatencyHistogram histogram;
    EXPECT_EQ(histogram.count(), 0U);
    EXPECT_EQ(histogram.percentile_ns(50), 0U);
    EXPECT_EQ(histogram.percentile_ns(100), 0U);
    EXPECT_EQ(histogram.max_ns(), 0U);
}

TEST(LatencyHistogram, BucketsAreContiguousWithEightPerPowerOfTwo) {
    EXPECT_EQ(LatencyHistogram::kBucketCount, 177U);
    EXPECT_EQ(LatencyHistogram::bucket_lower_ns(0), 0U);
    EXPECT_EQ(LatencyHistogram::bucket_upper_ns(0), 16 * kUs);
    for (std::size_t index = 1; index < LatencyHistogram::kBucketCount; ++index) {
        const std::uint64_t lower = LatencyHistogram::bucket_lower_ns(index);
        const std::uint64_t upper = LatencyHistogram::bucket_upper_ns(index);
        EXPECT_EQ(lower, LatencyHistogram::bucket_upper_ns(index - 1)) << index;
        // Width: an eighth of the power of two the bucket lies in.
        const std::uint64_t octave_start = std::uint64_t{1} << (std::bit_width(lower / kUs) - 1);
        EXPECT_EQ(upper - lower, octave_start * kUs / 8) << index;
        EXPECT_EQ(LatencyHistogram::bucket_index(lower), index);
        EXPECT_EQ(LatencyHistogram::bucket_index(upper - 1), index);
        const std::uint64_t middle = LatencyHistogram::bucket_representative_ns(index);
        EXPECT_GT(middle, lower);
        EXPECT_LT(middle, upper);
    }
    // About 64 s at the top.
    EXPECT_EQ(LatencyHistogram::bucket_upper_ns(LatencyHistogram::kBucketCount - 1), (std::uint64_t{1} << 26) * kUs);
}

TEST(LatencyHistogram, EverythingUnderSixteenMicrosecondsSharesTheFirstBucket) {
    LatencyHistogram histogram;
    histogram.record(0);
    histogram.record(1);
    histogram.record(15'999);
    EXPECT_EQ(histogram.bucket_count(0), 3U);
    EXPECT_EQ(LatencyHistogram::bucket_index(16 * kUs), 1U);
    EXPECT_EQ(histogram.percentile_ns(100), 8 * kUs);
    EXPECT_EQ(histogram.max_ns(), 16 * kUs);
}

TEST(LatencyHistogram, ValuesBeyondTheTopLandInTheLastBucket) {
    LatencyHistogram histogram;
    histogram.record(120 * kSec);
    histogram.record(std::numeric_limits<std::uint64_t>::max());
    EXPECT_EQ(histogram.bucket_count(LatencyHistogram::kBucketCount - 1), 2U);
    EXPECT_EQ(histogram.max_ns(), LatencyHistogram::bucket_upper_ns(LatencyHistogram::kBucketCount - 1));
    EXPECT_GT(histogram.percentile_ns(50), 60 * kSec);
}

TEST(LatencyHistogram, SingleValueIsReportedWithinSixPercentAcrossTheRange) {
    // A geometric sweep from 16 µs to 64 s, plus every bucket's bounds.
    std::vector<std::uint64_t> values;
    for (double value = 16.0 * kUs; value < 64.0 * kSec; value *= 1.013)
        values.push_back(static_cast<std::uint64_t>(value));
    for (std::size_t index = 1; index < LatencyHistogram::kBucketCount; ++index) {
        values.push_back(LatencyHistogram::bucket_lower_ns(index));
        values.push_back(LatencyHistogram::bucket_upper_ns(index) - 1);
    }
    for (const std::uint64_t value : values) {
        LatencyHistogram histogram;
        histogram.record(value);
        for (const unsigned percent : {1U, 50U, 99U, 100U})
            expect_within_tolerance(histogram.percentile_ns(percent), value, percent);
    }
}

TEST(LatencyHistogram, PercentileIsTheSmallestValueCoveringThatShare) {
    // 100 values, 1 ms .. 100 ms: p50 is the 50th, p51 the 51st.
    LatencyHistogram histogram;
    std::vector<std::uint64_t> values;
    for (std::uint64_t ms = 1; ms <= 100; ++ms) values.push_back(ms * kMs);
    for (const std::uint64_t value : values) histogram.record(value);
    EXPECT_EQ(histogram.percentile_ns(50),
              LatencyHistogram::bucket_representative_ns(LatencyHistogram::bucket_index(50 * kMs)));
    EXPECT_EQ(histogram.percentile_ns(51),
              LatencyHistogram::bucket_representative_ns(LatencyHistogram::bucket_index(51 * kMs)));
    EXPECT_EQ(histogram.percentile_ns(100),
              LatencyHistogram::bucket_representative_ns(LatencyHistogram::bucket_index(100 * kMs)));
    EXPECT_EQ(histogram.percentile_ns(1),
              LatencyHistogram::bucket_representative_ns(LatencyHistogram::bucket_index(1 * kMs)));
}

TEST(LatencyHistogram, PercentOutOfRangeIsClamped) {
    LatencyHistogram histogram;
    histogram.record(1 * kMs);
    histogram.record(9 * kMs);
    EXPECT_EQ(histogram.percentile_ns(0), histogram.percentile_ns(1));
    EXPECT_EQ(histogram.percentile_ns(250), histogram.percentile_ns(100));
}

TEST(LatencyHistogram, TwoPointDistributionSwitchesAtTheRightPercentile) {
    // 90 fast requests, 10 slow ones: p90 is fast, p91 slow.
    LatencyHistogram histogram;
    for (int i = 0; i < 90; ++i) histogram.record(2 * kMs);
    for (int i = 0; i < 10; ++i) histogram.record(400 * kMs);
    expect_within_tolerance(histogram.percentile_ns(90), 2 * kMs, 90);
    expect_within_tolerance(histogram.percentile_ns(91), 400 * kMs, 91);
    expect_within_tolerance(histogram.percentile_ns(99), 400 * kMs, 99);
}

TEST(LatencyHistogram, UniformDistributionPercentilesWithinSixPercent) {
    std::mt19937_64 random{1};
    std::uniform_int_distribution<std::uint64_t> latency{100 * kUs, 100 * kMs};
    std::vector<std::uint64_t> values(10'000);
    for (auto& value : values) value = latency(random);
    expect_accurate_percentiles(values);
}

TEST(LatencyHistogram, LogNormalDistributionPercentilesWithinSixPercent) {
    std::mt19937_64 random{2};
    std::lognormal_distribution<double> latency_ms{std::log(20.0), 1.0};
    std::vector<std::uint64_t> values(20'000);
    for (auto& value : values)
        value = std::clamp<std::uint64_t>(static_cast<std::uint64_t>(latency_ms(random) * kMs), 16 * kUs, 60 * kSec);
    expect_accurate_percentiles(values);
}

TEST(LatencyHistogram, ExponentialTailPercentilesWithinSixPercent) {
    std::mt19937_64 random{3};
    std::exponential_distribution<double> latency_ms{1.0 / 5.0};
    std::vector<std::uint64_t> values(20'000);
    for (auto& value : values) value = 1 * kMs + static_cast<std::uint64_t>(latency_ms(random) * kMs);
    expect_accurate_percentiles(values);
}

TEST(LatencyHistogram, MaxIsTheUpperBoundOfTheHighestBucket) {
    LatencyHistogram histogram;
    histogram.record(3 * kMs);
    histogram.record(70 * kMs);
    histogram.record(5 * kMs);
    const std::uint64_t max = histogram.max_ns();
    EXPECT_EQ(max, LatencyHistogram::bucket_upper_ns(LatencyHistogram::bucket_index(70 * kMs)));
    EXPECT_GT(max, 70 * kMs);
    EXPECT_LE(max, 70 * kMs * 113 / 100);
}

TEST(LatencyHistogram, CountsSaturateInsteadOfWrapping) {
    LatencyHistogram histogram;
    histogram.record(1 * kMs);
    histogram.record(90 * kMs);
    // Doubling by merging a copy reaches 2^32 in 32 steps.
    for (int step = 0; step < 40; ++step) {
        const LatencyHistogram copy = histogram;
        histogram.merge(copy);
    }
    const std::size_t fast = LatencyHistogram::bucket_index(1 * kMs);
    const std::size_t slow = LatencyHistogram::bucket_index(90 * kMs);
    EXPECT_EQ(histogram.bucket_count(fast), std::numeric_limits<std::uint32_t>::max());
    EXPECT_EQ(histogram.bucket_count(slow), std::numeric_limits<std::uint32_t>::max());
    EXPECT_EQ(histogram.count(), 2 * std::uint64_t{std::numeric_limits<std::uint32_t>::max()});
    histogram.record(1 * kMs);
    EXPECT_EQ(histogram.bucket_count(fast), std::numeric_limits<std::uint32_t>::max());
    EXPECT_EQ(histogram.count(), 2 * std::uint64_t{std::numeric_limits<std::uint32_t>::max()});
    // Percentiles still see the buckets as they are.
    expect_within_tolerance(histogram.percentile_ns(50), 1 * kMs, 50);
    expect_within_tolerance(histogram.percentile_ns(51), 90 * kMs, 51);
}

TEST(LatencyHistogram, MergeAddsCounts) {
    LatencyHistogram fast;
    LatencyHistogram slow;
    for (int i = 0; i < 60; ++i) fast.record(4 * kMs);
    for (int i = 0; i < 40; ++i) slow.record(200 * kMs);
    LatencyHistogram both = fast;
    both.merge(slow);
    EXPECT_EQ(both.count(), 100U);
    expect_within_tolerance(both.percentile_ns(60), 4 * kMs, 60);
    expect_within_tolerance(both.percentile_ns(61), 200 * kMs, 61);
    EXPECT_EQ(both.max_ns(), slow.max_ns());
    both.merge(LatencyHistogram{});
    EXPECT_EQ(both.count(), 100U);
}

TEST(LatencyHistogram, ClearEmptiesIt) {
    LatencyHistogram histogram;
    histogram.record(5 * kMs);
    histogram.clear();
    EXPECT_EQ(histogram.count(), 0U);
    EXPECT_EQ(histogram.percentile_ns(99), 0U);
    EXPECT_EQ(histogram.max_ns(), 0U);
}

TEST(WindowSummary, RateAndBusyShareOverTheSpan) {
    WindowSummary summary{.requests = 50, .busy_ns = 2 * kSec, .span_ns = 5 * kSec};
    EXPECT_EQ(summary.rate_milli_per_s(), 10'000U);
    EXPECT_EQ(summary.busy_permille(), 400U);
    summary.span_ns = 0;
    EXPECT_EQ(summary.rate_milli_per_s(), 0U);
    EXPECT_EQ(summary.busy_permille(), 0U);
    // No overflow with large counts.
    const WindowSummary busy{.requests = std::uint64_t{1} << 40, .span_ns = 16 * kSec};
    EXPECT_EQ(busy.rate_milli_per_s(), (std::uint64_t{1} << 40) * 1000 / 16);
    const WindowSummary errors{.resets = 2, .timeouts = 3};
    EXPECT_EQ(errors.errors(), 5U);
}

TEST(LatencyWindow, IsConstexprConstructible) {
    static constinit LatencyWindow window{};
    EXPECT_EQ(window.totals().requests, 0U);
    EXPECT_EQ(window.summary(5 * kSec, 5 * kSec).requests, 0U);
}

TEST(LatencyWindow, SummarySumsTheSecondsOfTheWindow) {
    LatencyWindow window;
    const std::uint64_t start = 100 * kSec;
    for (std::uint64_t second = 0; second < 5; ++second) {
        for (int i = 0; i < 10; ++i) window.record_latency(start + second * kSec + 100 * kMs, (second + 1) * 10 * kMs);
        window.add_busy(start + second * kSec + 500 * kMs, 200 * kMs);
    }
    window.count_reset(start + 1 * kSec);
    window.count_timeout(start + 3 * kSec);
    window.count_timeout(start + 4 * kSec);

    const WindowSummary summary = window.summary(start + 4 * kSec + 500 * kMs, 5 * kSec);
    EXPECT_EQ(summary.requests, 50U);
    EXPECT_EQ(summary.latencies.count(), 50U);
    EXPECT_EQ(summary.resets, 1U);
    EXPECT_EQ(summary.timeouts, 2U);
    EXPECT_EQ(summary.busy_ns, 1 * kSec);
    expect_within_tolerance(summary.latencies.percentile_ns(100), 50 * kMs, 100);
    expect_within_tolerance(summary.latencies.percentile_ns(20), 10 * kMs, 20);
}

TEST(LatencyWindow, SecondsBeforeTheWindowExpire) {
    LatencyWindow window;
    const std::uint64_t start = 100 * kSec;
    for (std::uint64_t second = 0; second < 10; ++second)
        window.record_latency(start + second * kSec, (second + 1) * kMs);
    // At 109.5 s a 3 s window holds the seconds starting in (106.5, 109.5].
    const WindowSummary summary = window.summary(start + 9 * kSec + 500 * kMs, 3 * kSec);
    EXPECT_EQ(summary.requests, 3U);
    expect_within_tolerance(summary.latencies.percentile_ns(1), 8 * kMs, 1);
    EXPECT_EQ(summary.span_ns, 2 * kSec + 500 * kMs);
    // Later, with nothing new, the window empties.
    EXPECT_EQ(window.summary(start + 11 * kSec + 500 * kMs, 3 * kSec).requests, 1U);  // second 109 still in
    EXPECT_EQ(window.summary(start + 12 * kSec, 3 * kSec).requests, 0U);
    EXPECT_EQ(window.summary(start + 60 * kSec, 3 * kSec).requests, 0U);
}

TEST(LatencyWindow, PartialWindowSpanCoversOnlyTheElapsedPartOfTheCurrentSecond) {
    LatencyWindow window;
    // The current second counts as far as it has gone.
    EXPECT_EQ(window.summary(10 * kSec + 250 * kMs, 5 * kSec).span_ns, 4 * kSec + 250 * kMs);
    EXPECT_EQ(window.summary(10 * kSec + 999 * kMs, 5 * kSec).span_ns, 4 * kSec + 999 * kMs);
    EXPECT_EQ(window.summary(10 * kSec, 5 * kSec).span_ns, 4 * kSec);
    // Windows round up to whole seconds.
    EXPECT_EQ(window.summary(10 * kSec + 500 * kMs, 2 * kSec + 1).span_ns, 2 * kSec + 500 * kMs);
    // At least one (the current) second.
    EXPECT_EQ(window.summary(10 * kSec + 250 * kMs, 0).span_ns, 250 * kMs);
    EXPECT_EQ(window.summary(10 * kSec, 1 * kSec).span_ns, 0U);
    // Near time zero there is less behind us.
    EXPECT_EQ(window.summary(500 * kMs, 5 * kSec).span_ns, 500 * kMs);
    EXPECT_EQ(window.summary(0, 5 * kSec).span_ns, 0U);
}

TEST(LatencyWindow, SpanNeverReachesBeforeCreation) {
    LatencyWindow window{100 * kSec + 300 * kMs};
    EXPECT_EQ(window.summary(100 * kSec + 800 * kMs, 5 * kSec).span_ns, 500 * kMs);
    EXPECT_EQ(window.summary(102 * kSec + 300 * kMs, 5 * kSec).span_ns, 2 * kSec);
    EXPECT_EQ(window.summary(110 * kSec + 500 * kMs, 5 * kSec).span_ns, 4 * kSec + 500 * kMs);
}

TEST(LatencyWindow, WindowIsLimitedToTheSixteenSecondsTheRingHolds) {
    LatencyWindow window;
    const std::uint64_t start = 100 * kSec;
    for (std::uint64_t second = 0; second < 20; ++second) window.record_latency(start + second * kSec, 1 * kMs);
    const std::uint64_t now = start + 19 * kSec + 500 * kMs;
    const WindowSummary summary = window.summary(now, 60 * kSec);
    EXPECT_EQ(summary.requests, 16U);
    EXPECT_EQ(summary.span_ns, 15 * kSec + 500 * kMs);
    EXPECT_EQ(window.summary(now, 16 * kSec).requests, 16U);
    EXPECT_EQ(window.summary(now, 15 * kSec).requests, 15U);
    EXPECT_EQ(window.summary(now, 14 * kSec + 1).requests, 15U);
    EXPECT_EQ(window.summary(start + 19 * kSec, 14 * kSec).requests, 14U);
}

TEST(LatencyWindow, SlotReusedSixteenSecondsLaterStartsEmpty) {
    LatencyWindow window;
    const std::uint64_t start = 100 * kSec;
    for (int i = 0; i < 7; ++i) window.record_latency(start, 500 * kMs);
    window.count_reset(start);
    window.add_busy(start, 900 * kMs);
    // Second 116 uses the same slot as second 100.
    window.record_latency(start + 16 * kSec, 1 * kMs);
    const WindowSummary summary = window.summary(start + 16 * kSec, 1 * kSec);
    EXPECT_EQ(summary.requests, 1U);
    EXPECT_EQ(summary.resets, 0U);
    EXPECT_EQ(summary.busy_ns, 0U);
    expect_within_tolerance(summary.latencies.percentile_ns(100), 1 * kMs, 100);
}

TEST(LatencyWindow, LongIdleGapLeavesNothingBehind) {
    LatencyWindow window;
    const std::uint64_t start = 100 * kSec;
    for (std::uint64_t second = 0; second < 16; ++second) {
        window.record_latency(start + second * kSec, 300 * kMs);
        window.count_timeout(start + second * kSec);
        window.add_busy(start + second * kSec, 1 * kSec);
    }
    // Minutes later, at a time whose slots all hold seconds of long ago
    // (16 × 40 s later: the very same slot indices).
    const std::uint64_t later = start + 16 * 40 * kSec + 15 * kSec;
    for (const std::uint64_t window_ns : {1 * kSec, 5 * kSec, 16 * kSec}) {
        const WindowSummary idle = window.summary(later, window_ns);
        EXPECT_EQ(idle.requests, 0U);
        EXPECT_EQ(idle.timeouts, 0U);
        EXPECT_EQ(idle.busy_ns, 0U);
        EXPECT_EQ(idle.latencies.count(), 0U);
    }
    // New figures after the gap stand alone.
    window.record_latency(later, 2 * kMs);
    window.record_latency(later + 1 * kSec, 2 * kMs);
    const WindowSummary fresh = window.summary(later + 1 * kSec + 1, 16 * kSec);
    EXPECT_EQ(fresh.requests, 2U);
    EXPECT_EQ(fresh.timeouts, 0U);
    expect_within_tolerance(fresh.latencies.percentile_ns(100), 2 * kMs, 100);
}

TEST(LatencyWindow, TotalsCountEverythingSinceConstruction) {
    LatencyWindow window;
    for (std::uint64_t second = 0; second < 100; ++second) {
        window.record_latency(second * kSec, 1 * kMs);
        window.record_latency(second * kSec, 1 * kMs);
        if (second % 10 == 0) window.count_reset(second * kSec);
        if (second % 25 == 0) window.count_timeout(second * kSec);
    }
    const LatencyTotals totals = window.totals();
    EXPECT_EQ(totals.requests, 200U);
    EXPECT_EQ(totals.resets, 10U);
    EXPECT_EQ(totals.timeouts, 4U);
    EXPECT_EQ(window.summary(99 * kSec + 1, 16 * kSec).requests, 32U);
}

TEST(LatencyWindow, LateReportForASecondThatLeftTheRingCountsOnlyInTotals) {
    LatencyWindow window;
    window.record_latency(200 * kSec, 1 * kMs);    // slot of second 200 (index 8)
    window.record_latency(184 * kSec, 900 * kMs);  // same slot, 16 s older
    window.count_reset(184 * kSec);
    EXPECT_EQ(window.totals().requests, 2U);
    EXPECT_EQ(window.totals().resets, 1U);
    const WindowSummary summary = window.summary(200 * kSec + 1, 16 * kSec);
    EXPECT_EQ(summary.requests, 1U);
    EXPECT_EQ(summary.resets, 0U);
    // A slightly late report for a second still in the ring is kept.
    window.record_latency(199 * kSec + 999 * kMs, 1 * kMs);
    EXPECT_EQ(window.summary(200 * kSec + 1, 2 * kSec).requests, 2U);
}

}  // namespace
}  // namespace lamina
