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
    std::uint64_t least = entity.virtual_runtime;
    bool any = false;
    for (SchedulingEntity* queued = head_; queued != nullptr; queued = queued->next) {
        least = any ? std::min(least, queued->virtual_runtime) : queued->virtual_runtime;
        any = true;
    }
    if (any && least > slice) entity.virtual_runtime = std::max(entity.virtual_runtime, least - slice);
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
        entity.group->used_in_period += ran;
    }
}

bool FairShareQueue::should_preempt(const SchedulingEntity& running, std::uint32_t cpu, std::uint64_t now) {
    if (!within_cap(running.group, now)) return true;
    const SchedulingEntity* rival = pick(cpu, now);
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
