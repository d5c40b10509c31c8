#include "core/vm_devices.hpp"

#include "arch/arch.hpp"
#include "core/console.hpp"
#include "core/format.hpp"
#include "core/guest_layout.hpp"
#include "core/memory.hpp"
#include "core/memory_balloon.hpp"
#include "core/vm.hpp"
#include "drivers/board_devices.hpp"

namespace lamina::vm_devices {
namespace {

void set_interrupt_level(void* context, bool asserted) {
    const auto& binding = *static_cast<const VirtioSlotBinding*>(context);
    binding.vm->gic.set_level(guest_layout::virtio_slot_interrupt_id(binding.slot), asserted);
}

// A driver broke its rings: only this device stops; say why. A guest that
// breaks and resets a device in a loop must not flood Lamina's console, so
// only the first 16 failures of a device are logged (per VM boot).
constexpr std::uint32_t kLoggedFailuresPerDevice = 16;

void report_device_failure(void* context, Error reason) {
    auto& binding = *static_cast<VirtioSlotBinding*>(context);
    const std::uint32_t failures = ++binding.failures;
    if (failures > kLoggedFailuresPerDevice + 1) return;
    if (failures == kLoggedFailuresPerDevice + 1) {
        log::warning("vm {}: virtio {} (slot {}) failed again; further failures are not logged", binding.vm->name(),
                     binding.device, binding.slot);
        return;
    }
    log::warning("vm {}: virtio {} (slot {}) needs a reset: {}", binding.vm->name(), binding.device, binding.slot,
                 reason.message);
}

// Takes the next window; `device` names it in reports.
VirtioSlotBinding& claim_slot(Vm& vm, const char* device) {
    VirtioSlotBinding& binding = vm.virtio_slots[vm.virtio_slot_count];
    binding = VirtioSlotBinding{&vm, vm.virtio_slot_count, device};
    ++vm.virtio_slot_count;
    return binding;
}

VirtioTransportHooks hooks_for(VirtioSlotBinding& binding) {
    return VirtioTransportHooks{set_interrupt_level, report_device_failure, &binding};
}

Status map_slot(Vm& vm, const VirtioSlotBinding& binding, MmioDevice& device) {
    return vm.add_mmio(GuestPhysRange{guest_layout::virtio_slot_base(binding.slot), guest_layout::kVirtioSlotSize},
                       device);
}

void console_output(void* context, std::span<const char> bytes, bool buffer_done) {
    auto& vm = *static_cast<Vm*>(context);
    for (const char c : bytes) vm.hvc_output.put(c);
    (void)buffer_done;  // a partial line waits for the newline or for the VM to idle
}

// Linux's /dev/console is the last console= on its command line.
bool console_is_hvc(std::string_view cmdline) {
    bool hvc = false;
    for (std::size_t at = cmdline.find("console="); at != std::string_view::npos;
         at = cmdline.find("console=", at + 1)) {
        if (at != 0 && cmdline[at - 1] != ' ') continue;
        hvc = cmdline.substr(at + 8, 3) == "hvc";
    }
    return hvc;
}

Status add_console(Vm& vm) {
    VirtioSlotBinding& binding = claim_slot(vm, "console");
    vm.hvc_output.set_owner(vm.name());
    vm.virtio_console.connect(vm.memory, hooks_for(binding), console_output, &vm);
    vm.console_input_to_virtio = console_is_hvc(vm.spec.cmdline);
    return map_slot(vm, binding, vm.virtio_console.transport());
}

Status add_nic(Vm& vm, std::uint32_t index) {
    const NicSpec& spec = vm.spec.nics[index];
    VirtioSlotBinding& binding = claim_slot(vm, "net");
    const MacAddress mac{spec.mac};
    const auto network = static_cast<NetworkId>(spec.network);
    if (const Status status = vm.nics[index].connect(vm.memory, hooks_for(binding), virtual_switch(), network, mac);
        !status)
        return status;
    return map_slot(vm, binding, vm.nics[index].mmio_device());
}

// Zeroed frames of Lamina's own: a RAM disk is not guest RAM, so the guest
// reaches it only through the device.
Status back_with_ram(VmDisk& disk, const DiskSpec& spec) {
    const auto base = frame_allocator().allocate(spec.size_bytes / kPageSize);
    if (!base) return Error{"not enough contiguous free memory for the RAM disk"};
    disk.ram_frames = HostPhysRange{*base, spec.size_bytes};
    arch::zero_guest_memory(base->value(), spec.size_bytes);
    auto* bytes = reinterpret_cast<std::byte*>(base->value());  // identity map
    return disk.ram.configure(std::span<std::byte>{bytes, spec.size_bytes}, spec.read_only);
}

Status back_with_board_disk(VmDisk& disk, const DiskSpec& spec) {
    BlockBackend* board = drivers::board_disk();
    if (board == nullptr) return Error{"the VM asks for a slice of the board's disk, but the board has no disk"};
    return disk.slice.configure(*board, spec.offset_bytes / kSectorSize, spec.size_bytes / kSectorSize,
                                spec.read_only);
}

Result<BlockBackend*> prepare_backend(VmDisk& disk, const DiskSpec& spec) {
    if (spec.backing == DiskBacking::ram) {
        if (!is_aligned(spec.size_bytes, kPageSize)) return Error{"a RAM disk's size must be a multiple of 4 KiB"};
        if (const Status status = back_with_ram(disk, spec); !status) return status.error();
        return static_cast<BlockBackend*>(&disk.ram);
    }
    if (const Status status = back_with_board_disk(disk, spec); !status) return status.error();
    return static_cast<BlockBackend*>(&disk.slice);
}

Status add_disk(Vm& vm, std::uint32_t index) {
    VmDisk& disk = vm.disks[index];
    const auto backend = prepare_backend(disk, vm.spec.disks[index]);
    if (!backend) return backend.error();
    VirtioSlotBinding& binding = claim_slot(vm, "block");
    FormatBuffer serial;  // what the guest sees in /sys/block/vdX/serial
    format_to(serial, "{}-disk{}", vm.name(), index);
    disk.device.connect(vm.memory, hooks_for(binding), **backend, serial.view());
    return map_slot(vm, binding, disk.device.transport());
}

void remove_disk(VmDisk& disk) {
    disk.device.disconnect();
    if (disk.ram_frames.size != 0) {
        if (const Status status = frame_allocator().free(disk.ram_frames.base, disk.ram_frames.size / kPageSize);
            !status)
            log::error("RAM disk frames: {}", status.error().message);
        disk.ram_frames = HostPhysRange{};
    }
}

Status add_power_button(Vm& vm) {
    VirtioSlotBinding& binding = claim_slot(vm, "input");
    vm.power_button.connect(vm.memory, hooks_for(binding));
    return map_slot(vm, binding, vm.power_button.transport());
}

Status add_balloon(Vm& vm) {
    VirtioSlotBinding& binding = claim_slot(vm, "balloon");
    vm.balloon.connect(vm.memory, hooks_for(binding), memory_balloon::hooks_for(vm));
    return map_slot(vm, binding, vm.balloon.transport());
}

void pass_lock(SpinLock& lock) { const LockGuard guard{lock}; }

}  // namespace

// The console, NICs and disks, then the power button and the balloon.
std::uint32_t virtio_slot_count(const Vm& vm) { return 3 + vm.spec.nic_count + vm.spec.disk_count; }

Status add(Vm& vm) {
    vm.virtio_slot_count = 0;
    if (const Status status = add_console(vm); !status) return status;
    for (std::uint32_t index = 0; index < vm.spec.nic_count; ++index) {
        if (const Status status = add_nic(vm, index); !status) return status;
    }
    for (std::uint32_t index = 0; index < vm.spec.disk_count; ++index) {
        if (const Status status = add_disk(vm, index); !status) return status;
    }
    if (const Status status = add_power_button(vm); !status) return status;
    return add_balloon(vm);
}

void wait_for_device_work(Vm& vm, VirtioMmioTransport& caller) {
    const auto pass = [&caller](VirtioMmioTransport& transport) {
        if (&transport != &caller) pass_lock(transport.lock());
    };
    pass(vm.virtio_console.transport());
    for (std::uint32_t i = 0; i < vm.spec.nic_count; ++i) pass(vm.nics[i].transport());
    for (std::uint32_t i = 0; i < vm.spec.disk_count; ++i) pass(vm.disks[i].device.transport());
    pass(vm.power_button.transport());
    pass(vm.balloon.transport());
}

// Safe on a half-built VM: every step undoes only what was done.
void remove(Vm& vm) {
    flush_console(vm);
    for (VirtioNet& nic : vm.nics) nic.disconnect();
    for (VmDisk& disk : vm.disks) remove_disk(disk);
    vm.virtio_slot_count = 0;
}

void flush_console(Vm& vm) {
    const LockGuard guard{vm.virtio_console.transport().lock()};
    vm.hvc_output.flush();
}

}  // namespace lamina::vm_devices
