// Every way a guest reaches Lamina: one entry per vector kind, and for
// synchronous traps one switch over the exception class.
#include "arch/aarch64/cpu.hpp"
#include "arch/aarch64/guest_registers.hpp"
#include "arch/aarch64/guest_smccc.hpp"
#include "arch/aarch64/id_registers.hpp"
#include "arch/aarch64/physical_timer.hpp"
#include "arch/aarch64/system_register_access.hpp"
#include "arch/aarch64/virtual_cpu_interface.hpp"
#include "arch/aarch64/sysreg.hpp"
#include "core/console.hpp"
#include "core/per_cpu.hpp"
#include "core/scheduler.hpp"
#include "core/vm.hpp"
#include "core/vm_manager.hpp"

namespace lamina::arch {
namespace {

constexpr std::uint32_t kWfeBit = 1u << 0;  // ESR.ISS.TI: WFE rather than WFI

// Data-abort syndrome fields (ESR_EL2.ISS) needed to emulate an access.
struct DataAbort final {
    std::uint32_t iss;
    [[nodiscard]] bool is_valid() const { return (iss >> 24) & 1; }
    [[nodiscard]] unsigned access_size() const { return 1u << ((iss >> 22) & 3); }
    [[nodiscard]] bool sign_extend() const { return (iss >> 21) & 1; }
    [[nodiscard]] unsigned register_index() const { return (iss >> 16) & 31; }
    [[nodiscard]] bool is_64bit_register() const { return (iss >> 15) & 1; }
    [[nodiscard]] bool is_write() const { return (iss >> 6) & 1; }
};

Vcpu& current_vcpu() { return *this_cpu().current; }

std::uint64_t faulting_guest_address() {
    // HPFAR_EL2.FIPA holds IPA[47:12]; FAR_EL2 supplies the offset in the page.
    const std::uint64_t page = (sysreg::hpfar_el2::read() & 0x0000'0fff'ffff'fff0ull) << 8;
    return page | (sysreg::far_el2::read() & 0xfff);
}

[[noreturn, gnu::cold]] void stop_vm_with_report(Vcpu& vcpu, const FormatBuffer& report) {
    log::error("vm {}: {}", vcpu.vm->name(), report.view());
    vm_manager::destroy(*vcpu.vm, "stopped after a fault (see the report above)");
    scheduler::leave_stopped(vcpu);
}

[[noreturn]] void stop_for_unexpected_trap(Vcpu& vcpu, const GuestRegisters& registers, std::uint64_t esr) {
    FormatBuffer report;
    format_to(report, "unexpected trap: exception class {}, ESR {}, FAR {}, PC {} on vCPU {}",
              Hex{(esr >> 26) & 0x3f}, Hex{esr}, Hex{sysreg::far_el2::read()}, Hex{registers.pc}, vcpu.index);
    stop_vm_with_report(vcpu, report);
}

std::uint64_t read_guest_register(const GuestRegisters& registers, unsigned index) {
    return index == 31 ? 0 : registers.x[index];  // 31 is XZR here
}

std::uint64_t extend_loaded_value(std::uint64_t value, const DataAbort& abort) {
    const unsigned bits = abort.access_size() * 8;
    if (bits < 64) value &= (std::uint64_t{1} << bits) - 1;
    if (abort.sign_extend() && bits < 64 && ((value >> (bits - 1)) & 1) != 0) value |= ~std::uint64_t{0} << bits;
    if (!abort.is_64bit_register()) value &= 0xffff'ffff;
    return value;
}

// The reports that stop a VM, kept out of line so the emulation path stays short.
[[noreturn, gnu::cold, gnu::noinline]] void stop_for_access_outside(Vcpu& vcpu, const GuestRegisters& registers,
                                                                   std::uint64_t esr, GuestPhysAddr address) {
    FormatBuffer report;
    format_to(report, "{} at guest address {} is outside its memory and devices (PC {}, ESR {})",
              DataAbort{syndrome(esr)}.is_write() ? "write" : "read", address, Hex{registers.pc}, Hex{esr});
    stop_vm_with_report(vcpu, report);
}

[[noreturn, gnu::cold, gnu::noinline]] void stop_for_undecodable_access(Vcpu& vcpu, const GuestRegisters& registers,
                                                                       std::uint64_t esr, GuestPhysAddr address) {
    FormatBuffer report;
    format_to(report, "device access at {} without a syndrome to emulate it (PC {}, ESR {})", address,
              Hex{registers.pc}, Hex{esr});
    stop_vm_with_report(vcpu, report);
}

[[noreturn, gnu::cold, gnu::noinline]] void stop_for_unsupported_access(Vcpu& vcpu, const GuestRegisters& registers,
                                                                       const MmioAccess& access) {
    FormatBuffer report;
    format_to(report, "unsupported {}-byte {} at device offset {} (PC {})", access.size,
              access.is_write ? "write" : "read", Hex{access.offset}, Hex{registers.pc});
    stop_vm_with_report(vcpu, report);
}

void handle_data_abort(Vcpu& vcpu, GuestRegisters& registers, std::uint64_t esr) {
    const DataAbort abort{syndrome(esr)};
    const GuestPhysAddr address{faulting_guest_address()};
    MmioRegion* region = vcpu.vm->find_mmio(address);
    if (region == nullptr) stop_for_access_outside(vcpu, registers, esr, address);
    if (!abort.is_valid()) stop_for_undecodable_access(vcpu, registers, esr, address);
    const std::uint64_t offset = address - region->range.base;
    if (region->device->shows_list_register_state(offset)) virtual_cpu_interface::sync(vcpu);
    MmioAccess access{offset, abort.access_size(), abort.is_write(),
                      abort.is_write() ? read_guest_register(registers, abort.register_index()) : 0};
    if (!region->device->access(access)) stop_for_unsupported_access(vcpu, registers, access);
    if (!abort.is_write() && abort.register_index() != 31)
        registers.x[abort.register_index()] = extend_loaded_value(access.value, abort);
    registers.pc += 4;
}

// ICC_SGI1R_EL1, ICC_ASGI1R_EL1 and ICC_SGI0R_EL1: S3_0_C12_C11_{5,6,7}.
bool is_sgi_register(const SystemRegisterAccess& access) {
    return access.op0() == 3 && access.op1() == 0 && access.crn() == 12 && access.crm() == 11 && access.op2() >= 5;
}

bool is_id_register(const SystemRegisterAccess& access) {
    return access.op0() == 3 && access.op1() == 0 && access.crn() == 0 && access.crm() >= 1 && access.crm() <= 7;
}

void write_guest_register(GuestRegisters& registers, unsigned index, std::uint64_t value) {
    if (index != 31) registers.x[index] = value;
}

void handle_system_register(Vcpu& vcpu, GuestRegisters& registers, std::uint64_t esr) {
    const SystemRegisterAccess access{syndrome(esr)};
    if (is_sgi_register(access) && !access.is_read()) {
        vcpu.vm->gic.send_sgi(vcpu.index, read_guest_register(registers, access.register_index()));
    } else if (is_id_register(access) && access.is_read()) {
        write_guest_register(registers, access.register_index(), guest_id_register(access.crm(), access.op2()));
    } else if (is_physical_timer_register(access)) {
        std::uint64_t value = access.is_read() ? 0 : read_guest_register(registers, access.register_index());
        access_physical_timer(vcpu, access, value);
        if (access.is_read()) {
            write_guest_register(registers, access.register_index(), value);
        } else {
            scheduler::timers_changed(vcpu);
        }
    } else {
        stop_for_unexpected_trap(vcpu, registers, esr);
    }
    registers.pc += 4;
}

void handle_wait(Vcpu& vcpu, GuestRegisters& registers, std::uint64_t esr) {
    registers.pc += 4;
    if ((syndrome(esr) & kWfeBit) != 0) {
        vcpu.count_exit(ExitReason::wfe);
        scheduler::yield(vcpu);
    } else {
        vcpu.count_exit(ExitReason::wfi);
        scheduler::wait_for_interrupt(vcpu);
    }
}

}  // namespace
}  // namespace lamina::arch

using lamina::arch::GuestRegisters;

extern "C" GuestRegisters* handle_guest_synchronous(GuestRegisters* registers) {
    using namespace lamina;
    using namespace lamina::arch;
    Vcpu& vcpu = current_vcpu();
    const std::uint64_t esr = sysreg::esr_el2::read();
    switch (exception_class(esr)) {
        case ExceptionClass::hvc64:
            vcpu.count_exit(ExitReason::hypercall);
            handle_guest_smccc(vcpu, *registers);
            break;
        case ExceptionClass::smc64:
            // A trapped SMC returns to the SMC itself; step over it.
            vcpu.count_exit(ExitReason::hypercall);
            registers->pc += 4;
            handle_guest_smccc(vcpu, *registers);
            break;
        case ExceptionClass::data_abort_lower:
            vcpu.count_exit(ExitReason::mmio);
            handle_data_abort(vcpu, *registers, esr);
            break;
        case ExceptionClass::wfi_wfe: handle_wait(vcpu, *registers, esr); break;
        case ExceptionClass::system_register:
            vcpu.count_exit(ExitReason::system_register);
            handle_system_register(vcpu, *registers, esr);
            break;
        default:
            vcpu.count_exit(ExitReason::fault);
            stop_for_unexpected_trap(vcpu, *registers, esr);
    }
    virtual_cpu_interface::refresh_if_needed(vcpu);
    return registers;
}

extern "C" GuestRegisters* handle_guest_irq(GuestRegisters* registers) {
    using namespace lamina;
    Vcpu& vcpu = arch::current_vcpu();
    vcpu.count_exit(ExitReason::interrupt);
    const bool timer_fired = arch::handle_cpu_interrupts();
    scheduler::after_interrupts(vcpu, timer_fired);
    arch::virtual_cpu_interface::refresh_if_needed(vcpu);
    return registers;
}

extern "C" GuestRegisters* handle_guest_fiq(GuestRegisters* registers) {
    lamina::arch::stop_for_unexpected_trap(lamina::arch::current_vcpu(), *registers, lamina::arch::sysreg::esr_el2::read());
}

extern "C" GuestRegisters* handle_guest_serror(GuestRegisters* registers) {
    using namespace lamina;
    FormatBuffer report;
    format_to(report, "SError (asynchronous abort) while it ran: ESR {}, PC {}", Hex{arch::sysreg::esr_el2::read()},
              Hex{registers->pc});
    arch::stop_vm_with_report(arch::current_vcpu(), report);
}
