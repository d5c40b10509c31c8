// Line-oriented output on the board's PL011 UART. Every line starts with the
// guest's role ("hello: ") and ends with '\n', because Lamina collects output
// per VM line by line and system tests grep those lines.
#pragma once

#include <concepts>
#include <cstdint>
#include <string_view>

namespace guest {

// Defined by each guest program, e.g. `const char guest::role[] = "hello";`.
extern const char role[];

struct Hex final {
    std::uint64_t value;
};

// Writes one line as it is built; the destructor ends it. Use as a temporary:
//     Line{} << "tick " << n;
class Line final {
public:
    Line();
    ~Line();
    Line(const Line&) = delete;
    Line& operator=(const Line&) = delete;

    Line& operator<<(std::string_view text);
    Line& operator<<(Hex number);

    template <std::integral T>
        requires(!std::same_as<T, bool> && !std::same_as<T, char>)
    Line& operator<<(T number) {
        if constexpr (std::signed_integral<T>)
            put_signed(number);
        else
            put_unsigned(number);
        return *this;
    }

private:
    void put_unsigned(std::uint64_t number);
    void put_signed(std::int64_t number);
};

// Raw bytes to the UART, no prefix and no newline.
void uart_write(std::string_view text);

}  // namespace guest
