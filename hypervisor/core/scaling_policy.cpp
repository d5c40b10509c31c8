#include "core/scaling_policy.hpp"

#include <algorithm>

namespace lamina {
namespace {

constexpr std::uint64_t kMillisecondNs = 1'000'000;
constexpr std::uint64_t kSecondNs = 1'000'000'000;

[[nodiscard]] bool within(std::uint64_t value, std::uint64_t low, std::uint64_t high) {
    return value >= low && value <= high;
}

[[nodiscard]] ScalingDecision with_action(ScalingDecision decision, ScalingAction action, unsigned count,
                                          ScalingReason reason) {
    decision.action = action;
    decision.count = count;
    decision.reason = reason;
    return decision;
}

}  // namespace

bool valid_scaling_settings(const ScalingSettings& settings) {
    return within(settings.percentile, 50, 99) &&
           within(settings.objective_ns, 1 * kMillisecondNs, 60'000 * kMillisecondNs) &&
           within(settings.window_ns, 1 * kSecondNs, 15 * kSecondNs) &&
           settings.min_replicas <= settings.max_replicas && within(settings.max_replicas, 1, kMaxServiceReplicas) &&
           within(settings.scale_up_window_ns, 1 * kSecondNs, 60 * kSecondNs) &&
           within(settings.scale_down_window_ns, 1 * kSecondNs, 600 * kSecondNs) &&
           within(settings.low_watermark_percent, 1, 100) && within(settings.target_busy_percent, 1, 100);
}

std::string_view to_string(ScalingAction action) {
    switch (action) {
        case ScalingAction::none: return "none";
        case ScalingAction::add: return "add";
        case ScalingAction::remove: return "remove";
        case ScalingAction::cannot_meet: return "cannot_meet";
        case ScalingAction::objective_met: return "objective_met";
    }
    return "unknown";
}

std::string_view to_string(ScalingReason reason) {
    switch (reason) {
        case ScalingReason::below_minimum: return "below_minimum";
        case ScalingReason::connection_held: return "connection_held";
        case ScalingReason::objective_missed: return "objective_missed";
        case ScalingReason::load_low: return "load_low";
        case ScalingReason::idle: return "idle";
        case ScalingReason::at_max_replicas: return "at_max_replicas";
        case ScalingReason::above_maximum: return "above_maximum";
        case ScalingReason::recovered: return "recovered";
        case ScalingReason::board_full: return "board_full";
    }
    return "unknown";
}

std::uint64_t ScalingPolicy::since(std::uint64_t start_ns, std::uint64_t now_ns) {
    return start_ns == kNever || start_ns > now_ns ? 0 : now_ns - start_ns;
}

bool ScalingPolicy::lasted(std::uint64_t start_ns, std::uint64_t now_ns, std::uint64_t duration_ns) {
    return start_ns != kNever && since(start_ns, now_ns) >= duration_ns;
}

std::uint64_t ScalingPolicy::judged_window_ns(std::uint64_t now_ns) const {
    std::uint64_t window = settings_.window_ns;
    // Figures from before a replica joined or left describe another capacity.
    if (capacity_changed_ns_ != kNever) window = std::min(window, since(capacity_changed_ns_, now_ns));
    return std::max(window, kSecondNs);
}

void ScalingPolicy::capacity_changed(std::uint64_t now_ns) {
    capacity_changed_ns_ = now_ns;
    // The new capacity gets a whole window of its own before it is judged.
    if (breach_since_ns_ != kNever) breach_since_ns_ = now_ns;
    if (calm_since_ns_ != kNever) calm_since_ns_ = now_ns;
    if (idle_since_ns_ != kNever) idle_since_ns_ = now_ns;
}

void ScalingPolicy::report_cannot_fit(std::uint64_t now_ns) {
    add_blocked_until_ns_ = now_ns + settings_.scale_up_window_ns;
    trouble_seen_ns_ = now_ns;
    if (cannot_meet_) return;  // reported already
    cannot_meet_ = true;
    board_full_to_report_ = true;
}

ScalingPolicy::Judgement ScalingPolicy::judge(const ScalingInputs& inputs) const {
    const WindowSummary& window = inputs.window;
    Judgement judgement{.percentile_ns = window.latencies.percentile_ns(settings_.percentile)};
    const bool enough_requests = window.requests >= settings_.min_requests && window.requests > 0;
    judgement.breach = enough_requests && judgement.percentile_ns > settings_.objective_ns;
    const std::uint64_t low_watermark_ns = settings_.objective_ns * settings_.low_watermark_percent / 100;
    judgement.calm = !judgement.breach && (window.requests == 0 || judgement.percentile_ns <= low_watermark_ns);
    judgement.idle = window.requests == 0 && inputs.arrivals == 0 && !inputs.connection_held;
    return judgement;
}

void ScalingPolicy::track(const ScalingInputs& inputs, const Judgement& judgement) {
    const std::uint64_t now = inputs.now_ns;
    const auto track_spell = [now](bool holds, std::uint64_t& since_ns) {
        if (!holds) {
            since_ns = kNever;
        } else if (since_ns == kNever) {
            since_ns = now;
        }
    };
    track_spell(judgement.breach, breach_since_ns_);
    track_spell(judgement.calm, calm_since_ns_);
    track_spell(judgement.idle, idle_since_ns_);
    const unsigned active = inputs.replicas.ready + inputs.replicas.booting;
    const bool unmet_need =
        judgement.breach || active < settings_.min_replicas || (inputs.connection_held && active == 0);
    if (unmet_need) trouble_seen_ns_ = now;
}

ScalingDecision ScalingPolicy::decide(const ScalingInputs& inputs) {
    const Judgement judgement = judge(inputs);
    track(inputs, judgement);
    const std::uint64_t now = inputs.now_ns;
    const ScalingDecision decision{.percentile_ns = judgement.percentile_ns,
                                   .breach_ns = judgement.breach ? since(breach_since_ns_, now) : 0};

    if (board_full_to_report_) {
        board_full_to_report_ = false;
        return with_action(decision, ScalingAction::cannot_meet, 0, ScalingReason::board_full);
    }
    const unsigned active = inputs.replicas.ready + inputs.replicas.booting;
    if (active < settings_.min_replicas) {
        if (!may_add(now)) return decision;
        return with_action(decision, ScalingAction::add, settings_.min_replicas - active, ScalingReason::below_minimum);
    }
    if (active > settings_.max_replicas) {
        return with_action(decision, ScalingAction::remove, active - settings_.max_replicas,
                           ScalingReason::above_maximum);
    }
    if (inputs.connection_held && active == 0 && settings_.max_replicas >= 1) {
        if (!may_add(now)) return decision;
        return with_action(decision, ScalingAction::add, 1, ScalingReason::connection_held);
    }
    if (judgement.breach) return decide_breach(inputs, decision);
    if (cannot_meet_ && lasted(trouble_seen_ns_, now, settings_.scale_up_window_ns)) {
        cannot_meet_ = false;
        return with_action(decision, ScalingAction::objective_met, 0, ScalingReason::recovered);
    }
    if (judgement.calm && !cannot_meet_) return decide_calm(inputs, decision);
    return decision;
}

ScalingDecision ScalingPolicy::decide_breach(const ScalingInputs& inputs, ScalingDecision decision) {
    const std::uint64_t now = inputs.now_ns;
    // A booting replica is capacity on its way: judge again once it serves.
    if (!lasted(breach_since_ns_, now, settings_.scale_up_window_ns) || inputs.replicas.booting > 0) return decision;
    if (inputs.replicas.ready + inputs.replicas.booting >= settings_.max_replicas) {
        if (cannot_meet_) return decision;  // reported once already
        cannot_meet_ = true;
        return with_action(decision, ScalingAction::cannot_meet, 0, ScalingReason::at_max_replicas);
    }
    if (!may_add(now)) return decision;
    breach_since_ns_ = now;
    const unsigned missing = replicas_missing(inputs);
    // Remember the load that needed this many: fewer replicas are not tried
    // again while the load stays near it (no flapping down and up).
    needed_replicas_ = inputs.replicas.ready + inputs.replicas.booting + missing;
    needed_at_rate_milli_ = arrival_rate_milli(inputs);
    return with_action(decision, ScalingAction::add, missing, ScalingReason::objective_missed);
}

std::uint64_t ScalingPolicy::arrival_rate_milli(const ScalingInputs& inputs) {
    if (inputs.window.span_ns == 0) return 0;
    return static_cast<std::uint64_t>(static_cast<unsigned __int128>(inputs.arrivals) * 1'000'000'000'000u /
                                      inputs.window.span_ns);
}

unsigned ScalingPolicy::replicas_missing(const ScalingInputs& inputs) const {
    const unsigned ready = inputs.replicas.ready;
    const unsigned room = settings_.max_replicas - ready - inputs.replicas.booting;
    unsigned missing = 1;
    if (inputs.completions > 0) {
        // Requests arrive faster than they complete: scale the ready replicas
        // by that ratio (rounded up) to keep up.
        const std::uint64_t needed =
            (std::uint64_t{ready} * inputs.arrivals + inputs.completions - 1) / inputs.completions;
        if (needed > ready)
            missing = static_cast<unsigned>(std::min<std::uint64_t>(needed - ready, kMaxServiceReplicas));
    }
    return std::min(missing, room);
}

bool ScalingPolicy::load_fits_one_fewer(const ScalingInputs& inputs) const {
    const std::uint64_t span = inputs.window.span_ns;
    if (span == 0 || inputs.replicas.ready < 2) return false;
    // busy / ((ready − 1) × span) <= target %, kept in integers.
    return inputs.busy_ns_ready * 100 <=
           std::uint64_t{settings_.target_busy_percent} * (inputs.replicas.ready - 1) * span;
}

ScalingDecision ScalingPolicy::decide_calm(const ScalingInputs& inputs, ScalingDecision decision) {
    const std::uint64_t now = inputs.now_ns;
    const ReplicaCounts& replicas = inputs.replicas;
    if (!lasted(calm_since_ns_, now, settings_.scale_down_window_ns)) return decision;
    // One change at a time, and only once the last one has been measured.
    if (replicas.booting > 0 || replicas.draining > 0 || replicas.ready <= settings_.min_replicas) return decision;
    if (capacity_changed_ns_ != kNever && !lasted(capacity_changed_ns_, now, settings_.scale_down_window_ns))
        return decision;

    const bool load_as_when_needed = replicas.ready <= needed_replicas_ &&
                                     arrival_rate_milli(inputs) * 100 >= needed_at_rate_milli_ * kSameLoadPercent;
    if (!load_as_when_needed && load_fits_one_fewer(inputs)) {
        calm_since_ns_ = now;
        return with_action(decision, ScalingAction::remove, 1, ScalingReason::load_low);
    }
    // Idle throughout, not just now: a short window can catch a lull.
    const bool idle = lasted(idle_since_ns_, now, settings_.scale_down_window_ns);
    if (replicas.ready == 1 && settings_.min_replicas == 0 && idle) {
        calm_since_ns_ = now;
        idle_since_ns_ = now;
        return with_action(decision, ScalingAction::remove, 1, ScalingReason::idle);
    }
    return decision;
}

}  // namespace lamina
