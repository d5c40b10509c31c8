// lamina: manages a running Lamina hypervisor over its management socket
// (docs/management-api.md), like xl or virsh.
//   lamina [--socket PATH] [--connect-timeout S] [--timeout S] [--json] VERB ...
// Exit status: 0 success, 1 Lamina refused or sent nonsense, 2 bad usage,
// 3 Lamina unreachable or silent.
#include <cstdlib>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <type_traits>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "json_fields.hpp"
#include "listen_address.hpp"
#include "pin_list.hpp"
#include "protocol.hpp"

namespace {

using namespace lamina::cli;

constexpr int kExitError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitUnreachable = 3;

constexpr const char* kFooter =
    "Exit status: 0 success, 1 Lamina refused the request (or replied nonsense), 2 bad usage,\n"
    "3 cannot connect to Lamina or no reply in time.";

using Action = std::function<int()>;

// A verb's own notes above the exit statuses every verb's help ends with.
void set_footer(CLI::App* command, const std::string& notes) { command->footer(notes + "\n\n" + kFooter); }

// A CLI11 check running `parse`, which throws std::invalid_argument.
template <typename Parse>
[[nodiscard]] CLI::Validator parses_with(Parse parse, std::string name) {
    return CLI::Validator(
        [parse](std::string& text) {
            try {
                (void)parse(text);
                return std::string();
            } catch (const std::invalid_argument& error) {
                return std::string(error.what());
            }
        },
        "", std::move(name));
}

// CLI11 would read "-5" as a huge unsigned number: refuse signs up front.
template <typename Value>
CLI::Option* refuse_negative(CLI::Option* option) {
    if constexpr (std::is_unsigned_v<Value>) {
        option->check(CLI::Validator(
            [](std::string& text) {
                const std::size_t first = text.find_first_not_of(" \t");
                return first != std::string::npos && text[first] == '-' ? std::string("must not be negative")
                                                                        : std::string();
            },
            "", "non-negative"));
    }
    return option;
}

// Durations become deadlines: keep them finite and far from overflowing.
constexpr double kMostSeconds = 1e6;

[[nodiscard]] CLI::Validator seconds_check() {
    return CLI::Validator(
        [](std::string& text) {
            double seconds = -1;
            try {
                seconds = std::stod(text);
            } catch (const std::exception&) {
            }
            return seconds >= 0 && seconds <= kMostSeconds
                       ? std::string()
                       : fmt::format("\"{}\" is not a number of seconds from 0 to {:g}", text, kMostSeconds);
        },
        "", "seconds");
}

// An option that fills a std::optional only when given.
template <typename Value>
CLI::Option* add_optional(CLI::App* command, const std::string& flags, std::optional<Value>& target,
                          const std::string& description) {
    return refuse_negative<Value>(command->add_option_function<Value>(
        flags, [&target](const Value& value) { target = value; }, description));
}

CLI::Option* add_pin_option(CLI::App* command, std::optional<std::vector<unsigned>>& target,
                            const std::string& description) {
    return command
        ->add_option_function<std::string>(
            "--pin", [&target](const std::string& text) { target = parse_pin_list(text); }, description)
        ->type_name("CPUS")
        ->check(parses_with(parse_pin_list, "pin list"));
}

// Where parsing puts everything; only one verb is parsed per run.
struct Arguments {
    GlobalOptions global;
    std::string vm;  // the VM of start, pause, resume, shutdown, destroy, balloon
    std::uint64_t balloon_target_mib{0};
    std::optional<std::string> stats_vm;
    CreateOptions create;
    SetOptions set;
    TopOptions top;
    ConsoleOptions console;
    MetricsOptions metrics;
    ServicesOptions services;
    std::string service;  // the service of service show and service destroy
    ServiceCreateOptions service_create;
    ServiceSetOptions service_set;
    ScalingLogOptions scaling_log;
};

using Actions = std::map<const CLI::App*, Action>;

void add_global_options(CLI::App& app, GlobalOptions& global) {
    global.connection.socket_path = "lamina.sock";
    app.add_option("--socket", global.connection.socket_path,
                   "Lamina's management socket (default: $LAMINA_SOCKET, else lamina.sock here)")
        ->envname("LAMINA_SOCKET")
        ->type_name("PATH");
    app.add_option("--connect-timeout", global.connection.connect_timeout_s,
                   "Seconds to keep trying to connect (Lamina serves one client at a time)")
        ->check(seconds_check())
        ->type_name("SECONDS")
        ->capture_default_str();
    app.add_option("--timeout", global.connection.reply_timeout_s, "Seconds to wait for each reply")
        ->check(seconds_check())
        ->type_name("SECONDS")
        ->capture_default_str();
    app.add_flag("--json", global.json, "Print Lamina's result object as JSON instead of a table or message");
}

void add_list_and_board(CLI::App& app, Arguments& arguments, Actions& actions) {
    CLI::App* list = app.add_subcommand("list", "List the VMs and the templates");
    set_footer(list,
               "SERVICE: the service a VM is a replica of (`lamina services`).\n"
               "BE: \"yes\" for a best-effort VM, whose CPU cap the autoscaler may lower to make room for replicas.");
    actions[list] = [&] { return run_list(arguments.global); };
    actions[app.add_subcommand("board", "Show the board's free resources")] = [&] {
        return run_board(arguments.global);
    };
}

// Verbs that take just a VM name.
void add_vm_verbs(CLI::App& app, Arguments& arguments, Actions& actions) {
    struct VmVerb {
        const char* name;
        const char* description;
    };
    constexpr VmVerb kTransitions[] = {
        {"start", "Boot a created VM, or create and boot the template of that name"},
        {"pause", "Pause a running VM"},
        {"resume", "Resume a paused VM"},
    };
    for (const VmVerb& verb : kTransitions) {
        CLI::App* command = app.add_subcommand(verb.name, verb.description);
        command->add_option("VM", arguments.vm, "VM name")->required();
        actions[command] = [&arguments, op = std::string(verb.name)] {
            return run_vm_transition(arguments.global, op, arguments.vm);
        };
    }
    CLI::App* shutdown = app.add_subcommand("shutdown", "Press the VM's power button (the guest shuts itself down)");
    shutdown->add_option("VM", arguments.vm, "VM name")->required();
    actions[shutdown] = [&] { return run_shutdown(arguments.global, arguments.vm); };
    CLI::App* destroy = app.add_subcommand("destroy", "Stop a VM at once and free everything it had");
    destroy->add_option("VM", arguments.vm, "VM name")->required();
    actions[destroy] = [&] { return run_destroy(arguments.global, arguments.vm); };
}

void add_create(CLI::App& app, Arguments& arguments, Actions& actions) {
    CreateOptions& options = arguments.create;
    CLI::App* create = app.add_subcommand("create", "Create a VM from a template (and boot it)");
    create->add_option("TEMPLATE", options.template_name, "Template to copy")->required();
    add_optional(create, "--name", options.name, "VM name (default: the template's)")->type_name("NAME");
    add_optional(create, "--memory", options.memory_mib, "Memory in MiB")->type_name("MIB");
    add_optional(create, "--vcpus", options.vcpus, "Number of vCPUs")->type_name("N");
    add_optional(create, "--cmdline", options.cmdline, "Kernel command line")->type_name("TEXT");
    add_optional(create, "--weight", options.weight, "Scheduler weight (1-65535)")->type_name("W");
    add_optional(create, "--cap", options.cap_percent, "CPU cap in percent of one CPU (0: none)")->type_name("PCT");
    add_pin_option(create, options.pinned_cpus, "Physical CPUs to run on, e.g. 0,1 or 0-3, or any");
    create->add_flag_function(
        "--best-effort{true}", [&options](std::int64_t count) { options.best_effort = count > 0; },
        "Best effort: the autoscaler may lower its CPU cap to make room for service replicas "
        "(--best-effort=false: not, whatever the template says)");
    create->add_flag("--paused", options.paused, "Create without booting (boot it with `lamina start`)");
    actions[create] = [&] { return run_create(arguments.global, arguments.create); };
}

void add_set_and_balloon(CLI::App& app, Arguments& arguments, Actions& actions) {
    SetOptions& options = arguments.set;
    CLI::App* set = app.add_subcommand("set", "Change a VM's scheduling: weight, cap, pinning, best effort");
    set->add_option("VM", options.vm, "VM name")->required();
    add_optional(set, "--weight", options.weight, "Scheduler weight (1-65535)")->type_name("W");
    add_optional(set, "--cap", options.cap_percent, "CPU cap in percent of one CPU (0: none)")->type_name("PCT");
    add_pin_option(set, options.pinned_cpus, "Physical CPUs to run on, e.g. 0,1 or 0-3; any: unpin");
    add_optional(set, "--best-effort", options.best_effort,
                 "true: the autoscaler may lower the VM's CPU cap to make room for service replicas")
        ->type_name("true|false");
    actions[set] = [&] { return run_set(arguments.global, arguments.set); };

    CLI::App* balloon = app.add_subcommand("balloon", "Ask the guest to give memory back through its balloon");
    balloon->add_option("VM", arguments.vm, "VM name")->required();
    refuse_negative<std::uint64_t>(
        balloon->add_option("TARGET_MIB", arguments.balloon_target_mib, "Memory the guest should keep, in MiB"))
        ->required();
    actions[balloon] = [&] { return run_balloon(arguments.global, arguments.vm, arguments.balloon_target_mib); };
}

void add_monitoring_verbs(CLI::App& app, Arguments& arguments, Actions& actions) {
    CLI::App* stats = app.add_subcommand("stats", "Show run/steal time, exits, network and disk counters");
    add_optional(stats, "VM", arguments.stats_vm, "Only this VM");
    actions[stats] = [&] { return run_stats(arguments.global, arguments.stats_vm); };

    CLI::App* top = app.add_subcommand("top", "Show CPU, exits, memory, network and disk rates per VM, refreshed");
    top->add_option("--interval", arguments.top.interval_s, "Seconds between refreshes")
        ->check(seconds_check())
        ->type_name("SECONDS")
        ->capture_default_str();
    add_optional(top, "--iterations", arguments.top.iterations, "Stop after N refreshes")->type_name("N");
    actions[top] = [&] { return run_top(arguments.global, arguments.top); };

    CLI::App* metrics = app.add_subcommand("metrics", "Print statistics for Prometheus, or serve them over HTTP");
    add_optional(metrics, "--listen", arguments.metrics.listen, "Serve GET /metrics on HOST:PORT instead of printing")
        ->type_name("HOST:PORT")
        ->check(parses_with(parse_listen_address, "HOST:PORT"));
    actions[metrics] = [&] { return run_metrics(arguments.global, arguments.metrics); };
}

void add_services(CLI::App& app, Arguments& arguments, Actions& actions) {
    CLI::App* services =
        app.add_subcommand("services", "List the services: replicas, latencies, objective, rate, errors, status");
    services->add_flag("--replicas", arguments.services.replicas, "Also list every replica of every service");
    set_footer(
        services,
        "REPLICAS: ready/min..max, then +N booting and -N draining (draining counts stopping) when there are any.\n"
        "P50, P95, P99 (ms), RATE and ERRORS (resets and timeouts) cover the objective's window;\n"
        "OBJECTIVE p95<=50ms/5s: 95 % of the requests of the last 5 s within 50 ms.");
    actions[services] = [&] { return run_services(arguments.global, arguments.services); };

    CLI::App* service = app.add_subcommand("service", "Show, create, change or destroy a service");
    service->require_subcommand(1);

    CLI::App* show = service->add_subcommand("show", "Show a service and its replicas");
    show->add_option("SERVICE", arguments.service, "Service name")->required();
    actions[show] = [&] { return run_service_show(arguments.global, arguments.service); };

    ServiceCreateOptions& create_options = arguments.service_create;
    CLI::App* create = service->add_subcommand("create", "Create a service: Lamina starts and stops its replicas");
    create->add_option("SERVICE", create_options.name, "Service name (1-15 of A-Z a-z 0-9 . _ -)")->required();
    create->add_option("--template", create_options.template_name, "Template of the replicas (one NIC, on NETWORK)")
        ->required()
        ->type_name("TEMPLATE");
    create->add_option("--network", create_options.network, "Network the service address is on")
        ->required()
        ->type_name("NETWORK");
    create->add_option("--address", create_options.address, "Service address clients connect to")
        ->required()
        ->type_name("IP:PORT");
    create
        ->add_option("--replica-addresses", create_options.replica_addresses,
                     "Address of the first replica and the prefix; replica n gets this + n - 1")
        ->required()
        ->type_name("IP/PREFIX");
    const auto add_count = [](CLI::App* command, const std::string& flags, std::uint64_t& target,
                              const std::string& description) {
        return refuse_negative<std::uint64_t>(command->add_option(flags, target, description))->required();
    };
    add_count(create, "--percentile", create_options.percentile, "Objective: this percentile of the requests (50-99)")
        ->type_name("P");
    add_count(create, "--latency-ms", create_options.latency_ms, "Objective: ...took at most this long (1-60000)")
        ->type_name("MS");
    add_count(create, "--window", create_options.window_s, "Objective: ...over the last this many seconds (1-15)")
        ->type_name("SECONDS");
    add_count(create, "--min", create_options.min_replicas, "Fewest replicas (0-8)")->type_name("N");
    add_count(create, "--max", create_options.max_replicas, "Most replicas (1-8)")->type_name("N");
    add_optional(create, "--scale-up-window", create_options.scale_up_window_s,
                 "Seconds the objective must be missed before a replica is added (default 2)")
        ->type_name("SECONDS");
    add_optional(create, "--scale-down-window", create_options.scale_down_window_s,
                 "Seconds the load must stay low before a replica is removed (default 15)")
        ->type_name("SECONDS");
    add_optional(create, "--drain-grace", create_options.drain_grace_s,
                 "Seconds a draining replica may keep its connections (default 10)")
        ->type_name("SECONDS");
    actions[create] = [&] { return run_service_create(arguments.global, arguments.service_create); };

    ServiceSetOptions& set_options = arguments.service_set;
    CLI::App* set = service->add_subcommand("set", "Change a service's replica bounds, objective or scaling windows");
    set->add_option("SERVICE", set_options.name, "Service name")->required();
    add_optional(set, "--min", set_options.min_replicas, "Fewest replicas (0-8)")->type_name("N");
    add_optional(set, "--max", set_options.max_replicas, "Most replicas (1-8)")->type_name("N");
    add_optional(set, "--percentile", set_options.percentile, "Objective's percentile (50-99)")->type_name("P");
    add_optional(set, "--latency-ms", set_options.latency_ms, "Objective's latency (1-60000)")->type_name("MS");
    add_optional(set, "--window", set_options.window_s, "Objective's window in seconds (1-15)")->type_name("SECONDS");
    add_optional(set, "--scale-up-window", set_options.scale_up_window_s,
                 "Seconds the objective must be missed before a replica is added (1-60)")
        ->type_name("SECONDS");
    add_optional(set, "--scale-down-window", set_options.scale_down_window_s,
                 "Seconds the load must stay low before a replica is removed (1-600)")
        ->type_name("SECONDS");
    add_optional(set, "--drain-grace", set_options.drain_grace_s,
                 "Seconds a draining replica may keep its connections (1-600)")
        ->type_name("SECONDS");
    set_footer(set, "The objective's parts not given keep their current values.");
    actions[set] = [&] { return run_service_set(arguments.global, arguments.service_set); };

    CLI::App* destroy = service->add_subcommand("destroy", "Drain and stop a service's replicas, then forget it");
    destroy->add_option("SERVICE", arguments.service, "Service name")->required();
    actions[destroy] = [&] { return run_service_destroy(arguments.global, arguments.service); };
}

void add_scaling_log(CLI::App& app, Arguments& arguments, Actions& actions) {
    ScalingLogOptions& options = arguments.scaling_log;
    CLI::App* log = app.add_subcommand("scaling-log", "Show the autoscaler's decisions (the last 128)");
    add_optional(log, "--service", options.service, "Only this service's entries")->type_name("SERVICE");
    CLI::Option* follow = log->add_flag("--follow", options.follow, "Keep printing new entries until interrupted");
    log->add_option("--interval", options.interval_s, "With --follow: seconds between polls")
        ->check(seconds_check())
        ->type_name("SECONDS")
        ->capture_default_str()
        ->needs(follow);
    add_optional(log, "--iterations", options.iterations, "With --follow: stop after N polls")
        ->type_name("N")
        ->needs(follow);
    set_footer(log, "TIME is Lamina's uptime in seconds when the autoscaler decided.");
    actions[log] = [&] { return run_scaling_log(arguments.global, arguments.scaling_log); };
}

void add_console(CLI::App& app, Arguments& arguments, Actions& actions) {
    CLI::App* console = app.add_subcommand(
        "console", "Attach to a VM's console (Ctrl-] detaches; from a pipe: until its end plus --linger)");
    console->add_option("VM", arguments.console.vm, "VM name")->required();
    console
        ->add_option("--linger", arguments.console.linger_s,
                     "Seconds to keep printing after stdin ends (stdin not a terminal)")
        ->check(seconds_check())
        ->type_name("SECONDS")
        ->capture_default_str();
    actions[console] = [&] { return run_console(arguments.global, arguments.console); };
}

int run(int argc, char** argv) {
    CLI::App app{"Manages a running Lamina hypervisor through its management socket.", "lamina"};
    app.require_subcommand(1);
    app.fallthrough();  // global options may also follow the verb: `lamina list --json`
    app.footer(kFooter);
    Arguments arguments;
    Actions actions;
    add_global_options(app, arguments.global);
    add_list_and_board(app, arguments, actions);
    add_create(app, arguments, actions);
    add_vm_verbs(app, arguments, actions);
    add_set_and_balloon(app, arguments, actions);
    add_monitoring_verbs(app, arguments, actions);
    add_services(app, arguments, actions);
    add_scaling_log(app, arguments, actions);
    add_console(app, arguments, actions);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        return app.exit(error) == 0 ? EXIT_SUCCESS : kExitUsage;
    }
    // The innermost verb chosen: `service create` runs create's action.
    const CLI::App* verb = app.get_subcommands().front();
    while (!verb->get_subcommands().empty()) verb = verb->get_subcommands().front();
    return actions.at(verb)();
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const UsageError& error) {
        fmt::print(stderr, "lamina: {}\n", error.what());
        return kExitUsage;
    } catch (const LaminaError& error) {
        fmt::print(stderr, "lamina: {}: {}\n", error.code(), error.message());
        return kExitError;
    } catch (const ConnectionError& error) {
        fmt::print(stderr, "lamina: {}\n", error.what());
        return kExitUnreachable;
    } catch (const MalformedReply& error) {
        fmt::print(stderr, "lamina: malformed reply from Lamina: {}\n", error.what());
        return kExitError;
    } catch (const nlohmann::json::exception& error) {
        fmt::print(stderr, "lamina: malformed reply from Lamina: {}\n", error.what());
        return kExitError;
    } catch (const std::exception& error) {
        fmt::print(stderr, "lamina: {}\n", error.what());
        return kExitError;
    }
}
