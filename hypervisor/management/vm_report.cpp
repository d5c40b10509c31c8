#include "management/vm_report.hpp"

#include <array>
#include <bit>

#include "arch/arch.hpp"
#include "core/memory.hpp"
#include "core/per_cpu.hpp"
#include "core/stolen_time.hpp"
#include "core/vm_manager.hpp"

namespace lamina::management {
namespace {

constexpr std::array<const char*, static_cast<std::size_t>(ExitReason::count)> kExitNames{
    "hypercall", "wfi", "wfe", "mmio", "interrupt", "system_register", "fault"};

const char* vcpu_state_name(const Vcpu& vcpu) {
    switch (vcpu.run_state) {
        case VcpuRunState::stopped: return "off";
        case VcpuRunState::runnable: return "runnable";
        case VcpuRunState::running: return "running";
        case VcpuRunState::waiting: return "idle";
        case VcpuRunState::paused: return "paused";
    }
    return "unknown";
}

std::uint64_t to_ns(std::uint64_t ticks) { return stolen_time::ticks_to_ns(ticks, arch::counter_frequency()); }

void write_cpu_list(json::JsonWriter& out, std::uint64_t mask) {
    out.begin_array();
    for (std::uint64_t rest = mask; rest != 0; rest &= rest - 1) out.value(std::countr_zero(rest));
    out.end_array();
}

// Run time includes the current stint of a vCPU on a CPU right now.
std::uint64_t run_ticks_now(const Vcpu& vcpu, std::uint64_t now) {
    const VcpuStatistics& statistics = vcpu.statistics;
    const std::uint64_t current = vcpu.run_state == VcpuRunState::running ? now - statistics.state_since : 0;
    return statistics.run_ticks + current;
}

std::uint64_t steal_ticks_now(const Vcpu& vcpu, std::uint64_t now) {
    const VcpuStatistics& statistics = vcpu.statistics;
    const std::uint64_t current = vcpu.run_state == VcpuRunState::runnable ? now - statistics.state_since : 0;
    return statistics.runnable_ticks + current;
}

void write_vcpu(json::JsonWriter& out, const Vcpu& vcpu, std::uint64_t now) {
    out.begin_object();
    out.member("index", vcpu.index);
    out.member("state", vcpu_state_name(vcpu));
    out.member("run_ns", to_ns(run_ticks_now(vcpu, now)));
    out.member("steal_ns", to_ns(steal_ticks_now(vcpu, now)));
    out.key("exits");
    out.begin_object();
    for (std::size_t reason = 0; reason < kExitNames.size(); ++reason)
        out.member(kExitNames[reason], vcpu.statistics.exits[reason]);
    out.end_object();
    out.member("interrupts_injected", vcpu.statistics.interrupts_injected);
    out.end_object();
}

void write_nics(json::JsonWriter& out, Vm& vm) {
    out.begin_array();
    for (std::uint32_t i = 0; i < vm.spec.nic_count; ++i) {
        const VirtioNetStats stats = vm.nics[i].stats();
        out.begin_object();
        out.member("rx_packets", stats.rx_packets);
        out.member("rx_bytes", stats.rx_bytes);
        out.member("tx_packets", stats.tx_packets);
        out.member("tx_bytes", stats.tx_bytes);
        out.member("drops", stats.rx_dropped);
        out.member("errors", stats.rx_errors + stats.tx_errors);
        out.end_object();
    }
    out.end_array();
}

void write_disks(json::JsonWriter& out, Vm& vm) {
    out.begin_array();
    for (std::uint32_t i = 0; i < vm.spec.disk_count; ++i) {
        const VirtioBlockStatistics stats = vm.disks[i].device.statistics();
        out.begin_object();
        out.member("reads", stats.read_requests);
        out.member("writes", stats.write_requests);
        out.member("read_bytes", stats.bytes_read);
        out.member("write_bytes", stats.bytes_written);
        out.member("flushes", stats.flushes);
        out.member("errors", stats.errors);
        out.end_object();
    }
    out.end_array();
}

}  // namespace

const char* state_name(const Vm& vm) {
    switch (vm.state) {
        case VmState::free: return "free";
        case VmState::creating: return "creating";
        case VmState::running: return vm.started ? "running" : "created";
        case VmState::paused: return "paused";
        case VmState::stopping: return "stopping";
    }
    return "unknown";
}

std::uint64_t ballooned_mib(const Vm& vm) { return vm.reclaimed_bytes / MiB; }

void write_vm(json::JsonWriter& out, const Vm& vm) {
    out.begin_object();
    out.member("name", vm.name());
    out.member("id", vm.id);
    out.member("state", state_name(vm));
    out.member("vcpus", vm.vcpu_count);
    out.member("memory_mib", vm.ram.size / MiB);
    out.member("weight", vm.vcpu_count == 0 ? vm.spec.weight : vm.vcpus[0].scheduling.weight);
    out.member("cap_percent", vm.share_group.cap_percent);
    out.key("pinned_cpus");
    write_cpu_list(out, vm.spec.pinned_cpu_mask);
    out.member("balloon_mib", ballooned_mib(vm));
    out.member("best_effort", vm.spec.best_effort);
    if (!vm.service.empty()) out.member("service", vm.service);
    out.end_object();
}

void write_board(json::JsonWriter& out) {
    const std::size_t free_frames = frame_allocator().free_frames();
    out.begin_object();
    out.member("cpus", online_cpu_count());
    out.member("free_mib", free_frames * kPageSize / MiB);
    out.member("free_frames", free_frames);
    out.member("vmids_free", arch::free_vmid_count());
    out.member("vm_slots_free", vm_manager::free_slot_count());
    out.end_object();
}

void write_vm_statistics(json::JsonWriter& out, Vm& vm) {
    const std::uint64_t now = arch::counter_now();
    out.begin_object();
    out.member("name", vm.name());
    out.member("state", state_name(vm));
    out.member("uptime_ns", to_ns(now - vm.created_at));
    out.key("memory");
    out.begin_object();
    out.member("assigned_mib", (vm.ram.size - vm.reclaimed_bytes) / MiB);
    out.member("balloon_target_mib", (vm.ram.size - vm.balloon_target_bytes) / MiB);
    out.member("ballooned_mib", ballooned_mib(vm));
    out.end_object();
    out.key("vcpus");
    out.begin_array();
    for (std::uint32_t i = 0; i < vm.vcpu_count; ++i) write_vcpu(out, vm.vcpus[i], now);
    out.end_array();
    out.key("net");
    write_nics(out, vm);
    out.key("block");
    write_disks(out, vm);
    out.end_object();
}

}  // namespace lamina::management
