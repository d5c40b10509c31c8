#include "commands.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

#include <fmt/format.h>

#include "json_fields.hpp"
#include "model.hpp"
#include "protocol.hpp"
#include "table.hpp"
#include "top_view.hpp"
#include "views.hpp"

namespace lamina::cli {

namespace {

// Home the cursor, then clear the screen: each `top` frame replaces the last.
constexpr std::string_view kClearScreen = "\x1b[H\x1b[2J";

[[nodiscard]] json call_once(const GlobalOptions& global, std::string_view op, json arguments = json::object()) {
    Connection connection = Connection::open(global.connection);
    return connection.call(op, std::move(arguments));
}

void print_json(const json& result) { fmt::print("{}\n", dump_json(result, 2)); }

// Prints the result's "vm" object as a line, or the whole result as JSON.
int print_vm_result(const GlobalOptions& global, const json& result) {
    if (global.json) {
        print_json(result);
    } else {
        fmt::print("{}", describe_vm(parse_vm(object_field(result, "vm"))));
    }
    return 0;
}

int print_message(const GlobalOptions& global, const json& result, std::string_view message) {
    if (global.json) {
        print_json(result);
    } else {
        fmt::print("{}\n", message);
    }
    return 0;
}

// Prints the result's "service" object as a line, or the whole result as JSON.
int print_service_result(const GlobalOptions& global, const json& result) {
    if (global.json) {
        print_json(result);
    } else {
        fmt::print("{}", describe_service(parse_service(object_field(result, "service"))));
    }
    return 0;
}

// What Lamina answers for a service it does not have, when the CLI finds out
// itself from the `services` list.
[[nodiscard]] LaminaError unknown_service(const std::string& name) {
    return {"unknown_service", fmt::format("no service named '{}'", name)};
}

// The service named `name` in a `services` result, as Lamina sent it.
[[nodiscard]] const json& find_service(const json& services_result, const std::string& name) {
    const json& services = array_field(services_result, "services");
    const auto found = std::find_if(services.begin(), services.end(), [&](const json& service) {
        return service.is_object() && service.contains("name") && service["name"] == name;
    });
    if (found == services.end()) throw unknown_service(name);
    return *found;
}

// One `top` refresh: the statistics and, from a Lamina with services, the
// scaling-log entries after `since`, over one connection closed on return.
struct TopSample {
    json stats;
    std::vector<ScalingLogEntry> new_entries;
};

[[nodiscard]] TopSample fetch_top_sample(const GlobalOptions& global, std::optional<std::uint64_t> since) {
    Connection connection = Connection::open(global.connection);
    TopSample sample{connection.call("stats"), {}};
    if (global.json || !sample.stats.is_object() || !sample.stats.contains("services")) return sample;
    try {
        sample.new_entries = parse_scaling_log(connection.call("scaling_log", scaling_log_arguments({}, since)));
    } catch (const LaminaError& error) {
        if (error.code() != "unknown_op") throw;  // services without a log: show the services alone
    }
    return sample;
}

[[nodiscard]] std::optional<std::uint64_t> last_seq(const std::vector<ScalingLogEntry>& entries,
                                                    std::optional<std::uint64_t> previous) {
    for (const ScalingLogEntry& entry : entries)
        if (!previous || entry.seq > *previous) previous = entry.seq;
    return previous;
}

}  // namespace

int run_list(const GlobalOptions& global) {
    const json result = call_once(global, "list");
    if (global.json) {
        print_json(result);
    } else {
        fmt::print("{}", render_vm_list(parse_vm_list(result)));
    }
    return 0;
}

int run_board(const GlobalOptions& global) {
    const json result = call_once(global, "board");
    if (global.json) {
        print_json(result);
    } else {
        fmt::print("{}", render_board(parse_board(result)));
    }
    return 0;
}

int run_create(const GlobalOptions& global, const CreateOptions& options) {
    const json result = call_once(global, "create", create_arguments(options));
    if (global.json) {
        print_json(result);
    } else {
        const auto build_ns =
            result.contains("build_ns") ? std::optional(count_field(result, "build_ns")) : std::nullopt;
        fmt::print("{}", describe_vm(parse_vm(object_field(result, "vm")), build_ns));
    }
    return 0;
}

int run_vm_transition(const GlobalOptions& global, const std::string& op, const std::string& vm) {
    return print_vm_result(global, call_once(global, op, {{"vm", vm}}));
}

int run_shutdown(const GlobalOptions& global, const std::string& vm) {
    const json result = call_once(global, "shutdown", {{"vm", vm}});
    return print_message(global, result, fmt::format("{}: power button pressed; the guest shuts itself down", vm));
}

int run_destroy(const GlobalOptions& global, const std::string& vm) {
    const json result = call_once(global, "destroy", {{"vm", vm}});
    return print_message(global, result, fmt::format("{}: destroyed", vm));
}

int run_set(const GlobalOptions& global, const SetOptions& options) {
    if (!options.changes_anything())
        throw UsageError("set: give at least one of --weight, --cap, --pin, --best-effort");
    return print_vm_result(global, call_once(global, "set", set_arguments(options)));
}

int run_balloon(const GlobalOptions& global, const std::string& vm, std::uint64_t target_mib) {
    return print_vm_result(global, call_once(global, "balloon", {{"vm", vm}, {"target_mib", target_mib}}));
}

int run_stats(const GlobalOptions& global, const std::optional<std::string>& vm) {
    json arguments = json::object();
    if (vm) arguments["vm"] = *vm;
    const json result = call_once(global, "stats", std::move(arguments));
    if (global.json) {
        print_json(result);
    } else {
        fmt::print("{}", render_stats(parse_stats(result)));
    }
    return 0;
}

int run_top(const GlobalOptions& global, const TopOptions& options) {
    const bool on_terminal = ::isatty(STDOUT_FILENO) == 1;
    std::optional<StatsSnapshot> previous;
    std::vector<ScalingLogEntry> recent_log;  // the latest kTopScalingLogEntries
    std::optional<std::uint64_t> since;
    for (unsigned frame = 0; !options.iterations || frame < *options.iterations; ++frame) {
        if (frame > 0) std::this_thread::sleep_for(std::chrono::duration<double>(options.interval_s));
        const TopSample sample = fetch_top_sample(global, since);  // a new connection per refresh
        if (global.json) {
            fmt::print("{}\n", dump_json(sample.stats));  // one line per refresh
        } else {
            StatsSnapshot current = parse_stats(sample.stats);
            keep_latest_entries(recent_log, sample.new_entries);
            since = last_seq(sample.new_entries, since);
            const std::string text =
                render_top_frame(current, compute_rates(previous ? &*previous : nullptr, current), recent_log);
            // Without a terminal, frames follow each other (a blank line apart).
            fmt::print("{}{}", on_terminal ? kClearScreen : (frame > 0 ? "\n" : ""), text);
            previous = std::move(current);
        }
        std::fflush(stdout);
    }
    return 0;
}

int run_services(const GlobalOptions& global, const ServicesOptions& options) {
    const json result = call_once(global, "services");
    if (global.json) {
        print_json(result);
    } else {
        const std::vector<ServiceInfo> services = parse_services(result);
        std::string text = render_services(services);
        if (options.replicas && !services.empty()) text += '\n' + render_replicas(services);
        fmt::print("{}", text);
    }
    return 0;
}

int run_service_show(const GlobalOptions& global, const std::string& service) {
    const json result = call_once(global, "services");
    const json& found = find_service(result, service);
    if (global.json) {
        print_json(json{{"service", found}});
    } else {
        fmt::print("{}", render_service_details(parse_service(found)));
    }
    return 0;
}

int run_service_create(const GlobalOptions& global, const ServiceCreateOptions& options) {
    return print_service_result(global, call_once(global, "service_create", service_create_arguments(options)));
}

int run_service_set(const GlobalOptions& global, const ServiceSetOptions& options) {
    if (!options.changes_anything())
        throw UsageError(
            "service set: give at least one of --min, --max, --percentile, --latency-ms, --window, "
            "--scale-up-window, --scale-down-window, --drain-grace");
    Connection connection = Connection::open(global.connection);
    std::optional<Objective> current;
    if (options.changes_objective() && !options.objective_complete()) {
        // Lamina takes the objective whole: complete it with the current one.
        current = parse_service(find_service(connection.call("services"), options.name)).objective;
    }
    return print_service_result(global, connection.call("service_set", service_set_arguments(options, current)));
}

int run_service_destroy(const GlobalOptions& global, const std::string& service) {
    const json result = call_once(global, "service_destroy", {{"service", service}});
    return print_message(global, result, fmt::format("{}: destroyed; its replicas drain and stop", printable(service)));
}

int run_scaling_log(const GlobalOptions& global, const ScalingLogOptions& options) {
    if (!options.follow) {
        const json result = call_once(global, "scaling_log", scaling_log_arguments(options.service, {}));
        if (global.json) {
            print_json(result);
        } else {
            fmt::print("{}", render_scaling_log(parse_scaling_log(result)));
        }
        return 0;
    }
    std::optional<std::uint64_t> since;
    for (unsigned poll = 0; !options.iterations || poll < *options.iterations; ++poll) {
        if (poll > 0) std::this_thread::sleep_for(std::chrono::duration<double>(options.interval_s));
        // A new connection per poll, like top: Lamina serves one client at a time.
        const json result = call_once(global, "scaling_log", scaling_log_arguments(options.service, since));
        const std::vector<ScalingLogEntry> entries = parse_scaling_log(result);
        if (global.json) {
            fmt::print("{}\n", dump_json(result));  // one line per poll
        } else if (poll == 0 || !entries.empty()) {
            fmt::print("{}", render_scaling_log_rows(entries, poll == 0));
        }
        since = last_seq(entries, since);
        std::fflush(stdout);
    }
    return 0;
}

}  // namespace lamina::cli
