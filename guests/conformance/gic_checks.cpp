// conformance: the virtual GICv3 on one vCPU — discovery (GICD_TYPER,
// PIDR2, GICR_TYPER, GICD_CTLR, GICR_WAKER, ICC_SRE/PMR), register
// semantics (enable, priority, configuration, routing, group, RAZ/WI
// ranges) and delivery through the guest's own vectors (software pending,
// ICPENDR, PMR masking, HPPIR, active state, group enables, priority order).
#include "conformance.hpp"
#include "runtime.hpp"

namespace conformance {
namespace {

// SPIs and a PPI the checks below use; none is wired to a device. (The UART
// is SPI 33, the timers PPIs 27 and 30.)
constexpr std::uint32_t kEnableSpi = 40;    // and 41
constexpr std::uint32_t kPrioritySpi = 42;  // and 43
constexpr std::uint32_t kConfigSpi = 44;
constexpr std::uint32_t kRouterSpi = 45;
constexpr std::uint32_t kGroupSpi = 46;
constexpr std::uint32_t kDeliverySpi = 48;
constexpr std::uint32_t kClearPendingSpi = 49;
constexpr std::uint32_t kMaskedSpi = 50;
constexpr std::uint32_t kActiveProbeSpi = 51;
constexpr std::uint32_t kActiveBlocksSpi = 52;
constexpr std::uint32_t kRependSpi = 53;
constexpr std::uint32_t kGroupEnableSpi = 54;
constexpr std::uint32_t kHppirSpi = 55;
constexpr std::uint32_t kOrderFirstSpi = 56;  // 56..63
constexpr std::uint32_t kTestPpi = 23;        // and 22
constexpr std::uint64_t kTakenWithinUs = 100'000;
constexpr std::uint64_t kNotTakenForUs = 5'000;

std::uint32_t it_lines_number() { return arch::read32(gic::kDistributor + gic::kTyper) & 0x1f; }

unsigned count_leading_ones(std::uint8_t value) {
    unsigned count = 0;
    while (count < 8 && ((value >> (7 - count)) & 1) != 0) ++count;
    return count;
}

// Pends `id` (already enabled, routed here) and waits, IRQs unmasked, until
// the handler has run for it `times` times in all.
bool take(std::uint32_t id, std::uint32_t times = 1) {
    gic::set_pending(id, 0);
    return poll_with_irqs([&] { return irq_count(0, id) >= times; }, kTakenWithinUs);
}

// Unmasks IRQs for a while: true if `id` was NOT taken meanwhile.
bool stays_untaken(std::uint32_t id) {
    const auto before = irq_count(0, id);
    (void)poll_with_irqs([&] { return irq_count(0, id) != before; }, kNotTakenForUs);
    return irq_count(0, id) == before;
}

void prepare_spi(std::uint32_t id, bool edge = true) {
    gic::reset_interrupt(id, 0);
    gic::route_spi(id, 0);
    gic::set_edge_triggered(id, 0, edge);
}

// --- Discovery -------------------------------------------------------------------------

void check_distributor_type() {
    Check check{"gicd-typer"};
    const auto typer = arch::read32(gic::kDistributor + gic::kTyper);
    const auto lines = typer & 0x1f;
    const auto id_bits = ((typer >> 19) & 0x1f) + 1;
    const auto interrupt_ids = 32 * (lines + 1);  // INTIDs 0 .. 32(N+1)-1
    NoteLine{check.name()} << "GICD_TYPER " << Hex{typer} << ": ITLinesNumber " << lines << " (INTIDs up to "
                           << interrupt_ids - 1 << "), IDbits " << id_bits << ", LPIs " << ((typer >> 17) & 1)
                           << ", SecurityExtn " << ((typer >> 10) & 1);
    if (lines == 0) check.fail() << "ITLinesNumber is 0: no SPIs at all";
    if (id_bits < 4 || (std::uint64_t{1} << id_bits) < interrupt_ids)
        check.fail() << "IDbits gives " << id_bits << " INTID bits, too few for " << interrupt_ids << " INTIDs";
    if (id_bits > 24) check.fail() << "IDbits gives " << id_bits << " INTID bits, more than GICv3's 24";
}

void check_peripheral_id() {
    Check check{"gicd-pidr2"};
    const auto pidr2 = arch::read32(gic::kDistributor + gic::kPidr2);
    const auto revision = (pidr2 >> 4) & 0xf;
    if (revision != 3 && revision != 4)
        check.fail() << "GICD_PIDR2 " << Hex{pidr2} << " has ArchRev " << revision << ", expected 3 (GICv3)";
    for (unsigned cpu = 0; cpu < guest::boot_facts().cpu_count && cpu < GUEST_MAX_CPUS; ++cpu) {
        const auto redistributor_pidr2 = arch::read32(gic::redistributor(cpu) + gic::kPidr2);
        if (((redistributor_pidr2 >> 4) & 0xf) != revision)
            check.fail() << "GICR_PIDR2 of frame " << cpu << " is " << Hex{redistributor_pidr2}
                         << ", ArchRev differs from the distributor's " << revision;
    }
}

// Walks the redistributor frames as an OS does (until GICR_TYPER.Last) and
// matches each one's affinity to a vCPU (vCPU n has MPIDR Aff0 = n).
void check_redistributor_types() {
    Check check{"gicr-typer"};
    const unsigned cpus = guest::boot_facts().cpu_count;
    unsigned frames = 0;
    bool last_seen = false;
    for (unsigned frame = 0; frame < GUEST_MAX_CPUS && !last_seen; ++frame) {
        const auto base = gic::redistributor(frame);
        const auto typer = arch::read64(base + gic::kRdTyper);
        const auto low = arch::read32(base + gic::kRdTyper);
        const auto high = arch::read32(base + gic::kRdTyper + 4);
        ++frames;
        last_seen = ((typer >> 4) & 1) != 0;
        if ((std::uint64_t{high} << 32 | low) != typer)
            check.fail() << "frame " << frame << ": 64-bit GICR_TYPER " << Hex{typer} << " but 32-bit halves "
                         << Hex{high} << ":" << Hex{low};
        if ((typer >> 32) != frame)
            check.fail() << "frame " << frame << ": GICR_TYPER.Affinity_Value " << Hex{typer >> 32} << ", expected "
                         << Hex{frame} << " (vCPU " << frame << "'s MPIDR affinity)";
        if (((typer >> 8) & 0xffff) != frame)
            check.fail() << "frame " << frame << ": Processor_Number " << ((typer >> 8) & 0xffff) << ", expected "
                         << frame;
        if (last_seen != (frame + 1 == cpus))
            check.fail() << "frame " << frame << " of " << cpus << ": GICR_TYPER.Last is " << (last_seen ? 1 : 0)
                         << " (GICR_TYPER " << Hex{typer} << ")";
    }
    if (frames != cpus) check.fail() << "the walk found " << frames << " frames for " << cpus << " vCPUs";
    const auto own = arch::read64(gic::redistributor(this_cpu()) + gic::kRdTyper) >> 32;
    if (own != (arch::mpidr() & 0xff'00ff'ffff))
        check.fail() << "this vCPU's frame has affinity " << Hex{own} << ", MPIDR_EL1 is " << Hex{arch::mpidr()};
}

void check_distributor_control() {
    Check check{"gicd-ctlr"};
    const auto control = arch::read32(gic::kDistributor + gic::kCtlr);
    NoteLine{check.name()} << "GICD_CTLR " << Hex{control} << " (DS " << ((control >> 6) & 1) << ")";
    if ((control & gic::kCtlrAffinityRouting) == 0)
        check.fail() << "ARE reads 0 (GICD_CTLR " << Hex{control} << "): a GICv3 guest needs affinity routing";
    if ((control & gic::kCtlrEnableGroup1) == 0)
        check.fail() << "EnableGrp1 reads 0 after being written 1 (GICD_CTLR " << Hex{control} << ")";
    if ((control & gic::kCtlrRegisterWritePending) != 0)
        check.fail() << "RWP still set (GICD_CTLR " << Hex{control} << ")";
}

void check_redistributor_waker() {
    Check check{"gicr-waker"};
    const auto waker = gic::redistributor(0) + gic::kRdWaker;
    const auto awake = arch::read32(waker);
    if ((awake & (gic::kWakerProcessorSleep | gic::kWakerChildrenAsleep)) != 0)
        check.fail() << "after clearing ProcessorSleep GICR_WAKER reads " << Hex{awake};
    arch::write32(waker, awake | gic::kWakerProcessorSleep);
    if (!poll_for([&] { return (arch::read32(waker) & gic::kWakerChildrenAsleep) != 0; }, 100'000))
        check.fail() << "ProcessorSleep set but ChildrenAsleep never set (GICR_WAKER " << Hex{arch::read32(waker)}
                     << ")";
    arch::write32(waker, awake & ~gic::kWakerProcessorSleep);
    if (!poll_for([&] { return (arch::read32(waker) & gic::kWakerChildrenAsleep) == 0; }, 100'000))
        check.fail() << "ProcessorSleep cleared again but ChildrenAsleep stays set (GICR_WAKER "
                     << Hex{arch::read32(waker)} << ")";
}

void check_system_register_interface() {
    Check check{"icc-sre"};
    const auto sre = arch::gic_system_register_enable();
    if ((sre & 1) == 0) check.fail() << "ICC_SRE_EL1.SRE reads 0 after writing 1 (ICC_SRE_EL1 " << Hex{sre} << ")";
}

void check_priority_mask() {
    Check check{"icc-pmr"};
    arch::set_gic_priority_mask(0xff);
    const auto mask = static_cast<std::uint8_t>(arch::gic_priority_mask());
    const unsigned bits = count_leading_ones(mask);
    const auto control = arch::gic_control();
    const unsigned pri_bits = static_cast<unsigned>((control >> 8) & 7) + 1;
    NoteLine{check.name()} << "PMR 0xff reads " << Hex{mask} << ", ICC_CTLR_EL1 " << Hex{control};
    if (mask != static_cast<std::uint8_t>(0xff << (8 - bits)))
        check.fail() << "PMR written 0xff reads " << Hex{mask} << ": implemented bits are not the top ones";
    if (bits < 4) check.fail() << "only " << bits << " priority bits implemented, at least 4 required";
    if (bits != pri_bits)
        check.fail() << "PMR implements " << bits << " bits but ICC_CTLR_EL1.PRIbits says " << pri_bits;
    arch::set_gic_priority_mask(0);
    check.expect_equal("PMR written 0", arch::gic_priority_mask(), 0);
    arch::set_gic_priority_mask(0xff);
}

// --- Register semantics ------------------------------------------------------------------------

void check_enable_pair(std::string_view name, std::uint32_t id, std::uint32_t neighbour) {
    Check check{name};
    gic::disable(id, 0);
    gic::disable(neighbour, 0);
    gic::enable(neighbour, 0);
    gic::enable(id, 0);
    const auto set_word = arch::read32(gic::bit_register(gic::kIsenabler, id, 0));
    const auto clear_word = arch::read32(gic::bit_register(gic::kIcenabler, id, 0));
    if ((set_word & gic::bit_of(id)) == 0)
        check.fail() << "INTID " << id << " enabled but ISENABLER reads " << Hex{set_word};
    if (clear_word != set_word)
        check.fail() << "ICENABLER reads " << Hex{clear_word} << ", ISENABLER " << Hex{set_word}
                     << ": both must show the enable state";
    gic::disable(id, 0);
    if (gic::is_enabled(id, 0)) check.fail() << "INTID " << id << " still enabled after ICENABLER";
    if (!gic::is_enabled(neighbour, 0))
        check.fail() << "disabling INTID " << id << " (one bit written) also disabled INTID " << neighbour;
    gic::disable(neighbour, 0);
    if (gic::is_enabled(neighbour, 0)) check.fail() << "INTID " << neighbour << " still enabled after ICENABLER";
}

void check_priorities() {
    Check check{"priority-bytes"};
    const auto word = gic::kDistributor + gic::kIpriorityr + (kPrioritySpi & ~3u);
    const unsigned byte = kPrioritySpi % 4;
    gic::set_priority(kPrioritySpi, 0, 0);
    gic::set_priority(kPrioritySpi + 1, 0, 0);
    gic::set_priority(kPrioritySpi, 0, 0xff);
    const auto implemented = gic::priority(kPrioritySpi, 0);
    const unsigned bits = count_leading_ones(implemented);
    NoteLine{check.name()} << "IPRIORITYR byte written 0xff reads " << Hex{implemented};
    if (implemented != static_cast<std::uint8_t>(0xff << (8 - bits)) || bits < 4)
        check.fail() << "written 0xff, reads " << Hex{implemented}
                     << ": expected the implemented (at least 4, top) bits set and the rest 0";
    const auto whole = arch::read32(word);
    if (((whole >> (8 * byte)) & 0xff) != implemented || ((whole >> (8 * (byte + 1))) & 0xff) != 0)
        check.fail() << "word read " << Hex{whole} << " after a byte write of 0xff to INTID " << kPrioritySpi
                     << " (byte " << byte << "): the neighbouring byte changed or the byte differs";
    gic::set_priority(kPrioritySpi, 0, 0xa5);
    check.expect_equal("priority written 0xa5", gic::priority(kPrioritySpi, 0), 0xa5 & implemented);
    gic::set_priority(kPrioritySpi, 0, 0);
    check.expect_equal("priority written 0", gic::priority(kPrioritySpi, 0), 0);
    // Redistributor: a PPI and an SGI.
    gic::set_priority(kTestPpi, 0, 0xff);
    check.expect_equal("GICR_IPRIORITYR of PPI 23 written 0xff", gic::priority(kTestPpi, 0), implemented);
    gic::set_priority(3, 0, 0x5f);
    check.expect_equal("GICR_IPRIORITYR of SGI 3 written 0x5f", gic::priority(3, 0), 0x5f & implemented);
    for (const auto id : {kPrioritySpi, kPrioritySpi + 1, kTestPpi, 3u})
        gic::set_priority(id, 0, gic::kDefaultPriority);
}

void check_spi_config() {
    Check check{"icfgr-spi"};
    const auto address = gic::config_register(kConfigSpi, 0);
    const unsigned shift = (kConfigSpi % 16) * 2;
    gic::set_edge_triggered(kConfigSpi, 0, true);
    check.expect_equal("Int_config of SPI 44 written edge (0b10)", (arch::read32(address) >> shift) & 3, 2);
    gic::set_edge_triggered(kConfigSpi, 0, false);
    check.expect_equal("Int_config of SPI 44 written level (0b00)", (arch::read32(address) >> shift) & 3, 0);
}

void check_ppi_config() {
    Check check{"icfgr-ppi"};
    for (const auto id : {kVirtualTimerId, kPhysicalTimerId}) {
        if (gic::is_edge_triggered(id, 0))
            check.fail() << "GICR_ICFGR1 shows timer PPI " << id << " edge-triggered (GICR_ICFGR1 "
                         << Hex{arch::read32(gic::config_register(id, 0))}
                         << "): the generic timer's output is a level signal";
    }
    const bool before = gic::is_edge_triggered(kTestPpi, 0);
    gic::set_edge_triggered(kTestPpi, 0, !before);
    const bool after = gic::is_edge_triggered(kTestPpi, 0);
    NoteLine{check.name()} << "PPI 23 Int_config is " << (after != before ? "programmable" : "fixed") << " ("
                           << (before ? "edge" : "level") << " at reset)";
    gic::set_edge_triggered(kTestPpi, 0, before);
    if (gic::is_edge_triggered(kTestPpi, 0) != before) check.fail() << "PPI 23 Int_config could not be restored";
}

void check_sgi_config() {
    Check check{"icfgr-sgi"};
    const auto address = gic::sgi_frame(0) + gic::kIcfgr;
    check.expect_equal("GICR_ICFGR0 (SGIs are edge-triggered)", arch::read32(address), 0xaaaa'aaaa);
    arch::write32(address, 0);
    check.expect_equal("GICR_ICFGR0 after writing 0 (read-only)", arch::read32(address), 0xaaaa'aaaa);
}

void check_router() {
    Check check{"irouter"};
    const auto address = gic::router(kRouterSpi);
    arch::write64(address, 1);
    check.expect_equal("GICD_IROUTER written Aff0=1", arch::read64(address), 1);
    check.expect_equal("GICD_IROUTER low half", arch::read32(address), 1);
    check.expect_equal("GICD_IROUTER high half", arch::read32(address + 4), 0);
    arch::write64(address, std::uint64_t{1} << 31);
    const auto any = arch::read64(address);
    if (((any >> 31) & 1) == 0) check.fail() << "GICD_IROUTER written Interrupt_Routing_Mode=1 reads " << Hex{any};
    arch::write64(address, 0);
    check.expect_equal("GICD_IROUTER written 0", arch::read64(address), 0);
}

void check_group() {
    Check check{"igroupr"};
    const auto address = gic::bit_register(gic::kIgroupr, kGroupSpi, 0);
    const auto all = arch::read32(address);
    if ((all & gic::bit_of(kGroupSpi)) == 0) check.fail() << "SPI 46 written Group 1 but IGROUPR reads " << Hex{all};
    arch::write32(address, all & ~gic::bit_of(kGroupSpi));
    if ((arch::read32(address) & gic::bit_of(kGroupSpi)) != 0)
        check.fail() << "SPI 46 written Group 0 but IGROUPR reads " << Hex{arch::read32(address)};
    arch::write32(address, all | gic::bit_of(kGroupSpi));
    check.expect_equal("GICD_IGROUPR1 restored", arch::read32(address), all | gic::bit_of(kGroupSpi));
    const auto private_groups = arch::read32(gic::sgi_frame(0) + gic::kIgroupr);
    check.expect_equal("GICR_IGROUPR0 written all Group 1", private_groups, 0xffff'ffff);
}

void check_unimplemented_ranges() {
    Check check{"raz-wi-ranges"};
    // With affinity routing the distributor's SGI/PPI words are RAZ/WI; the
    // redistributor holds that state.
    arch::write32(gic::kDistributor + gic::kIsenabler, gic::bit_of(kTestPpi));
    check.expect_equal("GICD_ISENABLER0 after writing PPI 23's bit", arch::read32(gic::kDistributor + gic::kIsenabler),
                       0);
    if (gic::is_enabled(kTestPpi, 0)) check.fail() << "writing GICD_ISENABLER0 enabled PPI 23 in GICR_ISENABLER0";
    gic::disable(kTestPpi, 0);
    const auto lines = it_lines_number() + 1;
    if (lines < 32) {
        const auto first_missing = lines * 32;
        const auto enable_word = gic::kDistributor + gic::kIsenabler + lines * 4;
        arch::write32(enable_word, 0xffff'ffff);
        check.expect_equal("GICD_ISENABLER beyond ITLinesNumber after writing ones", arch::read32(enable_word), 0);
        arch::write32(gic::kDistributor + gic::kIcenabler + lines * 4, 0xffff'ffff);
        arch::write8(gic::kDistributor + gic::kIpriorityr + first_missing, 0xff);
        check.expect_equal("GICD_IPRIORITYR beyond ITLinesNumber after writing 0xff",
                           arch::read8(gic::kDistributor + gic::kIpriorityr + first_missing), 0);
    }
}

// --- Delivery ---------------------------------------------------------------------------------

void check_pending_delivery() {
    Check check{"spi-pending-delivery"};
    reset_irq_log();
    prepare_spi(kDeliverySpi);
    gic::enable(kDeliverySpi, 0);
    gic::set_pending(kDeliverySpi, 0);
    if (!gic::is_pending(kDeliverySpi, 0))
        check.fail() << "set pending with ISPENDR (IRQs masked) but ISPENDR reads it not pending";
    if (!poll_with_irqs([] { return irq_count(0, kDeliverySpi) >= 1; }, kTakenWithinUs)) {
        check.fail() << "not taken within " << kTakenWithinUs / 1000 << " ms (IRQs taken meanwhile: " << irq_total(0)
                     << ", last INTID " << load(irq_log[0].last_id) << ")";
        gic::reset_interrupt(kDeliverySpi, 0);
        return;
    }
    const auto first = load(irq_log[0].order[0]);
    if (first != kDeliverySpi) check.fail() << "ICC_IAR1_EL1 returned " << first << ", expected " << kDeliverySpi;
    if (!stays_untaken(kDeliverySpi)) check.fail() << "taken again after EOIR without being pended again";
    if (gic::is_pending(kDeliverySpi, 0)) check.fail() << "still pending after IAR and EOIR";
    if (gic::is_active(kDeliverySpi, 0)) check.fail() << "still active after EOIR";
    gic::reset_interrupt(kDeliverySpi, 0);
}

void check_clear_pending() {
    Check check{"icpendr-clears"};
    prepare_spi(kClearPendingSpi);
    gic::set_pending(kClearPendingSpi, 0);
    if (!gic::is_pending(kClearPendingSpi, 0)) check.fail() << "disabled SPI set pending reads not pending";
    gic::clear_pending(kClearPendingSpi, 0);
    if (gic::is_pending(kClearPendingSpi, 0)) check.fail() << "disabled SPI still pending after ICPENDR";
    gic::enable(kClearPendingSpi, 0);
    if (!stays_untaken(kClearPendingSpi)) check.fail() << "taken once enabled although ICPENDR had cleared it";
    // Enabled this time, with PSTATE.I masked so it waits at the CPU interface.
    gic::set_pending(kClearPendingSpi, 0);
    gic::clear_pending(kClearPendingSpi, 0);
    if (gic::is_pending(kClearPendingSpi, 0)) check.fail() << "enabled SPI still pending after ICPENDR";
    if (!stays_untaken(kClearPendingSpi))
        check.fail() << "enabled SPI pended then cleared (IRQs masked) was still taken after unmasking";
    gic::reset_interrupt(kClearPendingSpi, 0);
}

void check_priority_masking() {
    Check check{"pmr-masking"};
    prepare_spi(kMaskedSpi);
    gic::set_priority(kMaskedSpi, 0, 0x80);
    gic::enable(kMaskedSpi, 0);
    arch::set_gic_priority_mask(0x80);  // equal priority: masked (it must be strictly higher)
    gic::set_pending(kMaskedSpi, 0);
    if (!stays_untaken(kMaskedSpi)) check.fail() << "priority 0x80 taken with ICC_PMR_EL1 0x80";
    arch::set_gic_priority_mask(0x40);
    if (!stays_untaken(kMaskedSpi)) check.fail() << "priority 0x80 taken with ICC_PMR_EL1 0x40";
    if (!gic::is_pending(kMaskedSpi, 0)) check.fail() << "no longer pending while masked by the PMR";
    arch::set_gic_priority_mask(0x90);
    if (!poll_with_irqs([] { return irq_count(0, kMaskedSpi) >= 1; }, kTakenWithinUs))
        check.fail() << "not taken within " << kTakenWithinUs / 1000 << " ms after raising ICC_PMR_EL1 to 0x90";
    arch::set_gic_priority_mask(0xff);
    gic::reset_interrupt(kMaskedSpi, 0);
}

void check_highest_pending() {
    Check check{"hppir"};
    prepare_spi(kHppirSpi);
    gic::set_priority(kHppirSpi, 0, 0x80);
    gic::enable(kHppirSpi, 0);
    gic::set_pending(kHppirSpi, 0);  // PSTATE.I is masked: it waits
    check.expect_equal("ICC_HPPIR1_EL1 with SPI 55 pending", arch::gic_highest_pending_group1(), kHppirSpi);
    gic::clear_pending(kHppirSpi, 0);
    check.expect_equal("ICC_HPPIR1_EL1 after ICPENDR", arch::gic_highest_pending_group1(), gic::kSpurious);
    gic::reset_interrupt(kHppirSpi, 0);
}

void check_active_probe() {
    Check check{"active-between-iar-eoir"};
    reset_irq_log();
    prepare_spi(kActiveProbeSpi);
    gic::enable(kActiveProbeSpi, 0);
    store(irq_log[0].probe_id, kActiveProbeSpi);
    if (!take(kActiveProbeSpi)) {
        check.fail() << "not taken within " << kTakenWithinUs / 1000 << " ms";
    } else {
        const auto active = load(irq_log[0].probe_active);
        const auto pending = load(irq_log[0].probe_pending);
        if (active != 1)
            check.fail() << "GICD_ISACTIVER read between ICC_IAR1_EL1 and ICC_EOIR1_EL1 shows it "
                         << (active == 0 ? "not active" : "unread");
        if (pending != 0) check.fail() << "GICD_ISPENDR read in the handler shows it still pending";
        if (gic::is_active(kActiveProbeSpi, 0)) check.fail() << "still active after EOIR";
    }
    store(irq_log[0].probe_id, kNoInterrupt);
    gic::reset_interrupt(kActiveProbeSpi, 0);
}

void check_active_blocks() {
    Check check{"active-blocks-redelivery"};
    prepare_spi(kActiveBlocksSpi);
    gic::set_active(kActiveBlocksSpi, 0);
    if (!gic::is_active(kActiveBlocksSpi, 0)) check.fail() << "ISACTIVER written but reads not active";
    gic::enable(kActiveBlocksSpi, 0);
    gic::set_pending(kActiveBlocksSpi, 0);
    if (!stays_untaken(kActiveBlocksSpi)) check.fail() << "active and pending, yet taken before deactivation";
    if (!gic::is_pending(kActiveBlocksSpi, 0) || !gic::is_active(kActiveBlocksSpi, 0))
        check.fail() << "expected active and pending, read pending " << (gic::is_pending(kActiveBlocksSpi, 0) ? 1 : 0)
                     << " active " << (gic::is_active(kActiveBlocksSpi, 0) ? 1 : 0);
    gic::clear_active(kActiveBlocksSpi, 0);
    if (!poll_with_irqs([] { return irq_count(0, kActiveBlocksSpi) >= 1; }, kTakenWithinUs))
        check.fail() << "not taken within " << kTakenWithinUs / 1000 << " ms after ICACTIVER";
    if (gic::is_active(kActiveBlocksSpi, 0) || gic::is_pending(kActiveBlocksSpi, 0))
        check.fail() << "pending or active after the handler ran";
    gic::reset_interrupt(kActiveBlocksSpi, 0);
}

void check_repend_while_active() {
    Check check{"repend-while-active"};
    reset_irq_log();
    prepare_spi(kRependSpi);
    gic::enable(kRependSpi, 0);
    store(irq_log[0].probe_id, kRependSpi);
    store(irq_log[0].repend_once, 1u);
    if (!take(kRependSpi, 2)) {
        check.fail() << "pended again by ISPENDR inside its handler, taken " << irq_count(0, kRependSpi)
                     << " time(s), expected 2";
    } else if (!stays_untaken(kRependSpi)) {
        check.fail() << "taken a third time";
    }
    store(irq_log[0].probe_id, kNoInterrupt);
    store(irq_log[0].repend_once, 0u);
    gic::reset_interrupt(kRependSpi, 0);
}

void check_group_enables() {
    Check check{"group-enables"};
    prepare_spi(kGroupEnableSpi);
    gic::enable(kGroupEnableSpi, 0);
    const auto control = gic::kDistributor + gic::kCtlr;
    const auto enabled = arch::read32(control);
    arch::write32(control, enabled & ~gic::kCtlrEnableGroup1);
    (void)poll_for([&] { return (arch::read32(control) & gic::kCtlrRegisterWritePending) == 0; }, 100'000);
    gic::set_pending(kGroupEnableSpi, 0);
    if (!stays_untaken(kGroupEnableSpi)) check.fail() << "taken with GICD_CTLR.EnableGrp1 = 0";
    arch::write32(control, enabled);
    if (!poll_with_irqs([] { return irq_count(0, kGroupEnableSpi) >= 1; }, kTakenWithinUs))
        check.fail() << "not taken within " << kTakenWithinUs / 1000 << " ms of setting GICD_CTLR.EnableGrp1 again";

    arch::set_gic_group1_enable(0);
    gic::set_pending(kGroupEnableSpi, 0);
    if (!stays_untaken(kGroupEnableSpi)) check.fail() << "taken with ICC_IGRPEN1_EL1 = 0";
    arch::set_gic_group1_enable(1);
    if (!poll_with_irqs([] { return irq_count(0, kGroupEnableSpi) >= 2; }, kTakenWithinUs))
        check.fail() << "not taken within " << kTakenWithinUs / 1000 << " ms of setting ICC_IGRPEN1_EL1 again";
    gic::reset_interrupt(kGroupEnableSpi, 0);
}

// Eight SPIs pending at once (more than a CPU interface has list registers
// on QEMU) are each taken once, highest priority (lowest value) first.
void check_priority_order() {
    Check check{"priority-order"};
    constexpr unsigned kCount = 8;
    constexpr std::uint8_t kRank[kCount] = {5, 2, 7, 0, 3, 6, 1, 4};  // 0 = most urgent
    reset_irq_log();
    for (unsigned i = 0; i < kCount; ++i) {
        const auto id = kOrderFirstSpi + i;
        prepare_spi(id);
        gic::set_priority(id, 0, static_cast<std::uint8_t>(0x40 + 0x08 * kRank[i]));
        gic::enable(id, 0);
    }
    for (unsigned i = 0; i < kCount; ++i) gic::set_pending(kOrderFirstSpi + i, 0);
    if (!poll_with_irqs([] { return load(irq_log[0].order_length) >= kCount; }, kTakenWithinUs))
        check.fail() << "only " << load(irq_log[0].order_length) << " of " << kCount << " taken within "
                     << kTakenWithinUs / 1000 << " ms";
    (void)stays_untaken(kOrderFirstSpi);
    for (unsigned rank = 0; rank < kCount && rank < load(irq_log[0].order_length); ++rank) {
        std::uint32_t expected = 0;
        for (unsigned i = 0; i < kCount; ++i)
            if (kRank[i] == rank) expected = kOrderFirstSpi + i;
        const auto got = load(irq_log[0].order[rank]);
        if (got != expected) {
            auto line = check.fail();
            line << "taken in the order";
            for (unsigned k = 0; k < load(irq_log[0].order_length); ++k) line << " " << load(irq_log[0].order[k]);
            line << "; expected by priority";
            for (unsigned r = 0; r < kCount; ++r)
                for (unsigned i = 0; i < kCount; ++i)
                    if (kRank[i] == r) line << " " << kOrderFirstSpi + i;
            break;
        }
    }
    for (unsigned i = 0; i < kCount; ++i) {
        const auto id = kOrderFirstSpi + i;
        if (irq_count(0, id) != 1) check.fail() << "SPI " << id << " taken " << irq_count(0, id) << " times";
        gic::reset_interrupt(id, 0);
    }
}

}  // namespace

void check_gic_discovery() {
    check_distributor_type();
    check_peripheral_id();
    check_redistributor_types();
    check_distributor_control();
    check_redistributor_waker();
    check_system_register_interface();
    check_priority_mask();
}

void check_gic_registers() {
    check_enable_pair("enable-spi", kEnableSpi, kEnableSpi + 1);
    check_enable_pair("enable-ppi", kTestPpi, kTestPpi - 1);
    check_priorities();
    check_spi_config();
    check_ppi_config();
    check_sgi_config();
    check_router();
    check_group();
    check_unimplemented_ranges();
}

void check_gic_delivery() {
    check_pending_delivery();
    check_clear_pending();
    check_priority_masking();
    check_highest_pending();
    check_active_probe();
    check_active_blocks();
    check_repend_while_active();
    check_group_enables();
    check_priority_order();
    const auto spurious = load(irq_log[0].spurious);
    if (spurious != 0) NoteLine{"delivery"} << spurious << " spurious acknowledge(s) (INTID 1020..1023) so far";
}

}  // namespace conformance
