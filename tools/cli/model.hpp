// Lamina's reply objects (docs/management-api.md, "Objects" and
// "Statistics") as C++ values. Parsing checks types once, here, so the
// tables, `top` and the Prometheus text work on plain structs.
#pragma once

#include <cstdint>
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

struct StatsSnapshot {
    BoardInfo board;
    std::vector<VmStats> vms;
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

}  // namespace lamina::cli
