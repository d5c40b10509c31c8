#include "core/latency_histogram.hpp"

#include <algorithm>
#include <bit>
#include <limits>

namespace lamina {
namespace {

constexpr std::uint64_t kNsPerUs = 1000;
constexpr unsigned kSubBucketBits = 3;  // log2(kSubBucketsPerOctave)
static_assert((1U << kSubBucketBits) == LatencyHistogram::kSubBucketsPerOctave);
constexpr unsigned kLastOctave = LatencyHistogram::kFirstOctave + LatencyHistogram::kOctaves - 1;

// a × b / c without overflowing in the product.
[[nodiscard]] std::uint64_t multiply_divide(std::uint64_t a, std::uint64_t b, std::uint64_t c) {
    const auto product = static_cast<unsigned __int128>(a) * b;
    const auto quotient = product / c;
    constexpr auto kMax = std::numeric_limits<std::uint64_t>::max();
    return quotient > kMax ? kMax : static_cast<std::uint64_t>(quotient);
}

[[nodiscard]] std::uint64_t bucket_lower_us(std::size_t index) {
    if (index == 0) return 0;
    const auto octave =
        static_cast<unsigned>(LatencyHistogram::kFirstOctave + (index - 1) / LatencyHistogram::kSubBucketsPerOctave);
    const std::uint64_t sub = (index - 1) % LatencyHistogram::kSubBucketsPerOctave;
    return (std::uint64_t{1} << octave) + (sub << (octave - kSubBucketBits));
}

[[nodiscard]] std::uint64_t bucket_upper_us(std::size_t index) {
    if (index == 0) return std::uint64_t{1} << LatencyHistogram::kFirstOctave;
    const auto octave =
        static_cast<unsigned>(LatencyHistogram::kFirstOctave + (index - 1) / LatencyHistogram::kSubBucketsPerOctave);
    return bucket_lower_us(index) + (std::uint64_t{1} << (octave - kSubBucketBits));
}

}  // namespace

std::size_t LatencyHistogram::bucket_index(std::uint64_t latency_ns) {
    const std::uint64_t us = latency_ns / kNsPerUs;
    if (us < (std::uint64_t{1} << kFirstOctave)) return 0;
    const auto octave = static_cast<unsigned>(std::bit_width(us) - 1);
    if (octave > kLastOctave) return kBucketCount - 1;
    const std::uint64_t sub = (us >> (octave - kSubBucketBits)) & (kSubBucketsPerOctave - 1);
    return 1 + std::size_t{octave - kFirstOctave} * kSubBucketsPerOctave + sub;
}

std::uint64_t LatencyHistogram::bucket_lower_ns(std::size_t index) { return bucket_lower_us(index) * kNsPerUs; }

std::uint64_t LatencyHistogram::bucket_upper_ns(std::size_t index) { return bucket_upper_us(index) * kNsPerUs; }

std::uint64_t LatencyHistogram::bucket_representative_ns(std::size_t index) {
    if (index == 0) return bucket_upper_ns(0) / 2;
    // The harmonic mean of the bounds is as far (relatively) from either, so
    // any value in the bucket is within width / (lower + upper): 1/17 < 6 %.
    const std::uint64_t lower = bucket_lower_us(index);
    const std::uint64_t upper = bucket_upper_us(index);
    return 2 * kNsPerUs * lower * upper / (lower + upper);
}

std::uint32_t LatencyHistogram::add_saturating(std::size_t index, std::uint32_t amount) {
    const std::uint32_t room = std::numeric_limits<std::uint32_t>::max() - counts_[index];
    const std::uint32_t added = std::min(room, amount);
    counts_[index] += added;
    total_ += added;
    return added;
}

void LatencyHistogram::record(std::uint64_t latency_ns) { add_saturating(bucket_index(latency_ns), 1); }

void LatencyHistogram::merge(const LatencyHistogram& other) {
    for (std::size_t index = 0; index < kBucketCount; ++index) {
        if (other.counts_[index] != 0) add_saturating(index, other.counts_[index]);
    }
}

void LatencyHistogram::clear() { *this = LatencyHistogram{}; }

std::uint64_t LatencyHistogram::percentile_ns(unsigned percent) const {
    if (total_ == 0) return 0;
    percent = std::clamp(percent, 1U, 100U);
    // The rank (1-based) of the value asked for: ceil(total × percent / 100).
    const std::uint64_t rank = std::max<std::uint64_t>(1, (total_ * percent + 99) / 100);
    std::uint64_t seen = 0;
    for (std::size_t index = 0; index < kBucketCount; ++index) {
        seen += counts_[index];
        if (seen >= rank) return bucket_representative_ns(index);
    }
    return bucket_representative_ns(kBucketCount - 1);  // unreachable: total_ is the sum
}

std::uint64_t LatencyHistogram::max_ns() const {
    for (std::size_t index = kBucketCount; index-- > 0;) {
        if (counts_[index] != 0) return bucket_upper_ns(index);
    }
    return 0;
}

std::uint64_t WindowSummary::rate_milli_per_s() const {
    if (span_ns == 0) return 0;
    return multiply_divide(requests, 1000 * LatencyWindow::kSecondNs, span_ns);
}

std::uint64_t WindowSummary::busy_permille() const {
    if (span_ns == 0) return 0;
    return multiply_divide(busy_ns, 1000, span_ns);
}

LatencyWindow::Slot* LatencyWindow::slot_for(std::uint64_t now_ns) {
    const std::uint64_t second = now_ns / kSecondNs;
    Slot& slot = slots_[second % kSlotCount];
    if (slot.second > second) return nullptr;
    if (slot.second < second) slot = Slot{.second = second};
    return &slot;
}

void LatencyWindow::record_latency(std::uint64_t now_ns, std::uint64_t latency_ns) {
    ++totals_.requests;
    if (Slot* slot = slot_for(now_ns)) {
        ++slot->requests;
        slot->latencies.record(latency_ns);
    }
}

void LatencyWindow::count_arrival(std::uint64_t now_ns) {
    if (Slot* slot = slot_for(now_ns)) ++slot->arrivals;
}

void LatencyWindow::count_reset(std::uint64_t now_ns) {
    ++totals_.resets;
    if (Slot* slot = slot_for(now_ns)) ++slot->resets;
}

void LatencyWindow::count_timeout(std::uint64_t now_ns) {
    ++totals_.timeouts;
    if (Slot* slot = slot_for(now_ns)) ++slot->timeouts;
}

void LatencyWindow::add_busy(std::uint64_t now_ns, std::uint64_t busy_ns) {
    if (Slot* slot = slot_for(now_ns)) slot->busy_ns += busy_ns;
}

WindowSummary LatencyWindow::summary(std::uint64_t now_ns, std::uint64_t window_ns) const {
    const std::uint64_t current = now_ns / kSecondNs;
    const std::uint64_t seconds = std::clamp<std::uint64_t>((window_ns + kSecondNs - 1) / kSecondNs, 1, kSlotCount);
    // The seconds that start in (now − window, now]: a window measured back
    // to some moment reaches no further than the start of that moment's
    // second. Near time zero there are fewer.
    const std::uint64_t oldest = current + 1 >= seconds ? current + 1 - seconds : 0;

    WindowSummary summary{};
    const std::uint64_t start_ns = std::max(oldest * kSecondNs, created_ns_);
    summary.span_ns = now_ns > start_ns ? now_ns - start_ns : 0;
    for (std::uint64_t second = oldest; second <= current; ++second) {
        const Slot& slot = slots_[second % kSlotCount];
        if (slot.second != second) continue;  // still holds an older second
        summary.requests += slot.requests;
        summary.arrivals += slot.arrivals;
        summary.resets += slot.resets;
        summary.timeouts += slot.timeouts;
        summary.busy_ns += slot.busy_ns;
        summary.latencies.merge(slot.latencies);
    }
    return summary;
}

}  // namespace lamina
