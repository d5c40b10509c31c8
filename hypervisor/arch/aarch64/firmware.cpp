#include "arch/aarch64/firmware.hpp"

namespace lamina::arch::firmware {
namespace {

constexpr std::uint64_t kPsciCpuOn64 = 0xc400'0003;
constexpr std::uint64_t kPsciSystemOff = 0x8400'0008;
constexpr std::int64_t kNotSupported = -1;

PsciConduit g_conduit = PsciConduit::none;

std::int64_t call(std::uint64_t function, std::uint64_t a1, std::uint64_t a2, std::uint64_t a3) {
    register std::uint64_t x0 asm("x0") = function;
    register std::uint64_t x1 asm("x1") = a1;
    register std::uint64_t x2 asm("x2") = a2;
    register std::uint64_t x3 asm("x3") = a3;
    switch (g_conduit) {
        case PsciConduit::smc:
            asm volatile("smc #0" : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3)::"x4", "x5", "x6", "x7", "x8", "x9",
                         "x10", "x11", "x12", "x13", "x14", "x15", "x16", "x17", "memory");
            break;
        // From EL2, HVC would trap to Lamina itself: firmware is only reachable by SMC.
        case PsciConduit::hvc:
        case PsciConduit::none: return kNotSupported;
    }
    return static_cast<std::int64_t>(x0);
}

}  // namespace

void use_conduit(PsciConduit conduit) { g_conduit = conduit; }

std::int64_t cpu_on(std::uint64_t mpidr, std::uint64_t entry, std::uint64_t argument) {
    return call(kPsciCpuOn64, mpidr, entry, argument);
}

void system_off() { (void)call(kPsciSystemOff, 0, 0, 0); }

}  // namespace lamina::arch::firmware
