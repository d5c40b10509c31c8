// Decoding and validating management requests (docs/management-api.md):
// from a parsed JSON object to a typed Request, or an error with the
// protocol's code. Pure, so the host unit tests cover every refusal; what
// depends on the machine's state (does the VM exist, is there memory) is
// checked where the request is carried out.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "core/json.hpp"

namespace lamina::management {

inline constexpr std::int64_t kProtocolVersion = 1;
inline constexpr std::size_t kMaxRequestLine = 4096;

enum class Operation : std::uint8_t {
    hello, list, board, create, start, pause, resume, shutdown, destroy, set, balloon, stats,
    console_attach, console_input, console_detach,
    services, service_create, service_set, service_destroy, scaling_log,
};

// The protocol's error codes.
namespace code {
inline constexpr const char* kMalformed = "malformed";
inline constexpr const char* kLineTooLong = "line_too_long";
inline constexpr const char* kUnknownOp = "unknown_op";
inline constexpr const char* kUnsupportedVersion = "unsupported_version";
inline constexpr const char* kUnknownVm = "unknown_vm";
inline constexpr const char* kExists = "exists";
inline constexpr const char* kInvalidArgument = "invalid_argument";
inline constexpr const char* kNoResources = "no_resources";
inline constexpr const char* kWrongState = "wrong_state";
inline constexpr const char* kNoDevice = "no_device";
inline constexpr const char* kUnknownService = "unknown_service";
}  // namespace code

struct RequestError final {
    const char* code{code::kMalformed};
    const char* message{""};
};

// Settings a create or set request may change; absent = keep.
struct SchedulingChange final {
    std::optional<std::uint32_t> weight{};
    std::optional<std::uint32_t> cap_percent{};
    std::optional<std::uint64_t> pinned_cpu_mask{};  // 0 = any CPU
};

// A service's latency objective (docs/services.md).
struct ServiceObjective final {
    std::uint32_t percentile{0};
    std::uint64_t latency_ms{0};
    std::uint32_t window_s{0};
};

// Arguments of the service operations; absent = keep (set) or default (create).
struct ServiceFields final {
    std::string_view name{};
    std::string_view template_name{};
    std::string_view network{};
    std::uint32_t address{0};  // IPv4, host order
    std::uint16_t port{0};
    std::uint32_t first_replica_address{0};
    std::uint8_t replica_prefix{0};
    std::optional<ServiceObjective> objective{};
    std::optional<std::uint32_t> min_replicas{};
    std::optional<std::uint32_t> max_replicas{};
    std::optional<std::uint32_t> scale_up_window_s{};
    std::optional<std::uint32_t> scale_down_window_s{};
    std::optional<std::uint32_t> drain_grace_s{};
    std::optional<std::uint64_t> since{};  // scaling_log
};

struct Request final {
    std::optional<std::int64_t> id{};
    Operation operation{Operation::hello};
    std::string_view vm{};             // the VM (or, for create, the template) it is about
    std::string_view new_name{};       // create: empty = the template's
    std::optional<std::uint64_t> memory_mib{};
    std::optional<std::uint32_t> vcpus{};
    std::optional<std::string_view> cmdline{};
    SchedulingChange scheduling{};
    bool start{true};                  // create
    std::uint64_t target_mib{0};       // balloon
    std::string_view data{};           // console_input
    std::optional<bool> best_effort{};  // create, set
    ServiceFields service{};           // service operations
};

// The outcome: a request, or why not (with the id, when one could be read,
// so the error reply still matches the request).
struct DecodedRequest final {
    std::optional<std::int64_t> id{};
    std::optional<Request> request{};
    RequestError error{};
};

[[nodiscard]] DecodedRequest decode_request(json::JsonValue root);

}  // namespace lamina::management
