// Lamina's reply objects (docs/management-api.md, "Objects" and
// "Statistics"; docs/services.md, "Management API") as C++ values. Parsing checks types once, here, so the
// tables, `top` and the Prometheus text work on plain structs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "json_fields.hpp"

namespace lamina::cli {

struct VmInfo {
    std::string name;
    std::uint64_t id{0};
    std::string state;
    std::uint64_t vcpus{0};
    std::uint64_t memory_mib{0};
    std::uint64_t weight{0};
    std::uint64_t cap_percent{0};
    std::vector<unsigned> pinned_cpus;
    std::uint64_t balloon_mib{0};
    std::string service;      // the service this VM is a replica of; empty for other VMs
    bool best_effort{false};  // the autoscaler may lower its cap to make room for replicas
};

struct VmList {
    std::vector<VmInfo> vms;
    std::vector<std::string> templates;
};

struct BoardInfo {
    std::uint64_t cpus{0};
    std::uint64_t free_mib{0};
    std::uint64_t free_frames{0};
    std::uint64_t vmids_free{0};
    std::uint64_t vm_slots_free{0};
};

struct VcpuStats {
    std::uint64_t index{0};
    std::string state;
    std::uint64_t run_ns{0};
    std::uint64_t steal_ns{0};
    std::vector<std::pair<std::string, std::uint64_t>> exits;  // by reason, in Lamina's order
    std::uint64_t interrupts_injected{0};

    [[nodiscard]] std::uint64_t total_exits() const;
};

struct NicStats {
    std::string name;
    std::uint64_t rx_packets{0};
    std::uint64_t rx_bytes{0};
    std::uint64_t tx_packets{0};
    std::uint64_t tx_bytes{0};
    std::uint64_t drops{0};
};

struct DiskStats {
    std::string name;
    std::uint64_t reads{0};
    std::uint64_t writes{0};
    std::uint64_t read_bytes{0};
    std::uint64_t write_bytes{0};
    std::uint64_t flushes{0};
    std::uint64_t errors{0};
};

struct VmStats {
    std::string name;
    std::string state;
    std::uint64_t uptime_ns{0};
    std::uint64_t assigned_mib{0};
    std::uint64_t balloon_target_mib{0};
    std::uint64_t ballooned_mib{0};
    std::vector<VcpuStats> vcpus;
    std::vector<NicStats> nics;
    std::vector<DiskStats> disks;
};

// A service's (or a replica's) request figures: over the objective's window
// (latencies in milliseconds, the rate in requests per second)...
struct LatencyWindow {
    std::uint64_t requests{0};
    double rate_per_s{0};
    double p50_ms{0};
    double p95_ms{0};
    double p99_ms{0};
    std::uint64_t resets{0};
    std::uint64_t timeouts{0};

    [[nodiscard]] std::uint64_t errors() const { return resets + timeouts; }
};

// ...and since it started.
struct RequestTotals {
    std::uint64_t requests{0};
    std::uint64_t connections{0};
    std::uint64_t held{0};
    std::uint64_t resets{0};
    std::uint64_t timeouts{0};
};

struct ReplicaInfo {
    std::string vm;
    std::string address;
    std::string state;  // booting, ready, draining or stopping
    std::uint64_t connections{0};
    std::uint64_t outstanding{0};
    LatencyWindow window;
    RequestTotals totals;
};

// The objective holds while `percentile` of the requests of the last
// `window_s` seconds took at most `latency_ms`.
struct Objective {
    std::uint64_t percentile{0};
    double latency_ms{0};
    std::uint64_t window_s{0};
};

// Replicas by state, as `services` and `top` count them: "stopping" ones
// (powering off after draining) count as draining.
struct ReplicaCounts {
    std::uint64_t ready{0};
    std::uint64_t booting{0};
    std::uint64_t draining{0};
};

struct ServiceInfo {
    std::string name;
    std::string template_name;
    std::string network;
    std::string address;
    std::string replica_addresses;
    Objective objective;
    std::uint64_t min_replicas{0};
    std::uint64_t max_replicas{0};
    std::uint64_t scale_up_window_s{0};
    std::uint64_t scale_down_window_s{0};
    std::uint64_t drain_grace_s{0};
    std::string status;  // ok, scaling_up, scaling_down or cannot_meet_objective
    std::string reason;  // with cannot_meet_objective: at_max_replicas or board_full
    LatencyWindow window;
    RequestTotals totals;
    std::vector<ReplicaInfo> replicas;

    [[nodiscard]] ReplicaCounts replica_counts() const;
    // The window's latency at the objective's percentile: p50, p95 or p99,
    // whichever is the first at or above it (an upper bound for the others).
    [[nodiscard]] double window_latency_at_objective_ms() const;
    // False when Lamina says it cannot meet the objective, or when the
    // window's latency at the objective's percentile is above it.
    [[nodiscard]] bool objective_met() const;
};

// One decision of the autoscaler (`scaling_log`); `time_ms` is Lamina's uptime.
struct ScalingLogEntry {
    std::uint64_t seq{0};
    std::uint64_t time_ms{0};
    std::string service;
    std::string action;
    std::string vm;
    std::string detail;
};

struct StatsSnapshot {
    BoardInfo board;
    std::vector<VmStats> vms;
    // Absent from a Lamina without services (before docs/services.md).
    std::optional<std::vector<ServiceInfo>> services;
};

// Sums over a VM's vCPUs and devices, as `top` and the VM table show them.
struct VmTotals {
    std::uint64_t run_ns{0};
    std::uint64_t steal_ns{0};
    std::uint64_t exits{0};
    std::uint64_t rx_bytes{0};
    std::uint64_t tx_bytes{0};
    std::uint64_t read_bytes{0};
    std::uint64_t write_bytes{0};
};
[[nodiscard]] VmTotals totals_of(const VmStats& vm);

// Each throws MalformedReply when a field has the wrong type or a required
// one (a VM's name) is missing; absent counters read as 0.
[[nodiscard]] VmInfo parse_vm(const json& vm);
[[nodiscard]] VmList parse_vm_list(const json& list_result);
[[nodiscard]] BoardInfo parse_board(const json& board);
[[nodiscard]] StatsSnapshot parse_stats(const json& stats_result);
[[nodiscard]] ServiceInfo parse_service(const json& service);
// The result of `services`: {"services": [SERVICE...]}.
[[nodiscard]] std::vector<ServiceInfo> parse_services(const json& services_result);
// The result of `scaling_log`: {"entries": [ENTRY...]}.
[[nodiscard]] std::vector<ScalingLogEntry> parse_scaling_log(const json& scaling_log_result);

}  // namespace lamina::cli
