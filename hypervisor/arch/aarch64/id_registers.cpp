#include "arch/aarch64/id_registers.hpp"

namespace lamina::arch {
namespace {

constexpr std::uint64_t field(unsigned shift) { return std::uint64_t{0xf} << shift; }

std::uint64_t read_id_register(unsigned crm, unsigned op2) {
    std::uint64_t value = 0;
    switch (crm * 8 + op2) {
#define LAMINA_ID(crm_, op2_) \
    case crm_ * 8 + op2_: asm volatile("mrs %0, S3_0_C0_C" #crm_ "_" #op2_ : "=r"(value)); break;
#define LAMINA_ID_ROW(crm_) \
    LAMINA_ID(crm_, 0) LAMINA_ID(crm_, 1) LAMINA_ID(crm_, 2) LAMINA_ID(crm_, 3) \
    LAMINA_ID(crm_, 4) LAMINA_ID(crm_, 5) LAMINA_ID(crm_, 6) LAMINA_ID(crm_, 7)
        LAMINA_ID_ROW(1) LAMINA_ID_ROW(2) LAMINA_ID_ROW(3) LAMINA_ID_ROW(4)
        LAMINA_ID_ROW(5) LAMINA_ID_ROW(6) LAMINA_ID_ROW(7)
#undef LAMINA_ID_ROW
#undef LAMINA_ID
        default: break;
    }
    return value;
}

}  // namespace

std::uint64_t filter_id_register(unsigned crm, unsigned op2, std::uint64_t value) {
    switch (crm * 8 + op2) {
        case 4 * 8 + 0:  // ID_AA64PFR0_EL1: SVE, MPAM, AMU
            return value & ~(field(32) | field(40) | field(44));
        case 4 * 8 + 1:  // ID_AA64PFR1_EL1: MTE, SME, MPAM_frac
            return value & ~(field(8) | field(16) | field(24));
        case 4 * 8 + 4:  // ID_AA64ZFR0_EL1: SVE features
        case 4 * 8 + 5:  // ID_AA64SMFR0_EL1: SME features
            return 0;
        case 6 * 8 + 1:  // ID_AA64ISAR1_EL1: pointer authentication (APA, API, GPA, GPI)
            return value & ~(field(4) | field(8) | field(24) | field(28));
        case 6 * 8 + 2:  // ID_AA64ISAR2_EL1: pointer authentication (GPA3, APA3)
            return value & ~(field(8) | field(12));
        default:
            return value;
    }
}

std::uint64_t guest_id_register(unsigned crm, unsigned op2) {
    return filter_id_register(crm, op2, read_id_register(crm, op2));
}

}  // namespace lamina::arch
