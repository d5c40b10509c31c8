#include "psci.hpp"

#include "arch.hpp"

namespace guest::psci {

std::int64_t call(std::uint64_t function, std::uint64_t arg1, std::uint64_t arg2, std::uint64_t arg3) {
    const auto x0 = arch::hvc({function, arg1, arg2, arg3});
    // SMC32-convention calls (bit 30 clear) return their result in w0 only;
    // sign-extend it, as Linux does, so -1 reads as -1 either way.
    const bool is_64bit_call = ((function >> 30) & 1) != 0;
    if (is_64bit_call) return static_cast<std::int64_t>(x0);
    return static_cast<std::int32_t>(static_cast<std::uint32_t>(x0));
}

std::int64_t cpu_on(std::uint64_t target_mpidr, std::uintptr_t entry, std::uint64_t context_id) {
    return call(kCpuOn, target_mpidr, entry, context_id);
}

std::int64_t affinity_info(std::uint64_t target_mpidr) {
    // Lowest affinity level 0: ask about exactly this vCPU.
    return call(kAffinityInfo, target_mpidr, 0);
}

std::int64_t cpu_off() { return call(kCpuOff); }

std::int64_t system_off() { return call(kSystemOff); }

}  // namespace guest::psci
