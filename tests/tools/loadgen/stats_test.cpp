#include "stats.hpp"

#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "report.hpp"

namespace lamina::load {
namespace {

using namespace std::chrono_literals;

std::vector<double> one_to(int n) {
    std::vector<double> values;
    for (int i = n; i >= 1; --i) values.push_back(i);  // unsorted on purpose
    return values;
}

TEST(Percentiles, AreNearestRankAndExact) {
    const Percentiles hundred = percentiles_of(one_to(100));
    EXPECT_EQ(hundred.p50, 50);
    EXPECT_EQ(hundred.p95, 95);
    EXPECT_EQ(hundred.p99, 99);
    const Percentiles twenty = percentiles_of(one_to(20));
    EXPECT_EQ(twenty.p50, 10);
    EXPECT_EQ(twenty.p95, 19);
    EXPECT_EQ(twenty.p99, 20);
}

TEST(Percentiles, OfOneValueAreThatValue) {
    const Percentiles one = percentiles_of({42.5});
    EXPECT_EQ(one.p50, 42.5);
    EXPECT_EQ(one.p99, 42.5);
}

TEST(Percentiles, OfNothingAreAbsent) {
    const Percentiles none = percentiles_of({});
    EXPECT_FALSE(none.p50);
    EXPECT_FALSE(none.p95);
    EXPECT_FALSE(none.p99);
}

TEST(Seconds, CountFromOne) {
    EXPECT_EQ(second_of(0s), 1);
    EXPECT_EQ(second_of(999ms), 1);
    EXPECT_EQ(second_of(1s), 2);
    EXPECT_EQ(second_of(2500ms), 3);
}

TEST(RunStats, ReportsEachSecondOnItsOwn) {
    RunStats stats;
    stats.record_sent(1);
    stats.record_sent(1);
    stats.record_sent(2);
    stats.record_completion(1, Outcome::ok, 10);
    stats.record_completion(2, Outcome::ok, 30);
    stats.record_completion(2, Outcome::timeout, 1000);

    const SecondReport first = stats.take_second(1, 2);
    EXPECT_EQ(first.second, 1);
    EXPECT_EQ(first.sent, 2u);
    EXPECT_EQ(first.completed, 1u);
    EXPECT_EQ(first.ok, 1u);
    EXPECT_EQ(first.errors, 0u);
    EXPECT_EQ(first.latency_ms.p50, 10);
    EXPECT_EQ(first.in_flight, 2u);

    const SecondReport second = stats.take_second(2, 0);
    EXPECT_EQ(second.sent, 1u);
    EXPECT_EQ(second.completed, 2u);
    EXPECT_EQ(second.ok, 1u);
    EXPECT_EQ(second.errors, 1u);
    EXPECT_EQ(second.latency_ms.p50, 30);
    EXPECT_EQ(second.latency_ms.p99, 1000);
}

TEST(RunStats, AQuietSecondHasZerosAndNoPercentiles) {
    RunStats stats;
    EXPECT_FALSE(stats.has_activity(3));
    const SecondReport quiet = stats.take_second(3, 5);
    EXPECT_EQ(quiet.sent, 0u);
    EXPECT_EQ(quiet.completed, 0u);
    EXPECT_FALSE(quiet.latency_ms.p50);
    EXPECT_EQ(quiet.in_flight, 5u);
}

TEST(RunStats, ATakenSecondIsForgottenButTheSummaryKeepsIt) {
    RunStats stats;
    stats.record_sent(1);
    stats.record_completion(1, Outcome::ok, 5);
    EXPECT_TRUE(stats.has_activity(1));
    (void)stats.take_second(1, 0);
    EXPECT_FALSE(stats.has_activity(1));
    EXPECT_EQ(stats.take_second(1, 0).sent, 0u);
    EXPECT_EQ(stats.summary(1).sent, 1u);
}

TEST(RunStats, SummarisesEveryOutcome) {
    RunStats stats;
    const Outcome outcomes[] = {Outcome::ok,    Outcome::ok,      Outcome::http_error,
                                Outcome::reset, Outcome::timeout, Outcome::connect_error};
    double latency = 1;
    for (const Outcome outcome : outcomes) {
        stats.record_sent(1);
        stats.record_completion(2, outcome, latency);
        latency *= 2;
    }
    const Summary summary = stats.summary(2.5);
    EXPECT_EQ(summary.sent, 6u);
    EXPECT_EQ(summary.ok, 2u);
    EXPECT_EQ(summary.http_errors, 1u);
    EXPECT_EQ(summary.resets, 1u);
    EXPECT_EQ(summary.timeouts, 1u);
    EXPECT_EQ(summary.connect_errors, 1u);
    EXPECT_EQ(summary.errors(), 4u);
    EXPECT_EQ(summary.latency_ms.p50, 4);  // of 1, 2, 4, 8, 16, 32
    EXPECT_EQ(summary.latency_ms.p99, 32);
    EXPECT_EQ(summary.max_ms, 32);
    EXPECT_EQ(summary.duration_s, 2.5);
}

TEST(Report, FormatsASecondForPeople) {
    const SecondReport report{.second = 3,
                              .sent = 20,
                              .completed = 19,
                              .ok = 19,
                              .errors = 0,
                              .latency_ms = {12.34, 40.06, 41},
                              .in_flight = 2};
    EXPECT_EQ(format_second(report),
              "  t=  3s sent   20 done   19 ok   19 err 0  p50   12.3 ms  p95   40.1 ms  p99   41.0 ms  inflight 2");
}

TEST(Report, FormatsAQuietSecondWithDashes) {
    const SecondReport report{.second = 12, .in_flight = 0};
    EXPECT_EQ(format_second(report),
              "  t= 12s sent    0 done    0 ok    0 err 0  p50      - ms  p95      - ms  p99      - ms  inflight 0");
}

TEST(Report, FormatsASecondAsJson) {
    const SecondReport report{.second = 3,
                              .sent = 20,
                              .completed = 19,
                              .ok = 18,
                              .errors = 1,
                              .latency_ms = {12.34, 40.06, std::nullopt},
                              .in_flight = 2};
    EXPECT_EQ(second_json(report).dump(),
              R"({"second":3,"sent":20,"completed":19,"ok":18,"errors":1,"p50_ms":12.3,"p95_ms":40.1,)"
              R"("p99_ms":null,"in_flight":2})");
}

TEST(Report, FormatsTheSummaryForPeople) {
    Summary summary{.sent = 10, .ok = 7, .connect_errors = 1, .resets = 1, .timeouts = 0, .http_errors = 1};
    summary.latency_ms = {50.04, 90, 99.96};
    summary.max_ms = 120.5;
    summary.duration_s = 3.04567;
    EXPECT_EQ(format_summary(summary),
              "summary: sent 10  ok 7  errors 3 (connect 1, reset 1, timeout 0, http 1)\n"
              "latency: p50 50.0 ms  p95 90.0 ms  p99 100.0 ms  max 120.5 ms  over 3.05 s");
}

TEST(Report, FormatsTheSummaryAsJson) {
    Summary summary{.sent = 10, .ok = 7, .connect_errors = 1, .resets = 1, .timeouts = 0, .http_errors = 1};
    summary.latency_ms = {50.04, 90, 99.96};
    summary.max_ms = 120.5;
    summary.duration_s = 3.04567;
    EXPECT_EQ(summary_json(summary).dump(),
              R"({"summary":{"sent":10,"ok":7,"errors":3,"connect_errors":1,"resets":1,"timeouts":0,)"
              R"("http_errors":1,"p50_ms":50.0,"p95_ms":90.0,"p99_ms":100.0,"max_ms":120.5,"duration_s":3.046}})");
}

TEST(Report, FormatsAnEmptySummaryWithNulls) {
    const Summary summary{};
    EXPECT_EQ(summary_json(summary)["summary"]["p50_ms"], nullptr);
    EXPECT_EQ(summary_json(summary)["summary"]["max_ms"], nullptr);
    EXPECT_EQ(format_summary(summary),
              "summary: sent 0  ok 0  errors 0 (connect 0, reset 0, timeout 0, http 0)\n"
              "latency: p50 - ms  p95 - ms  p99 - ms  max - ms  over 0.00 s");
}

}  // namespace
}  // namespace lamina::load
