#include "core/console_input.hpp"

#include "core/console.hpp"
#include "core/spinlock.hpp"
#include "core/vm_manager.hpp"

namespace lamina::console_input {
namespace {

SpinLock g_lock;  // input arrives on one CPU, but keep the state coherent anyway
bool g_command_pending = false;
std::uint32_t g_focus_vm_id = 0;  // 0: the first VM

constexpr std::string_view kExitNames[] = {"hypercall", "wfi", "wfe", "mmio", "interrupt", "sysreg", "fault"};
static_assert(std::size(kExitNames) == static_cast<std::size_t>(ExitReason::count));

Vm* focused_vm() {
    Vm* first = nullptr;
    for (Vm& vm : vm_manager::slots()) {
        if (vm.state != VmState::running) continue;
        if (vm.id == g_focus_vm_id) return &vm;
        if (first == nullptr) first = &vm;
    }
    return first;
}

void print_help() {
    log::info("console: Ctrl-T then: h help, l list VMs, s statistics, 1-9 focus the n-th VM, Ctrl-T send Ctrl-T");
}

void list_vms() {
    const Vm* focus = focused_vm();
    std::uint32_t position = 0;
    for (const Vm& vm : vm_manager::slots()) {
        if (vm.state != VmState::running) continue;
        log::info("  {}: vm {} (id {}), {} vCPUs, {} MiB{}", ++position, vm.name(), vm.id, vm.vcpu_count,
                  vm.ram.size / MiB, &vm == focus ? "  <- console input" : "");
    }
}

std::uint64_t ticks_to_ms(std::uint64_t ticks) {
    const std::uint64_t frequency = arch::counter_frequency();
    return frequency == 0 ? 0 : ticks * 1000 / frequency;
}

void print_vcpu(const Vm& vm, const Vcpu& vcpu) {
    const VcpuStatistics& statistics = vcpu.statistics;
    FormatBuffer exits;
    for (std::size_t reason = 0; reason < statistics.exits.size(); ++reason)
        format_to(exits, "{}={} ", kExitNames[reason], statistics.exits[reason]);
    log::info("  vm {} vcpu {}: run {} ms, runnable-waiting {} ms, exits {}", vm.name(), vcpu.index,
              ticks_to_ms(statistics.run_ticks), ticks_to_ms(statistics.runnable_ticks), exits.view());
}

void print_statistics() {
    for (const Vm& vm : vm_manager::slots()) {
        if (vm.state != VmState::running) continue;
        for (std::uint32_t index = 0; index < vm.vcpu_count; ++index) print_vcpu(vm, vm.vcpus[index]);
    }
}

void focus_position(std::uint32_t wanted) {
    std::uint32_t position = 0;
    for (const Vm& vm : vm_manager::slots()) {
        if (vm.state != VmState::running || ++position != wanted) continue;
        g_focus_vm_id = vm.id;
        log::info("console: input goes to vm {}", vm.name());
        return;
    }
    log::warning("console: there is no VM number {}", wanted);
}

void deliver(char c) {
    Vm* vm = focused_vm();
    if (vm == nullptr) return;
    if (vm->console_input_to_virtio) {
        (void)vm->virtio_console.receive(c);
    } else {
        (void)vm->uart.receive(c);
    }
}

void run_command(char c) {
    switch (c) {
        case 'l': list_vms(); break;
        case 's': print_statistics(); break;
        case kCommandKey: deliver(c); break;
        default:
            if (c >= '1' && c <= '9') {
                focus_position(static_cast<std::uint32_t>(c - '0'));
            } else {
                print_help();
            }
    }
}

}  // namespace

void receive(char c) {
    const LockGuard guard{g_lock};
    if (g_command_pending) {
        g_command_pending = false;
        run_command(c);
    } else if (c == kCommandKey) {
        g_command_pending = true;
    } else {
        deliver(c);
    }
}

void announce() {
    const LockGuard guard{g_lock};
    if (const Vm* vm = focused_vm()) log::info("console: input goes to vm {}; Ctrl-T h for help", vm->name());
}

}  // namespace lamina::console_input
