#include "management/request.hpp"

#include <array>

#include "core/bundle.hpp"

namespace lamina::management {
namespace {

using json::JsonValue;

struct OperationSpec final {
    std::string_view name;
    Operation operation;
    std::array<std::string_view, 10> allowed;  // besides "id" and "op"
};

constexpr std::array<OperationSpec, 15> kOperations{{
    {"hello", Operation::hello, {"version"}},
    {"list", Operation::list, {}},
    {"board", Operation::board, {}},
    {"create", Operation::create,
     {"template", "name", "memory_mib", "vcpus", "cmdline", "weight", "cap_percent", "pinned_cpus", "start"}},
    {"start", Operation::start, {"vm"}},
    {"pause", Operation::pause, {"vm"}},
    {"resume", Operation::resume, {"vm"}},
    {"shutdown", Operation::shutdown, {"vm"}},
    {"destroy", Operation::destroy, {"vm"}},
    {"set", Operation::set, {"vm", "weight", "cap_percent", "pinned_cpus"}},
    {"balloon", Operation::balloon, {"vm", "target_mib"}},
    {"stats", Operation::stats, {"vm"}},
    {"console_attach", Operation::console_attach, {"vm"}},
    {"console_input", Operation::console_input, {"vm", "data"}},
    {"console_detach", Operation::console_detach, {"vm"}},
}};

constexpr std::uint32_t kMaxWeight = 65535;
constexpr std::uint64_t kMaxMemoryMib = std::uint64_t{1} << 20;  // 1 TiB: beyond any board
constexpr std::uint32_t kMaxVcpus = 8;
constexpr std::uint32_t kMaxCapPercent = 100 * 64;
constexpr std::int64_t kMaxCpuNumber = 63;

[[nodiscard]] RequestError malformed(const char* message) { return {code::kMalformed, message}; }
[[nodiscard]] RequestError invalid(const char* message) { return {code::kInvalidArgument, message}; }

const OperationSpec* find_operation(std::string_view name) {
    for (const OperationSpec& spec : kOperations)
        if (spec.name == name) return &spec;
    return nullptr;
}

[[nodiscard]] bool allowed_key(const OperationSpec& spec, std::string_view key) {
    if (key == "id" || key == "op") return true;
    for (std::string_view allowed : spec.allowed)
        if (!allowed.empty() && allowed == key) return true;
    return false;
}

// Reads optional members into `request`; each returns an error or nothing.
class Decoder final {
public:
    Decoder(JsonValue root, Request& request) : root_{root}, request_{request} {}

    [[nodiscard]] std::optional<RequestError> name(std::string_view key, std::string_view& out, bool required) {
        const auto member = root_.find(key);
        if (!member) return required ? std::optional{malformed("a required VM name is missing")} : std::nullopt;
        const auto text = member->as_string();
        if (!text) return malformed("a VM name must be a string");
        if (!bundle_format::is_valid_name(*text)) return invalid("a VM name is 1-31 characters of A-Z a-z 0-9 . _ -");
        out = *text;
        return std::nullopt;
    }

    template <typename T>
    [[nodiscard]] std::optional<RequestError> unsigned_number(std::string_view key, std::optional<T>& out,
                                                              std::uint64_t minimum, std::uint64_t maximum,
                                                              const char* range_message) {
        const auto member = root_.find(key);
        if (!member) return std::nullopt;
        const auto number = member->as_int();
        if (!number) return malformed("a number field is not an integer");
        if (*number < 0 || static_cast<std::uint64_t>(*number) < minimum ||
            static_cast<std::uint64_t>(*number) > maximum)
            return invalid(range_message);
        out = static_cast<T>(*number);
        return std::nullopt;
    }

    [[nodiscard]] std::optional<RequestError> pinned_cpus() {
        const auto member = root_.find("pinned_cpus");
        if (!member) return std::nullopt;
        if (member->kind() != json::Kind::array) return malformed("pinned_cpus must be an array of CPU numbers");
        std::uint64_t mask = 0;
        for (const JsonValue cpu : member->elements()) {
            const auto number = cpu.as_int();
            if (!number) return malformed("pinned_cpus must be an array of CPU numbers");
            if (*number < 0 || *number > kMaxCpuNumber) return invalid("a CPU number is out of range (0-63)");
            mask |= std::uint64_t{1} << *number;
        }
        request_.scheduling.pinned_cpu_mask = mask;  // empty array: any CPU
        return std::nullopt;
    }

    [[nodiscard]] std::optional<RequestError> scheduling() {
        if (auto error = unsigned_number(key_weight, request_.scheduling.weight, 1, kMaxWeight,
                                         "weight must be 1-65535"))
            return error;
        if (auto error = unsigned_number(key_cap, request_.scheduling.cap_percent, 0, kMaxCapPercent,
                                         "cap_percent must be 0-6400"))
            return error;
        return pinned_cpus();
    }

    [[nodiscard]] std::optional<RequestError> create() {
        if (auto error = name("template", request_.vm, true)) return error;
        if (auto error = name("name", request_.new_name, false)) return error;
        if (auto error = unsigned_number(key_memory, request_.memory_mib, 2, kMaxMemoryMib,
                                         "memory_mib must be 2 or more (and a multiple of 2)"))
            return error;
        if (request_.memory_mib && *request_.memory_mib % 2 != 0) return invalid("memory_mib must be a multiple of 2");
        if (auto error = unsigned_number(key_vcpus, request_.vcpus, 1, kMaxVcpus, "vcpus must be 1-8")) return error;
        if (const auto cmdline = root_.find("cmdline")) {
            const auto text = cmdline->as_string();
            if (!text) return malformed("cmdline must be a string");
            if (text->size() > bundle_format::kMaxCmdlineSize) return invalid("cmdline is longer than 2048 bytes");
            if (text->find('\0') != std::string_view::npos) return invalid("cmdline contains a NUL character");
            request_.cmdline = *text;
        }
        if (const auto start = root_.find("start")) {
            const auto flag = start->as_bool();
            if (!flag) return malformed("start must be true or false");
            request_.start = *flag;
        }
        return scheduling();
    }

    [[nodiscard]] std::optional<RequestError> balloon() {
        if (auto error = name("vm", request_.vm, true)) return error;
        std::optional<std::uint64_t> target{};
        if (auto error = unsigned_number(key_target, target, 0, kMaxMemoryMib, "target_mib is out of range"))
            return error;
        if (!target) return malformed("target_mib is missing");
        request_.target_mib = *target;
        return std::nullopt;
    }

    [[nodiscard]] std::optional<RequestError> console_input() {
        if (auto error = name("vm", request_.vm, true)) return error;
        const auto data = root_.find("data");
        const auto text = data ? data->as_string() : std::nullopt;
        if (!text) return malformed("data must be a string");
        request_.data = *text;
        return std::nullopt;
    }

    [[nodiscard]] std::optional<RequestError> hello() {
        const auto version = root_.find("version");
        if (!version) return std::nullopt;
        const auto number = version->as_int();
        if (!number) return malformed("version must be an integer");
        if (*number != kProtocolVersion) return RequestError{code::kUnsupportedVersion, "Lamina speaks version 1"};
        return std::nullopt;
    }

    [[nodiscard]] std::optional<RequestError> arguments(Operation operation) {
        switch (operation) {
            case Operation::hello: return hello();
            case Operation::list:
            case Operation::board: return std::nullopt;
            case Operation::create: return create();
            case Operation::set: {
                if (auto error = name("vm", request_.vm, true)) return error;
                if (auto error = scheduling()) return error;
                const SchedulingChange& change = request_.scheduling;
                if (!change.weight && !change.cap_percent && !change.pinned_cpu_mask)
                    return malformed("set needs weight, cap_percent or pinned_cpus");
                return std::nullopt;
            }
            case Operation::balloon: return balloon();
            case Operation::stats: return name("vm", request_.vm, false);
            case Operation::console_input: return console_input();
            default: return name("vm", request_.vm, true);
        }
    }

private:
    static constexpr std::string_view key_weight{"weight"};
    static constexpr std::string_view key_cap{"cap_percent"};
    static constexpr std::string_view key_memory{"memory_mib"};
    static constexpr std::string_view key_vcpus{"vcpus"};
    static constexpr std::string_view key_target{"target_mib"};

    JsonValue root_;
    Request& request_;
};

[[nodiscard]] DecodedRequest fail(std::optional<std::int64_t> id, RequestError error) {
    return DecodedRequest{.id = id, .request = std::nullopt, .error = error};
}

}  // namespace

DecodedRequest decode_request(JsonValue root) {
    if (root.kind() != json::Kind::object) return fail(std::nullopt, malformed("a request is a JSON object"));
    std::optional<std::int64_t> id{};
    if (const auto member = root.find("id"); member && !member->is_null()) {
        id = member->as_int();
        if (!id) return fail(std::nullopt, malformed("id must be an integer"));
    }
    const auto op = root.find("op");
    const auto op_name = op ? op->as_string() : std::nullopt;
    if (!op_name) return fail(id, malformed("op is missing or not a string"));
    const OperationSpec* spec = find_operation(*op_name);
    if (spec == nullptr) return fail(id, RequestError{code::kUnknownOp, "no such operation"});
    for (const json::Member member : root.members())
        if (!allowed_key(*spec, member.key)) return fail(id, malformed("unknown field for this operation"));
    Request request{.id = id, .operation = spec->operation};
    if (auto error = Decoder{root, request}.arguments(spec->operation)) return fail(id, *error);
    return DecodedRequest{.id = id, .request = request, .error = {}};
}

}  // namespace lamina::management
