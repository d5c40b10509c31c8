// Bounds-checked loads of fixed-endian integers from untrusted byte buffers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace lamina {

using ByteSpan = std::span<const std::byte>;

template <typename T>
[[nodiscard]] constexpr std::optional<T> load_le(ByteSpan bytes, std::size_t offset) {
    if (offset > bytes.size() || bytes.size() - offset < sizeof(T)) return std::nullopt;
    T value{0};
    for (std::size_t i = 0; i < sizeof(T); ++i)
        value |= static_cast<T>(static_cast<T>(bytes[offset + i]) << (8 * i));
    return value;
}

template <typename T>
[[nodiscard]] constexpr std::optional<T> load_be(ByteSpan bytes, std::size_t offset) {
    if (offset > bytes.size() || bytes.size() - offset < sizeof(T)) return std::nullopt;
    T value{0};
    for (std::size_t i = 0; i < sizeof(T); ++i)
        value = static_cast<T>((value << 8) | static_cast<T>(bytes[offset + i]));
    return value;
}

}  // namespace lamina
