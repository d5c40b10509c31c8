#include "top_view.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "table.hpp"
#include "units.hpp"
#include "views.hpp"

namespace lamina::cli {

namespace {

struct Sample {
    std::uint64_t uptime_ns{0};
    VmTotals totals;
};

[[nodiscard]] Sample sample_of(const VmStats& vm) { return {vm.uptime_ns, totals_of(vm)}; }

// The earlier sample of the same VM, or a zero sample at its start.
[[nodiscard]] Sample baseline_for(const StatsSnapshot* previous, const VmStats& vm) {
    if (previous == nullptr) return {};
    const auto found = std::find_if(previous->vms.begin(), previous->vms.end(),
                                    [&](const VmStats& earlier) { return earlier.name == vm.name; });
    if (found == previous->vms.end() || found->uptime_ns > vm.uptime_ns) return {};
    return sample_of(*found);
}

// Per second of `elapsed_ns`; 0 when no time passed or the counter went back.
[[nodiscard]] double rate(std::uint64_t earlier, std::uint64_t later, std::uint64_t elapsed_ns) {
    if (elapsed_ns == 0 || later < earlier) return 0;
    return static_cast<double>(later - earlier) * kNanosecondsPerSecond / static_cast<double>(elapsed_ns);
}

[[nodiscard]] VmRates rates_between(const Sample& earlier, const Sample& later) {
    const std::uint64_t elapsed = later.uptime_ns - earlier.uptime_ns;
    const auto per_second = [&](std::uint64_t VmTotals::*field) {
        return rate(earlier.totals.*field, later.totals.*field, elapsed);
    };
    VmRates rates;
    // run_ns per second of wall time, as a percentage: 1e9 ns/s is 100 %.
    constexpr double kPercentPerNanosecondPerSecond = 100.0 / kNanosecondsPerSecond;
    rates.cpu_percent = per_second(&VmTotals::run_ns) * kPercentPerNanosecondPerSecond;
    rates.steal_percent = per_second(&VmTotals::steal_ns) * kPercentPerNanosecondPerSecond;
    rates.exits_per_second = per_second(&VmTotals::exits);
    rates.rx_bytes_per_second = per_second(&VmTotals::rx_bytes);
    rates.tx_bytes_per_second = per_second(&VmTotals::tx_bytes);
    rates.read_bytes_per_second = per_second(&VmTotals::read_bytes);
    rates.write_bytes_per_second = per_second(&VmTotals::write_bytes);
    return rates;
}

[[nodiscard]] std::string byte_rate(double bytes_per_second) { return human_bytes(bytes_per_second) + "/s"; }

// A service's row: replicas by state, connections and outstanding requests
// summed over its replicas, the window's figures, objective and status.
[[nodiscard]] std::vector<std::string> service_row(const ServiceInfo& service) {
    const ReplicaCounts counts = service.replica_counts();
    std::uint64_t connections = 0;
    std::uint64_t outstanding = 0;
    for (const ReplicaInfo& replica : service.replicas) {
        connections += replica.connections;
        outstanding += replica.outstanding;
    }
    const LatencyWindow& window = service.window;
    return {service.name,
            std::to_string(counts.ready),
            std::to_string(counts.booting),
            std::to_string(counts.draining),
            std::to_string(connections),
            std::to_string(outstanding),
            latency_text(window, &LatencyWindow::p50_ms),
            latency_text(window, &LatencyWindow::p95_ms),
            latency_text(window, &LatencyWindow::p99_ms),
            rate_text(window.rate_per_s),
            std::to_string(window.errors()),
            objective_text(service.objective),
            status_text(service)};
}

// A replica's row, indented under its service; its state goes under STATUS.
[[nodiscard]] std::vector<std::string> replica_row(const ReplicaInfo& replica) {
    const LatencyWindow& window = replica.window;
    return {"  " + replica.vm,
            "",
            "",
            "",
            std::to_string(replica.connections),
            std::to_string(replica.outstanding),
            latency_text(window, &LatencyWindow::p50_ms),
            latency_text(window, &LatencyWindow::p95_ms),
            latency_text(window, &LatencyWindow::p99_ms),
            rate_text(window.rate_per_s),
            std::to_string(window.errors()),
            "",
            replica.state};
}

[[nodiscard]] std::string render_services_section(const std::vector<ServiceInfo>& services) {
    Table table({{"SERVICE"},
                 {"READY", Align::kRight},
                 {"BOOT", Align::kRight},
                 {"DRAIN", Align::kRight},
                 {"CONN", Align::kRight},
                 {"OUT", Align::kRight},
                 {"P50(ms)", Align::kRight},
                 {"P95(ms)", Align::kRight},
                 {"P99(ms)", Align::kRight},
                 {"REQ/s", Align::kRight},
                 {"ERRORS", Align::kRight},
                 {"OBJECTIVE"},
                 {"STATUS"}});
    for (const ServiceInfo& service : services) {
        table.add_row(service_row(service));
        for (const ReplicaInfo& replica : service.replicas) table.add_row(replica_row(replica));
    }
    return table.render();
}

}  // namespace

std::vector<VmRates> compute_rates(const StatsSnapshot* previous, const StatsSnapshot& current) {
    std::vector<VmRates> all;
    for (const VmStats& vm : current.vms) {
        VmRates rates = rates_between(baseline_for(previous, vm), sample_of(vm));
        rates.name = vm.name;
        rates.state = vm.state;
        rates.memory_mib = vm.assigned_mib;
        all.push_back(std::move(rates));
    }
    return all;
}

void keep_latest_entries(std::vector<ScalingLogEntry>& kept, const std::vector<ScalingLogEntry>& fresh,
                         std::size_t count) {
    for (const ScalingLogEntry& entry : fresh) {
        const bool known = std::any_of(kept.begin(), kept.end(),
                                       [&](const ScalingLogEntry& earlier) { return earlier.seq == entry.seq; });
        if (!known) kept.push_back(entry);
    }
    if (kept.size() > count) kept.erase(kept.begin(), kept.end() - static_cast<std::ptrdiff_t>(count));
}

std::string render_top_frame(const StatsSnapshot& current, const std::vector<VmRates>& rates,
                             const std::vector<ScalingLogEntry>& recent_log) {
    std::string out = fmt::format("lamina top: {} CPUs, {} MiB free, {} VM slots free, {} VMs\n\n", current.board.cpus,
                                  current.board.free_mib, current.board.vm_slots_free, current.vms.size());
    Table table({{"NAME"},
                 {"STATE"},
                 {"CPU%", Align::kRight},
                 {"STEAL%", Align::kRight},
                 {"EXITS/s", Align::kRight},
                 {"MEM(MiB)", Align::kRight},
                 {"NET RX", Align::kRight},
                 {"NET TX", Align::kRight},
                 {"DISK READ", Align::kRight},
                 {"DISK WRITE", Align::kRight}});
    for (const VmRates& vm : rates)
        table.add_row({vm.name, vm.state, fmt::format("{:.1f}", vm.cpu_percent),
                       fmt::format("{:.1f}", vm.steal_percent), fmt::format("{:.0f}", vm.exits_per_second),
                       std::to_string(vm.memory_mib), byte_rate(vm.rx_bytes_per_second),
                       byte_rate(vm.tx_bytes_per_second), byte_rate(vm.read_bytes_per_second),
                       byte_rate(vm.write_bytes_per_second)});
    out += table.render();
    if (!current.services) return out;  // a Lamina without services
    if (!current.services->empty()) out += '\n' + render_services_section(*current.services);
    if (!recent_log.empty()) out += '\n' + render_scaling_log(recent_log);
    return out;
}

}  // namespace lamina::cli
