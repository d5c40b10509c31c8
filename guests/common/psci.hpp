// PSCI and Lamina's own hypercalls, all through HVC (SMCCC calling convention).
#pragma once

#include <cstdint>

namespace guest::psci {

inline constexpr std::uint32_t kPsciVersion = 0x8400'0000;
inline constexpr std::uint32_t kCpuSuspend = 0xC400'0001;
inline constexpr std::uint32_t kCpuOff = 0x8400'0002;
inline constexpr std::uint32_t kCpuOn = 0xC400'0003;
inline constexpr std::uint32_t kAffinityInfo = 0xC400'0004;
inline constexpr std::uint32_t kSystemOff = 0x8400'0008;
inline constexpr std::uint32_t kSystemReset = 0x8400'0009;
inline constexpr std::uint32_t kPsciFeatures = 0x8400'000A;
inline constexpr std::uint32_t kSmcccVersion = 0x8000'0000;

// Lamina's null hypercall: returns 0 and does nothing (benchmarks).
inline constexpr std::uint32_t kLaminaNull = 0x8600'0001;

inline constexpr std::int64_t kSuccess = 0;
inline constexpr std::int64_t kNotSupported = -1;
inline constexpr std::int64_t kInvalidParameters = -2;
inline constexpr std::int64_t kDenied = -3;
inline constexpr std::int64_t kAlreadyOn = -4;
inline constexpr std::int64_t kOnPending = -5;
inline constexpr std::int64_t kInternalFailure = -6;

// AFFINITY_INFO results.
inline constexpr std::int64_t kAffinityOn = 0;
inline constexpr std::int64_t kAffinityOff = 1;
inline constexpr std::int64_t kAffinityOnPending = 2;

// Any SMCCC call; the result is x0 read as a signed PSCI status/value.
std::int64_t call(std::uint64_t function, std::uint64_t arg1 = 0, std::uint64_t arg2 = 0,
                  std::uint64_t arg3 = 0);

std::int64_t cpu_on(std::uint64_t target_mpidr, std::uintptr_t entry, std::uint64_t context_id);
std::int64_t affinity_info(std::uint64_t target_mpidr);
std::int64_t cpu_off();     // returns only on failure
std::int64_t system_off();  // returns only on failure

// "major.minor" split of PSCI_VERSION / SMCCC_VERSION results.
[[nodiscard]] constexpr std::uint32_t major_version(std::int64_t version) {
    return static_cast<std::uint32_t>(version >> 16) & 0x7fff;
}
[[nodiscard]] constexpr std::uint32_t minor_version(std::int64_t version) {
    return static_cast<std::uint32_t>(version) & 0xffff;
}

}  // namespace guest::psci
