// CPU pinning lists as the user writes them: "0,1", "0-3,6" or "any".
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace lamina::cli {

// The highest CPU number accepted, so "0-4000000000" cannot exhaust memory;
// Lamina checks the board's real CPU count.
inline constexpr unsigned kMaxCpuNumber = 4095;

// Parses a comma-separated list of CPU numbers and ranges into a sorted list
// without duplicates; "any" is the empty list (no pinning). Throws
// std::invalid_argument with a message for the user.
[[nodiscard]] std::vector<unsigned> parse_pin_list(std::string_view text);

// "any" for the empty list, else "0,1,3".
[[nodiscard]] std::string format_pin_list(const std::vector<unsigned>& cpus);

}  // namespace lamina::cli
