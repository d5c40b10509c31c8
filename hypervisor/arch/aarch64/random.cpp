#include "arch/aarch64/random.hpp"

#include "arch/aarch64/sysreg.hpp"
#include "core/console.hpp"

namespace lamina::arch {
namespace {

// RNDRRS fails (NZCV = 0b0100) when the entropy source cannot deliver in a
// reasonable time; a few more tries, then the guest hears NO_ENTROPY.
constexpr unsigned kAttempts = 8;

constexpr unsigned kIsar0RndrShift = 60;

// One RNDRRS (S3_3_C2_C4_1, named so that no +rng assembler flag is needed).
std::optional<std::uint64_t> read_rndrrs() {
    std::uint64_t value = 0;
    std::uint64_t succeeded = 0;
    asm volatile("mrs %0, s3_3_c2_c4_1\n\tcset %1, ne" : "=r"(value), "=r"(succeeded)::"cc");
    if (succeeded == 0) return std::nullopt;
    return value;
}

}  // namespace

bool has_hardware_random() { return ((sysreg::id_aa64isar0_el1::read() >> kIsar0RndrShift) & 0xf) != 0; }

std::optional<std::uint64_t> hardware_random() {
    if (!has_hardware_random()) return std::nullopt;
    for (unsigned attempt = 0; attempt < kAttempts; ++attempt) {
        if (const auto value = read_rndrrs()) return value;
    }
    return std::nullopt;
}

void report_hardware_random() {
    if (!has_hardware_random())
        log::info("no random number generator in the CPU (FEAT_RNG): the SMCCC TRNG calls answer NOT_SUPPORTED");
}

}  // namespace lamina::arch
