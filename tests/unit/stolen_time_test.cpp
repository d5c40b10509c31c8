// Arm PV stolen time: the record layout the guest reads, where each vCPU's
// record sits, and the conversion of counter ticks to nanoseconds.
#include "core/stolen_time.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

namespace lamina::stolen_time {
namespace {

constexpr std::uint64_t kQemuHz = 62'500'000;  // QEMU virt's CNTFRQ_EL0 (before 1 GHz)

TEST(StolenTime, RecordsSitInOnePageOutsideRam) {
    EXPECT_EQ(record_address(0), GuestPhysAddr{0x0b00'0000});
    EXPECT_EQ(record_address(1), GuestPhysAddr{0x0b00'0040});
    EXPECT_EQ(record_address(7), GuestPhysAddr{0x0b00'01c0});
    EXPECT_GE(kRecordsPerPage, 8u);
    EXPECT_TRUE(guest_layout::kStolenTimeBase.is_aligned(kPageSize));
    EXPECT_LT(record_address(kRecordsPerPage - 1) + sizeof(Record), guest_layout::kRamBase);
}

TEST(StolenTime, TicksToNanoseconds) {
    EXPECT_EQ(ticks_to_ns(0, kQemuHz), 0u);
    EXPECT_EQ(ticks_to_ns(1, kQemuHz), 16u);  // 16 ns per tick at 62.5 MHz
    EXPECT_EQ(ticks_to_ns(kQemuHz, kQemuHz), 1'000'000'000u);
    EXPECT_EQ(ticks_to_ns(3, 1'000'000'000), 3u);
    EXPECT_EQ(ticks_to_ns(1, 24'000'000), 41u);  // 41.67 ns, rounded down
    EXPECT_EQ(ticks_to_ns(24'000'000 + 1, 24'000'000), 1'000'000'041u);
    EXPECT_EQ(ticks_to_ns(12345, 0), 0u);
}

// The plain ticks * 10^9 overflows after ~295 s at 62.5 MHz; the split does not.
TEST(StolenTime, NoOverflowAfterHoursOfSteal) {
    const std::uint64_t ten_hours = 10 * 3600 * kQemuHz;
    EXPECT_EQ(ticks_to_ns(ten_hours, kQemuHz), 10ull * 3600 * 1'000'000'000);
    const std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
    EXPECT_EQ(ticks_to_ns(max, 1'000'000'000), max);
}

TEST(StolenTime, MonotonicAcrossSecondBoundaries) {
    for (const std::uint64_t hz : {std::uint64_t{24'000'000}, kQemuHz, std::uint64_t{19'200'000}}) {
        std::uint64_t previous = 0;
        for (std::uint64_t ticks = hz - 1000; ticks < hz + 1000; ++ticks) {
            const std::uint64_t ns = ticks_to_ns(ticks, hz);
            ASSERT_GE(ns, previous) << "at " << ticks << " ticks, " << hz << " Hz";
            previous = ns;
        }
        for (std::uint64_t ticks = 5 * hz - 1000; ticks < 5 * hz + 1000; ++ticks) {
            const std::uint64_t ns = ticks_to_ns(ticks, hz);
            ASSERT_GE(ns, previous) << "at " << ticks << " ticks, " << hz << " Hz";
            previous = ns;
        }
    }
}

}  // namespace
}  // namespace lamina::stolen_time
