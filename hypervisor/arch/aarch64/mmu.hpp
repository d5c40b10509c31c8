// Lamina's own address space at EL2: an identity map of RAM (with the image's
// text read-only and executable, everything else execute-never) and of the
// devices Lamina drives.
#pragma once

#include <cstdint>

#include "core/platform.hpp"
#include "core/result.hpp"

namespace lamina::arch::mmu {

// Builds the tables on the boot CPU with the MMU still off.
[[nodiscard]] Status build_hypervisor_map(const Platform& platform);
// Turns the MMU and caches on for the calling (boot) CPU.
void enable_on_boot_cpu();
// Writes the tables and MMU settings back to memory for CPUs that start
// with caches off (see secondary_entry in boot.S).
void publish_for_secondary_cpus();

}  // namespace lamina::arch::mmu
