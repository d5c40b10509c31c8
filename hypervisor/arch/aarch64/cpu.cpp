// Per-CPU state, EL2 configuration for running guests, and the CPU services
// the core uses (platform_cpu.hpp).
#include <array>
#include <atomic>

#include "arch/aarch64/cache.hpp"
#include "arch/aarch64/cpu.hpp"
#include "arch/aarch64/firmware.hpp"
#include "arch/aarch64/physical_timer.hpp"
#include "arch/aarch64/sysreg.hpp"
#include "arch/aarch64/virtual_cpu_interface.hpp"
#include "core/per_cpu.hpp"
#include "core/console_input.hpp"
#include "core/spinlock.hpp"
#include "core/guest_layout.hpp"
#include "drivers/pl011.hpp"
#include "core/vm.hpp"
#include "drivers/gicv3.hpp"

extern "C" {
[[noreturn]] void enter_guest(lamina::arch::GuestRegisters* registers);
extern char cpu_stacks[];
}

namespace lamina {
namespace {

std::array<PerCpu, kMaxCpus> g_cpus{};
std::uint32_t g_online_cpus = 0;

}  // namespace

PerCpu& per_cpu(std::uint32_t index) { return g_cpus[index]; }
PerCpu& this_cpu() { return *reinterpret_cast<PerCpu*>(arch::sysreg::tpidr_el2::read()); }
std::uint32_t online_cpu_count() { return __atomic_load_n(&g_online_cpus, __ATOMIC_ACQUIRE); }

namespace arch {
namespace {

// HCR_EL2 while guests run: stage 2 on, physical interrupts and SErrors to
// EL2, WFI/WFE and SMC trapped, ID registers trapped (so features Lamina
// does not virtualize can be hidden), broadcast TLB/barriers inner
// shareable, EL1 in AArch64.
constexpr std::uint64_t kHcrVm = 1u << 0;
constexpr std::uint64_t kHcrSwio = 1u << 1;
constexpr std::uint64_t kHcrFmo = 1u << 3;
constexpr std::uint64_t kHcrImo = 1u << 4;
constexpr std::uint64_t kHcrAmo = 1u << 5;
constexpr std::uint64_t kHcrFb = 1u << 9;
constexpr std::uint64_t kHcrBsuInnerShareable = 1u << 10;
constexpr std::uint64_t kHcrTwi = 1u << 13;
constexpr std::uint64_t kHcrTwe = 1u << 14;
constexpr std::uint64_t kHcrTid3 = 1u << 18;
constexpr std::uint64_t kHcrTsc = 1u << 19;
constexpr std::uint64_t kHcrRw = 1ull << 31;
constexpr std::uint64_t kGuestHcr = kHcrVm | kHcrSwio | kHcrFmo | kHcrImo | kHcrAmo | kHcrFb |
                                    kHcrBsuInnerShareable | kHcrTwi | kHcrTwe | kHcrTid3 | kHcrTsc | kHcrRw;

// CNTHCTL_EL2: EL1 may read the physical counter; the physical timer traps.
constexpr std::uint64_t kCnthctlEl1PhysicalCounter = 1u << 0;
// CPTR_EL2 (non-VHE): RES1 bits; FP/SIMD not trapped (TFP = 0); SVE trapped (TZ).
constexpr std::uint64_t kCptrRes1AndTrapSve = 0x33ff;

constexpr std::uint64_t kTimerEnable = 1u << 0;

std::uint32_t g_scheduler_timer_interrupt = 26;
std::uint32_t g_virtual_timer_interrupt = 27;
std::uint32_t g_maintenance_interrupt = 25;
std::uint32_t g_console_interrupt = 0;
drivers::Pl011* g_console_uart = nullptr;

}  // namespace

// MDCR_EL2 is UNKNOWN out of reset: give EL1 every PMU counter (HPMN =
// PMCR_EL0.N) and trap nothing. Debug and PMU registers are not yet switched
// between vCPUs (docs: known limitations).
namespace {
std::uint64_t debug_control_value() { return (sysreg::pmcr_el0::read() >> 11) & 0x1f; }
}  // namespace

void configure_this_cpu_for_guests() {
    sysreg::vtcr_el2::write(stage2_control_value());
    sysreg::mdcr_el2::write(debug_control_value());
    sysreg::cnthctl_el2::write(kCnthctlEl1PhysicalCounter);
    sysreg::cptr_el2::write(kCptrRes1AndTrapSve);
    sysreg::vpidr_el2::write(sysreg::midr_el1::read());
    sysreg::ich_hcr_el2::write(0);
    sysreg::vttbr_el2::write(0);
    sysreg::hcr_el2::write(kGuestHcr);
    instruction_barrier();
}

void set_private_interrupts(std::uint32_t scheduler_timer, std::uint32_t virtual_timer, std::uint32_t maintenance) {
    g_scheduler_timer_interrupt = scheduler_timer;
    g_virtual_timer_interrupt = virtual_timer;
    g_maintenance_interrupt = maintenance;
}

void enable_private_interrupts_this_cpu() {
    auto& gic = drivers::interrupt_controller();
    gic.enable_private_interrupt(g_scheduler_timer_interrupt);
    gic.enable_private_interrupt(g_virtual_timer_interrupt);
    gic.enable_private_interrupt(g_maintenance_interrupt);
    virtual_cpu_interface::init_this_cpu();
}

std::uint32_t virtual_timer_hardware_interrupt() { return g_virtual_timer_interrupt; }

std::uint64_t emulated_timer_deadline(const Vcpu& vcpu) {
    return physical_timer_deadline(vcpu).value_or(~std::uint64_t{0});
}

void update_emulated_timers(Vcpu& vcpu) { update_physical_timer(vcpu); }

void take_console_input(drivers::Pl011& uart, std::uint32_t interrupt_id) {
    g_console_uart = &uart;
    g_console_interrupt = interrupt_id;
    uart.enable_receive_interrupt();
    drivers::interrupt_controller().enable_shared_interrupt(interrupt_id, this_cpu().hardware_id);
}

namespace {

struct DeviceInterruptRoute final {
    std::uint32_t interrupt_id{0};
    DeviceInterruptHandler handler{nullptr};
    void* context{nullptr};
};

constexpr std::uint32_t kFirstSharedInterrupt = 32;
constexpr std::uint32_t kLastSharedInterrupt = 1019;

// Entries below the count are complete: CPUs taking interrupts read the
// table without the lock.
std::array<DeviceInterruptRoute, kMaxDeviceInterrupts> g_device_routes{};
std::atomic<std::size_t> g_device_route_count{0};
SpinLock g_device_route_lock;

// Calls the handler routed to `interrupt_id`; false if there is none.
bool dispatch_device_interrupt(std::uint32_t interrupt_id) {
    const std::size_t count = g_device_route_count.load(std::memory_order_acquire);
    for (std::size_t i = 0; i < count; ++i) {
        const DeviceInterruptRoute& route = g_device_routes[i];
        if (route.interrupt_id != interrupt_id) continue;
        route.handler(route.context);
        return true;
    }
    return false;
}

}  // namespace

bool route_device_interrupt(std::uint32_t interrupt_id, DeviceInterruptHandler handler, void* context) {
    if (interrupt_id < kFirstSharedInterrupt || interrupt_id > kLastSharedInterrupt || handler == nullptr)
        return false;
    const LockGuard guard{g_device_route_lock};
    const std::size_t count = g_device_route_count.load(std::memory_order_relaxed);
    if (count == g_device_routes.size() || interrupt_id == g_console_interrupt) return false;
    for (std::size_t i = 0; i < count; ++i)
        if (g_device_routes[i].interrupt_id == interrupt_id) return false;
    g_device_routes[count] = DeviceInterruptRoute{interrupt_id, handler, context};
    g_device_route_count.store(count + 1, std::memory_order_release);
    drivers::interrupt_controller().enable_shared_interrupt(interrupt_id, this_cpu().hardware_id);
    return true;
}

bool interrupt_deliverable(Vcpu& vcpu) {
    virtual_cpu_interface::sync(vcpu);
    const LockGuard guard{vcpu.vm->gic.lock()};
    return vcpu.vm->gic.has_deliverable(vcpu.index);
}

void register_this_cpu(std::uint32_t index, std::uint64_t hardware_id) {
    PerCpu& cpu = per_cpu(index);
    cpu.index = index;
    cpu.hardware_id = hardware_id;
    cpu.stack_top = reinterpret_cast<std::uintptr_t>(cpu_stacks) + (index + 1) * LAMINA_STACK_SIZE;
    sysreg::tpidr_el2::write(reinterpret_cast<std::uintptr_t>(&cpu));
}

void mark_this_cpu_online() {
    this_cpu().online = true;
    __atomic_add_fetch(&g_online_cpus, 1, __ATOMIC_RELEASE);
}

std::uint64_t counter_now() {
    instruction_barrier();  // no reading the counter ahead of earlier instructions
    return sysreg::cntpct_el0::read();
}

std::uint64_t counter_frequency() { return sysreg::cntfrq_el0::read(); }

void set_scheduler_timer(std::uint64_t deadline) {
    sysreg::cnthp_cval_el2::write(deadline);
    sysreg::cnthp_ctl_el2::write(kTimerEnable);
    instruction_barrier();
}

void stop_scheduler_timer() {
    sysreg::cnthp_ctl_el2::write(0);
    instruction_barrier();
}

void signal_reschedule(std::uint32_t cpu_index) {
    drivers::interrupt_controller().send_signal(drivers::CpuSignal::reschedule, per_cpu(cpu_index).hardware_id);
}

void activate_vcpu(Vcpu& vcpu) {
    const Vm& vm = *vcpu.vm;
    sysreg::vttbr_el2::write(vm.address_space.translation_base());
    sysreg::cntvoff_el2::write(vm.counter_offset);
    load_vcpu_context(vcpu.context);
    update_physical_timer(vcpu);  // it may have fired while the vCPU was away
    virtual_cpu_interface::load(vcpu);
    this_cpu().trap_registers = &vcpu.context.registers;
}

void refresh_virtual_timer(Vcpu& vcpu) {
    vcpu.context.timer.control = sysreg::cntv_ctl_el0::read();
    vcpu.context.timer.compare = sysreg::cntv_cval_el0::read();
}

void deactivate_vcpu(Vcpu& vcpu) {
    virtual_cpu_interface::put(vcpu);
    save_vcpu_context(vcpu.context);
    this_cpu().trap_registers = nullptr;
}

void enter_guest(Vcpu& vcpu) { ::enter_guest(&vcpu.context.registers); }

void publish_guest_memory(std::uintptr_t address, std::uint64_t size) { cache::clean_to_poc(address, size); }

void zero_guest_memory(std::uintptr_t address, std::uint64_t size) { cache::zero_to_poc(address, size); }

void publish_instructions() { cache::invalidate_instruction_cache_all(); }

namespace {

// The running vCPU's virtual timer fired: hand it to the guest. The physical
// interrupt stays active until the guest deactivates its virtual twin.
void forward_virtual_timer(drivers::GicV3& gic, std::uint32_t interrupt) {
    gic.drop_priority(interrupt);
    Vcpu* vcpu = this_cpu().current;
    if (vcpu == nullptr) {
        gic.deactivate(interrupt);
        return;
    }
    vcpu->timer_twin_active = true;
    vcpu->vm->gic.reassert_level(guest_layout::kVirtualTimerInterruptId, vcpu->index);
}

}  // namespace

// Lamina's own interrupts (scheduler timer, signals from other CPUs, GIC
// maintenance, its drivers' devices) and the running guest's virtual timer.
bool handle_cpu_interrupts() {
    bool timer_fired = false;
    auto& gic = drivers::interrupt_controller();
    while (const auto interrupt = gic.acknowledge()) {
        if (*interrupt == g_virtual_timer_interrupt) {
            forward_virtual_timer(gic, *interrupt);
            continue;
        }
        if (*interrupt == g_scheduler_timer_interrupt) {
            stop_scheduler_timer();  // level-triggered: quiet it before EOI
            timer_fired = true;
        } else if (*interrupt == g_maintenance_interrupt) {
            // The list registers ran low: refill them before the guest resumes.
            if (Vcpu* vcpu = this_cpu().current) vcpu->interrupts_changed.store(true, std::memory_order_release);
            sysreg::ich_hcr_el2::write(sysreg::ich_hcr_el2::read() & ~std::uint64_t{2});
        } else if (*interrupt == g_console_interrupt && g_console_uart != nullptr) {
            while (const auto c = g_console_uart->receive()) console_input::receive(*c);
        } else if (*interrupt == static_cast<std::uint32_t>(drivers::CpuSignal::halt)) {
            gic.end_of_interrupt(*interrupt);
            halt_this_cpu();
        } else {
            (void)dispatch_device_interrupt(*interrupt);
        }
        gic.end_of_interrupt(*interrupt);
    }
    return timer_fired;
}

void wait_for_cpu_event() {
    wait_for_interrupt();
    (void)handle_cpu_interrupts();
}

void halt_this_cpu() {
    asm volatile("msr daifset, #0xf" ::: "memory");
    for (;;) wait_for_interrupt();
}

namespace {
bool g_power_off_when_idle = false;
}  // namespace

void power_off_when_idle(bool enabled) { g_power_off_when_idle = enabled; }

void on_last_vm_gone() {
    if (!g_power_off_when_idle) return;
    console::write_line("lamina: ", "powering the board off (lamina.halt_when_idle)");
    firmware::system_off();
}

}  // namespace arch
}  // namespace lamina
