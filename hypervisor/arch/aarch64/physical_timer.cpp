#include "arch/aarch64/physical_timer.hpp"

#include "arch/aarch64/platform_cpu.hpp"
#include "core/guest_layout.hpp"
#include "core/vcpu.hpp"
#include "core/vm.hpp"

namespace lamina::arch {
namespace {

constexpr std::uint64_t kEnable = 1u << 0;
constexpr std::uint64_t kMask = 1u << 1;
constexpr std::uint64_t kStatus = 1u << 2;

// CNTP_TVAL_EL0, CNTP_CTL_EL0, CNTP_CVAL_EL0: S3_3_C14_C2_{0,1,2}.
enum TimerRegister : unsigned { timer_value = 0, control = 1, compare = 2 };

bool condition_met(const EmulatedTimerRegisters& timer, std::uint64_t now) {
    return (timer.control & kEnable) != 0 && now >= timer.compare;
}

}  // namespace

bool is_physical_timer_register(const SystemRegisterAccess& access) {
    return access.op0() == 3 && access.op1() == 3 && access.crn() == 14 && access.crm() == 2 && access.op2() <= 2;
}

void access_physical_timer(Vcpu& vcpu, const SystemRegisterAccess& access, std::uint64_t& value) {
    EmulatedTimerRegisters& timer = vcpu.context.physical_timer;
    const std::uint64_t now = counter_now();
    if (access.is_read()) {
        switch (access.op2()) {
            case timer_value: value = static_cast<std::uint32_t>(timer.compare - now); break;
            case control: value = timer.control | (condition_met(timer, now) ? kStatus : 0); break;
            default: value = timer.compare; break;
        }
        return;
    }
    switch (access.op2()) {
        // TVAL is a signed 32-bit distance from now.
        case timer_value: timer.compare = now + static_cast<std::uint64_t>(static_cast<std::int64_t>(static_cast<std::int32_t>(value))); break;
        case control: timer.control = value & (kEnable | kMask); break;
        default: timer.compare = value; break;
    }
    update_physical_timer(vcpu);
}

void update_physical_timer(Vcpu& vcpu) {
    const EmulatedTimerRegisters& timer = vcpu.context.physical_timer;
    const bool asserted = condition_met(timer, counter_now()) && (timer.control & kMask) == 0;
    vcpu.vm->gic.set_level(guest_layout::kPhysicalTimerInterruptId, asserted, vcpu.index);
}

std::optional<std::uint64_t> physical_timer_deadline(const Vcpu& vcpu) {
    const EmulatedTimerRegisters& timer = vcpu.context.physical_timer;
    if ((timer.control & kEnable) == 0 || (timer.control & kMask) != 0) return std::nullopt;
    return timer.compare;
}

}  // namespace lamina::arch
