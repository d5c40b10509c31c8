#include "console.hpp"

#include "arch.hpp"
#include "board.hpp"

namespace guest {
namespace {

constexpr std::uintptr_t kUartData = board::kUartBase + 0x00;
constexpr std::uintptr_t kUartFlags = board::kUartBase + 0x18;
constexpr std::uint32_t kTransmitFifoFull = 1u << 5;

void uart_put(char c) {
    while ((arch::read32(kUartFlags) & kTransmitFifoFull) != 0) {
    }
    arch::write32(kUartData, static_cast<unsigned char>(c));
}

// Digits come out least significant first; 20 holds any 64-bit number.
void put_digits(std::uint64_t number, unsigned base) {
    char digits[20];
    unsigned count = 0;
    do {
        const auto digit = static_cast<unsigned>(number % base);
        digits[count++] = static_cast<char>(digit < 10 ? '0' + digit : 'a' + (digit - 10));
        number /= base;
    } while (number != 0);
    while (count > 0) uart_put(digits[--count]);
}

}  // namespace

void uart_write(std::string_view text) {
    for (const char c : text) uart_put(c);
}

Line::Line() {
    uart_write(role);
    uart_write(": ");
}

Line::~Line() { uart_put('\n'); }

Line& Line::operator<<(std::string_view text) {
    uart_write(text);
    return *this;
}

Line& Line::operator<<(Hex number) {
    uart_write("0x");
    put_digits(number.value, 16);
    return *this;
}

void Line::put_unsigned(std::uint64_t number) { put_digits(number, 10); }

void Line::put_signed(std::int64_t number) {
    if (number < 0) {
        uart_put('-');
        // Negate in unsigned arithmetic: -INT64_MIN does not fit in int64.
        put_digits(0 - static_cast<std::uint64_t>(number), 10);
    } else {
        put_digits(static_cast<std::uint64_t>(number), 10);
    }
}

}  // namespace guest
