// The CPU's random number generator (FEAT_RNG), the entropy behind the
// SMCCC TRNG calls guests make.
#pragma once

#include <cstdint>
#include <optional>

namespace lamina::arch {

// True if the CPU has RNDR and RNDRRS (ID_AA64ISAR0_EL1.RNDR).
[[nodiscard]] bool has_hardware_random();
// 64 random bits from RNDRRS (the generator reseeded from its entropy
// source first), retried a few times while it reports failure; nullopt when
// it keeps failing or the CPU has no generator.
[[nodiscard]] std::optional<std::uint64_t> hardware_random();
// Says once, at boot, when the CPU has no generator (so no guest gets a TRNG).
void report_hardware_random();

}  // namespace lamina::arch
