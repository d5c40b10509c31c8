// Services (docs/services.md): the registry of services, their replicas'
// lifecycle (boot, ready, drain, shut down) and the autoscaler loop, which
// runs every 250 ms on the boot CPU with no host attached. The switch's
// ServiceBalancer measures and balances; core/scaling_policy decides; this
// file carries the decisions out with vm_manager and the scheduler, and
// logs each one with the figures behind it.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/json.hpp"
#include "core/scaling_policy.hpp"
#include "management/request.hpp"
#include "virtual_devices/service_balancer.hpp"

namespace lamina::services {

inline constexpr std::size_t kMaxServices = ServiceBalancer::kMaxServices;

struct ServiceConfig final {
    std::string_view name{};
    std::string_view template_name{};
    std::string_view network_name{};
    std::uint32_t address{0};  // IPv4, host order
    std::uint16_t port{0};
    std::uint32_t first_replica_address{0};
    std::uint8_t replica_prefix{0};
    ScalingSettings scaling{};
    std::uint64_t drain_grace_ns{0};
};

// A refusal in the management API's terms (code and message), or none.
struct Refusal final {
    const char* code{nullptr};
    const char* message{""};

    [[nodiscard]] explicit operator bool() const { return code != nullptr; }
};

// After the boot VMs: gives the switch its clock, creates the bundle's
// services and starts the autoscaler.
void start();

[[nodiscard]] Refusal create(const ServiceConfig& config);
[[nodiscard]] Refusal update(const management::ServiceFields& change);
// Drains and stops every replica; the service is forgotten once they are gone.
[[nodiscard]] Refusal destroy(std::string_view name);
[[nodiscard]] bool exists(std::string_view name);

// JSON for the management API: the services array, one service, the log.
void write_services(json::JsonWriter& out);
[[nodiscard]] bool write_service(json::JsonWriter& out, std::string_view name);
void write_log(json::JsonWriter& out, std::string_view service, std::uint64_t since);

}  // namespace lamina::services
