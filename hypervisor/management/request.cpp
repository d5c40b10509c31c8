#include "management/request.hpp"

#include <array>

#include "core/bundle.hpp"
#include "core/scaling_policy.hpp"
#include "virtual_devices/packet.hpp"

namespace lamina::management {
namespace {

using json::JsonValue;

struct OperationSpec final {
    std::string_view name;
    Operation operation;
    std::array<std::string_view, 12> allowed;  // besides "id" and "op"
};

constexpr std::array<OperationSpec, 20> kOperations{{
    {"hello", Operation::hello, {"version"}},
    {"list", Operation::list, {}},
    {"board", Operation::board, {}},
    {"create", Operation::create,
     {"template", "name", "memory_mib", "vcpus", "cmdline", "weight", "cap_percent", "pinned_cpus", "start",
      "best_effort"}},
    {"start", Operation::start, {"vm"}},
    {"pause", Operation::pause, {"vm"}},
    {"resume", Operation::resume, {"vm"}},
    {"shutdown", Operation::shutdown, {"vm"}},
    {"destroy", Operation::destroy, {"vm"}},
    {"set", Operation::set, {"vm", "weight", "cap_percent", "pinned_cpus", "best_effort"}},
    {"balloon", Operation::balloon, {"vm", "target_mib"}},
    {"stats", Operation::stats, {"vm"}},
    {"console_attach", Operation::console_attach, {"vm"}},
    {"console_input", Operation::console_input, {"vm", "data"}},
    {"console_detach", Operation::console_detach, {"vm"}},
    {"services", Operation::services, {}},
    {"service_create", Operation::service_create,
     {"name", "template", "network", "address", "replica_addresses", "objective", "min_replicas", "max_replicas",
      "scale_up_window_s", "scale_down_window_s", "drain_grace_s"}},
    {"service_set", Operation::service_set,
     {"service", "objective", "min_replicas", "max_replicas", "scale_up_window_s", "scale_down_window_s",
      "drain_grace_s"}},
    {"service_destroy", Operation::service_destroy, {"service"}},
    {"scaling_log", Operation::scaling_log, {"service", "since"}},
}};

constexpr std::size_t kMaxServiceNameLength = bundle_format::kServiceNameFieldSize - 1;
constexpr std::uint32_t kMaxReplicas = kMaxServiceReplicas;

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
        if (auto error = best_effort()) return error;
        return scheduling();
    }

    [[nodiscard]] std::optional<RequestError> best_effort() {
        const auto member = root_.find("best_effort");
        if (!member) return std::nullopt;
        const auto flag = member->as_bool();
        if (!flag) return malformed("best_effort must be true or false");
        request_.best_effort = *flag;
        return std::nullopt;
    }

    [[nodiscard]] std::optional<RequestError> service_name(std::string_view key, bool required) {
        const auto member = root_.find(key);
        if (!member) return required ? std::optional{malformed("a required service name is missing")} : std::nullopt;
        const auto text = member->as_string();
        if (!text) return malformed("a service name must be a string");
        if (!bundle_format::is_valid_name(*text) || text->size() > kMaxServiceNameLength)
            return invalid("a service name is 1-15 characters of A-Z a-z 0-9 . _ -");
        request_.service.name = *text;
        return std::nullopt;
    }

    [[nodiscard]] std::optional<RequestError> objective() {
        const auto member = root_.find("objective");
        if (!member) return std::nullopt;
        if (member->kind() != json::Kind::object) return malformed("objective must be an object");
        ServiceObjective objective{};
        for (const json::Member field : member->members()) {
            const auto number = field.value.as_int();
            if (!number) return malformed("objective fields are integers");
            if (field.key == "percentile") {
                if (*number < 50 || *number > 99) return invalid("objective percentile must be 50-99");
                objective.percentile = static_cast<std::uint32_t>(*number);
            } else if (field.key == "latency_ms") {
                if (*number < 1 || *number > 60000) return invalid("objective latency_ms must be 1-60000");
                objective.latency_ms = static_cast<std::uint64_t>(*number);
            } else if (field.key == "window_s") {
                if (*number < 1 || *number > 15) return invalid("objective window_s must be 1-15");
                objective.window_s = static_cast<std::uint32_t>(*number);
            } else {
                return malformed("objective has percentile, latency_ms and window_s only");
            }
        }
        if (objective.percentile == 0 || objective.latency_ms == 0 || objective.window_s == 0)
            return malformed("objective needs percentile, latency_ms and window_s");
        request_.service.objective = objective;
        return std::nullopt;
    }

    [[nodiscard]] std::optional<RequestError> service_limits() {
        ServiceFields& fields = request_.service;
        if (auto error = unsigned_number(key_min, fields.min_replicas, 0, kMaxReplicas, "min_replicas must be 0-8"))
            return error;
        if (auto error = unsigned_number(key_max, fields.max_replicas, 1, kMaxReplicas, "max_replicas must be 1-8"))
            return error;
        if (fields.min_replicas && fields.max_replicas && *fields.min_replicas > *fields.max_replicas)
            return invalid("min_replicas is more than max_replicas");
        if (auto error = unsigned_number(key_up, fields.scale_up_window_s, 1, 60, "scale_up_window_s must be 1-60"))
            return error;
        if (auto error =
                unsigned_number(key_down, fields.scale_down_window_s, 1, 600, "scale_down_window_s must be 1-600"))
            return error;
        return unsigned_number(key_grace, fields.drain_grace_s, 1, 600, "drain_grace_s must be 1-600");
    }

    // "A.B.C.D:PORT" or "A.B.C.D/PREFIX".
    [[nodiscard]] std::optional<RequestError> address_with(std::string_view key, char separator,
                                                          std::uint32_t& address, std::uint32_t& number,
                                                          std::uint32_t minimum, std::uint32_t maximum) {
        const auto member = root_.find(key);
        if (!member) return malformed("service_create needs address and replica_addresses");
        const auto text = member->as_string();
        if (!text) return malformed("an address must be a string");
        const std::size_t split = text->find(separator);
        const auto ip = packet::parse_ipv4(text->substr(0, split));
        if (!ip || split == std::string_view::npos) return invalid("an address is A.B.C.D:PORT or A.B.C.D/PREFIX");
        std::uint64_t value = 0;
        const std::string_view digits = text->substr(split + 1);
        if (digits.empty() || digits.size() > 5) return invalid("an address is A.B.C.D:PORT or A.B.C.D/PREFIX");
        for (const char c : digits) {
            if (c < '0' || c > '9') return invalid("an address is A.B.C.D:PORT or A.B.C.D/PREFIX");
            value = value * 10 + static_cast<std::uint64_t>(c - '0');
        }
        if (value < minimum || value > maximum) return invalid("a port must be 1-65535, a prefix 1-30");
        address = ip->value;
        number = static_cast<std::uint32_t>(value);
        return std::nullopt;
    }

    [[nodiscard]] std::optional<RequestError> service_create() {
        ServiceFields& fields = request_.service;
        if (auto error = service_name("name", true)) return error;
        if (auto error = name("template", fields.template_name, true)) return error;
        const auto network = root_.find("network");
        const auto network_name = network ? network->as_string() : std::nullopt;
        if (!network_name) return malformed("network must be a network name");
        fields.network = *network_name;
        std::uint32_t port = 0;
        std::uint32_t prefix = 0;
        if (auto error = address_with("address", ':', fields.address, port, 1, 65535)) return error;
        if (auto error = address_with("replica_addresses", '/', fields.first_replica_address, prefix, 1, 30))
            return error;
        fields.port = static_cast<std::uint16_t>(port);
        fields.replica_prefix = static_cast<std::uint8_t>(prefix);
        if (auto error = objective()) return error;
        if (!fields.objective) return malformed("service_create needs an objective");
        if (auto error = service_limits()) return error;
        if (!fields.min_replicas || !fields.max_replicas)
            return malformed("service_create needs min_replicas and max_replicas");
        return std::nullopt;
    }

    [[nodiscard]] std::optional<RequestError> service_set() {
        if (auto error = service_name("service", true)) return error;
        if (auto error = objective()) return error;
        if (auto error = service_limits()) return error;
        const ServiceFields& fields = request_.service;
        if (!fields.objective && !fields.min_replicas && !fields.max_replicas && !fields.scale_up_window_s &&
            !fields.scale_down_window_s && !fields.drain_grace_s)
            return malformed("service_set needs something to change");
        return std::nullopt;
    }

    [[nodiscard]] std::optional<RequestError> scaling_log() {
        if (auto error = service_name("service", false)) return error;
        return unsigned_number(key_since, request_.service.since, 0, ~std::uint64_t{0} >> 1, "since is out of range");
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
                if (auto error = best_effort()) return error;
                const SchedulingChange& change = request_.scheduling;
                if (!change.weight && !change.cap_percent && !change.pinned_cpu_mask && !request_.best_effort)
                    return malformed("set needs weight, cap_percent, pinned_cpus or best_effort");
                return std::nullopt;
            }
            case Operation::balloon: return balloon();
            case Operation::stats: return name("vm", request_.vm, false);
            case Operation::console_input: return console_input();
            case Operation::services: return std::nullopt;
            case Operation::service_create: return service_create();
            case Operation::service_set: return service_set();
            case Operation::service_destroy: return service_name("service", true);
            case Operation::scaling_log: return scaling_log();
            default: return name("vm", request_.vm, true);
        }
    }

private:
    static constexpr std::string_view key_weight{"weight"};
    static constexpr std::string_view key_cap{"cap_percent"};
    static constexpr std::string_view key_memory{"memory_mib"};
    static constexpr std::string_view key_vcpus{"vcpus"};
    static constexpr std::string_view key_target{"target_mib"};
    static constexpr std::string_view key_min{"min_replicas"};
    static constexpr std::string_view key_max{"max_replicas"};
    static constexpr std::string_view key_up{"scale_up_window_s"};
    static constexpr std::string_view key_down{"scale_down_window_s"};
    static constexpr std::string_view key_grace{"drain_grace_s"};
    static constexpr std::string_view key_since{"since"};

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
