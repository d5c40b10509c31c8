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
    actions[app.add_subcommand("list", "List the VMs and the templates")] = [&] { return run_list(arguments.global); };
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
    create->add_flag("--paused", options.paused, "Create without booting (boot it with `lamina start`)");
    actions[create] = [&] { return run_create(arguments.global, arguments.create); };
}

void add_set_and_balloon(CLI::App& app, Arguments& arguments, Actions& actions) {
    SetOptions& options = arguments.set;
    CLI::App* set = app.add_subcommand("set", "Change a VM's scheduling: weight, cap, pinning");
    set->add_option("VM", options.vm, "VM name")->required();
    add_optional(set, "--weight", options.weight, "Scheduler weight (1-65535)")->type_name("W");
    add_optional(set, "--cap", options.cap_percent, "CPU cap in percent of one CPU (0: none)")->type_name("PCT");
    add_pin_option(set, options.pinned_cpus, "Physical CPUs to run on, e.g. 0,1 or 0-3; any: unpin");
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
    add_console(app, arguments, actions);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        return app.exit(error) == 0 ? EXIT_SUCCESS : kExitUsage;
    }
    return actions.at(app.get_subcommands().front())();
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
