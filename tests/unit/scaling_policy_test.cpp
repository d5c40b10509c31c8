// ScalingPolicy: the autoscaler's decisions for one service, driven as the
// service manager drives it: decide() every 250 ms of fake time, with the
// switch's figures for the window the policy asks for.
#include "core/scaling_policy.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace lamina {
namespace {

constexpr std::uint64_t kMs = 1'000'000;
constexpr std::uint64_t kSec = 1'000'000'000;
constexpr std::uint64_t kTick = 250 * kMs;

// p95 of 50 ms over 5 s, 1..4 replicas, up after 2 s, down after 15 s.
ScalingSettings standard_settings() {
    return ScalingSettings{.percentile = 95,
                           .objective_ns = 50 * kMs,
                           .window_ns = 5 * kSec,
                           .min_replicas = 1,
                           .max_replicas = 4,
                           .scale_up_window_ns = 2 * kSec,
                           .scale_down_window_ns = 15 * kSec};
}

ScalingSettings with_replicas(unsigned min, unsigned max) {
    ScalingSettings settings = standard_settings();
    settings.min_replicas = min;
    settings.max_replicas = max;
    return settings;
}

// What the switch reports for the judged window, tick after tick.
struct Load final {
    std::uint64_t requests{100};         // responses in the window
    std::uint64_t latency_ns{10 * kMs};  // every one of them took this long
    std::uint64_t arrivals{100};         // requests that arrived in the window
    unsigned busy_percent{20};           // each ready replica's busy share of the window
    bool connection_held{false};
};

struct Event final {
    std::uint64_t at_ns;
    ScalingDecision decision;
};

// One service: its policy, its replicas (which tests move between states as
// the caller would), the load, and the fake clock.
class Service final {
public:
    explicit Service(const ScalingSettings& settings = standard_settings(), ReplicaCounts counts = {.ready = 1})
        : policy{settings}, replicas{counts} {}

    ScalingDecision tick() {
        now += kTick;
        ScalingInputs inputs{.now_ns = now,
                             .replicas = replicas,
                             .busy_ns_ready = 0,
                             .arrivals = load.arrivals,
                             .completions = load.requests,
                             .connection_held = load.connection_held};
        inputs.window.span_ns = policy.judged_window_ns(now);
        inputs.window.requests = load.requests;
        for (std::uint64_t request = 0; request < load.requests; ++request)
            inputs.window.latencies.record(load.latency_ns);
        inputs.busy_ns_ready = inputs.window.span_ns * load.busy_percent / 100 * replicas.ready;
        return policy.decide(inputs);
    }

    // Ticks for `duration`; returns the decisions other than none.
    std::vector<Event> run_for(std::uint64_t duration) {
        std::vector<Event> events;
        const std::uint64_t end = now + duration;
        while (now < end) {
            const ScalingDecision decision = tick();
            if (decision.action != ScalingAction::none) events.push_back({now, decision});
        }
        return events;
    }

    // Ticks until a decision other than none (at most `limit`).
    Event run_until_action(std::uint64_t limit = 120 * kSec) {
        const std::uint64_t end = now + limit;
        while (now < end) {
            const ScalingDecision decision = tick();
            if (decision.action != ScalingAction::none) return {now, decision};
        }
        return {now, ScalingDecision{}};
    }

    ScalingPolicy policy;
    ReplicaCounts replicas;
    Load load{};
    std::uint64_t now{1000 * kSec};
};

void expect_decision(const ScalingDecision& decision, ScalingAction action, unsigned count, ScalingReason reason) {
    EXPECT_EQ(decision.action, action) << to_string(decision.action);
    EXPECT_EQ(decision.count, count);
    EXPECT_EQ(decision.reason, reason) << to_string(decision.reason);
}

TEST(ScalingPolicy, ScalesUpOnlyOnceTheBreachHasLastedTheUpWindow) {
    Service service;
    service.load.latency_ns = 80 * kMs;
    ASSERT_EQ(service.tick().action, ScalingAction::none);  // the breach starts here
    const std::uint64_t breach_start = service.now;
    while (service.now < breach_start + 2 * kSec - kTick) {
        const ScalingDecision decision = service.tick();
        EXPECT_EQ(decision.action, ScalingAction::none) << "too early, at " << service.now - breach_start;
        EXPECT_EQ(decision.breach_ns, service.now - breach_start);
    }
    const ScalingDecision decision = service.tick();
    EXPECT_EQ(service.now, breach_start + 2 * kSec);
    expect_decision(decision, ScalingAction::add, 1, ScalingReason::objective_missed);
    EXPECT_EQ(decision.breach_ns, 2 * kSec);
    EXPECT_NEAR(static_cast<double>(decision.percentile_ns), 80.0 * kMs, 0.06 * 80 * kMs);
}

TEST(ScalingPolicy, AddsNothingMoreWhileAReplicaBoots) {
    Service service;
    service.load.latency_ns = 80 * kMs;
    ASSERT_EQ(service.run_until_action().decision.action, ScalingAction::add);
    service.replicas = {.ready = 1, .booting = 1};
    EXPECT_TRUE(service.run_for(20 * kSec).empty());

    // Ready: the new capacity gets a whole up window before it is judged.
    service.replicas = {.ready = 2};
    service.policy.capacity_changed(service.now);
    const std::uint64_t ready_at = service.now;
    const Event next = service.run_until_action();
    EXPECT_EQ(next.at_ns, ready_at + 2 * kSec);
    expect_decision(next.decision, ScalingAction::add, 1, ScalingReason::objective_missed);
}

TEST(ScalingPolicy, AddsAsManyAsArrivalsOverCompletionsSay) {
    struct Case {
        std::uint64_t arrivals;
        unsigned expected;
    };
    // Two ready replicas complete 100 requests in the window.
    for (const Case& c : {Case{300, 4}, Case{120, 1}, Case{151, 2}, Case{100, 1}, Case{50, 1}, Case{10'000, 6}}) {
        Service service{with_replicas(1, 8), {.ready = 2}};
        service.load.latency_ns = 80 * kMs;
        service.load.arrivals = c.arrivals;
        const Event event = service.run_until_action();
        expect_decision(event.decision, ScalingAction::add, c.expected, ScalingReason::objective_missed);
    }
}

TEST(ScalingPolicy, ProportionalAddIsCappedAtTheMaximum) {
    Service service{with_replicas(1, 4), {.ready = 2}};
    service.load.latency_ns = 80 * kMs;
    service.load.arrivals = 300;
    expect_decision(service.run_until_action().decision, ScalingAction::add, 2, ScalingReason::objective_missed);
}

TEST(ScalingPolicy, AddsOneWhenNothingCompleted) {
    // Every request timed out of the window but the objective was missed on
    // figures that still hold requests: no completion rate to scale by.
    Service service{with_replicas(1, 8), {.ready = 3}};
    service.load.latency_ns = 80 * kMs;
    ScalingDecision decision{};
    for (int tick = 0; tick < 9; ++tick) {
        service.now += kTick;
        ScalingInputs inputs{.now_ns = service.now, .replicas = service.replicas, .arrivals = 40, .completions = 0};
        inputs.window.span_ns = 5 * kSec;
        inputs.window.requests = 10;
        for (int request = 0; request < 10; ++request) inputs.window.latencies.record(80 * kMs);
        decision = service.policy.decide(inputs);
    }
    expect_decision(decision, ScalingAction::add, 1, ScalingReason::objective_missed);
}

TEST(ScalingPolicy, AtTheMaximumReportsCannotMeetOnceThenObjectiveMetOnRecovery) {
    Service service{with_replicas(1, 4), {.ready = 4}};
    service.load.latency_ns = 80 * kMs;
    const std::uint64_t start = service.now;
    const std::vector<Event> during = service.run_for(30 * kSec);
    ASSERT_EQ(during.size(), 1U);
    EXPECT_EQ(during[0].at_ns, start + kTick + 2 * kSec);
    expect_decision(during[0].decision, ScalingAction::cannot_meet, 0, ScalingReason::at_max_replicas);
    EXPECT_TRUE(service.policy.cannot_meet());

    // Met again (though not calm): objective_met once, a full up window after
    // the last tick in breach.
    service.load.latency_ns = 30 * kMs;
    const std::uint64_t last_breach = service.now;
    const std::vector<Event> after = service.run_for(30 * kSec);
    ASSERT_EQ(after.size(), 1U);
    EXPECT_EQ(after[0].at_ns, last_breach + 2 * kSec);
    expect_decision(after[0].decision, ScalingAction::objective_met, 0, ScalingReason::recovered);
    EXPECT_FALSE(service.policy.cannot_meet());
}

TEST(ScalingPolicy, ShortRespiteDoesNotEndCannotMeet) {
    Service service{with_replicas(1, 2), {.ready = 2}};
    service.load.latency_ns = 80 * kMs;
    ASSERT_EQ(service.run_until_action().decision.action, ScalingAction::cannot_meet);
    for (int round = 0; round < 5; ++round) {
        service.load.latency_ns = 10 * kMs;
        EXPECT_TRUE(service.run_for(1 * kSec).empty());
        service.load.latency_ns = 80 * kMs;
        EXPECT_TRUE(service.run_for(3 * kSec).empty()) << "cannot_meet reported again in round " << round;
    }
    EXPECT_TRUE(service.policy.cannot_meet());
}

TEST(ScalingPolicy, RaisingTheMaximumLetsItAddAgain) {
    Service service{with_replicas(1, 2), {.ready = 2}};
    service.load.latency_ns = 80 * kMs;
    ASSERT_EQ(service.run_until_action().decision.action, ScalingAction::cannot_meet);
    service.policy.update_settings(with_replicas(1, 3));
    const Event event = service.run_until_action(1 * kSec);
    expect_decision(event.decision, ScalingAction::add, 1, ScalingReason::objective_missed);
}

TEST(ScalingPolicy, InterruptedBreachStartsTheUpWindowOver) {
    Service service;
    service.load.latency_ns = 80 * kMs;
    EXPECT_TRUE(service.run_for(1750 * kMs).empty());
    service.load.latency_ns = 30 * kMs;
    EXPECT_EQ(service.tick().action, ScalingAction::none);
    service.load.latency_ns = 80 * kMs;
    ASSERT_EQ(service.tick().action, ScalingAction::none);
    const std::uint64_t restart = service.now;
    const Event event = service.run_until_action();
    EXPECT_EQ(event.at_ns, restart + 2 * kSec);
    EXPECT_EQ(event.decision.action, ScalingAction::add);
}

TEST(ScalingPolicy, TooFewRequestsAreNotJudged) {
    Service service;
    service.load.latency_ns = 2 * kSec;
    service.load.requests = 4;
    service.load.arrivals = 4;
    EXPECT_TRUE(service.run_for(20 * kSec).empty());
    service.load.requests = 5;
    EXPECT_EQ(service.run_until_action().decision.action, ScalingAction::add);
}

TEST(ScalingPolicy, ScalesDownOnlyOnceCalmHasLastedTheDownWindow) {
    Service service{with_replicas(1, 4), {.ready = 3}};
    ASSERT_EQ(service.tick().action, ScalingAction::none);  // calm starts here
    const std::uint64_t calm_start = service.now;
    const Event event = service.run_until_action();
    EXPECT_EQ(event.at_ns, calm_start + 15 * kSec);
    expect_decision(event.decision, ScalingAction::remove, 1, ScalingReason::load_low);
}

TEST(ScalingPolicy, NextRemovalWaitsForTheDrainAndAWholeDownWindowAfterIt) {
    Service service{with_replicas(1, 4), {.ready = 3}};
    ASSERT_EQ(service.run_until_action().decision.action, ScalingAction::remove);
    service.replicas = {.ready = 2, .draining = 1};
    EXPECT_TRUE(service.run_for(30 * kSec).empty());
    service.replicas = {.ready = 2};
    service.policy.capacity_changed(service.now);
    const std::uint64_t removed_at = service.now;
    const Event event = service.run_until_action();
    EXPECT_EQ(event.at_ns, removed_at + 15 * kSec);
    expect_decision(event.decision, ScalingAction::remove, 1, ScalingReason::load_low);
    // At the minimum: no more.
    service.replicas = {.ready = 1};
    service.policy.capacity_changed(service.now);
    EXPECT_TRUE(service.run_for(60 * kSec).empty());
}

TEST(ScalingPolicy, NeverRemovesWhileTheObjectiveIsMissed) {
    Service service{with_replicas(1, 3), {.ready = 3}};
    service.load.latency_ns = 80 * kMs;
    service.load.busy_percent = 1;
    for (const Event& event : service.run_for(60 * kSec)) EXPECT_NE(event.decision.action, ScalingAction::remove);
}

TEST(ScalingPolicy, NoRemovalWhileAReplicaDrainsOrBoots) {
    Service service{with_replicas(1, 4), {.ready = 3, .draining = 1}};
    EXPECT_TRUE(service.run_for(30 * kSec).empty());
    service.replicas = {.ready = 3, .booting = 1};
    EXPECT_TRUE(service.run_for(30 * kSec).empty());
    // Calm has lasted all along: it removes as soon as nothing is in flight.
    service.replicas = {.ready = 3};
    expect_decision(service.tick(), ScalingAction::remove, 1, ScalingReason::load_low);
}

TEST(ScalingPolicy, LatencyBetweenLowWatermarkAndObjectiveNeitherAddsNorRemoves) {
    Service service{with_replicas(1, 4), {.ready = 2}};
    service.load.latency_ns = 40 * kMs;  // above 25 ms, under 50 ms
    service.load.busy_percent = 5;
    EXPECT_TRUE(service.run_for(120 * kSec).empty());
    service.load.latency_ns = 20 * kMs;
    EXPECT_EQ(service.run_until_action().decision.action, ScalingAction::remove);
}

TEST(ScalingPolicy, KeepsReplicasWhenTheRestWouldBeTooBusy) {
    // Two replicas 40 % busy each: one alone would be 80 % busy.
    Service two{with_replicas(1, 4), {.ready = 2}};
    two.load.busy_percent = 40;
    EXPECT_TRUE(two.run_for(120 * kSec).empty());
    // Exactly the target (2 × 35 % = 70 %) is still fine.
    Service at_target{with_replicas(1, 4), {.ready = 2}};
    at_target.load.busy_percent = 35;
    expect_decision(at_target.run_until_action().decision, ScalingAction::remove, 1, ScalingReason::load_low);
    // Three replicas 40 % busy: two would be 60 % busy.
    Service three{with_replicas(1, 4), {.ready = 3}};
    three.load.busy_percent = 40;
    expect_decision(three.run_until_action().decision, ScalingAction::remove, 1, ScalingReason::load_low);
}

TEST(ScalingPolicy, KeepsReplicasWhileTheLoadThatNeededThemLasts) {
    // One replica misses the objective: a second is added for this load.
    Service service{with_replicas(1, 4), {.ready = 1}};
    service.load.latency_ns = 500 * kMs;
    expect_decision(service.run_until_action().decision, ScalingAction::add, 1, ScalingReason::objective_missed);
    service.replicas = {.ready = 2};
    service.policy.capacity_changed(service.now);
    // Now fast and lightly busy, but the same arrivals: it keeps both.
    service.load.latency_ns = 10 * kMs;
    service.load.busy_percent = 10;
    EXPECT_TRUE(service.run_for(120 * kSec).empty());
    // The load halves: one replica goes.
    service.load.arrivals = 50;
    service.load.requests = 50;
    expect_decision(service.run_until_action().decision, ScalingAction::remove, 1, ScalingReason::load_low);
}

TEST(ScalingPolicy, ScalesToZeroWhenIdleWithMinimumZero) {
    Service service{with_replicas(0, 4), {.ready = 1}};
    service.load = {.requests = 0, .arrivals = 0, .busy_percent = 0};
    ASSERT_EQ(service.tick().action, ScalingAction::none);
    const std::uint64_t idle_since = service.now;
    const Event event = service.run_until_action();
    EXPECT_EQ(event.at_ns, idle_since + 15 * kSec);
    expect_decision(event.decision, ScalingAction::remove, 1, ScalingReason::idle);
}

TEST(ScalingPolicy, KeepsTheLastReplicaWhileRequestsArriveOrTheMinimumIsOne) {
    // Fast requests: calm, but not idle.
    Service busy{with_replicas(0, 4), {.ready = 1}};
    busy.load.busy_percent = 1;
    EXPECT_TRUE(busy.run_for(60 * kSec).empty());
    // A request arrived but has not completed yet.
    Service arriving{with_replicas(0, 4), {.ready = 1}};
    arriving.load = {.requests = 0, .arrivals = 1, .busy_percent = 0};
    EXPECT_TRUE(arriving.run_for(60 * kSec).empty());
    // Minimum one.
    Service minimum_one{with_replicas(1, 4), {.ready = 1}};
    minimum_one.load = {.requests = 0, .arrivals = 0, .busy_percent = 0};
    EXPECT_TRUE(minimum_one.run_for(60 * kSec).empty());
}

TEST(ScalingPolicy, LullsShorterThanTheDownWindowAreNotIdle) {
    // A 1 s window just after a second boundary can be empty though requests
    // keep coming: one empty tick in four must not add up to idleness.
    Service service{with_replicas(0, 4), {.ready = 1}};
    for (int tick = 0; tick < 4 * 60; ++tick) {
        service.load = tick % 4 == 0 ? Load{.requests = 0, .arrivals = 0, .busy_percent = 0} : Load{};
        EXPECT_EQ(service.tick().action, ScalingAction::none) << "tick " << tick;
    }
}

TEST(ScalingPolicy, HeldConnectionStartsAReplicaAtOnce) {
    Service service{with_replicas(0, 4), {}};
    service.load = {.requests = 0, .arrivals = 1, .busy_percent = 0};
    EXPECT_TRUE(service.run_for(10 * kSec).empty());  // nothing held: nothing to do
    service.load.connection_held = true;
    expect_decision(service.tick(), ScalingAction::add, 1, ScalingReason::connection_held);
    service.replicas = {.booting = 1};
    EXPECT_TRUE(service.run_for(10 * kSec).empty());
}

TEST(ScalingPolicy, RefillsBelowTheMinimum) {
    Service service{with_replicas(2, 4), {.ready = 1}};
    expect_decision(service.tick(), ScalingAction::add, 1, ScalingReason::below_minimum);
    service.replicas = {};
    expect_decision(service.tick(), ScalingAction::add, 2, ScalingReason::below_minimum);
    service.replicas = {.ready = 1, .booting = 1, .draining = 1};
    EXPECT_TRUE(service.run_for(10 * kSec).empty());
}

TEST(ScalingPolicy, RemovesAboveTheMaximumOnceItIsLowered) {
    Service service{with_replicas(1, 4), {.ready = 3, .booting = 1}};
    service.load.latency_ns = 40 * kMs;
    EXPECT_TRUE(service.run_for(5 * kSec).empty());
    service.policy.update_settings(with_replicas(1, 2));
    expect_decision(service.tick(), ScalingAction::remove, 2, ScalingReason::above_maximum);
    service.replicas = {.ready = 2, .draining = 2};
    EXPECT_TRUE(service.run_for(5 * kSec).empty());
}

TEST(ScalingPolicy, JudgedWindowStartsAtTheLastCapacityChange) {
    ScalingPolicy policy{standard_settings()};
    const std::uint64_t start = 1000 * kSec;
    EXPECT_EQ(policy.judged_window_ns(start), 5 * kSec);
    policy.capacity_changed(start);
    EXPECT_EQ(policy.judged_window_ns(start), 1 * kSec);
    EXPECT_EQ(policy.judged_window_ns(start + 250 * kMs), 1 * kSec);
    EXPECT_EQ(policy.judged_window_ns(start + 2500 * kMs), 2500 * kMs);
    EXPECT_EQ(policy.judged_window_ns(start + 5 * kSec), 5 * kSec);
    EXPECT_EQ(policy.judged_window_ns(start + 60 * kSec), 5 * kSec);
}

TEST(ScalingPolicy, ReplicaThatDoesNotFitIsAskedForAgainOnlyAfterTheUpWindow) {
    Service service;
    service.load.latency_ns = 80 * kMs;
    ASSERT_EQ(service.run_until_action().decision.action, ScalingAction::add);
    service.policy.report_cannot_fit(service.now);
    const std::uint64_t refused_at = service.now;
    EXPECT_TRUE(service.policy.cannot_meet());
    expect_decision(service.tick(), ScalingAction::cannot_meet, 0, ScalingReason::board_full);

    // Still in breach: the next ask comes an up window after the refusal.
    Event retry = service.run_until_action();
    EXPECT_EQ(retry.at_ns, refused_at + 2 * kSec);
    expect_decision(retry.decision, ScalingAction::add, 1, ScalingReason::objective_missed);
    // Refused again: no second report, and again a whole window of quiet.
    service.policy.report_cannot_fit(service.now);
    const std::uint64_t refused_again = service.now;
    retry = service.run_until_action();
    EXPECT_EQ(retry.at_ns, refused_again + 2 * kSec);
    EXPECT_EQ(retry.decision.action, ScalingAction::add);

    // It fits this time; once the objective is met for an up window: objective_met.
    service.replicas = {.ready = 1, .booting = 1};
    EXPECT_TRUE(service.run_for(5 * kSec).empty());
    service.replicas = {.ready = 2};
    service.policy.capacity_changed(service.now);
    service.load.latency_ns = 30 * kMs;
    const Event recovered = service.run_until_action();
    EXPECT_EQ(recovered.at_ns, refused_again + 2 * kSec + 5 * kSec + 2 * kSec);
    expect_decision(recovered.decision, ScalingAction::objective_met, 0, ScalingReason::recovered);
    EXPECT_FALSE(service.policy.cannot_meet());
}

TEST(ScalingPolicy, MinimumThatDoesNotFitIsAskedForAgainOnlyAfterTheUpWindow) {
    Service service{with_replicas(2, 4), {.ready = 1}};
    expect_decision(service.tick(), ScalingAction::add, 1, ScalingReason::below_minimum);
    service.policy.report_cannot_fit(service.now);
    const std::uint64_t refused_at = service.now;
    expect_decision(service.tick(), ScalingAction::cannot_meet, 0, ScalingReason::board_full);
    const Event retry = service.run_until_action();
    EXPECT_EQ(retry.at_ns, refused_at + 2 * kSec);
    expect_decision(retry.decision, ScalingAction::add, 1, ScalingReason::below_minimum);
    // Still short of the minimum: the cannot-meet state holds.
    service.policy.report_cannot_fit(service.now);
    EXPECT_TRUE(service.run_for(1 * kSec).empty());
    EXPECT_TRUE(service.policy.cannot_meet());
}

TEST(ScalingPolicy, HeldConnectionThatDoesNotFitIsRetriedAfterTheUpWindow) {
    Service service{with_replicas(0, 4), {}};
    service.load = {.requests = 0, .arrivals = 1, .busy_percent = 0, .connection_held = true};
    expect_decision(service.tick(), ScalingAction::add, 1, ScalingReason::connection_held);
    service.policy.report_cannot_fit(service.now);
    const std::uint64_t refused_at = service.now;
    expect_decision(service.tick(), ScalingAction::cannot_meet, 0, ScalingReason::board_full);
    const Event retry = service.run_until_action();
    EXPECT_EQ(retry.at_ns, refused_at + 2 * kSec);
    expect_decision(retry.decision, ScalingAction::add, 1, ScalingReason::connection_held);
}

TEST(ScalingPolicy, NewCapacityIsJudgedOnItsOwnRequests) {
    // The caller's loop: the switch's per-second figures, summarised over the
    // window the policy asks for. One replica answers in 120 ms, two in 20 ms.
    ScalingPolicy policy{standard_settings()};
    LatencyWindow window;
    ReplicaCounts replicas{.ready = 1};
    std::uint64_t now = 1000 * kSec;
    std::vector<Event> events;
    std::uint64_t ready_at = 0;
    for (int tick = 0; tick < 30 * 4; ++tick) {
        now += kTick;
        for (int request = 0; request < 10; ++request)
            window.record_latency(now, replicas.ready >= 2 ? 20 * kMs : 120 * kMs);
        if (replicas.booting > 0 && ready_at == 0 && !events.empty() && now >= events.back().at_ns + 1500 * kMs) {
            replicas = {.ready = 2};
            policy.capacity_changed(now);
            ready_at = now;
        }
        const WindowSummary summary = window.summary(now, policy.judged_window_ns(now));
        const ScalingDecision decision = policy.decide({.now_ns = now,
                                                        .window = summary,
                                                        .replicas = replicas,
                                                        .busy_ns_ready = summary.span_ns * 8 / 10 * replicas.ready,
                                                        .arrivals = summary.requests,
                                                        .completions = summary.requests});
        if (decision.action == ScalingAction::none) continue;
        events.push_back({now, decision});
        if (decision.action == ScalingAction::add) replicas.booting += decision.count;
    }
    // One add; the slow requests from before the second replica was ready,
    // still inside the 5 s objective window, do not trigger another.
    ASSERT_EQ(events.size(), 1U) << "then " << to_string(events.back().decision.action) << " "
                                 << to_string(events.back().decision.reason) << " at +"
                                 << (events.back().at_ns - 1000 * kSec) / kMs << " ms";
    expect_decision(events[0].decision, ScalingAction::add, 1, ScalingReason::objective_missed);
    EXPECT_NE(ready_at, 0U);
}

TEST(ScalingPolicy, NamesAreSnakeCase) {
    EXPECT_EQ(to_string(ScalingAction::none), "none");
    EXPECT_EQ(to_string(ScalingAction::add), "add");
    EXPECT_EQ(to_string(ScalingAction::remove), "remove");
    EXPECT_EQ(to_string(ScalingAction::cannot_meet), "cannot_meet");
    EXPECT_EQ(to_string(ScalingAction::objective_met), "objective_met");
    EXPECT_EQ(to_string(ScalingReason::below_minimum), "below_minimum");
    EXPECT_EQ(to_string(ScalingReason::connection_held), "connection_held");
    EXPECT_EQ(to_string(ScalingReason::objective_missed), "objective_missed");
    EXPECT_EQ(to_string(ScalingReason::load_low), "load_low");
    EXPECT_EQ(to_string(ScalingReason::idle), "idle");
    EXPECT_EQ(to_string(ScalingReason::at_max_replicas), "at_max_replicas");
    EXPECT_EQ(to_string(ScalingReason::above_maximum), "above_maximum");
    EXPECT_EQ(to_string(ScalingReason::recovered), "recovered");
    EXPECT_EQ(to_string(ScalingReason::board_full), "board_full");
}

TEST(ScalingPolicy, SettingsValidation) {
    EXPECT_TRUE(valid_scaling_settings(standard_settings()));
    EXPECT_TRUE(valid_scaling_settings(with_replicas(0, 1)));
    EXPECT_TRUE(valid_scaling_settings(with_replicas(8, 8)));
    EXPECT_FALSE(valid_scaling_settings(with_replicas(0, 0)));
    EXPECT_FALSE(valid_scaling_settings(with_replicas(3, 2)));
    EXPECT_FALSE(valid_scaling_settings(with_replicas(1, 9)));
    ScalingSettings settings = standard_settings();
    settings.percentile = 100;
    EXPECT_FALSE(valid_scaling_settings(settings));
    settings = standard_settings();
    settings.window_ns = 16 * kSec;
    EXPECT_FALSE(valid_scaling_settings(settings));
    settings = standard_settings();
    settings.objective_ns = 0;
    EXPECT_FALSE(valid_scaling_settings(settings));
    settings = standard_settings();
    settings.scale_up_window_ns = 61 * kSec;
    EXPECT_FALSE(valid_scaling_settings(settings));
    settings = standard_settings();
    settings.scale_down_window_ns = 601 * kSec;
    EXPECT_FALSE(valid_scaling_settings(settings));
}

}  // namespace
}  // namespace lamina
