#include "schedule.hpp"

#include <stdexcept>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace lamina::load {
namespace {

using ::testing::HasSubstr;

// The message parse_schedule throws for `text`, or "" when it parses.
std::string schedule_error(const std::string& text) {
    try {
        (void)parse_schedule(text);
        return "";
    } catch (const std::invalid_argument& error) {
        return error.what();
    }
}

TEST(Schedule, ParsesOnePhase) {
    const std::vector<Phase> phases = parse_schedule("20:3");
    ASSERT_EQ(phases.size(), 1u);
    EXPECT_EQ(phases[0].rate, 20);
    EXPECT_EQ(phases[0].seconds, 3);
}

TEST(Schedule, ParsesPhasesInOrderWithIdleAndFractions) {
    const std::vector<Phase> phases = parse_schedule("10:1, 0:1.5 ,2.5:0.5");
    ASSERT_EQ(phases.size(), 3u);
    EXPECT_EQ(phases[0].rate, 10);
    EXPECT_EQ(phases[1].rate, 0);
    EXPECT_EQ(phases[1].seconds, 1.5);
    EXPECT_EQ(phases[2].rate, 2.5);
    EXPECT_EQ(phases[2].seconds, 0.5);
    EXPECT_EQ(total_seconds(phases), 3);
}

TEST(Schedule, RejectsNegativeNumbers) {
    EXPECT_THAT(schedule_error("-1:5"), HasSubstr("the rate must be from 0"));
    EXPECT_THAT(schedule_error("5:-1"), HasSubstr("the duration must be more than 0"));
}

TEST(Schedule, RejectsAMissingColon) {
    EXPECT_THAT(schedule_error("10"), HasSubstr("phase 1 \"10\": not RATE:SECONDS"));
    EXPECT_THAT(schedule_error("10:1,20"), HasSubstr("phase 2 \"20\": not RATE:SECONDS"));
}

TEST(Schedule, RejectsZeroDuration) { EXPECT_THAT(schedule_error("10:0"), HasSubstr("more than 0")); }

TEST(Schedule, RejectsGarbage) {
    EXPECT_THAT(schedule_error("fast:10"), HasSubstr("the rate \"fast\" is not a number"));
    EXPECT_THAT(schedule_error("10:1s"), HasSubstr("the duration \"1s\" is not a number"));
    EXPECT_THAT(schedule_error("10:1:2"), HasSubstr("is not a number"));
    EXPECT_THAT(schedule_error("inf:1"), HasSubstr("is not a number"));
    EXPECT_THAT(schedule_error("nan:1"), HasSubstr("is not a number"));
    EXPECT_THAT(schedule_error(":"), HasSubstr("is not a number"));
    EXPECT_THAT(schedule_error("10:1,"), HasSubstr("phase 2"));
    EXPECT_THAT(schedule_error(""), HasSubstr("empty"));
    EXPECT_THAT(schedule_error("  "), HasSubstr("empty"));
}

TEST(Schedule, RejectsRatesAndDurationsBeyondTheLimits) {
    EXPECT_THAT(schedule_error("2e6:1"), HasSubstr("the rate must be from 0"));
    EXPECT_THAT(schedule_error("1:2e6"), HasSubstr("at most"));
}

TEST(Schedule, MakePhaseChecksRateAndDuration) {
    EXPECT_EQ(make_phase(20, 3).rate, 20);
    EXPECT_THROW((void)make_phase(-1, 3), std::invalid_argument);
    EXPECT_THROW((void)make_phase(1, 0), std::invalid_argument);
    EXPECT_THROW((void)make_phase(1, std::numeric_limits<double>::infinity()), std::invalid_argument);
}

TEST(DueTime, RequestKOfRateRIsDueAtKOverR) {
    EXPECT_EQ(due_offset(0, 20), 0);
    EXPECT_DOUBLE_EQ(due_offset(1, 20), 0.05);
    EXPECT_DOUBLE_EQ(due_offset(59, 20), 2.95);
    EXPECT_DOUBLE_EQ(due_offset(3, 0.5), 6);
}

TEST(DueTime, APhaseSendsEveryRequestDueBeforeItEnds) {
    EXPECT_EQ(requests_in_phase({20, 3}), 60u);
    EXPECT_EQ(requests_in_phase({0.5, 3}), 2u);   // at 0 s and 2 s
    EXPECT_EQ(requests_in_phase({0.1, 30}), 3u);  // 0.1 * 30 rounds above 3
    EXPECT_EQ(requests_in_phase({3, 0.1}), 1u);
    EXPECT_EQ(requests_in_phase({0, 10}), 0u);
    EXPECT_EQ(total_requests(parse_schedule("10:1,0:1,10:1")), 20u);
}

TEST(DueTime, WalksThePhasesOneAfterAnother) {
    DueTimes due(parse_schedule("2:1,0:1,4:0.5"));
    std::vector<double> times;
    while (const std::optional<double> next = due.next()) times.push_back(*next);
    ASSERT_EQ(times.size(), 4u);
    EXPECT_DOUBLE_EQ(times[0], 0);
    EXPECT_DOUBLE_EQ(times[1], 0.5);
    EXPECT_DOUBLE_EQ(times[2], 2);  // after the idle second
    EXPECT_DOUBLE_EQ(times[3], 2.25);
    EXPECT_FALSE(due.next());
}

TEST(DueTime, AnIdleScheduleHasNoRequests) {
    DueTimes due(parse_schedule("0:5"));
    EXPECT_FALSE(due.next());
}

}  // namespace
}  // namespace lamina::load
