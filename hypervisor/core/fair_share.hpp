// The scheduling policy, free of locks and hardware so it runs in host unit
// tests: weighted fair sharing by virtual run time (a vCPU of weight w ages
// 256/w times as fast as one of weight 256), a CPU cap per share group (a VM)
// enforced over fixed periods, and per-entity CPU affinity.
#pragma once

#include <array>
#include <cstdint>
#include <limits>

namespace lamina {

inline constexpr std::uint32_t kDefaultWeight = 256;
inline constexpr std::uint64_t kNoEvent = std::numeric_limits<std::uint64_t>::max();

// Entities that share a cap: the vCPUs of one VM.
struct ShareGroup final {
    std::uint32_t cap_percent{0};  // 0 = no cap; 100 = one whole physical CPU
    std::uint64_t period_start{0};
    std::uint64_t used_in_period{0};
};

struct SchedulingEntity final {
    std::uint64_t virtual_runtime{0};
    std::uint32_t weight{kDefaultWeight};
    std::uint64_t allowed_cpus{~std::uint64_t{0}};  // bit n: may run on physical CPU n
    ShareGroup* group{nullptr};
    SchedulingEntity* next{nullptr};  // run-queue link
    bool queued{false};
    void* owner{nullptr};             // the vCPU this entity schedules
};

class FairShareQueue final {
public:
    explicit FairShareQueue(std::uint64_t cap_period_ticks = 1) : cap_period_{cap_period_ticks} {}
    void set_cap_period(std::uint64_t ticks) { cap_period_ = ticks; }

    // A woken entity must not bank credit from a long sleep: it starts no
    // further back than one slice behind the least-served queued entity that
    // may share a CPU with it, nor than one slice behind the furthest-advanced
    // CPU it may use (see cpu_virtual_time_: the entities running there are
    // not on the queue, and may be all there is).
    void enqueue(SchedulingEntity& entity, std::uint64_t slice);
    void remove(SchedulingEntity& entity);
    // The least-served entity allowed on `cpu` whose group is within its cap.
    [[nodiscard]] SchedulingEntity* pick(std::uint32_t cpu, std::uint64_t now);
    // Takes the entity off the queue (after pick).
    void dequeue(SchedulingEntity& entity) { remove(entity); }
    // Accounts `ran` ticks of CPU time, ending at `now`, to the entity and to
    // its group (the part of the run before the current period's start
    // belonged to a period that is over).
    void charge(SchedulingEntity& entity, std::uint64_t ran, std::uint64_t now);
    // Should `running` give way on `cpu`? (someone eligible is further behind,
    // or its group has used up its cap)
    [[nodiscard]] bool should_preempt(const SchedulingEntity& running, std::uint32_t cpu, std::uint64_t now);
    // Ticks `running` may still run before its group reaches its cap.
    [[nodiscard]] std::uint64_t budget_left(const SchedulingEntity& running, std::uint64_t now);
    // When a throttled group gets a new period and may run again.
    [[nodiscard]] std::uint64_t next_cap_refill(std::uint64_t now) const;
    [[nodiscard]] bool empty() const { return head_ == nullptr; }

private:
    [[nodiscard]] bool within_cap(ShareGroup* group, std::uint64_t now) const;
    void roll_period(ShareGroup* group, std::uint64_t now) const;
    [[nodiscard]] std::uint64_t budget(const ShareGroup& group) const;

    SchedulingEntity* head_{nullptr};
    std::uint64_t cap_period_;
    // Per physical CPU, the virtual runtime of the least-served of the entity
    // running there and its best rival, as of the last should_preempt (which
    // the scheduler calls at least once a slice); never decreasing.
    std::array<std::uint64_t, 64> cpu_virtual_time_{};
};

}  // namespace lamina
