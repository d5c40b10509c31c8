// FairShareQueue: the scheduling policy, driven by a small simulator of N
// CPUs in lockstep (pick and take off the queue, run one slice, charge at the
// end of the run, then either always requeue or, as the scheduler does, keep
// running unless should_preempt says otherwise), plus direct checks of each
// call's contract.
#include "core/fair_share.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace lamina {
namespace {

constexpr std::uint64_t kSlice = 1000;
constexpr std::uint64_t kSlicesPerPeriod = 10;
constexpr std::uint64_t kPeriod = kSlice * kSlicesPerPeriod;

// How a CPU treats the entity it ran for a slice.
enum class Mode {
    requeue_every_slice,  // always back on the queue, then pick again
    like_the_scheduler,   // keeps running unless should_preempt says otherwise
};

// N CPUs sharing one queue in lockstep, one slice per step.
class Simulator {
public:
    explicit Simulator(std::uint32_t cpu_count, Mode mode = Mode::like_the_scheduler, std::uint64_t period = kPeriod)
        : queue{period}, idle_slices(cpu_count, 0), mode_{mode}, cpus_{cpu_count}, running_(cpu_count, nullptr) {}

    // Adds a runnable entity; returns its index.
    std::size_t add(std::uint32_t weight = kDefaultWeight, ShareGroup* group = nullptr,
                    std::uint64_t allowed = ~std::uint64_t{0}) {
        auto entity = std::make_unique<SchedulingEntity>();
        entity->weight = weight;
        entity->group = group;
        entity->allowed_cpus = allowed;
        entities_.push_back(std::move(entity));
        ran.push_back(0);
        asleep_.push_back(false);
        queue.enqueue(*entities_.back(), kSlice);
        return entities_.size() - 1;
    }

    SchedulingEntity& entity(std::size_t index) { return *entities_[index]; }

    // The entity stops being runnable: now if it is queued, else at the end
    // of its current slice.
    void sleep(std::size_t index) {
        asleep_[index] = true;
        queue.remove(*entities_[index]);
    }
    // Runnable again (it must not be running).
    void wake(std::size_t index) {
        asleep_[index] = false;
        queue.enqueue(*entities_[index], kSlice);
    }

    // One slice on every CPU. `while_running` runs once every CPU has its
    // entity (as an interrupt on a busy system would).
    void step(const std::function<void()>& while_running = {}) {
        for (std::uint32_t cpu = 0; cpu < cpus_; ++cpu) {
            if (running_[cpu] != nullptr) continue;
            SchedulingEntity* picked = queue.pick(cpu, now);
            if (picked == nullptr) continue;
            EXPECT_TRUE((picked->allowed_cpus >> cpu) & 1) << "affinity violated on CPU " << cpu;
            EXPECT_TRUE(picked->queued);
            queue.dequeue(*picked);
            EXPECT_FALSE(picked->queued);
            running_[cpu] = picked;
        }
        for (std::uint32_t cpu = 0; cpu < cpus_; ++cpu) {
            if (running_[cpu] == nullptr) ++idle_slices[cpu];
        }
        if (while_running) while_running();
        now += kSlice;
        for (SchedulingEntity* entity : running_) {
            if (entity == nullptr) continue;
            ran[index_of(*entity)] += kSlice;
            queue.charge(*entity, kSlice, now);  // at the end of the run, as the scheduler does
        }
        for (std::uint32_t cpu = 0; cpu < cpus_; ++cpu) {
            SchedulingEntity* entity = running_[cpu];
            if (entity == nullptr) continue;
            if (asleep_[index_of(*entity)]) {
                running_[cpu] = nullptr;
            } else if (mode_ == Mode::requeue_every_slice || queue.should_preempt(*entity, cpu, now)) {
                queue.enqueue(*entity, kSlice);
                running_[cpu] = nullptr;
            }
        }
    }

    void run(std::uint64_t steps) {
        for (std::uint64_t i = 0; i < steps; ++i) step();
    }

    FairShareQueue queue;
    std::uint64_t now{0};
    std::vector<std::uint64_t> ran;  // ticks each entity ran
    std::vector<std::uint64_t> idle_slices;

private:
    std::size_t index_of(const SchedulingEntity& entity) const {
        for (std::size_t index = 0; index < entities_.size(); ++index) {
            if (entities_[index].get() == &entity) return index;
        }
        ADD_FAILURE() << "unknown entity";
        return 0;
    }

    Mode mode_;
    std::uint32_t cpus_;
    std::vector<SchedulingEntity*> running_;
    std::vector<std::unique_ptr<SchedulingEntity>> entities_;
    std::vector<bool> asleep_;
};

// Simulations run both ways.
class FairShareSimulation : public ::testing::TestWithParam<Mode> {};

INSTANTIATE_TEST_SUITE_P(Modes, FairShareSimulation,
                         ::testing::Values(Mode::requeue_every_slice, Mode::like_the_scheduler),
                         [](const ::testing::TestParamInfo<Mode>& info) {
                             return info.param == Mode::requeue_every_slice ? std::string{"RequeueEverySlice"}
                                                                             : std::string{"LikeTheScheduler"};
                         });

double share(std::uint64_t ran, std::uint64_t elapsed) {
    return static_cast<double>(ran) / static_cast<double>(elapsed);
}

// --- Fair sharing by weight ---------------------------------------------------------------------

TEST_P(FairShareSimulation, EqualWeightsShareOneCpuEqually) {
    Simulator sim{1, GetParam()};
    for (int i = 0; i < 4; ++i) sim.add();
    sim.run(4000);
    for (std::size_t i = 0; i < 4; ++i) EXPECT_NEAR(share(sim.ran[i], sim.now), 0.25, 0.005) << "entity " << i;
    EXPECT_EQ(sim.idle_slices[0], 0u);
}

TEST_P(FairShareSimulation, EqualWeightsShareSeveralCpusEqually) {
    // Three entities on two CPUs: each should get two thirds of a CPU.
    Simulator sim{2, GetParam()};
    for (int i = 0; i < 3; ++i) sim.add();
    sim.run(3000);
    for (std::size_t i = 0; i < 3; ++i) EXPECT_NEAR(share(sim.ran[i], sim.now), 2.0 / 3.0, 0.01) << "entity " << i;
    EXPECT_EQ(sim.idle_slices[0] + sim.idle_slices[1], 0u);
}

TEST_P(FairShareSimulation, DoubleWeightGetsTwiceTheTime) {
    Simulator sim{1, GetParam()};
    const std::size_t light = sim.add(256);
    const std::size_t heavy = sim.add(512);
    sim.run(3000);
    EXPECT_NEAR(static_cast<double>(sim.ran[heavy]) / static_cast<double>(sim.ran[light]), 2.0, 0.01);
    EXPECT_EQ(sim.ran[light] + sim.ran[heavy], sim.now);
}

TEST_P(FairShareSimulation, WeightsAreProportionalAmongMany) {
    Simulator sim{2, GetParam()};
    const std::size_t a = sim.add(128);
    const std::size_t b = sim.add(256);
    const std::size_t c = sim.add(256);
    const std::size_t d = sim.add(512);
    sim.run(6000);
    const double total = static_cast<double>(2 * sim.now);
    EXPECT_NEAR(sim.ran[a] / total, 1.0 / 9.0, 0.01);
    EXPECT_NEAR(sim.ran[b] / total, 2.0 / 9.0, 0.01);
    EXPECT_NEAR(sim.ran[c] / total, 2.0 / 9.0, 0.01);
    EXPECT_NEAR(sim.ran[d] / total, 4.0 / 9.0, 0.01);
}

TEST(FairShare, VirtualRuntimeAgesInverselyToWeight) {
    FairShareQueue queue{kPeriod};
    SchedulingEntity normal{};
    SchedulingEntity heavy{};
    heavy.weight = 512;
    SchedulingEntity light{};
    light.weight = 64;
    queue.charge(normal, 1024, 1024);
    queue.charge(heavy, 1024, 1024);
    queue.charge(light, 1024, 1024);
    EXPECT_EQ(normal.virtual_runtime, 1024u);
    EXPECT_EQ(heavy.virtual_runtime, 512u);
    EXPECT_EQ(light.virtual_runtime, 4096u);
}

TEST(FairShare, WeightZeroIsTreatedAsDefault) {
    FairShareQueue queue{kPeriod};
    SchedulingEntity zero{};
    zero.weight = 0;
    queue.charge(zero, 700, 700);
    EXPECT_EQ(zero.virtual_runtime, 700u);
}

TEST_P(FairShareSimulation, WeightZeroSharesLikeTheDefault) {
    Simulator sim{1, GetParam()};
    const std::size_t a = sim.add(0);
    const std::size_t b = sim.add(kDefaultWeight);
    sim.run(1000);
    EXPECT_NEAR(share(sim.ran[a], sim.now), 0.5, 0.005);
    EXPECT_NEAR(share(sim.ran[b], sim.now), 0.5, 0.005);
}

// --- Caps -----------------------------------------------------------------------------------------

TEST_P(FairShareSimulation, HalfCapAloneGetsHalfACpuAndTheCpuIdles) {
    Simulator sim{1, GetParam()};
    ShareGroup group{50, 0, 0};
    const std::size_t capped = sim.add(kDefaultWeight, &group);
    for (std::uint64_t period = 0; period < 100; ++period) {
        const std::uint64_t before = sim.ran[capped];
        sim.run(kSlicesPerPeriod);
        EXPECT_LE(sim.ran[capped] - before, kPeriod / 2) << "period " << period;
    }
    EXPECT_EQ(sim.ran[capped], sim.now / 2);
    EXPECT_EQ(sim.idle_slices[0] * kSlice, sim.now / 2);
}

TEST_P(FairShareSimulation, HalfCapAgainstAnUncappedEntity) {
    // The capped entity never gets more than its cap; the other takes the rest.
    Simulator sim{1, GetParam()};
    ShareGroup group{50, 0, 0};
    const std::size_t capped = sim.add(kDefaultWeight, &group);
    const std::size_t free_running = sim.add();
    sim.run(100 * kSlicesPerPeriod);
    EXPECT_LE(share(sim.ran[capped], sim.now), 0.5);
    EXPECT_NEAR(share(sim.ran[capped], sim.now), 0.5, 0.02);
    EXPECT_EQ(sim.ran[capped] + sim.ran[free_running], sim.now);
    EXPECT_EQ(sim.idle_slices[0], 0u);
}

TEST_P(FairShareSimulation, SmallCapIsEnforcedUnderCompetitionForCpuTime) {
    Simulator sim{1, GetParam()};
    ShareGroup group{20, 0, 0};
    const std::size_t capped = sim.add(4096, &group);  // heavy, but capped
    const std::size_t other = sim.add();
    sim.run(100 * kSlicesPerPeriod);
    EXPECT_EQ(sim.ran[capped], sim.now / 5);
    EXPECT_EQ(sim.ran[other], sim.now - sim.now / 5);
}

TEST_P(FairShareSimulation, GroupCapOfOneCpuHoldsAcrossTwoCpus) {
    Simulator sim{2, GetParam()};
    ShareGroup group{100, 0, 0};
    const std::size_t a = sim.add(kDefaultWeight, &group);
    const std::size_t b = sim.add(kDefaultWeight, &group);
    for (std::uint64_t period = 0; period < 100; ++period) {
        const std::uint64_t before = sim.ran[a] + sim.ran[b];
        sim.run(kSlicesPerPeriod);
        EXPECT_LE(sim.ran[a] + sim.ran[b] - before, kPeriod) << "period " << period;
    }
    EXPECT_EQ(sim.ran[a] + sim.ran[b], sim.now);  // exactly one CPU's worth
    EXPECT_EQ(sim.ran[a], sim.ran[b]);
    EXPECT_EQ((sim.idle_slices[0] + sim.idle_slices[1]) * kSlice, sim.now);
}

TEST_P(FairShareSimulation, GroupCapLeavesTheOtherCpuToOthers) {
    Simulator sim{2, GetParam()};
    ShareGroup group{100, 0, 0};
    const std::size_t a = sim.add(kDefaultWeight, &group);
    const std::size_t b = sim.add(kDefaultWeight, &group);
    const std::size_t c = sim.add();
    for (std::uint64_t period = 0; period < 100; ++period) {
        const std::uint64_t before = sim.ran[a] + sim.ran[b];
        sim.run(kSlicesPerPeriod);
        // Both CPUs may start a slice while one slice of budget is left.
        EXPECT_LE(sim.ran[a] + sim.ran[b] - before, kPeriod + kSlice) << "period " << period;
    }
    EXPECT_LE(sim.ran[a] + sim.ran[b], sim.now + kSlice);
    EXPECT_GE(sim.ran[a] + sim.ran[b], sim.now - kSlice);
    // The uncapped entity gets at least as much as each capped one. (Not a
    // whole CPU: the capped pair tends to run side by side until throttled,
    // and the policy does not hold a CPU back for it.)
    EXPECT_GE(sim.ran[c], sim.ran[a]);
    EXPECT_GE(sim.ran[c], sim.ran[b]);
}

TEST_P(FairShareSimulation, FullCapLetsALoneEntityUseTheWholeCpu) {
    // Charged at the end of each run, the last slice of a period ends exactly
    // on the boundary: it belongs to the period it ran in, not the next one.
    Simulator sim{1, GetParam()};
    ShareGroup group{100, 0, 0};
    const std::size_t capped = sim.add(kDefaultWeight, &group);
    sim.run(100 * kSlicesPerPeriod);
    EXPECT_EQ(sim.ran[capped], sim.now);
    EXPECT_EQ(sim.idle_slices[0], 0u);
}

TEST(FairShare, RunAcrossAPeriodBoundaryChargesOnlyTheNewPeriodsPart) {
    FairShareQueue queue{1000};
    ShareGroup group{100, 0, 0};
    SchedulingEntity entity{};
    entity.group = &group;
    queue.charge(entity, 990, 990);
    EXPECT_EQ(queue.budget_left(entity, 990), 10u);
    // Timer latency: the run that started at 990 ends at 1010.
    queue.charge(entity, 20, 1010);
    EXPECT_EQ(group.period_start, 1000u);
    EXPECT_EQ(group.used_in_period, 10u);
    EXPECT_EQ(queue.budget_left(entity, 1010), 990u);
    // The entity's own virtual runtime gets the whole run.
    EXPECT_EQ(entity.virtual_runtime, 1010u);
}

TEST(FairShare, BudgetLeft) {
    FairShareQueue queue{1000};
    SchedulingEntity ungrouped{};
    EXPECT_EQ(queue.budget_left(ungrouped, 0), kNoEvent);

    ShareGroup uncapped{0, 0, 0};
    SchedulingEntity free_running{};
    free_running.group = &uncapped;
    queue.charge(free_running, 5000, 5000);
    EXPECT_EQ(queue.budget_left(free_running, 5000), kNoEvent);

    ShareGroup group{30, 0, 0};
    SchedulingEntity capped{};
    capped.group = &group;
    EXPECT_EQ(queue.budget_left(capped, 0), 300u);
    queue.charge(capped, 100, 100);
    EXPECT_EQ(queue.budget_left(capped, 100), 200u);
    queue.charge(capped, 250, 350);  // overran its budget
    EXPECT_EQ(queue.budget_left(capped, 350), 0u);
    EXPECT_EQ(queue.budget_left(capped, 999), 0u);
    EXPECT_EQ(queue.budget_left(capped, 1000), 300u);  // a new period
    EXPECT_EQ(group.period_start, 1000u);
    EXPECT_EQ(group.used_in_period, 0u);

    // Idle periods are skipped; the grid of period boundaries stays fixed.
    queue.charge(capped, 100, 1100);
    EXPECT_EQ(queue.budget_left(capped, 5432), 300u);
    EXPECT_EQ(group.period_start, 5000u);

    // Over 100 %: a group of several vCPUs may use more than one CPU.
    ShareGroup wide{250, 0, 0};
    SchedulingEntity member{};
    member.group = &wide;
    EXPECT_EQ(queue.budget_left(member, 10), 2500u);
}

TEST(FairShare, NextCapRefillIsThePeriodBoundary) {
    FairShareQueue queue{1000};
    EXPECT_EQ(queue.next_cap_refill(0), kNoEvent);  // nothing queued

    ShareGroup group{50, 250, 0};  // periods start at 250, 1250, 2250, ...
    SchedulingEntity capped{};
    capped.group = &group;
    SchedulingEntity uncapped{};
    queue.enqueue(uncapped, kSlice);
    queue.enqueue(capped, kSlice);
    EXPECT_EQ(queue.next_cap_refill(300), kNoEvent);  // within its budget

    queue.charge(capped, 400, 650);
    EXPECT_EQ(queue.next_cap_refill(650), kNoEvent);
    queue.charge(capped, 100, 750);  // budget (500) used up
    EXPECT_EQ(queue.budget_left(capped, 750), 0u);
    EXPECT_EQ(queue.next_cap_refill(750), 1250u);
    EXPECT_EQ(queue.pick(0, 750), &uncapped);
    EXPECT_EQ(queue.pick(0, 1249), &uncapped);

    // At the refill the throttled entity is eligible again.
    queue.remove(uncapped);
    EXPECT_EQ(queue.pick(0, 1249), nullptr);
    EXPECT_EQ(queue.pick(0, 1250), &capped);
    EXPECT_EQ(group.period_start, 1250u);
    EXPECT_EQ(queue.next_cap_refill(1250), kNoEvent);

    // Exhausted again in a later period: the boundary after that one.
    queue.charge(capped, 600, 1900);
    EXPECT_EQ(queue.next_cap_refill(1900), 2250u);
    // A refill already due is reported as now.
    EXPECT_EQ(queue.next_cap_refill(3000), 3000u);

    // Not queued (running elsewhere): not this queue's event.
    queue.remove(capped);
    EXPECT_EQ(queue.next_cap_refill(1900), kNoEvent);
}

TEST(FairShare, NextCapRefillIsTheEarliestOfSeveralGroups) {
    FairShareQueue queue{1000};
    ShareGroup early{10, 0, 100};
    ShareGroup late{10, 600, 100};
    SchedulingEntity a{};
    a.group = &late;
    SchedulingEntity b{};
    b.group = &early;
    queue.enqueue(a, kSlice);
    queue.enqueue(b, kSlice);
    EXPECT_EQ(queue.next_cap_refill(700), 1000u);
}

// --- Preemption ---------------------------------------------------------------------------------

TEST(FairShare, ShouldPreempt) {
    FairShareQueue queue{1000};
    SchedulingEntity running{};
    running.virtual_runtime = 5000;
    EXPECT_FALSE(queue.should_preempt(running, 0, 0));  // nobody waiting

    SchedulingEntity rival{};
    rival.virtual_runtime = 6000;
    queue.enqueue(rival, kSlice);
    EXPECT_FALSE(queue.should_preempt(running, 0, 0));  // the rival is better served
    rival.virtual_runtime = 5000;
    EXPECT_TRUE(queue.should_preempt(running, 0, 0));  // equal: take turns
    rival.virtual_runtime = 4000;
    EXPECT_TRUE(queue.should_preempt(running, 0, 0));

    // A rival that may not run here does not count.
    rival.allowed_cpus = 1u << 1;
    EXPECT_FALSE(queue.should_preempt(running, 0, 0));
    EXPECT_TRUE(queue.should_preempt(running, 1, 0));
    rival.allowed_cpus = ~std::uint64_t{0};

    // Nor does a rival whose group is throttled.
    ShareGroup throttled{10, 0, 100};
    rival.group = &throttled;
    EXPECT_FALSE(queue.should_preempt(running, 0, 50));
    EXPECT_TRUE(queue.should_preempt(running, 0, 1000));  // its new period
    rival.group = nullptr;

    // A running entity whose group used up its cap gives way even to nobody.
    queue.remove(rival);
    ShareGroup own{50, 0, 0};
    running.group = &own;
    EXPECT_FALSE(queue.should_preempt(running, 0, 100));
    queue.charge(running, 500, 600);
    EXPECT_TRUE(queue.should_preempt(running, 0, 600));
    EXPECT_FALSE(queue.should_preempt(running, 0, 1000));
}

// --- Affinity -----------------------------------------------------------------------------------

TEST_P(FairShareSimulation, AffinityIsNeverViolatedAndPinnedEntitiesRun) {
    // The simulator checks every pick against the affinity mask.
    Simulator sim{3, GetParam()};
    const std::size_t pinned = sim.add(kDefaultWeight, nullptr, 1u << 2);
    const std::size_t pair_a = sim.add(kDefaultWeight, nullptr, 0b011);
    const std::size_t pair_b = sim.add(kDefaultWeight, nullptr, 0b011);
    std::vector<std::size_t> free_running;
    for (int i = 0; i < 3; ++i) free_running.push_back(sim.add());
    sim.run(3000);
    // Six entities, three CPUs: half a CPU each is possible and fair.
    EXPECT_GT(share(sim.ran[pinned], sim.now), 0.3);
    EXPECT_GT(share(sim.ran[pair_a], sim.now), 0.3);
    EXPECT_GT(share(sim.ran[pair_b], sim.now), 0.3);
    for (std::size_t index : free_running) EXPECT_GT(share(sim.ran[index], sim.now), 0.3);
    for (std::uint64_t idle : sim.idle_slices) EXPECT_EQ(idle, 0u);
}

TEST(FairShare, PinnedEntityRunsOnlyOnItsCpu) {
    FairShareQueue queue{kPeriod};
    SchedulingEntity pinned{};
    pinned.allowed_cpus = 1u << 3;
    queue.enqueue(pinned, kSlice);
    for (std::uint32_t cpu = 0; cpu < 64; ++cpu) {
        EXPECT_EQ(queue.pick(cpu, 0), cpu == 3 ? &pinned : nullptr) << "CPU " << cpu;
    }
    SchedulingEntity high{};
    high.allowed_cpus = std::uint64_t{1} << 63;
    queue.enqueue(high, kSlice);
    EXPECT_EQ(queue.pick(63, 0), &high);
    EXPECT_EQ(queue.pick(62, 0), nullptr);
}

TEST(FairShare, PinnedEntityIsPickedOnItsCpuEvenWhenFurtherAhead) {
    FairShareQueue queue{kPeriod};
    SchedulingEntity pinned{};
    pinned.allowed_cpus = 1u << 1;
    SchedulingEntity behind{};
    behind.allowed_cpus = 1u << 0;
    queue.enqueue(pinned, kSlice);
    queue.enqueue(behind, kSlice);
    pinned.virtual_runtime = 9000;
    EXPECT_EQ(queue.pick(1, 0), &pinned);
    EXPECT_EQ(queue.pick(0, 0), &behind);
}

// --- Wake-up placement ---------------------------------------------------------------------------

TEST(FairShare, WakerStartsAtMostOneSliceBehindTheLeastServed) {
    FairShareQueue queue{kPeriod};
    SchedulingEntity a{};
    SchedulingEntity b{};
    queue.enqueue(a, kSlice);
    queue.enqueue(b, kSlice);
    a.virtual_runtime = 50'000;
    b.virtual_runtime = 40'000;

    SchedulingEntity sleeper{};
    sleeper.virtual_runtime = 100;
    queue.enqueue(sleeper, kSlice);
    EXPECT_EQ(sleeper.virtual_runtime, 40'000 - kSlice);

    SchedulingEntity close_behind{};
    close_behind.virtual_runtime = 39'500;
    queue.enqueue(close_behind, kSlice);
    EXPECT_EQ(close_behind.virtual_runtime, 39'500u);  // within a slice: unchanged

    SchedulingEntity ahead{};
    ahead.virtual_runtime = 70'000;
    queue.enqueue(ahead, kSlice);
    EXPECT_EQ(ahead.virtual_runtime, 70'000u);  // never moved back
}

TEST(FairShare, WakerIgnoresQueuedEntitiesItNeverCompetesWith) {
    FairShareQueue queue{kPeriod};
    SchedulingEntity elsewhere{};
    elsewhere.allowed_cpus = 1u << 1;
    queue.enqueue(elsewhere, kSlice);
    elsewhere.virtual_runtime = 80'000;

    SchedulingEntity pinned{};
    pinned.allowed_cpus = 1u << 0;
    pinned.virtual_runtime = 10'000;
    queue.enqueue(pinned, kSlice);
    EXPECT_EQ(pinned.virtual_runtime, 10'000u);  // not lifted towards 80'000

    SchedulingEntity overlapping{};
    overlapping.allowed_cpus = 0b11;
    queue.enqueue(overlapping, kSlice);
    EXPECT_EQ(overlapping.virtual_runtime, 9'000u);  // behind the least of both: `pinned`
}

TEST(FairShare, WakerWithNothingQueuedCatchesUpWithTheRunningCpus) {
    FairShareQueue queue{kPeriod};
    // What should_preempt saw at the end of slices on CPUs 2 and 5.
    SchedulingEntity on_cpu2{};
    on_cpu2.virtual_runtime = 30'000;
    EXPECT_FALSE(queue.should_preempt(on_cpu2, 2, 0));
    SchedulingEntity on_cpu5{};
    on_cpu5.virtual_runtime = 50'000;
    EXPECT_FALSE(queue.should_preempt(on_cpu5, 5, 0));

    SchedulingEntity only_cpu2{};
    only_cpu2.allowed_cpus = 1u << 2;
    queue.enqueue(only_cpu2, kSlice);
    EXPECT_EQ(only_cpu2.virtual_runtime, 29'000u);
    queue.remove(only_cpu2);

    SchedulingEntity anywhere{};
    queue.enqueue(anywhere, kSlice);
    EXPECT_EQ(anywhere.virtual_runtime, 49'000u);
    queue.remove(anywhere);

    SchedulingEntity idle_cpus_only{};
    idle_cpus_only.allowed_cpus = 0b11;  // CPUs that never ran anything
    queue.enqueue(idle_cpus_only, kSlice);
    EXPECT_EQ(idle_cpus_only.virtual_runtime, 0u);
    queue.remove(idle_cpus_only);

    // A CPU's virtual time never goes back, and is the least of the running
    // entity and its best rival there.
    on_cpu2.virtual_runtime = 10'000;
    EXPECT_FALSE(queue.should_preempt(on_cpu2, 2, 0));
    SchedulingEntity rival{};
    queue.enqueue(rival, kSlice);  // lifted to 49'000 by CPU 5
    rival.allowed_cpus = 1u << 2;
    rival.virtual_runtime = 35'000;
    on_cpu2.virtual_runtime = 60'000;
    EXPECT_TRUE(queue.should_preempt(on_cpu2, 2, 0));
    queue.remove(rival);
    SchedulingEntity later{};
    later.allowed_cpus = 1u << 2;
    queue.enqueue(later, kSlice);
    EXPECT_EQ(later.virtual_runtime, 34'000u);
}

TEST_P(FairShareSimulation, SleeperWakingWhileOthersAreQueuedDoesNotMonopolise) {
    Simulator sim{1, GetParam()};
    const std::size_t busy_a = sim.add();
    const std::size_t busy_b = sim.add();
    const std::size_t sleeper = sim.add();
    sim.sleep(sleeper);
    sim.run(1000);
    sim.wake(sleeper);  // between steps: the others are on the queue
    const std::uint64_t before = sim.ran[sleeper];
    sim.run(30);
    // A third of the time, plus at most about a slice of catch-up.
    EXPECT_LE(sim.ran[sleeper] - before, 11 * kSlice);
    EXPECT_GE(sim.ran[sleeper] - before, 9 * kSlice);
    EXPECT_GT(sim.ran[busy_a], 0u);
    EXPECT_GT(sim.ran[busy_b], 0u);
}

TEST_P(FairShareSimulation, SleeperWakingWhileEveryoneRunsDoesNotMonopolise) {
    // One CPU, one busy entity: while it runs the queue is empty, and that is
    // when a sleeper is woken (by an interrupt or its timer).
    Simulator sim{1, GetParam()};
    const std::size_t busy = sim.add();
    const std::size_t sleeper = sim.add();
    sim.sleep(sleeper);
    sim.run(1000);
    ASSERT_EQ(sim.ran[busy], 1000 * kSlice);
    sim.step([&] {
        EXPECT_TRUE(sim.queue.empty());
        sim.wake(sleeper);
    });
    const std::uint64_t sleeper_before = sim.ran[sleeper];
    const std::uint64_t busy_before = sim.ran[busy];
    sim.run(20);
    EXPECT_LE(sim.ran[sleeper] - sleeper_before, 11 * kSlice);
    EXPECT_GE(sim.ran[busy] - busy_before, 9 * kSlice);
}

TEST_P(FairShareSimulation, NewEntityJoiningABusySystemDoesNotMonopolise) {
    Simulator sim{2, GetParam()};
    sim.add();
    sim.add();
    sim.run(500);
    // Both CPUs busy, nothing queued: a fresh entity (virtual runtime 0) arrives.
    std::size_t late = 0;
    sim.step([&] { late = sim.add(); });
    const std::uint64_t before = sim.ran[late];
    sim.run(30);
    // Three entities on two CPUs: two thirds of 30 slices, plus a slice or two
    // of catch-up (rather than all 30).
    EXPECT_LE(sim.ran[late] - before, 22 * kSlice);
    EXPECT_GE(sim.ran[late] - before, 19 * kSlice);
}

TEST(FairShare, WakerIsPlacedByTheCpusItMayUse) {
    // CPU 1 runs X alone; CPU 0 runs Y, whose double weight makes it age at
    // half the rate, so the two CPUs' virtual times drift apart.
    Simulator sim{2};
    const std::size_t x = sim.add(kDefaultWeight, nullptr, 1u << 1);
    const std::size_t y = sim.add(512, nullptr, 1u << 0);
    const std::size_t pinned = sim.add(kDefaultWeight, nullptr, 1u << 0);
    const std::size_t roaming = sim.add();
    sim.sleep(pinned);
    sim.sleep(roaming);
    sim.run(1000);
    ASSERT_EQ(sim.entity(x).virtual_runtime, 1000 * kSlice);
    ASSERT_EQ(sim.entity(y).virtual_runtime, 500 * kSlice);

    // Pinned to CPU 0: placed by CPU 0's virtual time, so it shares with Y by
    // weight (a third) instead of waiting for Y to catch up with X.
    sim.step([&] {
        EXPECT_TRUE(sim.queue.empty());
        sim.wake(pinned);
    });
    EXPECT_EQ(sim.entity(pinned).virtual_runtime, 499 * kSlice);
    std::uint64_t pinned_before = sim.ran[pinned];
    std::uint64_t y_before = sim.ran[y];
    sim.run(30);
    EXPECT_GE(sim.ran[pinned] - pinned_before, 9 * kSlice);
    EXPECT_LE(sim.ran[pinned] - pinned_before, 12 * kSlice);
    EXPECT_GE(sim.ran[y] - y_before, 18 * kSlice);

    // Free to run anywhere: placed by the furthest-advanced CPU, so it shares
    // CPU 1 with X rather than taking it over with 500 slices of credit.
    sim.step([&] { sim.wake(roaming); });
    const std::uint64_t x_before = sim.ran[x];
    const std::uint64_t roaming_before = sim.ran[roaming];
    pinned_before = sim.ran[pinned];
    y_before = sim.ran[y];
    sim.run(40);
    EXPECT_GE(sim.ran[x] - x_before, 18 * kSlice);
    EXPECT_GE(sim.ran[roaming] - roaming_before, 18 * kSlice);
    EXPECT_GE(sim.ran[pinned] - pinned_before, 12 * kSlice);
    EXPECT_GE(sim.ran[y] - y_before, 24 * kSlice);
}

// --- Queue housekeeping --------------------------------------------------------------------------

TEST(FairShare, EmptyQueue) {
    FairShareQueue queue{kPeriod};
    EXPECT_TRUE(queue.empty());
    EXPECT_EQ(queue.pick(0, 0), nullptr);
    EXPECT_EQ(queue.next_cap_refill(0), kNoEvent);
    SchedulingEntity running{};
    EXPECT_FALSE(queue.should_preempt(running, 0, 0));

    SchedulingEntity entity{};
    queue.enqueue(entity, kSlice);
    EXPECT_FALSE(queue.empty());
    queue.dequeue(entity);
    EXPECT_TRUE(queue.empty());
    EXPECT_EQ(queue.pick(0, 0), nullptr);
}

TEST(FairShare, RemovingAnEntityThatIsNotQueuedIsHarmless) {
    FairShareQueue queue{kPeriod};
    SchedulingEntity outsider{};
    queue.remove(outsider);  // empty queue
    EXPECT_TRUE(queue.empty());

    SchedulingEntity a{};
    SchedulingEntity b{};
    a.virtual_runtime = 10;
    b.virtual_runtime = 20;
    queue.enqueue(a, kSlice);
    queue.enqueue(b, kSlice);
    queue.remove(outsider);
    EXPECT_FALSE(outsider.queued);
    EXPECT_EQ(outsider.next, nullptr);
    EXPECT_EQ(queue.pick(0, 0), &a);
    queue.remove(a);
    queue.remove(a);  // twice
    EXPECT_EQ(queue.pick(0, 0), &b);
    queue.remove(b);
    EXPECT_TRUE(queue.empty());
}

TEST(FairShare, EnqueueingTwiceDoesNotDuplicate) {
    FairShareQueue queue{kPeriod};
    SchedulingEntity entity{};
    queue.enqueue(entity, kSlice);
    queue.enqueue(entity, kSlice);
    EXPECT_EQ(queue.pick(0, 0), &entity);
    queue.dequeue(entity);
    EXPECT_TRUE(queue.empty());
    EXPECT_EQ(queue.pick(0, 0), nullptr);
}

TEST(FairShare, PickPrefersTheLeastServedAndLeavesItQueued) {
    FairShareQueue queue{kPeriod};
    SchedulingEntity entities[4]{};
    const std::uint64_t runtimes[4] = {300, 100, 400, 200};
    for (int i = 0; i < 4; ++i) queue.enqueue(entities[i], kSlice);
    for (int i = 0; i < 4; ++i) entities[i].virtual_runtime = runtimes[i];
    EXPECT_EQ(queue.pick(0, 0), &entities[1]);
    EXPECT_TRUE(entities[1].queued);
    EXPECT_EQ(queue.pick(0, 0), &entities[1]);  // pick alone does not take it off
    queue.dequeue(entities[1]);
    EXPECT_EQ(queue.pick(0, 0), &entities[3]);
    queue.dequeue(entities[3]);
    EXPECT_EQ(queue.pick(0, 0), &entities[0]);
    queue.dequeue(entities[0]);
    EXPECT_EQ(queue.pick(0, 0), &entities[2]);
    queue.dequeue(entities[2]);
    EXPECT_TRUE(queue.empty());
}

}  // namespace
}  // namespace lamina
