#include "arch/aarch64/guest_smccc.hpp"

#include "arch/aarch64/random.hpp"
#include "core/console.hpp"
#include "core/scheduler.hpp"
#include "core/stolen_time.hpp"
#include "core/trng.hpp"
#include "core/vcpu.hpp"
#include "core/vm.hpp"
#include "core/vm_manager.hpp"

namespace lamina::arch {
namespace {

enum FunctionId : std::uint32_t {
    smccc_version = 0x8000'0000,
    smccc_arch_features = 0x8000'0001,
    psci_version = 0x8400'0000,
    psci_cpu_suspend_32 = 0x8400'0001,
    psci_cpu_off = 0x8400'0002,
    psci_cpu_on_32 = 0x8400'0003,
    psci_affinity_info_32 = 0x8400'0004,
    psci_migrate_info_type = 0x8400'0006,
    psci_system_off = 0x8400'0008,
    psci_system_reset = 0x8400'0009,
    psci_features = 0x8400'000a,
    psci_cpu_suspend_64 = 0xc400'0001,
    psci_cpu_on_64 = 0xc400'0003,
    psci_affinity_info_64 = 0xc400'0004,
    trng_version = 0x8400'0050,
    trng_features = 0x8400'0051,
    trng_get_uuid = 0x8400'0052,
    trng_rnd_32 = 0x8400'0053,
    trng_rnd_64 = 0xc400'0053,
    hv_pv_time_features = 0xc500'0020,
    hv_pv_time_st = 0xc500'0021,
    lamina_call_count = 0x8600'ff00,
    lamina_call_uid = 0x8600'ff01,
    lamina_revision = 0x8600'ff03,
};

enum PsciResult : std::int64_t {
    success = 0,
    not_supported = -1,
    invalid_parameters = -2,
    already_on = -4,
    on_pending = -5,
    invalid_address = -9,
};

constexpr std::uint64_t kSmcccVersion1_1 = 0x1'0001;
constexpr std::uint64_t kPsciVersion1_0 = 0x1'0000;
constexpr std::uint64_t kMigrateInfoNoTrustedOs = 2;
// Lamina's UID (4 words): an arbitrary but fixed UUID.
constexpr std::uint64_t kLaminaUid[4] = {0x6c61'6d69, 0x6e61'2d68, 0x7970'6572, 0x7669'736f};

void set_result(GuestRegisters& registers, std::int64_t value) {
    registers.x[0] = static_cast<std::uint64_t>(value);
}

bool is_implemented(std::uint32_t function) {
    switch (function) {
        case smccc_version: case smccc_arch_features: case psci_version: case psci_cpu_suspend_32:
        case psci_cpu_suspend_64: case psci_cpu_off: case psci_cpu_on_32: case psci_cpu_on_64:
        case psci_affinity_info_32: case psci_affinity_info_64: case psci_migrate_info_type:
        case psci_system_off: case psci_system_reset: case psci_features:
        case hv_pv_time_features: case hv_pv_time_st:
            return true;
        case trng_version: case trng_features: case trng_get_uuid: case trng_rnd_32: case trng_rnd_64:
            return arch::has_hardware_random();
        default:
            return false;
    }
}

// PSCI_FEATURES speaks for the SMCCC calls and PSCI's own functions (0x00 to
// 0x1f of the standard secure service), not for TRNG or hypervisor services.
bool is_psci_feature(std::uint32_t function) {
    const std::uint32_t owner = (function >> 24) & 0x3f;
    return is_implemented(function) && (owner == 0 || (owner == 4 && (function & 0xffff) <= 0x1f));
}

bool is_trng_function(std::uint32_t function) {
    return function == trng_version || function == trng_features || function == trng_get_uuid ||
           function == trng_rnd_32 || function == trng_rnd_64;
}

std::int64_t feature_result(bool implemented) { return implemented ? success : not_supported; }

// The vCPU a PSCI target affinity names: Aff0 = vCPU index, higher levels 0.
Vcpu* target_vcpu(Vm& vm, std::uint64_t mpidr) {
    if ((mpidr & ~std::uint64_t{0xff}) != 0) return nullptr;
    if (mpidr >= vm.vcpu_count) return nullptr;
    return &vm.vcpus[mpidr];
}

std::int64_t cpu_on(Vcpu& caller, std::uint64_t target, std::uint64_t entry, std::uint64_t context) {
    Vm& vm = *caller.vm;
    Vcpu* vcpu = target_vcpu(vm, target);
    if (vcpu == nullptr) return invalid_parameters;
    if (!vm.ram.contains(GuestPhysAddr{entry}) || (entry & 3) != 0) return invalid_address;
    switch (scheduler::power_on(*vcpu, entry, context)) {
        case scheduler::PowerOnResult::started: return success;
        case scheduler::PowerOnResult::already_on: return already_on;
        case scheduler::PowerOnResult::on_pending: return on_pending;
    }
    return invalid_parameters;
}

std::int64_t affinity_info(Vcpu& caller, std::uint64_t target, std::uint64_t lowest_level) {
    if (lowest_level != 0) return invalid_parameters;
    Vcpu* vcpu = target_vcpu(*caller.vm, target);
    if (vcpu == nullptr) return invalid_parameters;
    switch (scheduler::power_state(*vcpu)) {
        case VcpuPower::on: return 0;
        case VcpuPower::off: return 1;
        case VcpuPower::on_pending: return 2;
    }
    return invalid_parameters;
}

// SMC32 calls pass 32-bit arguments; the upper halves are not the caller's.
std::uint64_t argument(const GuestRegisters& registers, unsigned index, bool is_32bit) {
    const std::uint64_t value = registers.x[index];
    return is_32bit ? (value & 0xffff'ffff) : value;
}

// HV_PV_TIME_FEATURES: which PV time calls exist.
std::int64_t pv_time_features(std::uint64_t function) {
    const auto queried = static_cast<std::uint32_t>(function);
    return feature_result(queried == hv_pv_time_features || queried == hv_pv_time_st);
}

// HV_PV_TIME_ST: the IPA of the calling vCPU's stolen-time record.
std::int64_t stolen_time_record(const Vcpu& vcpu) {
    if (vcpu.vm->stolen_time_page.size == 0) return not_supported;
    return static_cast<std::int64_t>(stolen_time::record_address(vcpu.index).value());
}

// The TRNG calls: all NOT_SUPPORTED on a CPU without a random number generator.
void handle_trng(GuestRegisters& registers, std::uint32_t function) {
    if (!arch::has_hardware_random()) {
        set_result(registers, not_supported);
        return;
    }
    switch (function) {
        case trng_version: set_result(registers, trng::kVersion1_0); return;
        case trng_features:
            set_result(registers, feature_result(is_trng_function(static_cast<std::uint32_t>(registers.x[1]))));
            return;
        case trng_get_uuid:
            for (unsigned i = 0; i < 4; ++i) registers.x[i] = trng::uuid_word(i);
            return;
        default: {
            const bool is_32bit = function == trng_rnd_32;
            const auto width = is_32bit ? trng::Width::bits32 : trng::Width::bits64;
            const std::uint64_t bits = argument(registers, 1, is_32bit);
            const trng::Result result = trng::random_bits(bits, width, arch::hardware_random);
            set_result(registers, result.status);
            for (unsigned i = 0; i < 3; ++i) registers.x[i + 1] = result.registers[i];
            return;
        }
    }
}

void handle_psci_power(Vcpu& vcpu, GuestRegisters& registers, std::uint32_t function) {
    switch (function) {
        case psci_cpu_off:
            scheduler::power_off(vcpu);
        case psci_system_off:
            vm_manager::destroy(*vcpu.vm, "powered off by the guest (PSCI SYSTEM_OFF)");
            scheduler::leave_stopped(vcpu);
        case psci_system_reset:
            vm_manager::restart(*vcpu.vm, "reset by the guest (PSCI SYSTEM_RESET)");
            scheduler::leave_stopped(vcpu);
        default:
            // CPU_SUSPEND: a standby wait, resumed like WFI.
            set_result(registers, success);
            scheduler::wait_for_interrupt(vcpu);
    }
}

}  // namespace

void handle_guest_smccc(Vcpu& vcpu, GuestRegisters& registers) {
    const auto function = static_cast<std::uint32_t>(registers.x[0]);
    const bool is_32bit = (function & 0x4000'0000) == 0;
    switch (function) {
        case smccc_version: set_result(registers, kSmcccVersion1_1); return;
        case smccc_arch_features:
            set_result(registers, feature_result(is_implemented(static_cast<std::uint32_t>(registers.x[1]))));
            return;
        case psci_version: set_result(registers, kPsciVersion1_0); return;
        case psci_features:
            set_result(registers, feature_result(is_psci_feature(static_cast<std::uint32_t>(registers.x[1]))));
            return;
        case psci_cpu_on_32:
        case psci_cpu_on_64:
            set_result(registers, cpu_on(vcpu, argument(registers, 1, is_32bit), argument(registers, 2, is_32bit),
                                         argument(registers, 3, is_32bit)));
            return;
        case psci_affinity_info_32:
        case psci_affinity_info_64:
            set_result(registers,
                       affinity_info(vcpu, argument(registers, 1, is_32bit), argument(registers, 2, is_32bit)));
            return;
        case psci_migrate_info_type: set_result(registers, kMigrateInfoNoTrustedOs); return;
        case psci_cpu_suspend_32:
        case psci_cpu_suspend_64:
        case psci_cpu_off:
        case psci_system_off:
        case psci_system_reset: handle_psci_power(vcpu, registers, function); return;
        case trng_version:
        case trng_features:
        case trng_get_uuid:
        case trng_rnd_32:
        case trng_rnd_64: handle_trng(registers, function); return;
        case hv_pv_time_features: set_result(registers, pv_time_features(registers.x[1])); return;
        case hv_pv_time_st: set_result(registers, stolen_time_record(vcpu)); return;
        case kLaminaNullCall: set_result(registers, success); return;
        case lamina_call_count: set_result(registers, 1); return;
        case lamina_call_uid:
            for (unsigned i = 0; i < 4; ++i) registers.x[i] = kLaminaUid[i];
            return;
        case lamina_revision:
            registers.x[0] = 0;
            registers.x[1] = 1;
            return;
        default:
            log::debug("vm {}: unknown SMCCC function {}", vcpu.vm->name(), Hex{function});
            set_result(registers, not_supported);
            return;
    }
}

}  // namespace lamina::arch
