#include "core/fair_share.hpp"

#include <algorithm>

namespace lamina {

std::uint64_t FairShareQueue::budget(const ShareGroup& group) const {
    return cap_period_ * group.cap_percent / 100;
}

void FairShareQueue::roll_period(ShareGroup* group, std::uint64_t now) const {
    if (group == nullptr || now - group->period_start < cap_period_) return;
    // Skip whole idle periods; usage does not carry over.
    group->period_start = now - (now - group->period_start) % cap_period_;
    group->used_in_period = 0;
}

bool FairShareQueue::within_cap(ShareGroup* group, std::uint64_t now) const {
    if (group == nullptr || group->cap_percent == 0) return true;
    roll_period(group, now);
    return group->used_in_period < budget(*group);
}

void FairShareQueue::enqueue(SchedulingEntity& entity, std::uint64_t slice) {
    if (entity.queued) return;
    // Where the CPUs it may use have got: the least-served queued entity that
    // may run on one of them, or the furthest-advanced of those CPUs (what
    // runs there is not on the queue), whichever is further.
    std::uint64_t reference = 0;
    bool any = false;
    for (SchedulingEntity* queued = head_; queued != nullptr; queued = queued->next) {
        if ((queued->allowed_cpus & entity.allowed_cpus) == 0) continue;
        reference = any ? std::min(reference, queued->virtual_runtime) : queued->virtual_runtime;
        any = true;
    }
    for (std::uint32_t cpu = 0; cpu < cpu_virtual_time_.size(); ++cpu) {
        if (((entity.allowed_cpus >> cpu) & 1) != 0) reference = std::max(reference, cpu_virtual_time_[cpu]);
    }
    if (reference > slice) entity.virtual_runtime = std::max(entity.virtual_runtime, reference - slice);
    entity.next = head_;
    head_ = &entity;
    entity.queued = true;
}

void FairShareQueue::remove(SchedulingEntity& entity) {
    if (!entity.queued) return;
    for (SchedulingEntity** link = &head_; *link != nullptr; link = &(*link)->next) {
        if (*link == &entity) {
            *link = entity.next;
            break;
        }
    }
    entity.next = nullptr;
    entity.queued = false;
}

SchedulingEntity* FairShareQueue::pick(std::uint32_t cpu, std::uint64_t now) {
    SchedulingEntity* best = nullptr;
    for (SchedulingEntity* entity = head_; entity != nullptr; entity = entity->next) {
        if (((entity->allowed_cpus >> cpu) & 1) == 0 || !within_cap(entity->group, now)) continue;
        if (best == nullptr || entity->virtual_runtime < best->virtual_runtime) best = entity;
    }
    return best;
}

void FairShareQueue::charge(SchedulingEntity& entity, std::uint64_t ran, std::uint64_t now) {
    const std::uint32_t weight = entity.weight == 0 ? kDefaultWeight : entity.weight;
    entity.virtual_runtime += ran * kDefaultWeight / weight;
    if (entity.group != nullptr) {
        roll_period(entity.group, now);
        entity.group->used_in_period += std::min(ran, now - entity.group->period_start);
    }
}

bool FairShareQueue::should_preempt(const SchedulingEntity& running, std::uint32_t cpu, std::uint64_t now) {
    const SchedulingEntity* rival = pick(cpu, now);
    if (cpu < cpu_virtual_time_.size()) {
        const std::uint64_t least = rival != nullptr ? std::min(rival->virtual_runtime, running.virtual_runtime)
                                                     : running.virtual_runtime;
        cpu_virtual_time_[cpu] = std::max(cpu_virtual_time_[cpu], least);
    }
    if (!within_cap(running.group, now)) return true;
    return rival != nullptr && rival->virtual_runtime <= running.virtual_runtime;
}

std::uint64_t FairShareQueue::budget_left(const SchedulingEntity& running, std::uint64_t now) {
    ShareGroup* group = running.group;
    if (group == nullptr || group->cap_percent == 0) return kNoEvent;
    roll_period(group, now);
    const std::uint64_t allowed = budget(*group);
    return group->used_in_period >= allowed ? 0 : allowed - group->used_in_period;
}

std::uint64_t FairShareQueue::next_cap_refill(std::uint64_t now) const {
    std::uint64_t earliest = kNoEvent;
    for (const SchedulingEntity* entity = head_; entity != nullptr; entity = entity->next) {
        const ShareGroup* group = entity->group;
        if (group == nullptr || group->cap_percent == 0 || group->used_in_period < budget(*group)) continue;
        const std::uint64_t refill = group->period_start + cap_period_;
        earliest = std::min(earliest, refill > now ? refill : now);
    }
    return earliest;
}

}  // namespace lamina
