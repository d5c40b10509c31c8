#include "core/scheduler.hpp"

#include "core/console.hpp"
#include "core/vm_devices.hpp"
#include "core/fair_share.hpp"
#include "core/guest_layout.hpp"
#include "core/per_cpu.hpp"
#include "core/spinlock.hpp"
#include "core/stolen_time.hpp"
#include "core/vm_manager.hpp"

namespace lamina::scheduler {
namespace {

// vCPUs waiting in WFI with a deadline; fixed capacity, no allocation.
class WaitList final {
public:
    void add(Vcpu& vcpu) {
        for (Vcpu*& slot : slots_) {
            if (slot == nullptr) {
                slot = &vcpu;
                return;
            }
        }
    }
    void remove(Vcpu& vcpu) {
        for (Vcpu*& slot : slots_) {
            if (slot == &vcpu) slot = nullptr;
        }
    }
    template <typename Visitor>
    void for_each(Visitor visit) {
        for (Vcpu*& slot : slots_) {
            if (slot != nullptr) visit(slot);
        }
    }

private:
    std::array<Vcpu*, kMaxVms * kMaxVcpusPerVm> slots_{};
};

SpinLock g_lock;
FairShareQueue g_run_queue;
WaitList g_waiting;
std::uint64_t g_timeslice = 0;
// Caps are enforced over periods of this many time slices.
constexpr std::uint64_t kSlicesPerCapPeriod = 10;

std::array<bool, kMaxCpus> g_cpu_idle{};
std::array<std::uint64_t, kMaxCpus> g_slice_end{};  // when the running vCPU's slice ends

// Housekeeping on the boot CPU (set_periodic_work); only that CPU reads these.
constexpr std::uint32_t kHousekeepingCpu = 0;
void (*g_periodic_work)() = nullptr;
std::uint64_t g_periodic_ticks = 0;
std::uint64_t g_periodic_due = ~std::uint64_t{0};

Vcpu& owner_of(SchedulingEntity& entity) { return *static_cast<Vcpu*>(entity.owner); }

void account(Vcpu& vcpu, VcpuRunState next, std::uint64_t now) {
    VcpuStatistics& statistics = vcpu.statistics;
    const std::uint64_t elapsed = now - statistics.state_since;
    if (vcpu.run_state == VcpuRunState::running) {
        statistics.run_ticks += elapsed;
        g_run_queue.charge(vcpu.scheduling, elapsed, now);
    }
    if (vcpu.run_state == VcpuRunState::runnable) statistics.runnable_ticks += elapsed;
    statistics.state_since = now;
    vcpu.run_state = next;
}

// Wakes a CPU with nothing to do that may run `vcpu`, so it starts promptly.
void kick_an_idle_cpu(const Vcpu& vcpu) {
    const std::uint32_t self = this_cpu().index;
    for (std::uint32_t cpu = 0; cpu < online_cpu_count(); ++cpu) {
        const bool allowed = ((vcpu.scheduling.allowed_cpus >> cpu) & 1) != 0;
        if (cpu != self && allowed && g_cpu_idle[cpu]) {
            g_cpu_idle[cpu] = false;
            arch::signal_reschedule(cpu);
            return;
        }
    }
}

// Caller holds the lock.
void make_runnable(Vcpu& vcpu, std::uint64_t now) {
    g_waiting.remove(vcpu);
    vcpu.wake_deadline = kNever;
    account(vcpu, VcpuRunState::runnable, now);
    g_run_queue.enqueue(vcpu.scheduling, g_timeslice);
    kick_an_idle_cpu(vcpu);
}

// Caller holds the lock.
void wake_expired(std::uint64_t now) {
    g_waiting.for_each([now](Vcpu*& vcpu) {
        if (vcpu->wake_deadline <= now) make_runnable(*vcpu, now);
    });
}

// Caller holds the lock.
std::uint64_t earliest_wake_deadline() {
    std::uint64_t earliest = kNever;
    g_waiting.for_each([&earliest](Vcpu*& vcpu) { earliest = std::min(earliest, vcpu->wake_deadline); });
    return earliest;
}

// The physical count at which the vCPU's virtual timer fires.
std::uint64_t virtual_timer_wake_deadline(const Vcpu& vcpu) {
    const auto compare = arch::virtual_timer_deadline(vcpu.context.timer);
    if (!compare) return kNever;
    const std::uint64_t deadline = *compare + vcpu.vm->counter_offset;
    return deadline < *compare ? kNever : deadline;  // overflow: never
}

// The physical count at which one of the vCPU's timers fires.
std::uint64_t timer_wake_deadline(const Vcpu& vcpu) {
    return std::min(virtual_timer_wake_deadline(vcpu), arch::emulated_timer_deadline(vcpu));
}

// The next moment this CPU must look again: the end of the running vCPU's
// slice or cap budget, a waiting vCPU's deadline, a throttled VM's refill.
void arm_timer(std::uint64_t now, Vcpu* running) {
    std::uint64_t deadline = std::min(earliest_wake_deadline(), g_run_queue.next_cap_refill(now));
    if (this_cpu().index == kHousekeepingCpu) deadline = std::min(deadline, g_periodic_due);
    if (running != nullptr) {
        deadline = std::min(deadline, g_slice_end[this_cpu().index]);
        // An emulated timer already due has raised its interrupt: no need to wake for it.
        const std::uint64_t emulated = arch::emulated_timer_deadline(*running);
        if (emulated > now) deadline = std::min(deadline, emulated);
        const std::uint64_t budget = g_run_queue.budget_left(running->scheduling, now);
        if (budget != kNoEvent) deadline = std::min(deadline, now + std::max<std::uint64_t>(budget, 1));
    }
    if (deadline == kNever) {
        arch::stop_scheduler_timer();
    } else {
        arch::set_scheduler_timer(deadline);
    }
}

enum class Disposition : std::uint8_t { requeue, wait, power_off, stopped };

// Takes `vcpu` off this CPU; the caller then picks what runs next.
// Returns true if its VM now needs tearing down.
bool take_off_cpu(Vcpu& vcpu, Disposition disposition) {
    arch::deactivate_vcpu(vcpu);
    this_cpu().current = nullptr;
    const LockGuard guard{g_lock};
    const std::uint64_t now = arch::counter_now();
    Vm& vm = *vcpu.vm;
    vcpu.cpu.reset();
    --vm.vcpus_on_cpus;
    if (vm.state == VmState::stopping) {
        account(vcpu, VcpuRunState::stopped, now);
        return vm.vcpus_on_cpus == 0;
    }
    if (vm.state == VmState::paused && disposition != Disposition::power_off) {
        // Whatever it was about to do (wait, go on) it does once resumed: a
        // wake from WFI without a reason is architecturally allowed.
        account(vcpu, VcpuRunState::paused, now);
        return false;
    }
    switch (disposition) {
        case Disposition::requeue: make_runnable(vcpu, now); break;
        case Disposition::wait:
            // An interrupt that arrived since the WFI check must not be slept through.
            if (vcpu.interrupts_changed.load(std::memory_order_acquire)) {
                make_runnable(vcpu, now);
                break;
            }
            account(vcpu, VcpuRunState::waiting, now);
            vcpu.wake_deadline = timer_wake_deadline(vcpu);
            g_waiting.add(vcpu);
            break;
        case Disposition::power_off:
        case Disposition::stopped:
            vcpu.power = VcpuPower::off;
            account(vcpu, VcpuRunState::stopped, now);
            break;
    }
    return false;
}

// Caller holds the lock. True when no vCPU of `vm` is running or runnable.
bool all_vcpus_waiting(const Vm& vm) {
    for (std::uint32_t index = 0; index < vm.vcpu_count; ++index) {
        const VcpuRunState state = vm.vcpus[index].run_state;
        if (state == VcpuRunState::running || state == VcpuRunState::runnable) return false;
    }
    return true;
}

[[noreturn]] void leave(Vcpu& vcpu, Disposition disposition) {
    Vm& vm = *vcpu.vm;
    if (take_off_cpu(vcpu, disposition)) vm_manager::finish_stop(vm);
    if (disposition == Disposition::wait) {
        bool idle = false;
        {
            const LockGuard guard{g_lock};
            idle = vm.state == VmState::running && all_vcpus_waiting(vm);
        }
        // The whole VM waits for input: its output is complete, so show a
        // partial line such as a shell prompt.
        if (idle) {
            vm.uart.flush();
            vm_devices::flush_console(vm);
        }
    }
    run_this_cpu();
}

// Outside the scheduler lock: the work may create or destroy VMs.
void run_periodic_work_if_due() {
    if (this_cpu().index != kHousekeepingCpu || g_periodic_work == nullptr) return;
    const std::uint64_t now = arch::counter_now();
    if (now < g_periodic_due) return;
    g_periodic_due = now + g_periodic_ticks;
    g_periodic_work();
}

Vcpu* pick_next(PerCpu& cpu, std::uint64_t now) {
    const LockGuard guard{g_lock};
    wake_expired(now);
    SchedulingEntity* entity = g_run_queue.pick(cpu.index, now);
    Vcpu* next = nullptr;
    if (entity != nullptr) {
        g_run_queue.dequeue(*entity);
        next = &owner_of(*entity);
        account(*next, VcpuRunState::running, now);
        next->cpu = cpu.index;
        if (next->power == VcpuPower::on_pending) next->power = VcpuPower::on;
        ++next->vm->vcpus_on_cpus;
        g_slice_end[cpu.index] = now + g_timeslice;
    }
    g_cpu_idle[cpu.index] = next == nullptr;
    arm_timer(now, next);
    return next;
}

}  // namespace

void init(std::uint64_t timeslice_ticks) {
    g_timeslice = timeslice_ticks;
    g_run_queue.set_cap_period(timeslice_ticks * kSlicesPerCapPeriod);
}

void run_this_cpu() {
    PerCpu& cpu = this_cpu();
    for (;;) {
        run_periodic_work_if_due();
        Vcpu* next = pick_next(cpu, arch::counter_now());
        if (next != nullptr) {
            stolen_time::publish(*next);
            cpu.current = next;
            arch::activate_vcpu(*next);
            arch::enter_guest(*next);
        }
        arch::wait_for_cpu_event();
    }
}

void wait_for_interrupt(Vcpu& vcpu) {
    // The saved timer is stale while the vCPU runs: look at the live one.
    arch::refresh_virtual_timer(vcpu);
    const std::uint64_t now = arch::counter_now();
    if (virtual_timer_wake_deadline(vcpu) <= now) {
        // The timer fired but its interrupt has not reached the GIC yet:
        // deliver it now rather than let the guest spin on WFI.
        vcpu.vm->gic.reassert_level(guest_layout::kVirtualTimerInterruptId, vcpu.index);
        return;
    }
    if (arch::emulated_timer_deadline(vcpu) <= now) {
        arch::update_emulated_timers(vcpu);
        return;
    }
    if (arch::interrupt_deliverable(vcpu)) return;
    leave(vcpu, Disposition::wait);
}

void yield(Vcpu& vcpu) {
    {
        const LockGuard guard{g_lock};
        if (g_run_queue.pick(this_cpu().index, arch::counter_now()) == nullptr) return;
    }
    leave(vcpu, Disposition::requeue);
}

void power_off(Vcpu& vcpu) { leave(vcpu, Disposition::power_off); }

void leave_stopped(Vcpu& vcpu) { leave(vcpu, Disposition::stopped); }

void after_interrupts(Vcpu& vcpu, bool timer_fired) {
    // Before the scheduler lock: raising an interrupt may kick other vCPUs.
    if (timer_fired) {
        arch::update_emulated_timers(vcpu);
        run_periodic_work_if_due();
    }
    bool preempt = false;
    {
        const LockGuard guard{g_lock};
        const std::uint32_t cpu = this_cpu().index;
        if (vcpu.vm->state != VmState::running || ((vcpu.scheduling.allowed_cpus >> cpu) & 1) == 0) {
            preempt = true;  // stopping, paused, or no longer allowed on this CPU
        } else if (timer_fired) {
            // A slice or cap budget ended, or a waiting vCPU's deadline passed.
            const std::uint64_t now = arch::counter_now();
            account(vcpu, VcpuRunState::running, now);
            wake_expired(now);
            preempt = g_run_queue.should_preempt(vcpu.scheduling, cpu, now);
            if (!preempt) {
                if (now >= g_slice_end[cpu]) g_slice_end[cpu] = now + g_timeslice;
                arm_timer(now, &vcpu);
            }
        }
    }
    if (preempt) leave(vcpu, Disposition::requeue);
}

PowerOnResult power_on(Vcpu& vcpu, std::uint64_t entry, std::uint64_t argument) {
    const LockGuard guard{g_lock};
    if (vcpu.power == VcpuPower::on) return PowerOnResult::already_on;
    if (vcpu.power == VcpuPower::on_pending) return PowerOnResult::on_pending;
    const VmState state = vcpu.vm->state;
    if (state != VmState::running && state != VmState::paused) return PowerOnResult::already_on;
    arch::reset_vcpu_context(vcpu.context, entry, argument, vcpu.index);
    vcpu.power = VcpuPower::on_pending;
    if (state == VmState::paused) {
        account(vcpu, VcpuRunState::paused, arch::counter_now());  // runs once resumed
    } else {
        make_runnable(vcpu, arch::counter_now());
    }
    return PowerOnResult::started;
}

void timers_changed(Vcpu& vcpu) {
    const LockGuard guard{g_lock};
    arm_timer(arch::counter_now(), &vcpu);
}

void kick(Vcpu& vcpu) {
    const LockGuard guard{g_lock};
    if (vcpu.run_state == VcpuRunState::waiting) {
        make_runnable(vcpu, arch::counter_now());
    } else if (vcpu.run_state == VcpuRunState::running && vcpu.cpu && *vcpu.cpu != this_cpu().index) {
        arch::signal_reschedule(*vcpu.cpu);
    }
}

VcpuPower power_state(const Vcpu& vcpu) {
    const LockGuard guard{g_lock};
    return vcpu.power;
}

void stop_vm(Vm& vm, AfterStop after_stop) {
    bool tear_down_now = false;
    {
        const LockGuard guard{g_lock};
        if (vm.state != VmState::running && vm.state != VmState::paused) return;
        vm.state = VmState::stopping;
        vm.after_stop = after_stop;
        const std::uint64_t now = arch::counter_now();
        const std::uint32_t self = this_cpu().index;
        for (std::uint32_t i = 0; i < vm.vcpu_count; ++i) {
            Vcpu& vcpu = vm.vcpus[i];
            vcpu.power = VcpuPower::off;
            if (vcpu.run_state == VcpuRunState::running) {
                // It leaves at its next trap; make that happen now.
                if (vcpu.cpu && *vcpu.cpu != self) arch::signal_reschedule(*vcpu.cpu);
                continue;
            }
            g_run_queue.remove(vcpu.scheduling);
            g_waiting.remove(vcpu);
            account(vcpu, VcpuRunState::stopped, now);
        }
        tear_down_now = vm.vcpus_on_cpus == 0;
    }
    if (tear_down_now) vm_manager::finish_stop(vm);
}

namespace {

// Caller holds the lock. Makes `vcpu` leave the CPU it runs on (at its
// next trap, which the signal forces on another CPU; on this CPU the trap
// being handled checks on its way out).
void evict_running(Vcpu& vcpu) {
    if (vcpu.run_state == VcpuRunState::running && vcpu.cpu && *vcpu.cpu != this_cpu().index)
        arch::signal_reschedule(*vcpu.cpu);
}

}  // namespace

Status pause_vm(Vm& vm) {
    const LockGuard guard{g_lock};
    if (vm.state != VmState::running) return Error{"the VM is not running"};
    vm.state = VmState::paused;
    const std::uint64_t now = arch::counter_now();
    for (std::uint32_t i = 0; i < vm.vcpu_count; ++i) {
        Vcpu& vcpu = vm.vcpus[i];
        switch (vcpu.run_state) {
            case VcpuRunState::running: evict_running(vcpu); break;
            case VcpuRunState::runnable:
            case VcpuRunState::waiting:
                g_run_queue.remove(vcpu.scheduling);
                g_waiting.remove(vcpu);
                account(vcpu, VcpuRunState::paused, now);
                break;
            case VcpuRunState::stopped:
            case VcpuRunState::paused: break;
        }
    }
    return {};
}

Status resume_vm(Vm& vm) {
    const LockGuard guard{g_lock};
    if (vm.state != VmState::paused) return Error{"the VM is not paused"};
    vm.state = VmState::running;
    const std::uint64_t now = arch::counter_now();
    for (std::uint32_t i = 0; i < vm.vcpu_count; ++i) {
        if (vm.vcpus[i].run_state == VcpuRunState::paused) make_runnable(vm.vcpus[i], now);
    }
    return {};
}

void set_vm_scheduling(Vm& vm, std::uint32_t weight, std::uint32_t cap_percent, std::uint64_t allowed_cpus) {
    const LockGuard guard{g_lock};
    vm.share_group.cap_percent = cap_percent;
    for (std::uint32_t i = 0; i < vm.vcpu_count; ++i) {
        Vcpu& vcpu = vm.vcpus[i];
        const bool queued = vcpu.scheduling.queued;
        // Re-queued so that the queue sees the new weight and CPUs.
        if (queued) g_run_queue.remove(vcpu.scheduling);
        vcpu.scheduling.weight = weight;
        vcpu.scheduling.allowed_cpus = allowed_cpus;
        if (queued) {
            g_run_queue.enqueue(vcpu.scheduling, g_timeslice);
            kick_an_idle_cpu(vcpu);
        }
        if (vcpu.run_state == VcpuRunState::running && vcpu.cpu && ((allowed_cpus >> *vcpu.cpu) & 1) == 0)
            evict_running(vcpu);
    }
}

void set_periodic_work(void (*work)(), std::uint64_t period_ns) {
    g_periodic_ticks = std::max<std::uint64_t>(1, arch::counter_frequency() * period_ns / 1'000'000'000);
    g_periodic_due = arch::counter_now() + g_periodic_ticks;
    g_periodic_work = work;
}

}  // namespace lamina::scheduler
