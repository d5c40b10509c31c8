// Stops Lamina: prints why on the console, halts every CPU.
#pragma once

#include "core/console.hpp"

namespace lamina {

[[noreturn]] void panic_with(std::string_view message);

template <typename... Args>
[[noreturn]] void panic(std::string_view fmt, const Args&... args) {
    FormatBuffer message;
    format_to(message, fmt, args...);
    panic_with(message.view());
}

}  // namespace lamina
