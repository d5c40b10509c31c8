#include "bootargs.hpp"

#include "console.hpp"
#include "runtime.hpp"

namespace guest {
namespace {

[[nodiscard]] bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n'; }

[[nodiscard]] std::optional<unsigned> digit_value(char c, unsigned base) {
    unsigned value;
    if (c >= '0' && c <= '9')
        value = static_cast<unsigned>(c - '0');
    else if (c >= 'a' && c <= 'f')
        value = static_cast<unsigned>(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
        value = static_cast<unsigned>(c - 'A' + 10);
    else
        return std::nullopt;
    if (value >= base) return std::nullopt;
    return value;
}

[[nodiscard]] std::optional<std::uint64_t> parse_digits(std::string_view digits, unsigned base) {
    if (digits.empty()) return std::nullopt;
    std::uint64_t value = 0;
    for (const char c : digits) {
        const auto digit = digit_value(c, base);
        if (!digit) return std::nullopt;
        if (value > (UINT64_MAX - *digit) / base) return std::nullopt;  // would overflow
        value = value * base + *digit;
    }
    return value;
}

// Removes a leading 0x/0X; says whether there was one.
bool strip_hex_prefix(std::string_view& text) {
    if (!text.starts_with("0x") && !text.starts_with("0X")) return false;
    text.remove_prefix(2);
    return true;
}

}  // namespace

std::optional<std::string_view> find_bootarg(std::string_view command_line, std::string_view name) {
    while (!command_line.empty()) {
        while (!command_line.empty() && is_space(command_line.front())) command_line.remove_prefix(1);
        std::size_t length = 0;
        while (length < command_line.size() && !is_space(command_line[length])) ++length;
        const std::string_view token{command_line.data(), length};
        command_line.remove_prefix(length);

        if (!token.starts_with(name)) continue;
        std::string_view rest{token.data() + name.size(), token.size() - name.size()};
        if (rest.empty()) return rest;  // bare "name"
        if (rest.front() != '=') continue;  // a longer key that merely starts with name
        rest.remove_prefix(1);
        return rest;
    }
    return std::nullopt;
}

std::optional<std::string_view> bootarg(std::string_view name) {
    return find_bootarg(boot_facts().bootargs, name);
}

std::optional<std::uint64_t> parse_number(std::string_view text) {
    if (strip_hex_prefix(text)) return parse_digits(text, 16);
    return parse_digits(text, 10);
}

std::optional<std::uint64_t> parse_hex(std::string_view text) {
    strip_hex_prefix(text);  // optional here
    return parse_digits(text, 16);
}

std::uint64_t numeric_bootarg_or(std::string_view name, std::uint64_t fallback) {
    const auto text = bootarg(name);
    if (!text) return fallback;
    const auto value = parse_number(*text);
    if (!value) {
        Line{} << "FAIL bad bootarg " << name << "=" << *text;
        power_off();
    }
    return *value;
}

}  // namespace guest
