// The board's GICv3, as Lamina itself uses it: the distributor, this CPU's
// redistributor and the system-register CPU interface at EL2. Lamina takes
// only a few interrupts of its own (the EL2 timer tick and SGIs between CPUs).
#pragma once

#include <cstdint>
#include <optional>

#include "core/result.hpp"
#include "core/types.hpp"

namespace lamina::drivers {

// Software-generated interrupts Lamina sends between physical CPUs.
enum class CpuSignal : std::uint32_t {
    reschedule = 0,  // something became runnable, or a vCPU must leave this CPU
    halt = 1,        // Lamina is stopping (panic)
};

class GicV3 final {
public:
    // Once, on the boot CPU.
    [[nodiscard]] Status init_distributor(HostPhysRange distributor, HostPhysRange redistributors);
    // On every CPU, for itself.
    [[nodiscard]] Status init_this_cpu(std::uint64_t mpidr);

    void enable_private_interrupt(std::uint32_t interrupt_id);
    // Returns the highest-priority pending interrupt (acknowledging it), if any.
    [[nodiscard]] std::optional<std::uint32_t> acknowledge();
    void end_of_interrupt(std::uint32_t interrupt_id);
    void send_signal(CpuSignal signal, std::uint64_t target_mpidr);

private:
    [[nodiscard]] std::optional<HostPhysAddr> find_redistributor(std::uint64_t mpidr) const;
    void wait_for_distributor_writes() const;

    HostPhysRange distributor_{};
    HostPhysRange redistributors_{};
};

// The board's interrupt controller (one per machine).
GicV3& interrupt_controller();

}  // namespace lamina::drivers
