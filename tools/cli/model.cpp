#include "model.hpp"

#include <fmt/format.h>

#include "json_fields.hpp"

namespace lamina::cli {

namespace {

[[nodiscard]] std::vector<unsigned> parse_cpu_list(const json& cpus) {
    std::vector<unsigned> list;
    for (const json& cpu : cpus) {
        if (!cpu.is_number_unsigned() || cpu.get<std::uint64_t>() > 0xffff'ffffu)
            throw MalformedReply(fmt::format("\"pinned_cpus\" holds {}, not a CPU number", dump_json(cpu)));
        list.push_back(cpu.get<unsigned>());
    }
    return list;
}

[[nodiscard]] std::vector<std::pair<std::string, std::uint64_t>> parse_exits(const json& exits) {
    std::vector<std::pair<std::string, std::uint64_t>> counts;
    for (const auto& [reason, count] : exits.items()) counts.emplace_back(reason, count_field(exits, reason));
    return counts;
}

[[nodiscard]] VcpuStats parse_vcpu(const json& vcpu, std::size_t position) {
    expect_object(vcpu, "a vCPU's statistics");
    VcpuStats stats;
    stats.index = vcpu.contains("index") ? count_field(vcpu, "index") : position;
    stats.state = text_field(vcpu, "state", "unknown");
    stats.run_ns = count_field(vcpu, "run_ns");
    stats.steal_ns = count_field(vcpu, "steal_ns");
    stats.exits = parse_exits(object_field(vcpu, "exits"));
    stats.interrupts_injected = count_field(vcpu, "interrupts_injected");
    return stats;
}

// Lamina's stats do not name NICs; the bundle tool calls them nic0, nic1...
[[nodiscard]] NicStats parse_nic(const json& nic, std::size_t position) {
    expect_object(nic, "a NIC's statistics");
    NicStats stats;
    stats.name = text_field(nic, "name", fmt::format("nic{}", position));
    stats.rx_packets = count_field(nic, "rx_packets");
    stats.rx_bytes = count_field(nic, "rx_bytes");
    stats.tx_packets = count_field(nic, "tx_packets");
    stats.tx_bytes = count_field(nic, "tx_bytes");
    stats.drops = count_field(nic, "drops");
    return stats;
}

// ...and disks vda, vdb... as the guest sees them.
[[nodiscard]] std::string default_disk_name(std::size_t position) {
    constexpr std::size_t kLetters = 26;
    if (position < kLetters) return fmt::format("vd{}", static_cast<char>('a' + position));
    return fmt::format("disk{}", position);
}

[[nodiscard]] DiskStats parse_disk(const json& disk, std::size_t position) {
    expect_object(disk, "a disk's statistics");
    DiskStats stats;
    stats.name = text_field(disk, "name", default_disk_name(position));
    stats.reads = count_field(disk, "reads");
    stats.writes = count_field(disk, "writes");
    stats.read_bytes = count_field(disk, "read_bytes");
    stats.write_bytes = count_field(disk, "write_bytes");
    stats.flushes = count_field(disk, "flushes");
    stats.errors = count_field(disk, "errors");
    return stats;
}

template <typename Item, typename Parse>
[[nodiscard]] std::vector<Item> parse_array(const json& object, std::string_view key, Parse parse) {
    std::vector<Item> items;
    const json& array = array_field(object, key);
    for (std::size_t i = 0; i < array.size(); ++i) items.push_back(parse(array[i], i));
    return items;
}

[[nodiscard]] std::string required_name(const json& object, std::string_view what) {
    std::string name = text_field(object, "name");
    if (name.empty()) throw MalformedReply(fmt::format("{} has no \"name\"", what));
    return name;
}

[[nodiscard]] VmStats parse_vm_stats(const json& vm) {
    expect_object(vm, "a VM's statistics");
    VmStats stats;
    stats.name = required_name(vm, "a VM's statistics");
    stats.state = text_field(vm, "state", "unknown");
    stats.uptime_ns = count_field(vm, "uptime_ns");
    const json& memory = object_field(vm, "memory");
    stats.assigned_mib = count_field(memory, "assigned_mib");
    stats.balloon_target_mib = count_field(memory, "balloon_target_mib");
    stats.ballooned_mib = count_field(memory, "ballooned_mib");
    stats.vcpus = parse_array<VcpuStats>(vm, "vcpus", parse_vcpu);
    stats.nics = parse_array<NicStats>(vm, "net", parse_nic);
    stats.disks = parse_array<DiskStats>(vm, "block", parse_disk);
    return stats;
}

[[nodiscard]] LatencyWindow parse_window(const json& window) {
    return {.requests = count_field(window, "requests"),
            .rate_per_s = number_field(window, "rate_per_s"),
            .p50_ms = number_field(window, "p50_ms"),
            .p95_ms = number_field(window, "p95_ms"),
            .p99_ms = number_field(window, "p99_ms"),
            .resets = count_field(window, "resets"),
            .timeouts = count_field(window, "timeouts")};
}

[[nodiscard]] RequestTotals parse_totals(const json& totals) {
    return {.requests = count_field(totals, "requests"),
            .connections = count_field(totals, "connections"),
            .held = count_field(totals, "held"),
            .resets = count_field(totals, "resets"),
            .timeouts = count_field(totals, "timeouts")};
}

[[nodiscard]] ReplicaInfo parse_replica(const json& replica) {
    expect_object(replica, "a replica");
    ReplicaInfo info;
    info.vm = text_field(replica, "vm");
    if (info.vm.empty()) throw MalformedReply("a replica has no \"vm\"");
    info.address = text_field(replica, "address");
    info.state = text_field(replica, "state", "unknown");
    info.connections = count_field(replica, "connections");
    info.outstanding = count_field(replica, "outstanding");
    info.window = parse_window(object_field(replica, "window"));
    info.totals = parse_totals(object_field(replica, "totals"));
    return info;
}

[[nodiscard]] ScalingLogEntry parse_log_entry(const json& entry) {
    expect_object(entry, "a scaling-log entry");
    return {.seq = required_count_field(entry, "seq"),
            .time_ms = count_field(entry, "time_ms"),
            .service = text_field(entry, "service"),
            .action = text_field(entry, "action"),
            .vm = text_field(entry, "vm"),
            .detail = text_field(entry, "detail")};
}

}  // namespace

ReplicaCounts ServiceInfo::replica_counts() const {
    ReplicaCounts counts;
    for (const ReplicaInfo& replica : replicas) {
        if (replica.state == "ready") {
            ++counts.ready;
        } else if (replica.state == "booting") {
            ++counts.booting;
        } else if (replica.state == "draining" || replica.state == "stopping") {
            ++counts.draining;
        }
    }
    return counts;
}

double ServiceInfo::window_latency_at_objective_ms() const {
    constexpr std::uint64_t kMedian = 50;
    constexpr std::uint64_t kP95 = 95;
    if (objective.percentile <= kMedian) return window.p50_ms;
    if (objective.percentile <= kP95) return window.p95_ms;
    return window.p99_ms;
}

bool ServiceInfo::objective_met() const {
    if (status == "cannot_meet_objective") return false;
    return window.requests == 0 || window_latency_at_objective_ms() <= objective.latency_ms;
}

std::uint64_t VcpuStats::total_exits() const {
    std::uint64_t total = 0;
    for (const auto& [reason, count] : exits) total += count;
    return total;
}

VmTotals totals_of(const VmStats& vm) {
    VmTotals totals;
    for (const VcpuStats& vcpu : vm.vcpus) {
        totals.run_ns += vcpu.run_ns;
        totals.steal_ns += vcpu.steal_ns;
        totals.exits += vcpu.total_exits();
    }
    for (const NicStats& nic : vm.nics) {
        totals.rx_bytes += nic.rx_bytes;
        totals.tx_bytes += nic.tx_bytes;
    }
    for (const DiskStats& disk : vm.disks) {
        totals.read_bytes += disk.read_bytes;
        totals.write_bytes += disk.write_bytes;
    }
    return totals;
}

VmInfo parse_vm(const json& vm) {
    expect_object(vm, "a VM");
    VmInfo info;
    info.name = required_name(vm, "a VM");
    info.id = count_field(vm, "id");
    info.state = text_field(vm, "state", "unknown");
    info.vcpus = count_field(vm, "vcpus");
    info.memory_mib = count_field(vm, "memory_mib");
    info.weight = count_field(vm, "weight");
    info.cap_percent = count_field(vm, "cap_percent");
    info.pinned_cpus = parse_cpu_list(array_field(vm, "pinned_cpus"));
    info.balloon_mib = count_field(vm, "balloon_mib");
    info.service = text_field(vm, "service");
    info.best_effort = bool_field(vm, "best_effort");
    return info;
}

VmList parse_vm_list(const json& list_result) {
    VmList list;
    for (const json& vm : array_field(list_result, "vms")) list.vms.push_back(parse_vm(vm));
    for (const json& name : array_field(list_result, "templates")) {
        if (!name.is_string()) throw MalformedReply(fmt::format("\"templates\" holds {}, not a name", dump_json(name)));
        list.templates.push_back(name.get<std::string>());
    }
    return list;
}

BoardInfo parse_board(const json& board) {
    expect_object(board, "the board");
    return {.cpus = count_field(board, "cpus"),
            .free_mib = count_field(board, "free_mib"),
            .free_frames = count_field(board, "free_frames"),
            .vmids_free = count_field(board, "vmids_free"),
            .vm_slots_free = count_field(board, "vm_slots_free")};
}

StatsSnapshot parse_stats(const json& stats_result) {
    expect_object(stats_result, "the statistics");
    StatsSnapshot snapshot;
    snapshot.board = parse_board(object_field(stats_result, "board"));
    for (const json& vm : array_field(stats_result, "vms")) snapshot.vms.push_back(parse_vm_stats(vm));
    if (stats_result.contains("services") && !stats_result["services"].is_null())
        snapshot.services = parse_services(stats_result);
    return snapshot;
}

ServiceInfo parse_service(const json& service) {
    expect_object(service, "a service");
    ServiceInfo info;
    info.name = required_name(service, "a service");
    info.template_name = text_field(service, "template");
    info.network = text_field(service, "network");
    info.address = text_field(service, "address");
    info.replica_addresses = text_field(service, "replica_addresses");
    const json& objective = object_field(service, "objective");
    info.objective = {.percentile = count_field(objective, "percentile"),
                      .latency_ms = number_field(objective, "latency_ms"),
                      .window_s = count_field(objective, "window_s")};
    info.min_replicas = count_field(service, "min_replicas");
    info.max_replicas = count_field(service, "max_replicas");
    info.scale_up_window_s = count_field(service, "scale_up_window_s");
    info.scale_down_window_s = count_field(service, "scale_down_window_s");
    info.drain_grace_s = count_field(service, "drain_grace_s");
    info.status = text_field(service, "status", "unknown");
    info.reason = text_field(service, "reason");
    info.window = parse_window(object_field(service, "window"));
    info.totals = parse_totals(object_field(service, "totals"));
    for (const json& replica : array_field(service, "replicas")) info.replicas.push_back(parse_replica(replica));
    return info;
}

std::vector<ServiceInfo> parse_services(const json& services_result) {
    expect_object(services_result, "the services");
    std::vector<ServiceInfo> services;
    for (const json& service : array_field(services_result, "services")) services.push_back(parse_service(service));
    return services;
}

std::vector<ScalingLogEntry> parse_scaling_log(const json& scaling_log_result) {
    expect_object(scaling_log_result, "the scaling log");
    std::vector<ScalingLogEntry> entries;
    for (const json& entry : array_field(scaling_log_result, "entries")) entries.push_back(parse_log_entry(entry));
    return entries;
}

}  // namespace lamina::cli
