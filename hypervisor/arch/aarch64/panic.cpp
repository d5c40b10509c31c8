// Lamina's last words: a fault inside the hypervisor, or a panic() call.
#include "arch/aarch64/cpu.hpp"
#include "arch/aarch64/sysreg.hpp"
#include "core/panic.hpp"
#include "core/per_cpu.hpp"
#include "drivers/gicv3.hpp"

namespace lamina {
namespace {

// Registers saved by hypervisor_exception in vectors.S.
struct HypervisorFrame final {
    std::uint64_t x[30];
    std::uint64_t link_register;
    std::uint64_t stack_pointer;
};

constexpr std::string_view kVectorNames[] = {
    "synchronous (SP_EL0)", "IRQ (SP_EL0)", "FIQ (SP_EL0)", "SError (SP_EL0)",
    "synchronous",          "IRQ",          "FIQ",          "SError",
};

void halt_other_cpus() {
    const std::uint32_t self = arch::sysreg::tpidr_el2::read() != 0 ? this_cpu().index : 0;
    for (std::uint32_t cpu = 0; cpu < online_cpu_count(); ++cpu) {
        if (cpu != self) drivers::interrupt_controller().send_signal(drivers::CpuSignal::halt, per_cpu(cpu).hardware_id);
    }
}

std::uint32_t current_cpu_index() { return arch::sysreg::tpidr_el2::read() != 0 ? this_cpu().index : 0; }

}  // namespace

void panic_with(std::string_view message) {
    log::error("PANIC on CPU {}: {}", current_cpu_index(), message);
    halt_other_cpus();
    log::error("all CPUs halted");
    arch::halt_this_cpu();
}

}  // namespace lamina

extern "C" [[noreturn]] void handle_hypervisor_exception(std::uint64_t vector, const lamina::HypervisorFrame* frame) {
    using namespace lamina;
    const std::uint64_t esr = arch::sysreg::esr_el2::read();
    const std::string_view kind = vector < 8 ? kVectorNames[vector] : "unknown";
    log::error("PANIC: {} exception in Lamina on CPU {}: exception class {}, ESR {}, FAR {}, ELR {}", kind,
               current_cpu_index(), Hex{(esr >> 26) & 0x3f}, Hex{esr}, Hex{arch::sysreg::far_el2::read()},
               Hex{arch::sysreg::elr_el2::read()});
    log::error("  LR {} SP {} x0 {} x1 {} x2 {}", Hex{frame->link_register}, Hex{frame->stack_pointer},
               Hex{frame->x[0]}, Hex{frame->x[1]}, Hex{frame->x[2]});
    halt_other_cpus();
    log::error("all CPUs halted");
    arch::halt_this_cpu();
}
