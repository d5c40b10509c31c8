// A virtual CPU: its saved state, where it is in its life (PSCI power state)
// and in scheduling, and what it has cost.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <limits>
#include <optional>

#include "arch/arch.hpp"
#include "core/fair_share.hpp"

namespace lamina {

class Vm;

inline constexpr std::uint64_t kNever = std::numeric_limits<std::uint64_t>::max();

// As PSCI's AFFINITY_INFO reports it.
enum class VcpuPower : std::uint8_t { off, on_pending, on };

// Where the scheduler has it.
enum class VcpuRunState : std::uint8_t {
    stopped,   // powered off, or its VM is stopping
    runnable,  // in the run queue
    running,   // loaded on a physical CPU
    waiting,   // in WFI until its wake deadline or an event
    paused,    // its VM is paused: off the CPUs and out of the queue until resumed
};

enum class ExitReason : std::uint8_t { hypercall, wfi, wfe, mmio, interrupt, system_register, fault, count };

struct VcpuStatistics final {
    std::array<std::uint64_t, static_cast<std::size_t>(ExitReason::count)> exits{};
    std::uint64_t run_ticks{0};       // time on a physical CPU
    std::uint64_t runnable_ticks{0};  // time ready to run but waiting for a CPU (steal)
    std::uint64_t interrupts_injected{0};  // virtual interrupts put in its list registers
    std::uint64_t state_since{0};     // counter value of the last run-state change
};

class Vcpu final {
public:
    // Back to the state of a vCPU that has never run.
    void reset(Vm& owner, std::uint32_t vcpu_index);

    Vm* vm{nullptr};
    std::uint32_t index{0};
    arch::VcpuContext context{};
    VcpuPower power{VcpuPower::off};
    VcpuRunState run_state{VcpuRunState::stopped};
    std::uint64_t wake_deadline{0};       // physical counter ticks; meaningful while waiting
    std::optional<std::uint32_t> cpu{};   // the physical CPU running it
    SchedulingEntity scheduling{};        // its place in the scheduler's queue
    VcpuStatistics statistics{};
    // Set when its virtual interrupts changed; the list registers are
    // refreshed before it next enters the guest.
    std::atomic<bool> interrupts_changed{false};
    std::uint16_t used_list_registers{0};  // while loaded: list registers it fills
    bool list_registers_emptied{false};    // while loaded: synced out, refill before entry
    bool timer_twin_active{false};         // while loaded: its timer's physical interrupt is held active

    void count_exit(ExitReason reason) { ++statistics.exits[static_cast<std::size_t>(reason)]; }
};

}  // namespace lamina
