// What the shared runtime gives a guest program, and what a program provides.
//
// Boot: start.S zeroes the bss on the boot vCPU, then the runtime reads the
// device tree, prints nothing unless something is wrong, and calls run().
// When run() returns, the VM powers off.
#pragma once

#include <cstdint>

#include "fdt.hpp"

namespace guest {

struct BootFacts final : DeviceTreeFacts {
    std::uintptr_t device_tree_address{0};  // x0 at entry
};

// Valid once run() is called.
[[nodiscard]] const BootFacts& boot_facts();

// PSCI SYSTEM_OFF; if Lamina refuses, the failure is reported and the vCPU
// idles forever.
[[noreturn]] void power_off();

// Provided by every guest program: the boot vCPU's work.
void run();

// Optionally provided: what a vCPU started by PSCI CPU_ON does, given the
// CPU_ON context id. The runtime's default turns the vCPU off again.
void run_secondary(std::uint64_t context_id);

}  // namespace guest
