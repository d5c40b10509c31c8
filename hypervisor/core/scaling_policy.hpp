// The autoscaler's decisions for one service (docs/services.md), free of I/O
// and of any clock: the caller, which owns the replicas and the switch's
// figures, calls decide() every 250 ms and carries the decision out.
#pragma once

#include "core/latency_histogram.hpp"

#include <cstdint>
#include <string_view>

namespace lamina {

inline constexpr unsigned kMaxServiceReplicas = 8;

struct ScalingSettings final {
    unsigned percentile{95};        // 50..99
    std::uint64_t objective_ns{0};  // latency bound
    std::uint64_t window_ns{0};     // objective window (1..15 s)
    unsigned min_replicas{0};       // 0 <= min <= max <= 8, max >= 1
    unsigned max_replicas{1};
    std::uint64_t scale_up_window_ns{2'000'000'000};     // a breach must last this long
    std::uint64_t scale_down_window_ns{15'000'000'000};  // calm must last this long
    unsigned low_watermark_percent{50};                  // calm: percentile below this % of the objective
    unsigned target_busy_percent{70};                    // remove only if the rest stay under this busy %
    unsigned min_requests{5};                            // fewer requests in the window: no judgement on latency
};

// Whether the settings lie in the ranges docs/services.md allows.
[[nodiscard]] bool valid_scaling_settings(const ScalingSettings& settings);

struct ReplicaCounts final {
    unsigned ready{0};
    unsigned booting{0};
    unsigned draining{0};
};

struct ScalingInputs final {
    std::uint64_t now_ns{0};
    WindowSummary window{};  // summarised over judged_window_ns(now_ns)
    ReplicaCounts replicas{};
    std::uint64_t busy_ns_ready{0};  // ready replicas' time with a request outstanding, in the window
    std::uint64_t arrivals{0};       // requests that arrived in the window
    std::uint64_t completions{0};    // responses in the window (== window.requests)
    bool connection_held{false};     // a SYN waits in the switch for a ready replica
};

enum class ScalingAction : std::uint8_t { none, add, remove, cannot_meet, objective_met };

enum class ScalingReason : std::uint8_t {
    below_minimum,
    connection_held,
    objective_missed,
    load_low,
    idle,
    at_max_replicas,
    above_maximum,  // max lowered
    recovered,
    board_full,  // the caller reported a replica that did not fit
};

struct ScalingDecision final {
    ScalingAction action{ScalingAction::none};
    unsigned count{0};                               // replicas to add or remove
    ScalingReason reason{ScalingReason::recovered};  // meaningless with action none
    std::uint64_t percentile_ns{0};                  // the objective's percentile over the window
    std::uint64_t breach_ns{0};                      // how long the objective has been missed (0: it is met)
};

[[nodiscard]] std::string_view to_string(ScalingAction action);
[[nodiscard]] std::string_view to_string(ScalingReason reason);

class ScalingPolicy final {
public:
    explicit ScalingPolicy(const ScalingSettings& settings) : settings_{settings} {}

    // Timers carry over: a breach or a calm spell already under way counts.
    void update_settings(const ScalingSettings& settings) { settings_ = settings; }
    [[nodiscard]] const ScalingSettings& settings() const { return settings_; }

    // The recent time the caller must summarise: the objective window, but
    // not reaching back before the last capacity change, and at least 1 s.
    [[nodiscard]] std::uint64_t judged_window_ns(std::uint64_t now_ns) const;

    // One tick. Rules, first match wins: below minimum, above maximum, a held
    // connection with no replica, a lasting breach (add, or report once that
    // the maximum is reached), recovery from cannot-meet, lasting calm
    // (remove one). Never removes for load while the objective is missed or
    // the service is in the cannot-meet state; never adds and removes at once.
    [[nodiscard]] ScalingDecision decide(const ScalingInputs& inputs);

    // A replica became ready or was removed: later figures judge the new
    // capacity, and a breach or calm spell under way starts over.
    void capacity_changed(std::uint64_t now_ns);

    // The caller could not start a replica this policy asked for (the board
    // is full): the next decide() reports cannot_meet/board_full once (if not
    // already in that state), and no replica is asked for again before a
    // scale-up window has passed.
    void report_cannot_fit(std::uint64_t now_ns);

    // Reported cannot_meet and not yet objective_met.
    [[nodiscard]] bool cannot_meet() const { return cannot_meet_; }

private:
    static constexpr std::uint64_t kNever = ~std::uint64_t{0};

    struct Judgement final {
        bool breach{false};
        bool calm{false};
        bool idle{false};  // no request completed, arrived or waits
        std::uint64_t percentile_ns{0};
    };

    [[nodiscard]] Judgement judge(const ScalingInputs& inputs) const;
    void track(const ScalingInputs& inputs, const Judgement& judgement);
    [[nodiscard]] bool may_add(std::uint64_t now_ns) const { return now_ns >= add_blocked_until_ns_; }
    [[nodiscard]] ScalingDecision decide_breach(const ScalingInputs& inputs, ScalingDecision decision);
    [[nodiscard]] ScalingDecision decide_calm(const ScalingInputs& inputs, ScalingDecision decision);
    [[nodiscard]] unsigned replicas_missing(const ScalingInputs& inputs) const;
    [[nodiscard]] bool load_fits_one_fewer(const ScalingInputs& inputs) const;
    [[nodiscard]] static std::uint64_t since(std::uint64_t start_ns, std::uint64_t now_ns);
    [[nodiscard]] static std::uint64_t arrival_rate_milli(const ScalingInputs& inputs);

    // A load within this share of the one that last needed more replicas
    // counts as the same load.
    static constexpr std::uint64_t kSameLoadPercent = 80;
    // A spell that started at start_ns (kNever: none under way) has lasted duration_ns.
    [[nodiscard]] static bool lasted(std::uint64_t start_ns, std::uint64_t now_ns, std::uint64_t duration_ns);

    ScalingSettings settings_;
    std::uint64_t breach_since_ns_{kNever};      // start of the breach under way
    std::uint64_t calm_since_ns_{kNever};        // start of the calm spell under way
    std::uint64_t idle_since_ns_{kNever};        // start of the idle spell under way
    std::uint64_t capacity_changed_ns_{kNever};  // last replica ready or removed
    std::uint64_t trouble_seen_ns_{kNever};      // last tick with an unmet need
    std::uint64_t add_blocked_until_ns_{0};      // after a replica did not fit
    unsigned needed_replicas_{0};            // replicas after the last add for a missed objective
    std::uint64_t needed_at_rate_milli_{0};  // the arrival rate then (requests per 1000 s)
    bool cannot_meet_{false};
    bool board_full_to_report_{false};
};

}  // namespace lamina
