// A trapped MSR/MRS, decoded from ESR_EL2.ISS (exception class 0x18).
#pragma once

#include <cstdint>

namespace lamina::arch {

struct SystemRegisterAccess final {
    std::uint32_t iss;
    [[nodiscard]] bool is_read() const { return (iss & 1) != 0; }
    [[nodiscard]] unsigned register_index() const { return (iss >> 5) & 31; }
    [[nodiscard]] unsigned crm() const { return (iss >> 1) & 0xf; }
    [[nodiscard]] unsigned crn() const { return (iss >> 10) & 0xf; }
    [[nodiscard]] unsigned op1() const { return (iss >> 14) & 0x7; }
    [[nodiscard]] unsigned op2() const { return (iss >> 17) & 0x7; }
    [[nodiscard]] unsigned op0() const { return (iss >> 20) & 0x3; }
    [[nodiscard]] bool is(unsigned o0, unsigned o1, unsigned n, unsigned m, unsigned o2) const {
        return op0() == o0 && op1() == o1 && crn() == n && crm() == m && op2() == o2;
    }
};


}  // namespace lamina::arch
