// Reading fields of Lamina's replies. Replies come from another program: a
// missing counter reads as 0 (older or newer Lamina may omit it), but a field
// of the wrong type is a malformed reply, reported with MalformedReply rather
// than nlohmann's exceptions so the user sees which field was wrong.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace lamina::cli {

// Objects keep Lamina's key order, so --json prints the result as it came.
using json = nlohmann::ordered_json;

class MalformedReply : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// A non-negative integer field; 0 when absent.
[[nodiscard]] std::uint64_t count_field(const json& object, std::string_view key);

// A non-negative integer field that must be present.
[[nodiscard]] std::uint64_t required_count_field(const json& object, std::string_view key);

// A number field (integer or not); 0 when absent.
[[nodiscard]] double number_field(const json& object, std::string_view key);

// A true/false field; false when absent.
[[nodiscard]] bool bool_field(const json& object, std::string_view key);

// A string field; `fallback` when absent.
[[nodiscard]] std::string text_field(const json& object, std::string_view key, std::string_view fallback = "");

// An array field; an empty array when absent.
[[nodiscard]] const json& array_field(const json& object, std::string_view key);

// An object field; an empty object when absent.
[[nodiscard]] const json& object_field(const json& object, std::string_view key);

// Throws MalformedReply unless `value` is an object (what every result is).
void expect_object(const json& value, std::string_view what);

// Serialises for the wire or the terminal; invalid UTF-8 (e.g. from stdin)
// becomes U+FFFD instead of an exception.
[[nodiscard]] std::string dump_json(const json& value, int indent = -1);

}  // namespace lamina::cli
