#include "core/vm_manager.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <new>
#include <span>

#include "core/console.hpp"
#include "core/guest_boot.hpp"
#include "core/guest_device_tree.hpp"
#include "core/guest_layout.hpp"
#include "core/memory.hpp"
#include "core/per_cpu.hpp"
#include "core/scheduler.hpp"
#include "core/spinlock.hpp"
#include "core/stolen_time.hpp"
#include "core/vm_devices.hpp"

namespace lamina::vm_manager {
namespace {

// VM slots live in bss and are constructed at boot: constant-initialising
// them would put every device's vtable pointer (and so the whole array) in .data.
alignas(Vm) std::array<std::byte, sizeof(Vm) * kMaxVms> g_vm_storage;
std::span<Vm, kMaxVms> g_vms{reinterpret_cast<Vm*>(g_vm_storage.data()), kMaxVms};
// Guards slot states and names. Building and tearing down a VM (zeroing its
// memory) happen outside it, so a CPU finishing a stop never waits for a
// creation elsewhere.
SpinLock g_lifecycle_lock;
std::uint32_t g_next_vm_id = 1;
// One device tree is written at a time: VMs may be built on two CPUs at
// once (a guest's reset on one, a management request on another).
SpinLock g_device_tree_lock;
alignas(8) std::array<std::byte, guest_layout::kMaxDeviceTreeSize> g_device_tree_buffer;

Vm* find_by_name(std::string_view name) {
    for (Vm& vm : g_vms) {
        if (vm.state != VmState::free && vm.name() == name) return &vm;
    }
    return nullptr;
}

Vm* free_slot() {
    for (Vm& vm : g_vms) {
        if (vm.state == VmState::free && vm.vcpu_count == 0) return &vm;
    }
    return nullptr;
}

Status validate(const VmImageSpec& spec) {
    if (find_by_name(spec.name) != nullptr) return Error{"a VM with this name already exists"};
    if (spec.vcpu_count == 0) return Error{"a VM needs at least one vCPU"};
    if (spec.vcpu_count > kMaxVcpusPerVm) return Error{"too many vCPUs (at most 8 per VM)"};
    if (spec.memory_bytes == 0 || !is_aligned(spec.memory_bytes, guest_layout::kRamGranule))
        return Error{"memory must be a non-zero multiple of 2 MiB"};
    if (spec.memory_bytes / kPageSize > frame_allocator().free_frames())
        return Error{"not enough free memory for the VM"};
    // A VM pinned only to CPUs that are not online would never run.
    if (spec.pinned_cpu_mask != 0 && (spec.pinned_cpu_mask & online_cpu_mask()) == 0)
        return Error{"pinned to CPUs the board does not have online"};
    return {};
}

void free_frames(const Vm& vm, HostPhysAddr base, std::uint64_t bytes) {
    if (const Status status = frame_allocator().free(base, bytes / kPageSize); !status)
        log::error("vm {}: {}", vm.name(), status.error().message);
}

// Every chunk still backed (ballooned ones went back already), then the map.
void release_memory(Vm& vm) {
    for (std::size_t chunk = 0; chunk < vm.ram_map.chunk_count(); ++chunk) {
        if (const auto host = vm.ram_map.chunk_host(chunk)) free_frames(vm, *host, GuestRamMap::kChunkSize);
    }
    vm.ram_map.detach();
    if (vm.ram_map_frames.size != 0) free_frames(vm, vm.ram_map_frames.base, vm.ram_map_frames.size);
    vm.ram_map_frames = HostPhysRange{};
    vm.reclaimed_bytes = 0;
    vm.balloon_target_bytes = 0;
}

void release_resources(Vm& vm) {
    vm_devices::remove(vm);
    vm.address_space.destroy();
    stolen_time::release(vm);
    release_memory(vm);
    vm.mmio_count = 0;
    const LockGuard guard{g_lifecycle_lock};
    vm.vcpu_count = 0;
    vm.state = VmState::free;
}

// Largest block of frames (a power of two times 2 MiB) we can get, at most `wanted`.
std::optional<HostPhysRange> allocate_block(std::uint64_t wanted) {
    std::uint64_t size = guest_layout::kRamGranule;
    while (size * 2 <= wanted) size *= 2;
    for (; size >= guest_layout::kRamGranule; size /= 2) {
        if (const auto base = frame_allocator().allocate(size / kPageSize, guest_layout::kRamGranule))
            return HostPhysRange{*base, size};
    }
    return std::nullopt;
}

// The RAM map's own storage, zeroed.
Status create_ram_map(Vm& vm) {
    const std::uint64_t bytes = align_up(GuestRamMap::words_for(vm.ram.size) * sizeof(std::uint64_t), kPageSize);
    const auto base = frame_allocator().allocate(bytes / kPageSize);
    if (!base) return Error{"out of memory for the VM's RAM map"};
    vm.ram_map_frames = HostPhysRange{*base, bytes};
    arch::zero_guest_memory(base->value(), bytes);
    auto* words = reinterpret_cast<std::uint64_t*>(base->value());  // identity map
    vm.ram_map.attach(vm.ram, {words, GuestRamMap::words_for(vm.ram.size)});
    return {};
}

// Each chunk is its own stage-2 block, so the balloon can take one back.
// All are recorded first: on failure release_memory() frees the whole block.
Status map_chunks(Vm& vm, GuestPhysAddr guest, HostPhysRange block) {
    for (std::uint64_t offset = 0; offset < block.size; offset += GuestRamMap::kChunkSize)
        vm.ram_map.back(*vm.ram_map.chunk_of(guest + offset), block.base + offset);
    for (std::uint64_t offset = 0; offset < block.size; offset += GuestRamMap::kChunkSize) {
        if (const Status status = vm.address_space.map(GuestPhysRange{guest + offset, GuestRamMap::kChunkSize},
                                                       block.base + offset, arch::GuestMappingKind::ram);
            !status)
            return status;
    }
    return {};
}

// Backs guest RAM with zeroed frames and maps them at stage 2. Frames may
// have belonged to another VM: zeroing is what keeps its data from leaking.
Status populate_ram(Vm& vm) {
    if (const Status status = create_ram_map(vm); !status) return status;
    GuestPhysAddr guest = vm.ram.base;
    std::uint64_t remaining = vm.ram.size;
    while (remaining != 0) {
        const auto block = allocate_block(remaining);
        if (!block) return Error{"out of memory while building the VM"};
        arch::zero_guest_memory(block->base.value(), block->size);
        if (const Status status = map_chunks(vm, guest, *block); !status) return status;
        guest += block->size;
        remaining -= block->size;
    }
    return {};
}

Status load_images(Vm& vm, const GuestBootLayout& layout) {
    if (const Status status = vm.copy_to_guest(layout.kernel, vm.spec.kernel); !status) return status;
    if (!vm.spec.initrd.empty()) {
        if (const Status status = vm.copy_to_guest(layout.initrd.base, vm.spec.initrd); !status) return status;
    }
    const GuestDeviceTreeSpec tree{vm.ram, vm.vcpu_count, vm.spec.cmdline, layout.initrd,
                                   vm_devices::virtio_slot_count(vm)};
    arch::publish_instructions();
    const LockGuard guard{g_device_tree_lock};
    const auto size = build_guest_device_tree(tree, g_device_tree_buffer);
    if (!size) return size.error();
    return vm.copy_to_guest(layout.device_tree, ByteSpan{g_device_tree_buffer.data(), *size});
}

void init_vcpus(Vm& vm) {
    vm.vcpu_count = vm.spec.vcpu_count;
    vm.share_group = ShareGroup{vm.spec.cap_percent, arch::counter_now(), 0};
    for (std::uint32_t index = 0; index < vm.vcpu_count; ++index) vm.vcpus[index].reset(vm, index);
}

// The virtual GIC calls this when an interrupt becomes deliverable to a vCPU.
void interrupt_became_pending(void* context, std::uint32_t vcpu_index) {
    Vm& vm = *static_cast<Vm*>(context);
    if (vcpu_index >= vm.vcpu_count) return;
    Vcpu& vcpu = vm.vcpus[vcpu_index];
    ++vcpu.statistics.interrupts_injected;  // under the virtual GIC's lock
    vcpu.interrupts_changed.store(true, std::memory_order_release);
    scheduler::kick(vcpu);
}

Status add_devices(Vm& vm) {
    vm.gic.reset(vm.vcpu_count, interrupt_became_pending, &vm);
    vm.virtual_timer_interrupt = arch::virtual_timer_hardware_interrupt();
    vm.gic.link_to_hardware(guest_layout::kVirtualTimerInterruptId, vm.virtual_timer_interrupt);
    const GuestPhysRange distributor{guest_layout::kGicDistributorBase, kDistributorSize};
    const GuestPhysRange redistributors{guest_layout::kGicRedistributorBase, vm.vcpu_count * kRedistributorStride};
    if (const Status status = vm.add_mmio(distributor, vm.gic_distributor); !status) return status;
    if (const Status status = vm.add_mmio(redistributors, vm.gic_redistributors); !status) return status;
    vm.uart.reset(vm.name());
    vm.uart.connect_interrupt(vm.gic, guest_layout::kUartInterruptId);
    if (const Status status =
            vm.add_mmio(GuestPhysRange{guest_layout::kUartBase, VirtualPl011::kRegisterWindow}, vm.uart);
        !status)
        return status;
    return vm_devices::add(vm);
}

Status build(Vm& vm, const GuestBootLayout& layout) {
    if (const Status status = vm.address_space.create(frame_allocator()); !status) return status;
    if (const Status status = populate_ram(vm); !status) return status;
    if (const Status status = stolen_time::create(vm); !status) return status;
    if (const Status status = load_images(vm, layout); !status) return status;
    return add_devices(vm);
}

// Claims a slot for `spec`, or says why not.
Result<Vm*> claim_slot(const VmImageSpec& spec) {
    const LockGuard guard{g_lifecycle_lock};
    if (const Status status = validate(spec); !status) return status.error();
    Vm* vm = free_slot();
    if (vm == nullptr) return Error{"no free VM slot"};
    vm->state = VmState::creating;
    vm->started = false;
    vm->adopt_spec(spec);
    vm->id = g_next_vm_id++;
    return vm;
}

Result<Vm*> build_vm(const VmImageSpec& spec) {
    auto claimed = claim_slot(spec);
    if (!claimed) return claimed;
    Vm* vm = *claimed;
    const auto layout = plan_guest_boot(vm->spec.kernel, vm->spec.initrd.size(), vm->spec.memory_bytes);
    if (!layout) {
        release_resources(*vm);
        return layout.error();
    }
    vm->ram = GuestPhysRange{guest_layout::kRamBase, vm->spec.memory_bytes};
    vm->created_at = arch::counter_now();
    vm->mmio_count = 0;
    vm->counter_offset = arch::counter_now();
    vm->boot_entry = layout->kernel;
    vm->boot_device_tree = layout->device_tree;
    init_vcpus(*vm);
    if (const Status status = build(*vm, *layout); !status) {
        release_resources(*vm);
        return status.error();
    }
    const LockGuard guard{g_lifecycle_lock};
    vm->state = VmState::running;
    return vm;
}

}  // namespace

void init() {
    for (Vm& vm : g_vms) new (&vm) Vm{};
}

Result<Vm*> create(const VmImageSpec& spec) {
    const auto free_before = frame_allocator().free_frames();
    auto vm = build_vm(spec);
    if (!vm) {
        log::error("vm {}: not created: {} (asked {} MiB, {} vCPUs; {} MiB free)", spec.name, vm.error().message,
                   spec.memory_bytes / MiB, spec.vcpu_count, free_before * kPageSize / MiB);
        return vm;
    }
    log::info("vm {}: created: {} vCPUs, {} MiB RAM, VMID {}, entry {}", (*vm)->name(), (*vm)->vcpu_count,
              spec.memory_bytes / MiB, (*vm)->address_space.vmid(), (*vm)->boot_entry);
    return vm;
}

void start(Vm& vm) {
    vm.started = true;
    (void)scheduler::power_on(vm.vcpus[0], vm.boot_entry.value(), vm.boot_device_tree.value());
}

void destroy(Vm& vm, std::string_view reason) {
    log::info("vm {}: stopping: {}", vm.name(), reason);
    scheduler::stop_vm(vm, AfterStop::destroy);
}

void restart(Vm& vm, std::string_view reason) {
    log::info("vm {}: restarting: {}", vm.name(), reason);
    scheduler::stop_vm(vm, AfterStop::restart);
}

void finish_stop(Vm& vm) {
    vm.uart.flush();
    // The spec's name and command line live in the slot, which another CPU
    // may take for a new VM as soon as it is released: keep copies.
    std::array<char, bundle_format::kNameFieldSize> name{};
    std::array<char, bundle_format::kMaxCmdlineSize> cmdline{};
    VmImageSpec spec = vm.spec;
    spec.name = {name.data(), std::min(spec.name.size(), name.size())};
    spec.cmdline = {cmdline.data(), std::min(spec.cmdline.size(), cmdline.size())};
    std::copy_n(vm.spec.name.begin(), spec.name.size(), name.begin());
    std::copy_n(vm.spec.cmdline.begin(), spec.cmdline.size(), cmdline.begin());
    const bool restart_it = vm.after_stop == AfterStop::restart;
    release_resources(vm);
    log::info("vm {}: destroyed, memory returned ({} MiB free)", spec.name,
              frame_allocator().free_frames() * kPageSize / MiB);
    if (restart_it) {
        if (auto again = create(spec)) start(**again);
    } else if (running_vm_count() == 0) {
        log::info("no VMs left");
        arch::on_last_vm_gone();
    }
}

std::size_t running_vm_count() {
    return static_cast<std::size_t>(
        std::count_if(g_vms.begin(), g_vms.end(), [](const Vm& vm) { return vm.state != VmState::free; }));
}

}  // namespace lamina::vm_manager

namespace lamina::vm_manager {

std::span<Vm> slots() { return g_vms; }

SpinLock& lifecycle_lock() { return g_lifecycle_lock; }

Vm* find(std::string_view name) { return find_by_name(name); }

std::size_t free_slot_count() {
    return static_cast<std::size_t>(std::count_if(g_vms.begin(), g_vms.end(), [](const Vm& vm) {
        return vm.state == VmState::free && vm.vcpu_count == 0;
    }));
}

}  // namespace lamina::vm_manager
