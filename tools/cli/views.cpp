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
                 {"BALLOON", Align::kRight}});
    for (const VmInfo& vm : list.vms)
        table.add_row({vm.name, std::to_string(vm.id), vm.state, std::to_string(vm.vcpus),
                       std::to_string(vm.memory_mib), std::to_string(vm.weight), cap_text(vm.cap_percent),
                       format_pin_list(vm.pinned_cpus), std::to_string(vm.balloon_mib)});
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

}  // namespace lamina::cli
