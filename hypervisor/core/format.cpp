#include "format.hpp"

namespace lamina {

void FormatBuffer::append_unsigned(std::uint64_t value, unsigned base) {
    std::array<char, 24> digits{};
    std::size_t count = 0;
    do {
        const auto digit = static_cast<unsigned>(value % base);
        digits[count++] = static_cast<char>(digit < 10 ? '0' + digit : 'a' + digit - 10);
        value /= base;
    } while (value != 0);
    while (count > 0) append(digits[--count]);
}

void FormatBuffer::append_signed(std::int64_t value) {
    if (value < 0) {
        append('-');
        append_unsigned(static_cast<std::uint64_t>(0) - static_cast<std::uint64_t>(value), 10);
    } else {
        append_unsigned(static_cast<std::uint64_t>(value), 10);
    }
}

}  // namespace lamina
