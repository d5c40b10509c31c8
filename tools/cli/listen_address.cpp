#include "listen_address.hpp"

#include <charconv>
#include <stdexcept>

#include <fmt/format.h>

namespace lamina::cli {

namespace {

constexpr int kHighestPort = 65535;

[[nodiscard]] int parse_port(std::string_view text, std::string_view whole) {
    int port = -1;
    const char* end = text.data() + text.size();
    const auto [stop, error] = std::from_chars(text.data(), end, port);
    if (text.empty() || error != std::errc{} || stop != end || port < 0 || port > kHighestPort)
        throw std::invalid_argument(fmt::format("\"{}\": the port must be a number from 0 to {}", whole, kHighestPort));
    return port;
}

// "[::1]" -> "::1"; an empty host listens on every IPv4 interface.
[[nodiscard]] std::string parse_host(std::string_view text, std::string_view whole) {
    if (text.empty()) return "0.0.0.0";
    if (text.front() == '[') {
        if (text.size() < 3 || text.back() != ']')
            throw std::invalid_argument(fmt::format("\"{}\": an IPv6 host is written [address]", whole));
        return std::string(text.substr(1, text.size() - 2));
    }
    if (text.find(':') != std::string_view::npos)
        throw std::invalid_argument(fmt::format("\"{}\": put an IPv6 host in brackets, e.g. [::1]:9100", whole));
    return std::string(text);
}

}  // namespace

ListenAddress parse_listen_address(std::string_view text) {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos)
        throw std::invalid_argument(fmt::format("\"{}\" is not HOST:PORT, e.g. 127.0.0.1:9100", text));
    return {parse_host(text.substr(0, colon), text), parse_port(text.substr(colon + 1), text)};
}

}  // namespace lamina::cli
