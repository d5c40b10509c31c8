#include "core/vm.hpp"

#include <algorithm>
#include <cstring>

namespace lamina {

void Vm::set_name(std::string_view name) {
    name_length_ = std::min(name.size(), name_.size());
    std::copy_n(name.begin(), name_length_, name_.begin());
}

const MemoryExtent* Vm::extent_of(GuestPhysAddr address) const {
    for (std::size_t i = 0; i < extent_count; ++i) {
        if (GuestPhysRange{extents[i].guest, extents[i].size}.contains(address)) return &extents[i];
    }
    return nullptr;
}

std::optional<HostPhysAddr> Vm::host_address(GuestPhysAddr address) const {
    const MemoryExtent* extent = extent_of(address);
    if (extent == nullptr) return std::nullopt;
    return extent->host + (address - extent->guest);
}

Status Vm::copy_to_guest(GuestPhysAddr destination, ByteSpan bytes) {
    if (!ram.contains(GuestPhysRange{destination, bytes.size()})) return Error{"copy outside guest RAM"};
    while (!bytes.empty()) {
        const MemoryExtent* extent = extent_of(destination);
        if (extent == nullptr) return Error{"guest RAM has no backing"};
        // Stay within one extent per step: they are not contiguous in host memory.
        const std::uint64_t offset = destination - extent->guest;
        const std::uint64_t chunk = std::min<std::uint64_t>(bytes.size(), extent->size - offset);
        const HostPhysAddr host = extent->host + offset;
        std::memcpy(reinterpret_cast<void*>(host.value()), bytes.data(), chunk);
        arch::publish_guest_memory(host.value(), chunk);
        bytes = bytes.subspan(chunk);
        destination += chunk;
    }
    return {};
}

std::optional<std::span<std::byte>> VmGuestMemory::span(GuestPhysAddr address, std::size_t length) {
    const MemoryExtent* extent = vm_.extent_of(address);
    if (extent == nullptr || length == 0) return std::nullopt;
    const std::uint64_t offset = address - extent->guest;
    if (length > extent->size - offset) return std::nullopt;  // runs past this extent
    auto* host = reinterpret_cast<std::byte*>((extent->host + offset).value());  // identity map
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
