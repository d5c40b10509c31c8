// Calls from Lamina to the board's firmware (PSCI over SMC or HVC, as the
// device tree says): starting CPUs and powering the board off.
#pragma once

#include <cstdint>

#include "core/platform.hpp"

namespace lamina::arch::firmware {

void use_conduit(PsciConduit conduit);
// PSCI CPU_ON: the CPU starts at `entry` (physical) with x0 = `argument`.
[[nodiscard]] std::int64_t cpu_on(std::uint64_t mpidr, std::uint64_t entry, std::uint64_t argument);
void system_off();

}  // namespace lamina::arch::firmware
