// The EL1 physical timer (CNTP_*), emulated: guests' accesses trap
// (CNTHCTL_EL2.EL1PCEN = 0), the comparison is kept per vCPU, and its
// interrupt (PPI 14) is raised on the vCPU's virtual GIC when it fires.
// The counter itself (CNTPCT_EL0) is the real one, read without a trap.
#pragma once

#include <cstdint>
#include <optional>

#include "arch/aarch64/system_register_access.hpp"

namespace lamina {
class Vcpu;
}

namespace lamina::arch {

[[nodiscard]] bool is_physical_timer_register(const SystemRegisterAccess& access);
// Emulates one access; `value` is the written value or receives the read one.
void access_physical_timer(Vcpu& vcpu, const SystemRegisterAccess& access, std::uint64_t& value);
// Sets the timer's interrupt line from its state at the current time.
void update_physical_timer(Vcpu& vcpu);
// The physical count at which the timer will assert its interrupt, if armed.
[[nodiscard]] std::optional<std::uint64_t> physical_timer_deadline(const Vcpu& vcpu);

}  // namespace lamina::arch
