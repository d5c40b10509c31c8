#include "views.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "pin_list.hpp"
#include "table.hpp"
#include "units.hpp"

namespace lamina::cli {

namespace {

constexpr int kSecondsDecimals = 3;
constexpr double kNanosecondsPerMillisecond = 1e6;
constexpr double kMillisecondsPerSecond = 1e3;

// `scaling-log --follow`: minimum widths of TIME(s), SERVICE, ACTION and VM.
// Service names have at most 15 characters, replicas two more ("-N"); the
// longest action is cannot_meet_objective.
constexpr std::size_t kLogTimeWidth = 9;
constexpr std::size_t kLogServiceWidth = 15;
constexpr std::size_t kLogActionWidth = 21;
constexpr std::size_t kLogVmWidth = 17;

[[nodiscard]] std::string cap_text(std::uint64_t cap_percent) {
    return cap_percent == 0 ? std::string("-") : fmt::format("{}%", cap_percent);
}

[[nodiscard]] std::string seconds_text(std::uint64_t nanoseconds) {
    return fixed_seconds(nanoseconds, kSecondsDecimals);
}

// "mmio=3 wfi=2": the reasons that occurred, so the column stays short.
[[nodiscard]] std::string exit_reasons_text(const VcpuStats& vcpu) {
    std::vector<std::string> parts;
    for (const auto& [reason, count] : vcpu.exits)
        if (count != 0) parts.push_back(fmt::format("{}={}", reason, count));
    return fmt::format("{}", fmt::join(parts, " "));
}

[[nodiscard]] std::string render_vm_table(const StatsSnapshot& stats) {
    Table table({{"VM"},
                 {"STATE"},
                 {"UPTIME(s)", Align::kRight},
                 {"RUN(s)", Align::kRight},
                 {"STEAL(s)", Align::kRight},
                 {"EXITS", Align::kRight},
                 {"MEMORY(MiB)", Align::kRight},
                 {"BALLOON TARGET(MiB)", Align::kRight},
                 {"BALLOONED(MiB)", Align::kRight}});
    for (const VmStats& vm : stats.vms) {
        const VmTotals totals = totals_of(vm);
        table.add_row({vm.name, vm.state, seconds_text(vm.uptime_ns), seconds_text(totals.run_ns),
                       seconds_text(totals.steal_ns), std::to_string(totals.exits), std::to_string(vm.assigned_mib),
                       std::to_string(vm.balloon_target_mib), std::to_string(vm.ballooned_mib)});
    }
    return table.render();
}

[[nodiscard]] std::string render_vcpu_table(const StatsSnapshot& stats) {
    Table table({{"VM"},
                 {"VCPU", Align::kRight},
                 {"STATE"},
                 {"RUN(s)", Align::kRight},
                 {"STEAL(s)", Align::kRight},
                 {"EXITS", Align::kRight},
                 {"IRQS", Align::kRight},
                 {"EXITS BY REASON"}});
    for (const VmStats& vm : stats.vms)
        for (const VcpuStats& vcpu : vm.vcpus)
            table.add_row({vm.name, std::to_string(vcpu.index), vcpu.state, seconds_text(vcpu.run_ns),
                           seconds_text(vcpu.steal_ns), std::to_string(vcpu.total_exits()),
                           std::to_string(vcpu.interrupts_injected), exit_reasons_text(vcpu)});
    return table.empty() ? std::string() : table.render();
}

[[nodiscard]] std::string render_nic_table(const StatsSnapshot& stats) {
    Table table({{"VM"},
                 {"NIC"},
                 {"RX PACKETS", Align::kRight},
                 {"RX BYTES", Align::kRight},
                 {"TX PACKETS", Align::kRight},
                 {"TX BYTES", Align::kRight},
                 {"DROPS", Align::kRight}});
    for (const VmStats& vm : stats.vms)
        for (const NicStats& nic : vm.nics)
            table.add_row({vm.name, nic.name, std::to_string(nic.rx_packets), std::to_string(nic.rx_bytes),
                           std::to_string(nic.tx_packets), std::to_string(nic.tx_bytes), std::to_string(nic.drops)});
    return table.empty() ? std::string() : table.render();
}

[[nodiscard]] std::string render_disk_table(const StatsSnapshot& stats) {
    Table table({{"VM"},
                 {"DISK"},
                 {"READS", Align::kRight},
                 {"WRITES", Align::kRight},
                 {"READ BYTES", Align::kRight},
                 {"WRITE BYTES", Align::kRight},
                 {"FLUSHES", Align::kRight},
                 {"ERRORS", Align::kRight}});
    for (const VmStats& vm : stats.vms)
        for (const DiskStats& disk : vm.disks)
            table.add_row({vm.name, disk.name, std::to_string(disk.reads), std::to_string(disk.writes),
                           std::to_string(disk.read_bytes), std::to_string(disk.write_bytes),
                           std::to_string(disk.flushes), std::to_string(disk.errors)});
    return table.empty() ? std::string() : table.render();
}

// `scaling-log`'s table; `min_widths` pads the columns for --follow.
[[nodiscard]] Table scaling_log_table(const std::vector<ScalingLogEntry>& entries, bool min_widths) {
    const auto width = [min_widths](std::size_t wanted) { return min_widths ? wanted : 0; };
    Table table({{"TIME(s)", Align::kRight, width(kLogTimeWidth)},
                 {"SERVICE", Align::kLeft, width(kLogServiceWidth)},
                 {"ACTION", Align::kLeft, width(kLogActionWidth)},
                 {"VM", Align::kLeft, width(kLogVmWidth)},
                 {"DETAIL"}});
    for (const ScalingLogEntry& entry : entries)
        table.add_row({fmt::format("{:.1f}", static_cast<double>(entry.time_ms) / kMillisecondsPerSecond),
                       entry.service, entry.action, entry.vm, entry.detail});
    return table;
}

[[nodiscard]] std::string counts_text(const RequestTotals& totals) {
    return fmt::format("{} requests, {} connections, {} held, {} resets, {} timeouts", totals.requests,
                       totals.connections, totals.held, totals.resets, totals.timeouts);
}

[[nodiscard]] std::string window_text(const LatencyWindow& window) {
    return fmt::format("{} requests, {} req/s, p50 {} ms, p95 {} ms, p99 {} ms, {} resets, {} timeouts",
                       window.requests, rate_text(window.rate_per_s), latency_text(window, &LatencyWindow::p50_ms),
                       latency_text(window, &LatencyWindow::p95_ms), latency_text(window, &LatencyWindow::p99_ms),
                       window.resets, window.timeouts);
}

}  // namespace

std::string render_vm_list(const VmList& list) {
    Table table({{"NAME"},
                 {"ID", Align::kRight},
                 {"STATE"},
                 {"VCPUS", Align::kRight},
                 {"MEMORY(MiB)", Align::kRight},
                 {"WEIGHT", Align::kRight},
                 {"CAP", Align::kRight},
                 {"PINNED"},
                 {"BALLOON", Align::kRight},
                 {"SERVICE"},
                 {"BE"}});
    for (const VmInfo& vm : list.vms)
        table.add_row({vm.name, std::to_string(vm.id), vm.state, std::to_string(vm.vcpus),
                       std::to_string(vm.memory_mib), std::to_string(vm.weight), cap_text(vm.cap_percent),
                       format_pin_list(vm.pinned_cpus), std::to_string(vm.balloon_mib), vm.service,
                       vm.best_effort ? "yes" : ""});
    const std::string templates =
        list.templates.empty() ? std::string("none") : fmt::format("{}", fmt::join(list.templates, ", "));
    return table.render() + printable(fmt::format("templates: {}", templates)) + '\n';
}

std::string render_board(const BoardInfo& board) {
    return fmt::format(
        "cpus:          {}\n"
        "free memory:   {} MiB ({} frames)\n"
        "VMIDs free:    {}\n"
        "VM slots free: {}\n",
        board.cpus, board.free_mib, board.free_frames, board.vmids_free, board.vm_slots_free);
}

std::string describe_vm(const VmInfo& vm, std::optional<std::uint64_t> build_ns) {
    std::string line = fmt::format("{} (id {}): {}, {} vCPU{}, {} MiB, weight {}, cap {}, pinned {}", vm.name, vm.id,
                                   vm.state, vm.vcpus, vm.vcpus == 1 ? "" : "s", vm.memory_mib, vm.weight,
                                   cap_text(vm.cap_percent), format_pin_list(vm.pinned_cpus));
    if (vm.balloon_mib != 0) line += fmt::format(", balloon {} MiB", vm.balloon_mib);
    if (vm.best_effort) line += ", best effort";
    if (!vm.service.empty()) line += fmt::format(", replica of {}", vm.service);
    if (build_ns)
        line += fmt::format("; built in {:.1f} ms", static_cast<double>(*build_ns) / kNanosecondsPerMillisecond);
    return printable(line) + '\n';
}

std::string render_stats(const StatsSnapshot& stats) {
    std::string out = fmt::format("board: {} CPUs, {} MiB free, {} VM slots free\n", stats.board.cpus,
                                  stats.board.free_mib, stats.board.vm_slots_free);
    if (stats.vms.empty()) return out + "no VMs\n";
    for (const std::string& section :
         {render_vm_table(stats), render_vcpu_table(stats), render_nic_table(stats), render_disk_table(stats)})
        if (!section.empty()) out += '\n' + section;
    return out;
}

std::string replicas_text(const ServiceInfo& service) {
    const ReplicaCounts counts = service.replica_counts();
    std::string text = fmt::format("{}/{}..{}", counts.ready, service.min_replicas, service.max_replicas);
    if (counts.booting != 0) text += fmt::format(" +{} booting", counts.booting);
    if (counts.draining != 0) text += fmt::format(" -{} draining", counts.draining);
    return text;
}

std::string objective_text(const Objective& objective) {
    return fmt::format("p{}<={:g}ms/{}s", objective.percentile, objective.latency_ms, objective.window_s);
}

std::string status_text(const ServiceInfo& service) {
    return service.reason.empty() ? service.status : fmt::format("{} ({})", service.status, service.reason);
}

std::string latency_text(const LatencyWindow& window, double LatencyWindow::*percentile) {
    return window.requests == 0 ? std::string("-") : fmt::format("{:.1f}", window.*percentile);
}

std::string rate_text(double per_second) { return fmt::format("{:.1f}", per_second); }

std::string render_services(const std::vector<ServiceInfo>& services) {
    if (services.empty()) return "no services\n";
    Table table({{"SERVICE"},
                 {"ADDRESS"},
                 {"REPLICAS"},
                 {"P50(ms)", Align::kRight},
                 {"P95(ms)", Align::kRight},
                 {"P99(ms)", Align::kRight},
                 {"OBJECTIVE"},
                 {"RATE(req/s)", Align::kRight},
                 {"ERRORS", Align::kRight},
                 {"STATUS"}});
    for (const ServiceInfo& service : services)
        table.add_row(
            {service.name, service.address, replicas_text(service),
             latency_text(service.window, &LatencyWindow::p50_ms), latency_text(service.window, &LatencyWindow::p95_ms),
             latency_text(service.window, &LatencyWindow::p99_ms), objective_text(service.objective),
             rate_text(service.window.rate_per_s), std::to_string(service.window.errors()), status_text(service)});
    return table.render();
}

std::string render_replicas(const std::vector<ServiceInfo>& services) {
    Table table({{"SERVICE"},
                 {"VM"},
                 {"ADDRESS"},
                 {"STATE"},
                 {"CONNECTIONS", Align::kRight},
                 {"OUTSTANDING", Align::kRight},
                 {"P50(ms)", Align::kRight},
                 {"P95(ms)", Align::kRight},
                 {"P99(ms)", Align::kRight},
                 {"RATE(req/s)", Align::kRight}});
    for (const ServiceInfo& service : services)
        for (const ReplicaInfo& replica : service.replicas)
            table.add_row({service.name, replica.vm, replica.address, replica.state,
                           std::to_string(replica.connections), std::to_string(replica.outstanding),
                           latency_text(replica.window, &LatencyWindow::p50_ms),
                           latency_text(replica.window, &LatencyWindow::p95_ms),
                           latency_text(replica.window, &LatencyWindow::p99_ms), rate_text(replica.window.rate_per_s)});
    return table.empty() ? std::string("no replicas\n") : table.render();
}

std::string render_service_details(const ServiceInfo& service) {
    const ReplicaCounts counts = service.replica_counts();
    const std::pair<std::string_view, std::string> lines[] = {
        {"service", service.name},
        {"address", fmt::format("{} on network {}", service.address, service.network)},
        {"replicas",
         fmt::format("{} ready, {} booting, {} draining (min {}, max {}) from template {}, addresses from {}",
                     counts.ready, counts.booting, counts.draining, service.min_replicas, service.max_replicas,
                     service.template_name, service.replica_addresses)},
        {"objective",
         fmt::format("{}: {} % of the requests of the last {} s within {:g} ms", objective_text(service.objective),
                     service.objective.percentile, service.objective.window_s, service.objective.latency_ms)},
        {"scaling", fmt::format("up after {} s over the objective, down after {} s under half of it; "
                                "drain grace {} s",
                                service.scale_up_window_s, service.scale_down_window_s, service.drain_grace_s)},
        {"status", status_text(service)},
        {"window", window_text(service.window)},
        {"totals", counts_text(service.totals)},
    };
    std::string out;
    for (const auto& [label, value] : lines)
        out += printable(fmt::format("{:<11}{}", fmt::format("{}:", label), value)) + '\n';
    return out + '\n' + render_replicas({service});
}

std::string describe_service(const ServiceInfo& service) {
    return printable(fmt::format("{}: {} on {} from template {}, replicas {}, objective {}, {}", service.name,
                                 service.address, service.network, service.template_name, replicas_text(service),
                                 objective_text(service.objective), status_text(service))) +
           '\n';
}

std::string render_scaling_log(const std::vector<ScalingLogEntry>& entries) {
    if (entries.empty()) return "no scaling-log entries\n";
    return scaling_log_table(entries, false).render();
}

std::string render_scaling_log_rows(const std::vector<ScalingLogEntry>& entries, bool heading) {
    const Table table = scaling_log_table(entries, true);
    return heading ? table.render() : table.render_rows();
}

}  // namespace lamina::cli
