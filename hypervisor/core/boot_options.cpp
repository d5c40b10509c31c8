#include "core/boot_options.hpp"

#include <optional>

namespace lamina {
namespace {

std::optional<std::uint64_t> parse_decimal(std::string_view text) {
    if (text.empty() || text.size() > 12) return std::nullopt;
    std::uint64_t value = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        value = value * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return value;
}

std::optional<LogLevel> parse_level(std::string_view text) {
    if (text == "error") return LogLevel::error;
    if (text == "warning") return LogLevel::warning;
    if (text == "info") return LogLevel::info;
    if (text == "debug") return LogLevel::debug;
    return std::nullopt;
}

void apply(BootOptions& options, std::string_view key, std::string_view value) {
    if (key == "lamina.halt_when_idle") {
        options.halt_when_idle = true;
    } else if (key == "lamina.loglevel") {
        if (const auto level = parse_level(value)) {
            options.log_level = *level;
        } else {
            log::warning("ignoring lamina.loglevel={} (error, warning, info or debug)", value);
        }
    } else if (key == "lamina.timeslice_us") {
        const auto microseconds = parse_decimal(value);
        if (microseconds && *microseconds >= 100 && *microseconds <= 1'000'000) {
            options.timeslice_us = *microseconds;
        } else {
            log::warning("ignoring lamina.timeslice_us={} (100 to 1000000)", value);
        }
    }
}

}  // namespace

BootOptions parse_boot_options(std::string_view command_line) {
    BootOptions options{};
    while (!command_line.empty()) {
        const auto space = command_line.find(' ');
        const std::string_view word = command_line.substr(0, space);
        command_line = space == std::string_view::npos ? std::string_view{} : command_line.substr(space + 1);
        if (word.empty()) continue;
        const auto equals = word.find('=');
        const std::string_view key = word.substr(0, equals);
        const std::string_view value = equals == std::string_view::npos ? std::string_view{} : word.substr(equals + 1);
        apply(options, key, value);
    }
    return options;
}

}  // namespace lamina
