#include "core/vm.hpp"

#include <algorithm>
#include <cstring>

namespace lamina {

void Vm::adopt_spec(const VmImageSpec& source) {
    // memmove: a restart adopts the spec this very slot held.
    name_length_ = std::min(source.name.size(), name_.size());
    std::memmove(name_.data(), source.name.data(), name_length_);
    const std::size_t cmdline_length = std::min(source.cmdline.size(), cmdline_.size());
    std::memmove(cmdline_.data(), source.cmdline.data(), cmdline_length);
    spec = source;
    spec.name = name();
    spec.cmdline = {cmdline_.data(), cmdline_length};
}

Status Vm::copy_to_guest(GuestPhysAddr destination, ByteSpan bytes) {
    if (!ram.contains(GuestPhysRange{destination, bytes.size()})) return Error{"copy outside guest RAM"};
    while (!bytes.empty()) {
        // One contiguous run of host frames per step.
        const std::uint64_t chunk = ram_map.contiguous_bytes(destination, bytes.size());
        if (chunk == 0) return Error{"guest RAM has no backing"};
        const HostPhysAddr host = *ram_map.host_address(destination);
        std::memcpy(reinterpret_cast<void*>(host.value()), bytes.data(), chunk);
        arch::publish_guest_memory(host.value(), chunk);
        bytes = bytes.subspan(chunk);
        destination += chunk;
    }
    return {};
}

std::optional<std::span<std::byte>> VmGuestMemory::span(GuestPhysAddr address, std::size_t length) {
    if (length == 0 || vm_.ram_map.contiguous_bytes(address, length) < length) return std::nullopt;
    auto* host = reinterpret_cast<std::byte*>(vm_.ram_map.host_address(address)->value());  // identity map
    return std::span<std::byte>{host, length};
}

MmioRegion* Vm::find_mmio(GuestPhysAddr address) {
    for (std::size_t i = 0; i < mmio_count; ++i) {
        if (mmio[i].range.contains(address)) return &mmio[i];
    }
    return nullptr;
}

Status Vm::add_mmio(GuestPhysRange range, MmioDevice& device) {
    if (mmio_count == mmio.size()) return Error{"too many emulated devices"};
    mmio[mmio_count++] = MmioRegion{range, &device};
    return {};
}

}  // namespace lamina

namespace lamina {

void Vcpu::reset(Vm& owner, std::uint32_t vcpu_index) {
    vm = &owner;
    index = vcpu_index;
    context = arch::VcpuContext{};
    power = VcpuPower::off;
    run_state = VcpuRunState::stopped;
    wake_deadline = 0;
    cpu.reset();
    scheduling = SchedulingEntity{};
    scheduling.owner = this;
    scheduling.group = &owner.share_group;
    scheduling.weight = owner.spec.weight == 0 ? kDefaultWeight : owner.spec.weight;
    scheduling.allowed_cpus = owner.spec.pinned_cpu_mask == 0 ? ~std::uint64_t{0} : owner.spec.pinned_cpu_mask;
    statistics = VcpuStatistics{};
    interrupts_changed.store(false, std::memory_order_relaxed);
    used_list_registers = 0;
    list_registers_emptied = false;
    timer_twin_active = false;
}

}  // namespace lamina
