#include "drivers/gicv3.hpp"

#include "arch/aarch64/sysreg.hpp"
#include "core/per_cpu.hpp"
#include "drivers/mmio.hpp"

namespace lamina::drivers {
namespace {

using namespace lamina::arch;

// Distributor registers.
constexpr std::uint64_t kGicdCtlr = 0x0000;
constexpr std::uint64_t kGicdTyper = 0x0004;
constexpr std::uint64_t kGicdIgroupr = 0x0080;
constexpr std::uint64_t kGicdIcenabler = 0x0180;
constexpr std::uint64_t kGicdIsenabler = 0x0100;
constexpr std::uint64_t kGicdIpriorityr = 0x0400;
constexpr std::uint64_t kGicdIrouter = 0x6000;
constexpr std::uint32_t kGicdCtlrRwp = 1u << 31;
constexpr std::uint32_t kGicdCtlrEnableGroup1 = 1u << 1;
constexpr std::uint32_t kGicdCtlrAffinityRouting = 1u << 4;

// Redistributor: RD frame, then the SGI/PPI frame 64 KiB above it.
constexpr std::uint64_t kGicrWaker = 0x0014;
constexpr std::uint64_t kGicrTyper = 0x0008;
constexpr std::uint64_t kSgiFrame = 64 * KiB;
constexpr std::uint64_t kGicrIgroupr0 = kSgiFrame + 0x0080;
constexpr std::uint64_t kGicrIsenabler0 = kSgiFrame + 0x0100;
constexpr std::uint64_t kGicrIsactiver0 = kSgiFrame + 0x0300;
constexpr std::uint64_t kGicrIcactiver0 = kSgiFrame + 0x0380;
constexpr std::uint64_t kGicrIcenabler0 = kSgiFrame + 0x0180;
constexpr std::uint64_t kGicrIpriorityr = kSgiFrame + 0x0400;
constexpr std::uint32_t kWakerProcessorSleep = 1u << 1;
constexpr std::uint32_t kWakerChildrenAsleep = 1u << 2;
constexpr std::uint64_t kTyperLast = 1u << 4;
constexpr std::uint64_t kTyperVirtualLpis = 1u << 1;

constexpr std::uint32_t kDefaultPriority = 0xa0;
constexpr std::uint64_t kEoiModeSplit = 1u << 1;  // ICC_CTLR_EL1.EOImode
constexpr std::uint32_t kSpuriousInterrupt = 1020;

GicV3 g_gic;

std::uint64_t affinity_of(std::uint64_t mpidr) {
    return (mpidr & 0xff'ffff) | ((mpidr >> 32) & 0xff) << 24;
}

}  // namespace

GicV3& interrupt_controller() { return g_gic; }

void GicV3::wait_for_distributor_writes() const {
    while ((mmio_read32(distributor_.base + kGicdCtlr) & kGicdCtlrRwp) != 0) {
    }
}

Status GicV3::init_distributor(HostPhysRange distributor, HostPhysRange redistributors) {
    distributor_ = distributor;
    redistributors_ = redistributors;
    mmio_write32(distributor_.base + kGicdCtlr, 0);
    wait_for_distributor_writes();
    const std::uint32_t lines = ((mmio_read32(distributor_.base + kGicdTyper) & 0x1f) + 1) * 32;
    // Every shared interrupt: group 1, disabled, default priority. Virtual
    // devices and passthrough enable the ones they use.
    for (std::uint32_t id = 32; id < lines; id += 32) {
        mmio_write32(distributor_.base + kGicdIgroupr + id / 8, 0xffff'ffff);
        mmio_write32(distributor_.base + kGicdIcenabler + id / 8, 0xffff'ffff);
    }
    for (std::uint32_t id = 32; id < lines; id += 4)
        mmio_write32(distributor_.base + kGicdIpriorityr + id, kDefaultPriority * 0x0101'0101u);
    wait_for_distributor_writes();
    mmio_write32(distributor_.base + kGicdCtlr, kGicdCtlrAffinityRouting | kGicdCtlrEnableGroup1);
    wait_for_distributor_writes();
    return {};
}

std::optional<HostPhysAddr> GicV3::find_redistributor(std::uint64_t mpidr) const {
    const std::uint64_t wanted = affinity_of(mpidr);
    HostPhysAddr frame = redistributors_.base;
    while (redistributors_.contains(frame)) {
        const std::uint64_t typer = mmio_read64(frame + kGicrTyper);
        if ((typer >> 32) == wanted) return frame;
        if ((typer & kTyperLast) != 0) break;
        // Two 64 KiB frames per redistributor, four with GICv4 virtual LPIs.
        frame += (typer & kTyperVirtualLpis) != 0 ? 256 * KiB : 128 * KiB;
    }
    return std::nullopt;
}

Status GicV3::init_this_cpu(std::uint64_t mpidr) {
    const auto frame = find_redistributor(mpidr);
    if (!frame) return Error{"no GIC redistributor for this CPU"};
    const std::uint32_t cpu = this_cpu().index;
    if (cpu >= cpu_redistributor_.size()) return Error{"too many CPUs for the GIC driver"};
    cpu_redistributor_[cpu] = *frame;
    mmio_write32(*frame + kGicrWaker, mmio_read32(*frame + kGicrWaker) & ~kWakerProcessorSleep);
    while ((mmio_read32(*frame + kGicrWaker) & kWakerChildrenAsleep) != 0) {
    }
    mmio_write32(*frame + kGicrIgroupr0, 0xffff'ffff);
    mmio_write32(*frame + kGicrIcenabler0, 0xffff'ffff);
    for (std::uint32_t id = 0; id < 32; id += 4)
        mmio_write32(*frame + kGicrIpriorityr + id, kDefaultPriority * 0x0101'0101u);
    mmio_write32(*frame + kGicrIsenabler0, (1u << static_cast<std::uint32_t>(CpuSignal::reschedule)) |
                                               (1u << static_cast<std::uint32_t>(CpuSignal::halt)));

    // System-register interface for EL2 and (Enable) for EL1's virtual interface.
    sysreg::icc_sre_el2::write(sysreg::icc_sre_el2::read() | 0xf);
    instruction_barrier();
    sysreg::icc_pmr_el1::write(0xff);
    sysreg::icc_bpr1_el1::write(0);
    sysreg::icc_ctlr_el1::write(kEoiModeSplit);
    sysreg::icc_igrpen1_el1::write(1);
    instruction_barrier();
    return {};
}

HostPhysAddr GicV3::this_cpu_redistributor() const { return cpu_redistributor_[this_cpu().index]; }

void GicV3::enable_private_interrupt(std::uint32_t interrupt_id) {
    if (interrupt_id >= 32) return;
    mmio_write32(this_cpu_redistributor() + kGicrIsenabler0, 1u << interrupt_id);
}

void GicV3::enable_shared_interrupt(std::uint32_t interrupt_id, std::uint64_t target_mpidr) {
    if (interrupt_id < 32) return;
    mmio_write64(distributor_.base + kGicdIrouter + 8 * interrupt_id, target_mpidr & 0xff'00ff'ffffull);
    mmio_write32(distributor_.base + kGicdIsenabler + 4 * (interrupt_id / 32), 1u << (interrupt_id % 32));
    wait_for_distributor_writes();
}

bool GicV3::is_private_active(std::uint32_t interrupt_id) const {
    return ((mmio_read32(this_cpu_redistributor() + kGicrIsactiver0) >> interrupt_id) & 1) != 0;
}

void GicV3::set_private_active(std::uint32_t interrupt_id, bool active) {
    const HostPhysAddr frame = this_cpu_redistributor();
    mmio_write32(frame + (active ? kGicrIsactiver0 : kGicrIcactiver0), 1u << interrupt_id);
}

std::optional<std::uint32_t> GicV3::acknowledge() {
    const auto id = static_cast<std::uint32_t>(sysreg::icc_iar1_el1::read() & 0xff'ffff);
    if (id >= kSpuriousInterrupt && id <= 1023) return std::nullopt;
    return id;
}

void GicV3::drop_priority(std::uint32_t interrupt_id) {
    sysreg::icc_eoir1_el1::write(interrupt_id);
    instruction_barrier();
}

void GicV3::deactivate(std::uint32_t interrupt_id) {
    sysreg::icc_dir_el1::write(interrupt_id);
    instruction_barrier();
}

void GicV3::end_of_interrupt(std::uint32_t interrupt_id) {
    drop_priority(interrupt_id);
    deactivate(interrupt_id);
}

void GicV3::send_signal(CpuSignal signal, std::uint64_t target_mpidr) {
    const std::uint64_t aff0 = target_mpidr & 0xf;          // target list bit (Aff0 0..15)
    const std::uint64_t range = (target_mpidr >> 4) & 0xf;  // RS: which group of 16
    const std::uint64_t value = (((target_mpidr >> 32) & 0xff) << 48) | (range << 44) |
                                (((target_mpidr >> 16) & 0xff) << 32) |
                                (static_cast<std::uint64_t>(signal) << 24) | (((target_mpidr >> 8) & 0xff) << 16) |
                                (std::uint64_t{1} << aff0);
    // Make this CPU's earlier writes visible before the target wakes up.
    data_sync_barrier_inner_shareable();
    sysreg::icc_sgi1r_el1::write(value);
    instruction_barrier();
}

}  // namespace lamina::drivers
