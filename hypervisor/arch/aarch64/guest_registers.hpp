// The guest state saved on every trap: general registers, PC and PSTATE.
// Layout is shared with vectors.S (see layout.h).
#pragma once

#include <cstddef>
#include <cstdint>

#include "arch/aarch64/layout.h"

namespace lamina::arch {

struct GuestRegisters final {
    std::uint64_t x[31]{};
    std::uint64_t pc{0};      // ELR_EL2: where the guest resumes
    std::uint64_t pstate{0};  // SPSR_EL2: the guest's PSTATE
    std::uint64_t padding{0};
};
static_assert(offsetof(GuestRegisters, pc) == GUEST_REGISTERS_PC);
static_assert(offsetof(GuestRegisters, pstate) == GUEST_REGISTERS_PSTATE);
static_assert(sizeof(GuestRegisters) == GUEST_REGISTERS_SIZE);

// PSTATE for a vCPU's first instruction: EL1h, all exceptions masked.
inline constexpr std::uint64_t kGuestResetPstate = 0x3c5;

}  // namespace lamina::arch
