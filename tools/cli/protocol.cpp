#include "protocol.hpp"

#include <utility>

#include <fmt/format.h>

#include "json_fields.hpp"

namespace lamina::cli {

LaminaError::LaminaError(std::string code, std::string message)
    : std::runtime_error(fmt::format("{}: {}", code, message)), code_(std::move(code)), message_(std::move(message)) {}

std::string make_request_line(std::uint64_t id, std::string_view op, json arguments) {
    json request{{"id", id}, {"op", op}};  // first, for people reading a capture
    for (auto& [key, value] : arguments.items()) request[key] = std::move(value);
    return dump_json(request);
}

namespace {

[[nodiscard]] bool is_unaddressed_failure(const json& message) {
    const auto id = message.find("id");
    const auto ok = message.find("ok");
    return id != message.end() && id->is_null() && ok != message.end() && *ok == false;
}

[[nodiscard]] bool has_id(const json& message, std::uint64_t id) {
    const auto found = message.find("id");
    return found != message.end() && found->is_number_unsigned() && found->get<std::uint64_t>() == id;
}

[[nodiscard]] std::string quoted_start(std::string_view line) {
    constexpr std::size_t kShown = 60;
    return json(std::string(line.substr(0, kShown))).dump(-1, ' ', true, json::error_handler_t::replace);
}

}  // namespace

IncomingLine classify_line(std::string_view line, std::uint64_t awaited_id) {
    json message = json::parse(line, nullptr, false);
    if (message.is_discarded()) throw MalformedReply(fmt::format("not JSON: {}", quoted_start(line)));
    if (!message.is_object()) throw MalformedReply(fmt::format("not a JSON object: {}", quoted_start(line)));
    if (message.contains("event")) return {LineKind::kEvent, std::move(message)};
    if (has_id(message, awaited_id) || is_unaddressed_failure(message))
        return {LineKind::kAwaitedReply, std::move(message)};
    return {LineKind::kOther, std::move(message)};
}

json result_of(const json& reply) {
    const auto ok = reply.find("ok");
    if (ok == reply.end() || !ok->is_boolean()) throw MalformedReply("reply without a boolean \"ok\"");
    if (*ok == true) {
        const auto result = reply.find("result");
        if (result == reply.end()) throw MalformedReply("success reply without \"result\"");
        expect_object(*result, "\"result\"");
        return *result;
    }
    const json& error = object_field(reply, "error");
    throw LaminaError(text_field(error, "code", "unknown_error"), text_field(error, "message", "(no message)"));
}

}  // namespace lamina::cli
