// The VM's command line (/chosen/bootargs): space-separated "key=value"
// tokens that parameterise the test guests.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace guest {

// The value of the first "name=value" token in `command_line`; a bare "name"
// token yields an empty value. nullopt when the key is absent.
[[nodiscard]] std::optional<std::string_view> find_bootarg(std::string_view command_line,
                                                           std::string_view name);

// find_bootarg() on this VM's own command line.
[[nodiscard]] std::optional<std::string_view> bootarg(std::string_view name);

// Decimal, or hexadecimal with a 0x prefix; nullopt if malformed or > 64 bits.
[[nodiscard]] std::optional<std::uint64_t> parse_number(std::string_view text);

// Hexadecimal with or without a 0x prefix; nullopt if malformed or > 64 bits.
[[nodiscard]] std::optional<std::uint64_t> parse_hex(std::string_view text);

// The numeric bootarg `name`, or `fallback` when it is absent. A present but
// malformed value is a test-setup error: it is reported and the VM powers off.
[[nodiscard]] std::uint64_t numeric_bootarg_or(std::string_view name, std::uint64_t fallback);

// Splits `text` at each `separator`: calls visit(piece) for every piece.
template <typename Visitor>
void for_each_piece(std::string_view text, char separator, Visitor&& visit) {
    for (;;) {
        const auto end = text.find(separator);
        if (end == std::string_view::npos) {
            visit(text);
            return;
        }
        visit(std::string_view{text.data(), end});
        text.remove_prefix(end + 1);
    }
}

}  // namespace guest
