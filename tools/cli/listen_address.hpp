// `metrics --listen HOST:PORT`.
#pragma once

#include <string>
#include <string_view>

namespace lamina::cli {

struct ListenAddress {
    std::string host;
    int port{0};  // 0: any free port
};

// "127.0.0.1:9100", "[::1]:9100", ":9100" (all interfaces) or "host:0".
// Throws std::invalid_argument with a message for the user.
[[nodiscard]] ListenAddress parse_listen_address(std::string_view text);

}  // namespace lamina::cli
