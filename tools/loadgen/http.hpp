// The little HTTP that lamina-load speaks: an http:// URL, one GET per
// connection, and the status line of the reply.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "stats.hpp"

namespace lamina::load {

struct HttpUrl {
    std::string host;  // a name, an IPv4 address or an IPv6 address (without brackets)
    std::uint16_t port{80};
    std::string target{"/"};  // path and query, as sent in the request line

    // "HOST:PORT" for the Host header, with IPv6 addresses in brackets.
    [[nodiscard]] std::string authority() const;
};

// "http://HOST[:PORT][/path][?query]"; a #fragment is dropped. Throws
// std::invalid_argument with a message for the user.
[[nodiscard]] HttpUrl parse_http_url(std::string_view text);

// The request every connection sends; Connection: close so the reply ends at EOF.
[[nodiscard]] std::string make_request(const HttpUrl& url);

// How much of each reply is kept: plenty for a status line.
inline constexpr std::size_t kReplyHeadLimit = 1024;

// The status code of a complete status line ("HTTP/1.1 200 OK\r\n"), or
// nullopt when `head` (the reply's first bytes) has no such line.
[[nodiscard]] std::optional<int> parse_status_line(std::string_view head);

// What a reply that ended cleanly (EOF) amounts to, given its first
// kReplyHeadLimit bytes: reset when it ended before a full status line, ok
// for 2xx, else (another status, or not HTTP) http_error.
[[nodiscard]] Outcome classify_reply(std::string_view head);

}  // namespace lamina::load
