// The management protocol's messages (docs/management-api.md), without I/O.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "json_fields.hpp"

namespace lamina::cli {

inline constexpr int kProtocolVersion = 1;
// Lamina answers a longer request line with line_too_long.
inline constexpr std::size_t kMaxRequestLineBytes = 4096;

// Lamina refused a request: {"ok": false, "error": {"code", "message"}}.
class LaminaError : public std::runtime_error {
public:
    LaminaError(std::string code, std::string message);
    [[nodiscard]] const std::string& code() const { return code_; }
    [[nodiscard]] const std::string& message() const { return message_; }

private:
    std::string code_;
    std::string message_;
};

// One request line, without the trailing '\n'. `arguments` must be an object;
// "id" and "op" are added to it.
[[nodiscard]] std::string make_request_line(std::uint64_t id, std::string_view op, json arguments);

enum class LineKind {
    kAwaitedReply,  // the reply to the request we wait for
    kEvent,         // has "event": e.g. console output
    kOther,         // a reply to another request: skipped
};

struct IncomingLine {
    LineKind kind{LineKind::kOther};
    json message;
};

// Classifies one line from Lamina while request `awaited_id` is outstanding.
// A failure with "id": null also counts as the awaited reply: Lamina could
// not read our id (line_too_long, malformed), and we send one request at a
// time. Throws MalformedReply for a line that is not a JSON object.
[[nodiscard]] IncomingLine classify_line(std::string_view line, std::uint64_t awaited_id);

// The "result" of a success reply; throws LaminaError for a failure and
// MalformedReply for anything else.
[[nodiscard]] json result_of(const json& reply);

}  // namespace lamina::cli
