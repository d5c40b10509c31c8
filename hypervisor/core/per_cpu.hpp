// State private to one physical CPU. The first two fields are read by the
// exception vectors (arch layout.h), so their order is fixed.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lamina {

class Vcpu;

struct PerCpu final {
    void* trap_registers{nullptr};  // where a trap saves the running vCPU's registers
    std::uint64_t stack_top{0};     // the empty-stack SP used at every guest entry
    std::uint32_t index{0};         // logical CPU number, 0 = boot CPU
    std::uint64_t hardware_id{0};   // MPIDR affinity, for PSCI and interrupt routing
    Vcpu* current{nullptr};         // the vCPU whose state is loaded on this CPU
    bool online{false};
};

inline constexpr std::size_t kMaxCpus = 8;

// Every CPU's record, indexed by logical CPU number.
PerCpu& per_cpu(std::uint32_t index);
// The record of the CPU executing the caller (arch-specific lookup).
PerCpu& this_cpu();
std::uint32_t online_cpu_count();
// Bit n set: logical CPU n is online.
inline std::uint64_t online_cpu_mask() {
    std::uint64_t mask = 0;
    for (std::uint32_t cpu = 0; cpu < kMaxCpus; ++cpu)
        if (per_cpu(cpu).online) mask |= std::uint64_t{1} << cpu;
    return mask;
}

}  // namespace lamina
