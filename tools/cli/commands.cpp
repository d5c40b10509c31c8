#include "commands.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include <fmt/format.h>

#include "json_fields.hpp"
#include "model.hpp"
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
    if (!options.changes_anything()) throw UsageError("set: give at least one of --weight, --cap, --pin");
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
    for (unsigned frame = 0; !options.iterations || frame < *options.iterations; ++frame) {
        if (frame > 0) std::this_thread::sleep_for(std::chrono::duration<double>(options.interval_s));
        const json result = call_once(global, "stats");  // a new connection per refresh
        if (global.json) {
            fmt::print("{}\n", dump_json(result));  // one line per refresh
        } else {
            StatsSnapshot current = parse_stats(result);
            const std::string text = render_top_frame(current, compute_rates(previous ? &*previous : nullptr, current));
            // Without a terminal, frames follow each other (a blank line apart).
            fmt::print("{}{}", on_terminal ? kClearScreen : (frame > 0 ? "\n" : ""), text);
            previous = std::move(current);
        }
        std::fflush(stdout);
    }
    return 0;
}

}  // namespace lamina::cli
