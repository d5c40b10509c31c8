// Minimal type-safe formatting for a freestanding hypervisor: "{}" placeholders,
// decimal integers, Hex{} for hexadecimal, strings, booleans and addresses.
// Output is truncated (never overflows) when the buffer is full.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include "types.hpp"

namespace lamina {

struct Hex final {
    std::uint64_t value;
};

// A number in thousandths, printed with three decimals: 12345 -> "12.345".
struct Thousandths final {
    std::uint64_t value{0};
};

// A fixed-capacity text buffer that formatting appends to.
class FormatBuffer final {
public:
    static constexpr std::size_t kCapacity = 320;

    void append(char c) {
        if (length_ < kCapacity) text_[length_++] = c;
    }
    void append(std::string_view text) {
        for (char c : text) append(c);
    }
    void append_unsigned(std::uint64_t value, unsigned base);
    void append_signed(std::int64_t value);
    [[nodiscard]] std::string_view view() const { return {text_.data(), length_}; }
    void clear() { length_ = 0; }

private:
    std::array<char, kCapacity> text_{};
    std::size_t length_{0};
};

namespace format_detail {

template <typename T>
void append_value(FormatBuffer& out, const T& value) {
    if constexpr (std::is_same_v<T, bool>) {
        out.append(value ? std::string_view{"true"} : std::string_view{"false"});
    } else if constexpr (std::is_same_v<T, char>) {
        out.append(value);
    } else if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) {
        out.append_signed(value);
    } else if constexpr (std::is_integral_v<T>) {
        out.append_unsigned(value, 10);
    } else if constexpr (std::is_enum_v<T>) {
        out.append_unsigned(static_cast<std::uint64_t>(value), 10);
    } else if constexpr (std::is_same_v<T, Thousandths>) {
        out.append_unsigned(value.value / 1000, 10);
        out.append('.');
        const std::uint64_t fraction = value.value % 1000;
        if (fraction < 100) out.append('0');
        if (fraction < 10) out.append('0');
        out.append_unsigned(fraction, 10);
    } else if constexpr (std::is_same_v<T, Hex>) {
        out.append("0x");
        out.append_unsigned(value.value, 16);
    } else if constexpr (std::is_convertible_v<T, std::string_view>) {
        out.append(std::string_view{value});
    } else {
        // Addresses of every space print as hexadecimal.
        out.append("0x");
        out.append_unsigned(value.value(), 16);
    }
}

inline void format_rest(FormatBuffer& out, std::string_view fmt) { out.append(fmt); }

template <typename First, typename... Rest>
void format_rest(FormatBuffer& out, std::string_view fmt, const First& first, const Rest&... rest) {
    const auto hole = fmt.find("{}");
    if (hole == std::string_view::npos) {
        out.append(fmt);
        return;
    }
    out.append(fmt.substr(0, hole));
    append_value(out, first);
    format_rest(out, fmt.substr(hole + 2), rest...);
}

}  // namespace format_detail

template <typename... Args>
void format_to(FormatBuffer& out, std::string_view fmt, const Args&... args) {
    format_detail::format_rest(out, fmt, args...);
}

}  // namespace lamina
