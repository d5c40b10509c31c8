#include "http.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <stdexcept>

#include <fmt/format.h>

namespace lamina::load {

namespace {

constexpr std::string_view kScheme = "http://";

[[nodiscard]] bool is_host_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
           c == '_';
}

[[nodiscard]] bool starts_with_ignoring_case(std::string_view text, std::string_view prefix) {
    return text.size() >= prefix.size() &&
           std::equal(prefix.begin(), prefix.end(), text.begin(),
                      [](char lower, char c) { return std::tolower(static_cast<unsigned char>(c)) == lower; });
}

[[nodiscard]] std::uint16_t parse_port(std::string_view text, std::string_view url) {
    unsigned port = 0;
    const char* end = text.data() + text.size();
    const auto [stop, error] = std::from_chars(text.data(), end, port);
    if (text.empty() || error != std::errc{} || stop != end || port == 0 || port > 65535)
        throw std::invalid_argument(fmt::format("URL \"{}\": the port must be a number from 1 to 65535", url));
    return static_cast<std::uint16_t>(port);
}

// Splits "HOST[:PORT]" or "[IPV6][:PORT]" into url.host and url.port.
void parse_authority(std::string_view authority, std::string_view url, HttpUrl& out) {
    std::string_view host = authority;
    std::optional<std::string_view> port;
    if (authority.starts_with('[')) {
        const std::size_t close = authority.find(']');
        if (close == std::string_view::npos)
            throw std::invalid_argument(fmt::format("URL \"{}\": an IPv6 host is written [address]", url));
        host = authority.substr(1, close - 1);
        const std::string_view rest = authority.substr(close + 1);
        if (!rest.empty() && !rest.starts_with(':'))
            throw std::invalid_argument(fmt::format("URL \"{}\": expected :PORT after the IPv6 host", url));
        if (!rest.empty()) port = rest.substr(1);
        const bool ipv6_chars = std::all_of(host.begin(), host.end(), [](char c) {
            return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
        });
        if (host.empty() || !ipv6_chars)
            throw std::invalid_argument(fmt::format("URL \"{}\": \"{}\" is not an IPv6 address", url, host));
    } else {
        const std::size_t colon = authority.find(':');
        if (colon != std::string_view::npos) {
            host = authority.substr(0, colon);
            port = authority.substr(colon + 1);
        }
        if (host.empty()) throw std::invalid_argument(fmt::format("URL \"{}\" has no host", url));
        if (!std::all_of(host.begin(), host.end(), is_host_char))
            throw std::invalid_argument(fmt::format("URL \"{}\": \"{}\" is not a host name or address", url, host));
    }
    out.host = std::string(host);
    if (port) out.port = parse_port(*port, url);
}

}  // namespace

std::string HttpUrl::authority() const {
    const bool ipv6 = host.find(':') != std::string::npos;
    return ipv6 ? fmt::format("[{}]:{}", host, port) : fmt::format("{}:{}", host, port);
}

HttpUrl parse_http_url(std::string_view text) {
    if (!starts_with_ignoring_case(text, kScheme)) {
        if (starts_with_ignoring_case(text, "https://"))
            throw std::invalid_argument(fmt::format("URL \"{}\": only http:// is supported, not https://", text));
        throw std::invalid_argument(fmt::format("URL \"{}\" does not start with http://", text));
    }
    std::string_view rest = text.substr(kScheme.size());
    rest = rest.substr(0, rest.find('#'));
    const std::size_t target_start = rest.find_first_of("/?");
    const std::string_view authority = rest.substr(0, target_start);
    if (authority.find('@') != std::string_view::npos)
        throw std::invalid_argument(fmt::format("URL \"{}\": user names and passwords are not supported", text));

    HttpUrl url;
    parse_authority(authority, text, url);
    if (target_start != std::string_view::npos) {
        const std::string_view target = rest.substr(target_start);
        // Spaces or control characters would break the request line.
        if (std::any_of(target.begin(), target.end(),
                        [](char c) { return static_cast<unsigned char>(c) <= ' ' || c == '\x7f'; }))
            throw std::invalid_argument(
                fmt::format("URL \"{}\": the path has spaces or control characters (percent-encode them)", text));
        url.target = target.starts_with('/') ? std::string(target) : "/" + std::string(target);
    }
    return url;
}

std::string make_request(const HttpUrl& url) {
    return fmt::format("GET {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nUser-Agent: lamina-load\r\n\r\n",
                       url.target, url.authority());
}

std::optional<int> parse_status_line(std::string_view head) {
    const std::size_t end = head.find('\n');
    if (end == std::string_view::npos) return std::nullopt;
    std::string_view line = head.substr(0, end);
    if (line.ends_with('\r')) line.remove_suffix(1);
    // "HTTP/<digit>.<digit> <3 digits>", then a space and a reason or nothing.
    constexpr std::size_t kCodeAt = 9;
    if (line.size() < kCodeAt + 3 || !line.starts_with("HTTP/") || line[6] != '.' || line[8] != ' ')
        return std::nullopt;
    const auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
    if (!is_digit(line[5]) || !is_digit(line[7])) return std::nullopt;
    const std::string_view code = line.substr(kCodeAt, 3);
    if (!std::all_of(code.begin(), code.end(), is_digit)) return std::nullopt;
    if (line.size() > kCodeAt + 3 && line[kCodeAt + 3] != ' ') return std::nullopt;
    return (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');
}

Outcome classify_reply(std::string_view head) {
    const bool has_line = head.find('\n') != std::string_view::npos;
    if (!has_line && head.size() < kReplyHeadLimit) return Outcome::reset;
    const std::optional<int> status = parse_status_line(head);
    return status && *status >= 200 && *status <= 299 ? Outcome::ok : Outcome::http_error;
}

}  // namespace lamina::load
