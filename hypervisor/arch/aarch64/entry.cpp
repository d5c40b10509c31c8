// Lamina's boot on aarch64: from the boot loader's jump (boot.S) to running
// guests on every CPU.
#include <array>

#include "arch/aarch64/cpu.hpp"
#include "arch/aarch64/firmware.hpp"
#include "arch/aarch64/mmu.hpp"
#include "arch/aarch64/random.hpp"
#include "arch/aarch64/sysreg.hpp"
#include "core/boot_options.hpp"
#include "core/boot_vms.hpp"
#include "core/bytes.hpp"
#include "core/console.hpp"
#include "core/console_input.hpp"
#include "core/fdt.hpp"
#include "core/memory.hpp"
#include "core/panic.hpp"
#include "core/per_cpu.hpp"
#include "core/platform.hpp"
#include "core/scheduler.hpp"
#include "core/vm_manager.hpp"
#include "drivers/board_devices.hpp"
#include "drivers/gicv3.hpp"
#include "drivers/pl011.hpp"
#include "management/server.hpp"
#include "management/services.hpp"

extern "C" {
extern char __image_start[], __image_end[];
extern void (*__init_array_start[])();
extern void (*__init_array_end[])();
void secondary_entry();
[[noreturn]] void lamina_primary_main(std::uintptr_t device_tree, std::uintptr_t load_address);
[[noreturn]] void lamina_secondary_main(std::uint32_t cpu_index);
}

namespace lamina::arch {
namespace {

constexpr std::uint64_t kMaxDeviceTreeSize = 2 * MiB;
constexpr std::uint64_t kCpuStartTimeoutMs = 1000;

Platform g_platform;
drivers::Pl011 g_console{HostPhysAddr{0}};

// The board's virtio console, if any, carries the management API.
void serve_management() {
    drivers::VirtioConsoleChannel* channel = drivers::board_management_channel();
    if (channel == nullptr) return;
    const auto send = [](void* context, std::span<const std::byte> bytes) {
        return static_cast<drivers::VirtioConsoleChannel*>(context)->send(bytes);
    };
    management::start(management::ChannelWriter{send, channel});
    channel->set_receive_handler([](void*, std::span<const std::byte> bytes) { management::receive(bytes); }, nullptr);
    log::info("management API ready (docs/management-api.md)");
}

void run_static_constructors() {
    for (auto* constructor = __init_array_start; constructor != __init_array_end; ++constructor) (*constructor)();
}

// The boot loader's device tree; until the console works, failure can only halt.
fdt::DeviceTree read_device_tree(std::uintptr_t address) {
    const auto* header = reinterpret_cast<const std::byte*>(address);
    const auto total = load_be<std::uint32_t>(ByteSpan{header, 8}, 4);
    if (address == 0 || !total || *total > kMaxDeviceTreeSize) halt_this_cpu();
    auto tree = fdt::DeviceTree::parse(ByteSpan{header, *total});
    if (!tree) halt_this_cpu();
    return *tree;
}

void attach_console(const Platform& platform) {
    g_console = drivers::Pl011{platform.uart.base};
    console::attach(g_console);
}

void report_platform(const Platform& platform, std::uintptr_t load_address) {
    log::info("Lamina hypervisor, running at EL2 on CPU 0 (MPIDR {})", Hex{sysreg::mpidr_el1::read()});
    log::info("image at {} ({} KiB); {} CPUs, {} RAM banks, GICv3 at {}", Hex{load_address},
              (reinterpret_cast<std::uintptr_t>(__image_end) - load_address) / KiB, platform.cpu_count,
              platform.memory_count, platform.gic_distributor.base);
    for (std::size_t i = 0; i < platform.memory_count; ++i)
        log::info("RAM {} - {} ({} MiB)", platform.memory[i].base, platform.memory[i].end(),
                  platform.memory[i].size / MiB);
}

void init_memory_or_panic(const Platform& platform, std::uintptr_t device_tree, std::size_t device_tree_size) {
    const auto image_start = reinterpret_cast<std::uintptr_t>(__image_start);
    const auto image_end = reinterpret_cast<std::uintptr_t>(__image_end);
    std::array<HostPhysRange, 3> in_use{
        HostPhysRange{HostPhysAddr{image_start}, image_end - image_start},
        HostPhysRange{HostPhysAddr{device_tree}, device_tree_size},
        platform.initrd.value_or(HostPhysRange{}),
    };
    if (const Status status = init_memory(platform, in_use); !status) panic("memory: {}", status.error().message);
    log::info("memory: {} MiB free for VMs", frame_allocator().free_frames() * kPageSize / MiB);
}

void init_interrupts_or_panic(const Platform& platform) {
    auto& gic = drivers::interrupt_controller();
    if (const Status status = gic.init_distributor(platform.gic_distributor, platform.gic_redistributors); !status)
        panic("GIC: {}", status.error().message);
    set_private_interrupts(platform.timer_hyp_interrupt_id, platform.timer_virtual_interrupt_id,
                           platform.gic_maintenance_interrupt_id);
}

// Per-CPU setup shared by the boot CPU and the others.
void bring_up_this_cpu(std::uint32_t index, std::uint64_t hardware_id) {
    register_this_cpu(index, hardware_id);
    auto& gic = drivers::interrupt_controller();
    if (const Status status = gic.init_this_cpu(hardware_id); !status)
        panic("CPU {}: {}", index, status.error().message);
    enable_private_interrupts_this_cpu();
    configure_this_cpu_for_guests();
    mark_this_cpu_online();
}

void start_secondary_cpus(const Platform& platform) {
    firmware::use_conduit(platform.psci_conduit);
    mmu::publish_for_secondary_cpus();
    const std::uint64_t boot_mpidr = sysreg::mpidr_el1::read() & 0xff'00ff'ffffull;
    std::uint32_t next_index = 1;
    for (std::size_t i = 0; i < platform.cpu_count && next_index < kMaxCpus; ++i) {
        const std::uint64_t mpidr = platform.cpu_mpidr[i];
        if (mpidr == boot_mpidr) continue;
        const std::uint32_t index = next_index++;
        per_cpu(index).hardware_id = mpidr;
        const std::uint32_t online_before = online_cpu_count();
        const auto entry = reinterpret_cast<std::uintptr_t>(&secondary_entry);
        if (const std::int64_t result = firmware::cpu_on(mpidr, entry, index); result != 0) {
            log::error("CPU {} (MPIDR {}): PSCI CPU_ON failed ({})", index, Hex{mpidr}, result);
            continue;
        }
        const std::uint64_t deadline = counter_now() + counter_frequency() * kCpuStartTimeoutMs / 1000;
        while (online_cpu_count() == online_before && counter_now() < deadline) cpu_relax();
        if (online_cpu_count() == online_before) log::error("CPU {} (MPIDR {}) did not come online", index, Hex{mpidr});
    }
}

}  // namespace
}  // namespace lamina::arch

void lamina_primary_main(std::uintptr_t device_tree, std::uintptr_t load_address) {
    using namespace lamina;
    using namespace lamina::arch;
    run_static_constructors();
    const fdt::DeviceTree tree = read_device_tree(device_tree);
    auto platform = discover_platform(tree);
    if (!platform) halt_this_cpu();
    g_platform = *platform;
    attach_console(g_platform);
    if (const Status status = mmu::build_hypervisor_map(g_platform); !status) panic("MMU: {}", status.error().message);
    mmu::enable_on_boot_cpu();
    console::enable_locking();

    const BootOptions options = parse_boot_options(g_platform.bootargs);
    log::set_level(options.log_level);
    power_off_when_idle(options.halt_when_idle);
    report_platform(g_platform, load_address);
    report_hardware_random();
    init_memory_or_panic(g_platform, device_tree, tree.total_size());
    init_interrupts_or_panic(g_platform);
    scheduler::init(counter_frequency() * options.timeslice_us / 1'000'000);
    vm_manager::init();

    bring_up_this_cpu(0, sysreg::mpidr_el1::read() & 0xff'00ff'ffffull);
    drivers::probe_board_devices(g_platform);
    start_secondary_cpus(g_platform);
    log::info("{} of {} CPUs online", online_cpu_count(), g_platform.cpu_count);
    const std::size_t started = start_boot_vms(g_platform.initrd);
    log::info("{} VMs started", started);
    services::start();
    serve_management();
    take_console_input(g_console, g_platform.uart_interrupt_id);
    console_input::announce();
    scheduler::run_this_cpu();
}

void lamina_secondary_main(std::uint32_t cpu_index) {
    using namespace lamina;
    arch::bring_up_this_cpu(cpu_index, per_cpu(cpu_index).hardware_id);
    log::info("CPU {} online (MPIDR {})", cpu_index, Hex{arch::sysreg::mpidr_el1::read()});
    scheduler::run_this_cpu();
}
