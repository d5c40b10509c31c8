#include "requests.hpp"

#include <cmath>
#include <stdexcept>

namespace lamina::cli {

namespace {

template <typename Value>
void put_if_given(json& arguments, const char* key, const std::optional<Value>& value) {
    if (value) arguments[key] = *value;
}

}  // namespace

json create_arguments(const CreateOptions& options) {
    json arguments{{"template", options.template_name}};
    put_if_given(arguments, "name", options.name);
    put_if_given(arguments, "memory_mib", options.memory_mib);
    put_if_given(arguments, "vcpus", options.vcpus);
    put_if_given(arguments, "cmdline", options.cmdline);
    put_if_given(arguments, "weight", options.weight);
    put_if_given(arguments, "cap_percent", options.cap_percent);
    put_if_given(arguments, "pinned_cpus", options.pinned_cpus);
    put_if_given(arguments, "best_effort", options.best_effort);
    if (options.paused) arguments["start"] = false;
    return arguments;
}

json set_arguments(const SetOptions& options) {
    json arguments{{"vm", options.vm}};
    put_if_given(arguments, "weight", options.weight);
    put_if_given(arguments, "cap_percent", options.cap_percent);
    put_if_given(arguments, "pinned_cpus", options.pinned_cpus);
    put_if_given(arguments, "best_effort", options.best_effort);
    return arguments;
}

json service_create_arguments(const ServiceCreateOptions& options) {
    json arguments{
        {"name", options.name},
        {"template", options.template_name},
        {"network", options.network},
        {"address", options.address},
        {"replica_addresses", options.replica_addresses},
        {"objective",
         {{"percentile", options.percentile}, {"latency_ms", options.latency_ms}, {"window_s", options.window_s}}},
        {"min_replicas", options.min_replicas},
        {"max_replicas", options.max_replicas}};
    put_if_given(arguments, "scale_up_window_s", options.scale_up_window_s);
    put_if_given(arguments, "scale_down_window_s", options.scale_down_window_s);
    put_if_given(arguments, "drain_grace_s", options.drain_grace_s);
    return arguments;
}

json service_set_arguments(const ServiceSetOptions& options, const std::optional<Objective>& current) {
    json arguments{{"service", options.name}};
    put_if_given(arguments, "min_replicas", options.min_replicas);
    put_if_given(arguments, "max_replicas", options.max_replicas);
    if (options.changes_objective()) {
        if (!options.objective_complete() && !current)
            throw std::invalid_argument("a partial objective needs the service's current one");
        // Lamina's objective latencies are whole milliseconds.
        const auto current_latency = current ? static_cast<std::uint64_t>(std::llround(current->latency_ms)) : 0;
        arguments["objective"] = {{"percentile", options.percentile.value_or(current ? current->percentile : 0)},
                                  {"latency_ms", options.latency_ms.value_or(current_latency)},
                                  {"window_s", options.window_s.value_or(current ? current->window_s : 0)}};
    }
    put_if_given(arguments, "scale_up_window_s", options.scale_up_window_s);
    put_if_given(arguments, "scale_down_window_s", options.scale_down_window_s);
    put_if_given(arguments, "drain_grace_s", options.drain_grace_s);
    return arguments;
}

json scaling_log_arguments(const std::optional<std::string>& service, std::optional<std::uint64_t> since) {
    json arguments = json::object();
    put_if_given(arguments, "service", service);
    put_if_given(arguments, "since", since);
    return arguments;
}

}  // namespace lamina::cli
