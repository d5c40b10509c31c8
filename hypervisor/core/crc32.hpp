// CRC-32 with the zlib / ISO-HDLC parameters (reflected polynomial
// 0xEDB88320, initial value and final XOR 0xFFFFFFFF): the checksum `crc32`
// in zlib, Python's zlib.crc32 and `gzip` compute. Header-only and constexpr
// so the table is built by the compiler, not at boot.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "bytes.hpp"

namespace lamina {

namespace crc32_detail {

inline constexpr std::uint32_t kReflectedPolynomial = 0xEDB8'8320u;

[[nodiscard]] constexpr std::array<std::uint32_t, 256> make_table() {
    std::array<std::uint32_t, 256> table{};
    for (std::uint32_t byte = 0; byte < table.size(); ++byte) {
        std::uint32_t remainder = byte;
        for (int bit = 0; bit < 8; ++bit)
            remainder = (remainder & 1u) != 0 ? (remainder >> 1) ^ kReflectedPolynomial : remainder >> 1;
        table[byte] = remainder;
    }
    return table;
}

inline constexpr std::array<std::uint32_t, 256> kTable = make_table();

}  // namespace crc32_detail

// Incremental CRC-32: feed pieces in order, read value() at the end. Lets a
// caller checksum a region with a field taken as zero without copying it.
class Crc32 final {
public:
    constexpr void update(ByteSpan bytes) {
        for (const std::byte byte : bytes) update(byte);
    }
    constexpr void update(std::byte byte) {
        const auto index = static_cast<std::uint8_t>(state_ ^ static_cast<std::uint8_t>(byte));
        state_ = (state_ >> 8) ^ crc32_detail::kTable[index];
    }
    constexpr void update_zeros(std::size_t count) {
        for (std::size_t i = 0; i < count; ++i) update(std::byte{0});
    }
    [[nodiscard]] constexpr std::uint32_t value() const { return state_ ^ 0xFFFF'FFFFu; }

private:
    std::uint32_t state_{0xFFFF'FFFFu};
};

[[nodiscard]] constexpr std::uint32_t crc32(ByteSpan bytes) {
    Crc32 crc{};
    crc.update(bytes);
    return crc.value();
}

}  // namespace lamina
