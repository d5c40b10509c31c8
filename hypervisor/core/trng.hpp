// The SMCCC TRNG interface (Arm DEN0098 1.0) without the hardware: Lamina's
// UUID for it, which bit counts a guest may ask for and where the bits go
// in the result registers. The entropy source is a parameter: the CPU's
// generator in Lamina, a fake in the unit tests.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace lamina::trng {

inline constexpr std::int64_t kSuccess = 0;
inline constexpr std::int64_t kNotSupported = -1;
inline constexpr std::int64_t kInvalidParameters = -2;
inline constexpr std::int64_t kNoEntropy = -3;

inline constexpr std::uint64_t kVersion1_0 = 0x1'0000;

// Lamina's TRNG UUID, d1111195-5b6f-443b-b940-ef9ede19556a: TRNG_GET_UUID
// returns its bytes (in the order written) four at a time as little-endian
// words in w0..w3, the way SMCCC returns UUIDs.
inline constexpr std::array<std::uint8_t, 16> kUuid{0xd1, 0x11, 0x11, 0x95, 0x5b, 0x6f, 0x44, 0x3b,
                                                    0xb9, 0x40, 0xef, 0x9e, 0xde, 0x19, 0x55, 0x6a};
[[nodiscard]] constexpr std::uint32_t uuid_word(unsigned index) {
    std::uint32_t word = 0;
    for (unsigned byte = 0; byte < 4; ++byte) word |= std::uint32_t{kUuid[index * 4 + byte]} << (8 * byte);
    return word;
}
static_assert(uuid_word(0) != 0xffff'ffff, "w0 = -1 would read as NOT_SUPPORTED");

// TRNG_RND32 returns up to 96 bits in w1..w3, TRNG_RND64 up to 192 in x1..x3.
enum class Width : unsigned { bits32 = 32, bits64 = 64 };

[[nodiscard]] constexpr std::uint64_t max_bits(Width width) { return 3 * static_cast<std::uint64_t>(width); }

struct Result final {
    std::int64_t status{kSuccess};
    std::array<std::uint64_t, 3> registers{};  // x1, x2, x3
};

// TRNG_RND: `bits` bits of entropy, right-aligned: bit 0 of the result is
// bit 0 of x3, the next register up takes the bits above, and every bit
// above `bits` (and above the width in each register) is 0. `next()`
// returns 64 fresh bits or nullopt (NO_ENTROPY); it is called once per
// register used. 0 bits or more than max_bits are INVALID_PARAMETERS.
template <typename Source>
[[nodiscard]] Result random_bits(std::uint64_t bits, Width width, Source&& next) {
    if (bits == 0 || bits > max_bits(width)) return Result{kInvalidParameters, {}};
    const auto register_bits = static_cast<std::uint64_t>(width);
    Result result{};
    for (std::size_t slot = result.registers.size(); bits > 0;) {
        const std::optional<std::uint64_t> value = next();
        if (!value) return Result{kNoEntropy, {}};
        const std::uint64_t taken = std::min(bits, register_bits);
        const std::uint64_t mask = taken == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << taken) - 1;
        result.registers[--slot] = *value & mask;
        bits -= taken;
    }
    return result;
}

}  // namespace lamina::trng
