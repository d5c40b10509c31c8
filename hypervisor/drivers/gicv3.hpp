// The board's GICv3, as Lamina itself uses it: the distributor, this CPU's
// redistributor and the system-register CPU interface at EL2. Lamina takes
// only a few interrupts of its own (the EL2 timer tick and SGIs between CPUs).
#pragma once

#include <array>
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
    // Routes a shared peripheral interrupt to one CPU and enables it.
    void enable_shared_interrupt(std::uint32_t interrupt_id, std::uint64_t target_mpidr);
    // Returns the highest-priority pending interrupt (acknowledging it), if any.
    [[nodiscard]] std::optional<std::uint32_t> acknowledge();
    // EOImode 1: ending an interrupt is two steps, so that one a guest
    // handles (the virtual timer) can stay active until the guest is done.
    void drop_priority(std::uint32_t interrupt_id);
    void deactivate(std::uint32_t interrupt_id);
    void end_of_interrupt(std::uint32_t interrupt_id);
    // Active state of one of this CPU's private interrupts.
    [[nodiscard]] bool is_private_active(std::uint32_t interrupt_id) const;
    void set_private_active(std::uint32_t interrupt_id, bool active);
    void send_signal(CpuSignal signal, std::uint64_t target_mpidr);

private:
    [[nodiscard]] std::optional<HostPhysAddr> find_redistributor(std::uint64_t mpidr) const;
    void wait_for_distributor_writes() const;

    [[nodiscard]] HostPhysAddr this_cpu_redistributor() const;

    HostPhysRange distributor_{};
    HostPhysRange redistributors_{};
    std::array<HostPhysAddr, 8> cpu_redistributor_{};  // by logical CPU index
};

// The board's interrupt controller (one per machine).
GicV3& interrupt_controller();

}  // namespace lamina::drivers
