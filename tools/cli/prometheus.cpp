#include "prometheus.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>

#include <fmt/format.h>

#include "units.hpp"

namespace lamina::cli {

namespace {

// The states docs/management-api.md lists. Each VM gets all of them (0 or 1)
// so a query for a state that no VM is in yields 0 rather than nothing.
constexpr std::array<std::string_view, 4> kVmStates{"created", "running", "paused", "stopping"};

[[nodiscard]] std::string escape(std::string_view text, bool escape_quotes) {
    std::string out;
    for (const char c : text) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '"' && escape_quotes) {
            out += "\\\"";
        } else {
            out += c;
        }
    }
    return out;
}

[[nodiscard]] std::string render_labels(const std::vector<Label>& labels) {
    if (labels.empty()) return {};
    std::string out = "{";
    for (std::size_t i = 0; i < labels.size(); ++i) {
        if (i > 0) out += ',';
        out += fmt::format("{}=\"{}\"", labels[i].name, escape_label_value(labels[i].value));
    }
    return out + '}';
}

[[nodiscard]] std::string_view type_name(MetricType type) { return type == MetricType::kCounter ? "counter" : "gauge"; }

[[nodiscard]] MetricFamily family(std::string name, std::string help, MetricType type) {
    return {std::move(name), std::move(help), type, {}};
}

[[nodiscard]] std::string mib_in_bytes(std::uint64_t mib) { return std::to_string(mib * kBytesPerMiB); }

[[nodiscard]] std::vector<MetricFamily> vcpu_families(const StatsSnapshot& stats) {
    auto run = family("lamina_vcpu_run_seconds_total", "Time the vCPU ran on a physical CPU.", MetricType::kCounter);
    auto steal = family("lamina_vcpu_steal_seconds_total", "Time the vCPU was runnable but waited for a physical CPU.",
                        MetricType::kCounter);
    auto exits = family("lamina_vcpu_exits_total", "Exits from the guest to Lamina, by reason.", MetricType::kCounter);
    auto interrupts = family("lamina_vcpu_interrupts_injected_total", "Virtual interrupts injected into the vCPU.",
                             MetricType::kCounter);
    for (const VmStats& vm : stats.vms) {
        for (const VcpuStats& vcpu : vm.vcpus) {
            const std::vector<Label> labels{{"vm", vm.name}, {"vcpu", std::to_string(vcpu.index)}};
            run.samples.push_back({labels, exact_seconds(vcpu.run_ns)});
            steal.samples.push_back({labels, exact_seconds(vcpu.steal_ns)});
            for (const auto& [reason, count] : vcpu.exits) {
                std::vector<Label> with_reason = labels;
                with_reason.push_back({"reason", reason});
                exits.samples.push_back({std::move(with_reason), std::to_string(count)});
            }
            interrupts.samples.push_back({labels, std::to_string(vcpu.interrupts_injected)});
        }
    }
    return {run, steal, exits, interrupts};
}

[[nodiscard]] std::vector<Sample> state_samples(const VmStats& vm) {
    std::vector<Sample> samples;
    for (const std::string_view state : kVmStates)
        samples.push_back({{{"vm", vm.name}, {"state", std::string(state)}}, vm.state == state ? "1" : "0"});
    if (std::find(kVmStates.begin(), kVmStates.end(), vm.state) == kVmStates.end())
        samples.push_back({{{"vm", vm.name}, {"state", vm.state}}, "1"});
    return samples;
}

[[nodiscard]] std::vector<MetricFamily> vm_families(const StatsSnapshot& stats) {
    auto state = family("lamina_vm_state", "1 for the VM's current state, 0 for the others.", MetricType::kGauge);
    auto uptime = family("lamina_vm_uptime_seconds", "Time since the VM was started.", MetricType::kGauge);
    auto assigned = family("lamina_vm_memory_assigned_bytes", "Memory assigned to the VM.", MetricType::kGauge);
    auto target = family("lamina_vm_memory_balloon_target_bytes", "Memory the balloon asks the guest to keep.",
                         MetricType::kGauge);
    auto ballooned = family("lamina_vm_memory_ballooned_bytes", "Memory the guest gave back through its balloon.",
                            MetricType::kGauge);
    for (const VmStats& vm : stats.vms) {
        const std::vector<Label> labels{{"vm", vm.name}};
        for (Sample& sample : state_samples(vm)) state.samples.push_back(std::move(sample));
        uptime.samples.push_back({labels, exact_seconds(vm.uptime_ns)});
        assigned.samples.push_back({labels, mib_in_bytes(vm.assigned_mib)});
        target.samples.push_back({labels, mib_in_bytes(vm.balloon_target_mib)});
        ballooned.samples.push_back({labels, mib_in_bytes(vm.ballooned_mib)});
    }
    return {state, uptime, assigned, target, ballooned};
}

template <typename Device>
struct DeviceCounter {
    std::string_view name;
    std::string_view help;
    std::uint64_t Device::*field;
};

// One counter family per field of a VM's NICs or disks, labelled by VM and
// device (`device_label` is "nic" or "disk").
template <typename Device, std::size_t N>
void add_device_families(const StatsSnapshot& stats, std::vector<Device> VmStats::*devices,
                         std::string_view device_label, const std::array<DeviceCounter<Device>, N>& counters,
                         std::vector<MetricFamily>& out) {
    for (const DeviceCounter<Device>& counter : counters) {
        auto counted = family(std::string(counter.name), std::string(counter.help), MetricType::kCounter);
        for (const VmStats& vm : stats.vms)
            for (const Device& device : vm.*devices)
                counted.samples.push_back({{{"vm", vm.name}, {std::string(device_label), device.name}},
                                           std::to_string(device.*counter.field)});
        out.push_back(std::move(counted));
    }
}

constexpr std::array<DeviceCounter<NicStats>, 5> kNicCounters{{
    {"lamina_vm_net_rx_bytes_total", "Bytes the VM received on the NIC.", &NicStats::rx_bytes},
    {"lamina_vm_net_rx_packets_total", "Packets the VM received on the NIC.", &NicStats::rx_packets},
    {"lamina_vm_net_tx_bytes_total", "Bytes the VM sent on the NIC.", &NicStats::tx_bytes},
    {"lamina_vm_net_tx_packets_total", "Packets the VM sent on the NIC.", &NicStats::tx_packets},
    {"lamina_vm_net_drops_total", "Packets dropped on the NIC.", &NicStats::drops},
}};

constexpr std::array<DeviceCounter<DiskStats>, 6> kDiskCounters{{
    {"lamina_vm_block_read_bytes_total", "Bytes the VM read from the disk.", &DiskStats::read_bytes},
    {"lamina_vm_block_write_bytes_total", "Bytes the VM wrote to the disk.", &DiskStats::write_bytes},
    {"lamina_vm_block_reads_total", "Read requests the disk served.", &DiskStats::reads},
    {"lamina_vm_block_writes_total", "Write requests the disk served.", &DiskStats::writes},
    {"lamina_vm_block_flushes_total", "Flush requests the disk served.", &DiskStats::flushes},
    {"lamina_vm_block_errors_total", "Requests the disk failed.", &DiskStats::errors},
}};

[[nodiscard]] MetricFamily board_gauge(std::string name, std::string help, std::string value) {
    auto gauge = family(std::move(name), std::move(help), MetricType::kGauge);
    gauge.samples.push_back({{}, std::move(value)});
    return gauge;
}

[[nodiscard]] std::vector<MetricFamily> board_families(const BoardInfo& board) {
    return {
        board_gauge("lamina_board_cpus", "Physical CPUs Lamina runs VMs on.", std::to_string(board.cpus)),
        board_gauge("lamina_board_free_memory_bytes", "Memory not assigned to any VM.", mib_in_bytes(board.free_mib)),
        board_gauge("lamina_board_vmids_free", "Stage-2 VMIDs still free.", std::to_string(board.vmids_free)),
        board_gauge("lamina_board_vm_slots_free", "VMs that can still be created.",
                    std::to_string(board.vm_slots_free))};
}

// Milliseconds (with Lamina's three decimals) as seconds, without trailing
// zeros: 12.1 -> "0.0121". No request in the window: NaN, as a summary
// without observations has.
[[nodiscard]] std::string milliseconds_in_seconds(double milliseconds) {
    std::string text = fmt::format("{:.6f}", milliseconds / 1000.0);
    text.erase(text.find_last_not_of('0') + 1);
    if (text.back() == '.') text.pop_back();
    return text;
}

[[nodiscard]] std::string window_latency(const LatencyWindow& window, double LatencyWindow::*percentile) {
    return window.requests == 0 ? std::string("NaN") : milliseconds_in_seconds(window.*percentile);
}

[[nodiscard]] std::string rate_value(double per_second) {
    std::string text = fmt::format("{:.3f}", per_second);
    text.erase(text.find_last_not_of('0') + 1);
    if (text.back() == '.') text.pop_back();
    return text;
}

struct Quantile {
    std::string_view label;
    double LatencyWindow::*field;
};

constexpr std::array<Quantile, 3> kQuantiles{{
    {"0.5", &LatencyWindow::p50_ms},
    {"0.95", &LatencyWindow::p95_ms},
    {"0.99", &LatencyWindow::p99_ms},
}};

void add_latency_samples(MetricFamily& family, const std::vector<Label>& labels, const LatencyWindow& window) {
    for (const Quantile& quantile : kQuantiles) {
        std::vector<Label> with_quantile = labels;
        with_quantile.push_back({"quantile", std::string(quantile.label)});
        family.samples.push_back({std::move(with_quantile), window_latency(window, quantile.field)});
    }
}

[[nodiscard]] std::vector<MetricFamily> service_families(const std::vector<ServiceInfo>& services) {
    auto latency =
        family("lamina_service_latency_seconds",
               "Request latency of the service at the quantile, over its objective's window.", MetricType::kGauge);
    auto requests = family("lamina_service_requests_total", "Requests the service answered.", MetricType::kCounter);
    auto errors =
        family("lamina_service_errors_total",
               "Failed requests of the service: reset connections, or unanswered for 30 s.", MetricType::kCounter);
    auto rate =
        family("lamina_service_request_rate", "Requests per second over the objective's window.", MetricType::kGauge);
    auto replicas = family("lamina_service_replicas", "Replicas of the service by state (draining counts stopping).",
                           MetricType::kGauge);
    auto objective = family("lamina_service_objective_seconds",
                            "Latency the objective's percentile of requests must stay within.", MetricType::kGauge);
    auto met = family("lamina_service_objective_met",
                      "1 while the service meets its objective, 0 when its window's latency is above it or Lamina "
                      "cannot meet it.",
                      MetricType::kGauge);
    for (const ServiceInfo& service : services) {
        const std::vector<Label> labels{{"service", service.name}};
        add_latency_samples(latency, labels, service.window);
        requests.samples.push_back({labels, std::to_string(service.totals.requests)});
        errors.samples.push_back(
            {{{"service", service.name}, {"kind", "reset"}}, std::to_string(service.totals.resets)});
        errors.samples.push_back(
            {{{"service", service.name}, {"kind", "timeout"}}, std::to_string(service.totals.timeouts)});
        rate.samples.push_back({labels, rate_value(service.window.rate_per_s)});
        const ReplicaCounts counts = service.replica_counts();
        for (const auto& [state, count] : {std::pair{"ready", counts.ready}, std::pair{"booting", counts.booting},
                                           std::pair{"draining", counts.draining}})
            replicas.samples.push_back({{{"service", service.name}, {"state", state}}, std::to_string(count)});
        objective.samples.push_back({labels, milliseconds_in_seconds(service.objective.latency_ms)});
        met.samples.push_back({labels, service.objective_met() ? "1" : "0"});
    }
    return {latency, requests, errors, rate, replicas, objective, met};
}

[[nodiscard]] std::vector<MetricFamily> replica_families(const std::vector<ServiceInfo>& services) {
    auto latency = family("lamina_replica_latency_seconds",
                          "Request latency of the replica at the quantile, over its service's objective window.",
                          MetricType::kGauge);
    auto requests = family("lamina_replica_requests_total", "Requests the replica answered.", MetricType::kCounter);
    auto outstanding =
        family("lamina_replica_outstanding", "Requests the replica has yet to answer.", MetricType::kGauge);
    for (const ServiceInfo& service : services) {
        for (const ReplicaInfo& replica : service.replicas) {
            const std::vector<Label> labels{{"service", service.name}, {"vm", replica.vm}};
            add_latency_samples(latency, labels, replica.window);
            requests.samples.push_back({labels, std::to_string(replica.totals.requests)});
            outstanding.samples.push_back({labels, std::to_string(replica.outstanding)});
        }
    }
    return {latency, requests, outstanding};
}

}  // namespace

std::string escape_label_value(std::string_view value) { return escape(value, true); }

std::string escape_help(std::string_view help) { return escape(help, false); }

std::string render_family(const MetricFamily& family) {
    std::string out = fmt::format("# HELP {} {}\n# TYPE {} {}\n", family.name, escape_help(family.help), family.name,
                                  type_name(family.type));
    for (const Sample& sample : family.samples)
        out += fmt::format("{}{} {}\n", family.name, render_labels(sample.labels), sample.value);
    return out;
}

std::vector<MetricFamily> collect_metrics(const StatsSnapshot& stats, const BoardInfo& board) {
    std::vector<MetricFamily> families = vcpu_families(stats);
    for (MetricFamily& vm_family : vm_families(stats)) families.push_back(std::move(vm_family));
    add_device_families(stats, &VmStats::nics, "nic", kNicCounters, families);
    add_device_families(stats, &VmStats::disks, "disk", kDiskCounters, families);
    for (MetricFamily& board_family : board_families(board)) families.push_back(std::move(board_family));
    if (stats.services) {  // a Lamina with services (docs/services.md)
        for (MetricFamily& service_family : service_families(*stats.services))
            families.push_back(std::move(service_family));
        for (MetricFamily& replica_family : replica_families(*stats.services))
            families.push_back(std::move(replica_family));
    }
    return families;
}

std::string render_prometheus(const StatsSnapshot& stats, const BoardInfo& board) {
    std::string out;
    for (const MetricFamily& metric_family : collect_metrics(stats, board)) out += render_family(metric_family);
    return out;
}

}  // namespace lamina::cli
