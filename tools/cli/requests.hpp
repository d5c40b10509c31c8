// Arguments of the requests whose options the user assembles on the command
// line, built apart from I/O so tests can check what is sent.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "json_fields.hpp"
#include "model.hpp"

namespace lamina::cli {

struct CreateOptions {
    std::string template_name;
    std::optional<std::string> name;
    std::optional<std::uint64_t> memory_mib;
    std::optional<std::uint64_t> vcpus;
    std::optional<std::string> cmdline;
    std::optional<std::uint64_t> weight;
    std::optional<std::uint64_t> cap_percent;
    std::optional<std::vector<unsigned>> pinned_cpus;
    std::optional<bool> best_effort;
    bool paused{false};
};

struct SetOptions {
    std::string vm;
    std::optional<std::uint64_t> weight;
    std::optional<std::uint64_t> cap_percent;
    std::optional<std::vector<unsigned>> pinned_cpus;  // empty: any CPU
    std::optional<bool> best_effort;

    [[nodiscard]] bool changes_anything() const {
        return weight || cap_percent || pinned_cpus || best_effort.has_value();
    }
};

// `service create`: every key of a service's config (docs/services.md).
struct ServiceCreateOptions {
    std::string name;
    std::string template_name;
    std::string network;
    std::string address;            // IPv4:port
    std::string replica_addresses;  // IPv4/prefix
    std::uint64_t percentile{0};
    std::uint64_t latency_ms{0};
    std::uint64_t window_s{0};
    std::uint64_t min_replicas{0};
    std::uint64_t max_replicas{0};
    std::optional<std::uint64_t> scale_up_window_s;  // none: Lamina's default
    std::optional<std::uint64_t> scale_down_window_s;
    std::optional<std::uint64_t> drain_grace_s;
};

// `service set`: what the user gave. Lamina takes the objective whole, so a
// partial one is completed from the service's current objective first.
struct ServiceSetOptions {
    std::string name;
    std::optional<std::uint64_t> min_replicas;
    std::optional<std::uint64_t> max_replicas;
    std::optional<std::uint64_t> percentile;
    std::optional<std::uint64_t> latency_ms;
    std::optional<std::uint64_t> window_s;
    std::optional<std::uint64_t> scale_up_window_s;
    std::optional<std::uint64_t> scale_down_window_s;
    std::optional<std::uint64_t> drain_grace_s;

    [[nodiscard]] bool changes_objective() const { return percentile || latency_ms || window_s; }
    [[nodiscard]] bool objective_complete() const { return percentile && latency_ms && window_s; }
    [[nodiscard]] bool changes_anything() const {
        return min_replicas || max_replicas || changes_objective() || scale_up_window_s || scale_down_window_s ||
               drain_grace_s;
    }
};

// Only what the user gave: Lamina applies the template's values otherwise.
[[nodiscard]] json create_arguments(const CreateOptions& options);
[[nodiscard]] json set_arguments(const SetOptions& options);
[[nodiscard]] json service_create_arguments(const ServiceCreateOptions& options);
// `current` fills the parts of the objective not given; it is needed (else
// std::invalid_argument) only when the objective is changed but not whole.
[[nodiscard]] json service_set_arguments(const ServiceSetOptions& options,
                                         const std::optional<Objective>& current = {});
// `scaling_log`: optionally one service's entries, optionally only those after `since`.
[[nodiscard]] json scaling_log_arguments(const std::optional<std::string>& service, std::optional<std::uint64_t> since);

}  // namespace lamina::cli
