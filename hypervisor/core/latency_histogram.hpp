// Request latencies as the virtual switch measures them, in fixed memory:
// a log-linear histogram (8 buckets per power of two of microseconds, so a
// percentile is known within ±6 %) and a ring of per-second slots from which
// the figures of the last 1..16 seconds are summed on demand. No clock of
// their own: the caller passes monotonic nanoseconds in.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace lamina {

class LatencyHistogram final {
public:
    // Everything under 16 µs shares bucket 0; above it, each power of two of
    // microseconds from 2^4 to 2^26 (about 67 s) is cut into 8 equal buckets;
    // anything longer lands in the last bucket.
    static constexpr unsigned kSubBucketsPerOctave = 8;
    static constexpr unsigned kFirstOctave = 4;  // 16 µs
    static constexpr unsigned kOctaves = 22;     // up to 2^26 µs
    static constexpr std::size_t kBucketCount = 1 + std::size_t{kOctaves} * kSubBucketsPerOctave;

    constexpr LatencyHistogram() = default;

    void record(std::uint64_t latency_ns);
    void merge(const LatencyHistogram& other);
    void clear();

    [[nodiscard]] std::uint64_t count() const { return total_; }
    // The smallest value v such that at least `percent` % (1..100, clamped)
    // of the recorded values are <= v, as the point of its bucket that halves
    // the relative error (within 6 % from 16 µs up); 0 when empty.
    [[nodiscard]] std::uint64_t percentile_ns(unsigned percent) const;
    // The upper bound of the highest non-empty bucket, or 0 when empty.
    [[nodiscard]] std::uint64_t max_ns() const;

    // Bucket geometry, exposed for reports and tests.
    [[nodiscard]] static std::size_t bucket_index(std::uint64_t latency_ns);
    [[nodiscard]] static std::uint64_t bucket_lower_ns(std::size_t index);
    [[nodiscard]] static std::uint64_t bucket_upper_ns(std::size_t index);
    [[nodiscard]] static std::uint64_t bucket_representative_ns(std::size_t index);
    [[nodiscard]] std::uint32_t bucket_count(std::size_t index) const { return counts_[index]; }

private:
    // Adds up to `amount` to one bucket without wrapping; returns what fitted.
    std::uint32_t add_saturating(std::size_t index, std::uint32_t amount);

    std::array<std::uint32_t, kBucketCount> counts_{};
    std::uint64_t total_{0};  // the sum of counts_ (what the buckets hold)
};

static_assert(sizeof(LatencyHistogram) < 1024, "a histogram is kept per second per replica: keep it small");

// The figures of one window of recent time, summed over its seconds.
struct WindowSummary final {
    std::uint64_t requests{0};  // responses timed (one per latency recorded)
    std::uint64_t arrivals{0};  // requests that started (a client's request bytes)
    std::uint64_t resets{0};
    std::uint64_t timeouts{0};
    std::uint64_t busy_ns{0};
    std::uint64_t span_ns{0};  // how much time the figures cover
    LatencyHistogram latencies{};

    // Requests per second × 1000 over span_ns (0 when the span is empty).
    [[nodiscard]] std::uint64_t rate_milli_per_s() const;
    // busy_ns as per mille of span_ns (0 when the span is empty).
    [[nodiscard]] std::uint64_t busy_permille() const;
    [[nodiscard]] std::uint64_t errors() const { return resets + timeouts; }
};

struct LatencyTotals final {
    std::uint64_t requests{0};
    std::uint64_t resets{0};
    std::uint64_t timeouts{0};
};

// The last 16 seconds, one slot per second of monotonic time. A slot still
// holding an older second is emptied when its second comes round again, and
// ignored by summaries until then, so idle gaps of any length need no work.
class LatencyWindow final {
public:
    static constexpr std::uint64_t kSecondNs = 1'000'000'000;
    static constexpr std::size_t kSlotCount = 16;

    // `created_ns`: when measuring began; summaries never claim to cover
    // time before it.
    constexpr explicit LatencyWindow(std::uint64_t created_ns = 0) : created_ns_{created_ns} {}

    void record_latency(std::uint64_t now_ns, std::uint64_t latency_ns);
    // A request arrived: arrivals against completions say whether a queue grows.
    void count_arrival(std::uint64_t now_ns);
    void count_reset(std::uint64_t now_ns);
    void count_timeout(std::uint64_t now_ns);
    void add_busy(std::uint64_t now_ns, std::uint64_t busy_ns);

    // The slots of the seconds that start in (now − window, now], the window
    // rounded up to whole seconds and clamped to 1..16 s. span_ns runs from
    // the start of the oldest of those seconds (or created_ns, if later) to
    // now: the window less the part of the current second still to come
    // (so a 1 s window just after a second boundary covers almost nothing).
    [[nodiscard]] WindowSummary summary(std::uint64_t now_ns, std::uint64_t window_ns) const;
    [[nodiscard]] LatencyTotals totals() const { return totals_; }

private:
    struct Slot final {
        std::uint64_t second{0};
        std::uint64_t requests{0};
        std::uint64_t arrivals{0};
        std::uint64_t resets{0};
        std::uint64_t timeouts{0};
        std::uint64_t busy_ns{0};
        LatencyHistogram latencies{};
    };

    // The slot for the second of `now_ns`, emptied first if it held an older
    // second; nullptr if it already holds a newer one (a late report for a
    // second that has left the ring).
    [[nodiscard]] Slot* slot_for(std::uint64_t now_ns);

    std::array<Slot, kSlotCount> slots_{};
    LatencyTotals totals_{};
    std::uint64_t created_ns_;
};

}  // namespace lamina
