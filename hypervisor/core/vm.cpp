#include "core/vm.hpp"

#include <algorithm>
#include <cstring>

namespace lamina {

void Vm::set_name(std::string_view name) {
    name_length_ = std::min(name.size(), name_.size());
    std::copy_n(name.begin(), name_length_, name_.begin());
}

std::optional<HostPhysAddr> Vm::host_address(GuestPhysAddr address) const {
    for (std::size_t i = 0; i < extent_count; ++i) {
        const MemoryExtent& extent = extents[i];
        if (GuestPhysRange{extent.guest, extent.size}.contains(address))
            return extent.host + (address - extent.guest);
    }
    return std::nullopt;
}

Status Vm::copy_to_guest(GuestPhysAddr destination, ByteSpan bytes) {
    if (!ram.contains(GuestPhysRange{destination, bytes.size()})) return Error{"copy outside guest RAM"};
    while (!bytes.empty()) {
        const auto host = host_address(destination);
        if (!host) return Error{"guest RAM has no backing"};
        // Stay within one extent per step.
        std::uint64_t chunk = bytes.size();
        for (std::size_t i = 0; i < extent_count; ++i) {
            const MemoryExtent& extent = extents[i];
            if (GuestPhysRange{extent.guest, extent.size}.contains(destination))
                chunk = std::min<std::uint64_t>(chunk, extent.size - (destination - extent.guest));
        }
        std::memcpy(reinterpret_cast<void*>(host->value()), bytes.data(), chunk);
        arch::publish_guest_memory(host->value(), chunk);
        bytes = bytes.subspan(chunk);
        destination += chunk;
    }
    return {};
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
