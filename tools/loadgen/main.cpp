// lamina-load: an open-loop HTTP load generator. Requests go out on a fixed
// schedule whatever the server's latency, so a slow server shows up as
// latency and in-flight requests rather than as a lower request rate.
//   lamina-load URL (--schedule RATE:SECONDS[,...] | --rate R --duration S)
//               [--timeout SECONDS] [--json] [--quiet]
// Exit status: 0 every request ok, 1 any request failed (or the host cannot
// be resolved), 2 bad usage.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "client.hpp"
#include "report.hpp"

namespace {

using namespace lamina::load;

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

constexpr const char* kFooter =
    "Request k of a phase at rate R is due k/R seconds into the phase, however long earlier requests take.\n"
    "Each request uses a new connection. Latency counts from the due time, for every request whatever its\n"
    "outcome (a timeout counts its full wait).\n"
    "Exit status: 0 every request ok, 1 any request failed, 2 bad usage.";

struct UsageError : std::invalid_argument {
    using std::invalid_argument::invalid_argument;
};

// Each request holds a socket, so the default soft limit (often 1024) would
// cap the number in flight: raise it as far as we may.
void raise_file_limit() {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == limit.rlim_max) return;
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0)
        fmt::print(stderr,
                   "lamina-load: warning: cannot raise the open file limit; requests beyond it count as "
                   "connect errors\n");
}

[[nodiscard]] std::vector<Phase> phases_from(const std::optional<std::string>& schedule,
                                             const std::optional<double>& rate, const std::optional<double>& duration) {
    if (schedule) {
        if (rate || duration) throw UsageError("give either --schedule or --rate with --duration, not both");
        return parse_schedule(*schedule);
    }
    if (!rate && !duration) throw UsageError("give --schedule RATE:SECONDS[,...], or --rate R with --duration S");
    if (!duration) throw UsageError("--rate needs --duration SECONDS");
    if (!rate) throw UsageError("--duration needs --rate REQUESTS_PER_SECOND");
    return {make_phase(*rate, *duration)};
}

void print_line(const std::string& line) {
    fmt::print("{}\n", line);
    std::fflush(stdout);  // progress as it happens, also into a pipe
}

int run(int argc, char** argv) {
    CLI::App app{"lamina-load: open-loop HTTP load generator (one GET per new connection)"};
    app.footer(kFooter);
    std::string url_text;
    std::optional<std::string> schedule;
    std::optional<double> rate;
    std::optional<double> duration;
    double timeout_seconds = 30;
    bool json = false;
    bool quiet = false;
    app.add_option("URL", url_text, "http://HOST[:PORT]/path")->required();
    app.add_option("--schedule", schedule, "phases RATE:SECONDS[,RATE:SECONDS...]; rate 0 is idle");
    app.add_option("--rate", rate, "requests per second (with --duration)");
    app.add_option("--duration", duration, "seconds to send at --rate");
    app.add_option("--timeout", timeout_seconds, "seconds a request may take from its due time")
        ->check(CLI::Range(0.001, kLongestPhaseSeconds))
        ->capture_default_str();
    app.add_flag("--json", json, "print JSON lines");
    app.add_flag("--quiet", quiet, "print only the summary");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        return app.exit(error) == 0 ? EXIT_SUCCESS : kExitUsage;
    }

    RunOptions options;
    try {
        options.url = parse_http_url(url_text);
        options.phases = phases_from(schedule, rate, duration);
    } catch (const std::invalid_argument& error) {
        throw UsageError(error.what());
    }
    options.timeout = std::chrono::duration<double>(timeout_seconds);

    raise_file_limit();
    const RunObserver observer{
        .on_start =
            [&] {
                if (quiet || json) return;
                const std::uint64_t requests = total_requests(options.phases);
                print_line(fmt::format("lamina-load: GET http://{}{}  {} request{} over {:g} s, timeout {:g} s",
                                       options.url.authority(), options.url.target, requests, requests == 1 ? "" : "s",
                                       total_seconds(options.phases), timeout_seconds));
            },
        .on_second =
            [&](const SecondReport& report) {
                if (!quiet) print_line(json ? second_json(report).dump() : format_second(report));
            },
    };
    const Summary summary = run_load(options, observer);
    print_line(json ? summary_json(summary).dump() : format_summary(summary));
    return summary.errors() == 0 ? EXIT_SUCCESS : kExitFailed;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const UsageError& error) {
        fmt::print(stderr, "lamina-load: {}\n", error.what());
        return kExitUsage;
    } catch (const std::exception& error) {
        fmt::print(stderr, "lamina-load: {}\n", error.what());
        return kExitFailed;
    }
}
