// conformance: interrupts between the two vCPUs — SGIs by target list, to
// the other vCPU and to "all but self" (IRM), SPI routing to the other
// vCPU and to "any", the distributor's pending state of an SPI that waits
// at the other vCPU, and the virtual counter as seen by both.
#include "conformance.hpp"

namespace conformance {
namespace {

constexpr std::uint32_t kRoutedSpi = 64;
constexpr std::uint32_t kAnySpi = 66;
constexpr std::uint32_t kRemotePendingSpi = 65;
constexpr std::uint64_t kTakenWithinUs = 100'000;
constexpr std::uint64_t kNotTakenForUs = 5'000;

// Needs vCPU 1 serving its mailbox; otherwise says why the check fails.
bool need_secondary(Check& check) {
    if (secondary_online()) return true;
    check.fail() << "vCPU 1 is not running (CPU_ON failed earlier)";
    return false;
}

// Resets both vCPUs' interrupt logs.
bool reset_logs(Check& check) {
    reset_irq_log();
    if (run_on(1, Command::reset_log)) return true;
    check.fail() << "vCPU 1 does not answer its mailbox";
    return false;
}

// vCPU 0 keeps IRQs unmasked for a while; true if `id` was not taken here.
bool untaken_here(std::uint32_t id) {
    const auto before = irq_count(0, id);
    (void)poll_with_irqs([&] { return irq_count(0, id) != before; }, kNotTakenForUs);
    return irq_count(0, id) == before;
}

void check_sgi_self() {
    Check check{"sgi-self"};
    constexpr std::uint32_t kSgi = 3;
    reset_irq_log();
    arch::gic_send_sgi_group1(gic::sgi_to_list(kSgi, 1u << 0));
    if (!poll_with_irqs([] { return irq_count(0, kSgi) >= 1; }, kTakenWithinUs)) {
        check.fail() << "SGI 3 sent to itself (target list 0x1) not taken within " << kTakenWithinUs / 1000 << " ms";
        return;
    }
    check.expect_equal("ICC_IAR1_EL1 for the SGI", load(irq_log[0].order[0]), kSgi);
    if (!untaken_here(kSgi)) check.fail() << "SGI 3 taken twice";
    if (gic::is_pending(kSgi, 0) || gic::is_active(kSgi, 0)) check.fail() << "SGI 3 pending or active after EOIR";
}

void check_sgi_other() {
    Check check{"sgi-other"};
    constexpr std::uint32_t kSgi = 4;
    if (!need_secondary(check) || !reset_logs(check)) return;
    arch::gic_send_sgi_group1(gic::sgi_to_list(kSgi, 1u << 1));
    if (!poll_for([] { return irq_count(1, kSgi) >= 1; }, kTakenWithinUs))
        check.fail() << "vCPU 1 did not take SGI 4 within " << kTakenWithinUs / 1000 << " ms (target list 0x2)";
    if (!untaken_here(kSgi)) check.fail() << "vCPU 0 took SGI 4 it sent to vCPU 1 only";
    spin_us(kNotTakenForUs);
    if (irq_count(1, kSgi) > 1) check.fail() << "vCPU 1 took SGI 4 " << irq_count(1, kSgi) << " times";
}

void check_sgi_all_but_self() {
    Check check{"sgi-all-but-self"};
    constexpr std::uint32_t kSgi = 5;
    if (!need_secondary(check) || !reset_logs(check)) return;
    arch::gic_send_sgi_group1(gic::sgi_to_others(kSgi));
    if (!poll_for([] { return irq_count(1, kSgi) >= 1; }, kTakenWithinUs))
        check.fail() << "vCPU 1 did not take SGI 5 sent with IRM=1 within " << kTakenWithinUs / 1000 << " ms";
    if (!untaken_here(kSgi)) check.fail() << "the sender took SGI 5 sent with IRM=1 (all but self)";
    spin_us(kNotTakenForUs);
    if (irq_count(1, kSgi) > 1) check.fail() << "vCPU 1 took SGI 5 " << irq_count(1, kSgi) << " times";
}

void check_sgi_target_lists() {
    Check check{"sgi-target-list"};
    if (!need_secondary(check) || !reset_logs(check)) return;
    arch::gic_send_sgi_group1(gic::sgi_to_list(7, 0b11));
    if (!poll_with_irqs([] { return irq_count(0, 7) >= 1 && irq_count(1, 7) >= 1; }, kTakenWithinUs))
        check.fail() << "SGI 7 to target list 0x3: vCPU 0 took it " << irq_count(0, 7) << " time(s), vCPU 1 "
                     << irq_count(1, 7) << ", expected once each";
    // Targets that name no vCPU: list bit 9 (Aff0 = 9), and Aff1 = 1.
    arch::gic_send_sgi_group1(gic::sgi_to_list(8, 1u << 9));
    arch::gic_send_sgi_group1(gic::sgi_to_list(9, 1u << 0) | (std::uint64_t{1} << 16));
    (void)untaken_here(8);
    const auto stray = irq_count(0, 8) + irq_count(1, 8) + irq_count(0, 9) + irq_count(1, 9);
    if (stray != 0)
        check.fail() << "SGIs to affinities with no vCPU were taken " << stray
                     << " time(s) (SGI 8 to Aff0 9, SGI 9 to Aff1 1)";
}

void check_spi_routing() {
    Check check{"spi-routed-other"};
    if (!need_secondary(check) || !reset_logs(check)) return;
    gic::reset_interrupt(kRoutedSpi, 0);
    gic::route_spi(kRoutedSpi, 1);
    gic::enable(kRoutedSpi, 0);
    gic::set_pending(kRoutedSpi, 0);
    if (!poll_for([] { return irq_count(1, kRoutedSpi) >= 1; }, kTakenWithinUs))
        check.fail() << "SPI 64 routed to Aff0=1 not taken by vCPU 1 within " << kTakenWithinUs / 1000 << " ms";
    if (!untaken_here(kRoutedSpi)) check.fail() << "vCPU 0 took SPI 64 routed to vCPU 1";
    gic::reset_interrupt(kRoutedSpi, 0);
    gic::route_spi(kRoutedSpi, 0);
}

void check_spi_route_any() {
    Check check{"spi-route-any"};
    if (!need_secondary(check) || !reset_logs(check)) return;
    gic::reset_interrupt(kAnySpi, 0);
    arch::write64(gic::router(kAnySpi), std::uint64_t{1} << 31);  // Interrupt_Routing_Mode: any participating PE
    gic::enable(kAnySpi, 0);
    gic::set_pending(kAnySpi, 0);
    const auto taken = [] { return irq_count(0, kAnySpi) + irq_count(1, kAnySpi); };
    if (!poll_with_irqs([&] { return taken() >= 1; }, kTakenWithinUs))
        check.fail() << "SPI 66 with IRM=1 taken by no vCPU within " << kTakenWithinUs / 1000 << " ms";
    (void)untaken_here(kAnySpi);
    if (taken() > 1)
        check.fail() << "SPI 66 with IRM=1 taken " << taken() << " times (vCPU 0: " << irq_count(0, kAnySpi)
                     << ", vCPU 1: " << irq_count(1, kAnySpi) << ")";
    else if (taken() == 1)
        NoteLine{check.name()} << "taken by vCPU " << (irq_count(0, kAnySpi) == 1 ? 0 : 1);
    gic::reset_interrupt(kAnySpi, 0);
    gic::route_spi(kAnySpi, 0);
}

// The distributor's state is global: an SPI pending for vCPU 1 (which has
// IRQs masked, so it waits there) reads pending from vCPU 0 too, and
// ICPENDR from vCPU 0 withdraws it before vCPU 1 can take it.
void check_remote_pending() {
    bool ready = false;
    [&] {
        Check visible{"ispendr-other-vcpu"};
        if (!need_secondary(visible) || !reset_logs(visible)) return;
        if (!run_on(1, Command::mask_irqs)) {
            visible.fail() << "vCPU 1 does not answer its mailbox";
            return;
        }
        gic::reset_interrupt(kRemotePendingSpi, 0);
        gic::route_spi(kRemotePendingSpi, 1);
        gic::enable(kRemotePendingSpi, 0);
        gic::set_pending(kRemotePendingSpi, 0);
        spin_us(5000);  // time for vCPU 1 to see it
        const auto word = arch::read32(gic::bit_register(gic::kIspendr, kRemotePendingSpi, 0));
        if ((word & gic::bit_of(kRemotePendingSpi)) == 0)
            visible.fail() << "SPI 65, set pending for vCPU 1 (IRQs masked there), reads not pending from vCPU 0 "
                              "(GICD_ISPENDR2 "
                           << Hex{word} << ")";
        ready = true;
    }();
    {
        Check withdrawn{"icpendr-other-vcpu"};
        if (!ready) {
            withdrawn.fail() << "not run: the SPI could not be made pending at vCPU 1";
            return;
        }
        gic::clear_pending(kRemotePendingSpi, 0);
        const auto after = arch::read32(gic::bit_register(gic::kIspendr, kRemotePendingSpi, 0));
        if ((after & gic::bit_of(kRemotePendingSpi)) != 0)
            withdrawn.fail() << "SPI 65 still reads pending after ICPENDR (GICD_ISPENDR2 " << Hex{after} << ")";
        if (!run_on(1, Command::unmask_irqs)) withdrawn.fail() << "vCPU 1 does not answer its mailbox";
        spin_us(10'000);
        if (irq_count(1, kRemotePendingSpi) != 0)
            withdrawn.fail() << "vCPU 1 took SPI 65 after vCPU 0 cleared its pending state with ICPENDR";
    }
    if (secondary_online()) (void)run_on(1, Command::unmask_irqs);
    gic::reset_interrupt(kRemotePendingSpi, 0);
    gic::route_spi(kRemotePendingSpi, 0);
}

void check_counter_coherence() {
    Check check{"cntvct-coherent"};
    if (!need_secondary(check)) return;
    const auto theirs_hz = load(secondary_report[1].counter_frequency);
    if (theirs_hz != arch::counter_frequency())
        check.fail() << "CNTFRQ_EL0 reads " << theirs_hz << " on vCPU 1 but " << arch::counter_frequency()
                     << " on vCPU 0 (one system counter, one frequency)";
    for (unsigned round = 0; round < 20; ++round) {
        const auto before = arch::virtual_count();
        if (!run_on(1, Command::read_counter)) {
            check.fail() << "vCPU 1 does not answer its mailbox";
            return;
        }
        const auto theirs = load(mailbox[1].result[0]);
        const auto after = arch::virtual_count();
        if (theirs < before || theirs > after) {
            check.fail() << "round " << round << ": vCPU 1 read CNTVCT " << Hex{theirs} << " between vCPU 0's reads "
                         << Hex{before} << " and " << Hex{after};
            return;
        }
    }
}

}  // namespace

void check_multi_cpu_interrupts() {
    check_sgi_self();
    check_sgi_other();
    check_sgi_all_but_self();
    check_sgi_target_lists();
    check_spi_routing();
    check_spi_route_any();
    check_remote_pending();
    check_counter_coherence();
}

}  // namespace conformance
