#include "json_fields.hpp"

#include <fmt/format.h>

namespace lamina::cli {

namespace {

// A value quoted in an error message, cut short: a reply can be 64 KiB.
[[nodiscard]] std::string brief(const json& value) {
    constexpr std::size_t kLimit = 40;
    std::string text = value.dump(-1, ' ', true, json::error_handler_t::replace);  // ASCII: safe to cut
    if (text.size() > kLimit) text = text.substr(0, kLimit) + "...";
    return text;
}

[[nodiscard]] const json* find_field(const json& object, std::string_view key) {
    if (!object.is_object()) throw MalformedReply(fmt::format("expected an object holding \"{}\"", key));
    const auto found = object.find(key);
    return found == object.end() || found->is_null() ? nullptr : &*found;
}

[[nodiscard]] std::uint64_t as_count(const json& value, std::string_view key) {
    if (value.is_number_unsigned()) return value.get<std::uint64_t>();
    if (value.is_number_integer() && value.get<std::int64_t>() >= 0) return value.get<std::uint64_t>();
    throw MalformedReply(fmt::format("\"{}\" is {}, not a non-negative integer", key, brief(value)));
}

}  // namespace

std::uint64_t count_field(const json& object, std::string_view key) {
    const json* value = find_field(object, key);
    return value == nullptr ? 0 : as_count(*value, key);
}

std::uint64_t required_count_field(const json& object, std::string_view key) {
    const json* value = find_field(object, key);
    if (value == nullptr) throw MalformedReply(fmt::format("\"{}\" is missing", key));
    return as_count(*value, key);
}

double number_field(const json& object, std::string_view key) {
    const json* value = find_field(object, key);
    if (value == nullptr) return 0;
    if (!value->is_number()) throw MalformedReply(fmt::format("\"{}\" is {}, not a number", key, brief(*value)));
    return value->get<double>();
}

bool bool_field(const json& object, std::string_view key) {
    const json* value = find_field(object, key);
    if (value == nullptr) return false;
    if (!value->is_boolean()) throw MalformedReply(fmt::format("\"{}\" is {}, not true or false", key, brief(*value)));
    return value->get<bool>();
}

std::string text_field(const json& object, std::string_view key, std::string_view fallback) {
    const json* value = find_field(object, key);
    if (value == nullptr) return std::string(fallback);
    if (!value->is_string()) throw MalformedReply(fmt::format("\"{}\" is {}, not a string", key, brief(*value)));
    return value->get<std::string>();
}

const json& array_field(const json& object, std::string_view key) {
    static const json kEmptyArray = json::array();
    const json* value = find_field(object, key);
    if (value == nullptr) return kEmptyArray;
    if (!value->is_array()) throw MalformedReply(fmt::format("\"{}\" is {}, not an array", key, brief(*value)));
    return *value;
}

const json& object_field(const json& object, std::string_view key) {
    static const json kEmptyObject = json::object();
    const json* value = find_field(object, key);
    if (value == nullptr) return kEmptyObject;
    expect_object(*value, fmt::format("\"{}\"", key));
    return *value;
}

void expect_object(const json& value, std::string_view what) {
    if (!value.is_object()) throw MalformedReply(fmt::format("{} is {}, not an object", what, brief(value)));
}

std::string dump_json(const json& value, int indent) {
    return value.dump(indent, ' ', false, json::error_handler_t::replace);
}

}  // namespace lamina::cli
