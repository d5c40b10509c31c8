// VirtualGic: the guest's view through trapped MMIO (the accesses a GICv3
// driver makes, with the sizes it makes them), the interrupt sources, and the
// state machine behind the list registers.
#include "virtual_devices/virtual_gic.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <vector>

namespace lamina {
namespace {

// Distributor.
constexpr std::uint64_t kCtlr = 0x0000;
constexpr std::uint64_t kTyper = 0x0004;
constexpr std::uint64_t kIgroupr = 0x0080;
constexpr std::uint64_t kIsenabler = 0x0100;
constexpr std::uint64_t kIcenabler = 0x0180;
constexpr std::uint64_t kIspendr = 0x0200;
constexpr std::uint64_t kIcpendr = 0x0280;
constexpr std::uint64_t kIsactiver = 0x0300;
constexpr std::uint64_t kIcactiver = 0x0380;
constexpr std::uint64_t kIpriorityr = 0x0400;
constexpr std::uint64_t kIcfgr = 0x0c00;
constexpr std::uint64_t kIrouter = 0x6000;
constexpr std::uint64_t kPidr2 = 0xffe8;
// Redistributor: RD_base frame, then the SGI_base frame.
constexpr std::uint64_t kGicrCtlr = 0x0000;
constexpr std::uint64_t kGicrTyper = 0x0008;
constexpr std::uint64_t kGicrWaker = 0x0014;
constexpr std::uint64_t kSgiBase = 0x1'0000;

constexpr std::uint64_t kCtlrGroup0 = 1u << 0;
constexpr std::uint64_t kCtlrGroup1 = 1u << 1;
constexpr std::uint64_t kCtlrAre = 1u << 4;
constexpr std::uint64_t kCtlrDs = 1u << 6;
constexpr std::uint64_t kWakerProcessorSleep = 1u << 1;
constexpr std::uint64_t kWakerChildrenAsleep = 1u << 2;
constexpr std::uint64_t kIrm = std::uint64_t{1} << 31;

constexpr std::uint32_t kVcpus = 4;
constexpr std::uint64_t kGarbage = 0xdead'beef'dead'beefull;  // what a read starts with

// ICC_SGI1R_EL1 as a guest writes it.
std::uint64_t sgi1r(std::uint32_t sgi, std::uint32_t target_list, std::uint64_t extra = 0) {
    return (std::uint64_t{sgi} << 24) | target_list | extra;
}

void record_notification(void* context, std::uint32_t vcpu) {
    static_cast<std::vector<std::uint32_t>*>(context)->push_back(vcpu);
}

class VirtualGicTest : public ::testing::Test {
protected:
    void SetUp() override { gic->reset(kVcpus, record_notification, &notified); }

    // --- MMIO as the guest does it --------------------------------------------------------
    std::uint64_t distributor_read(std::uint64_t offset, unsigned size = 4) {
        MmioAccess access{offset, size, false, kGarbage};
        EXPECT_TRUE(gic->distributor_access(access)) << "read at " << std::hex << offset;
        return access.value;
    }
    void distributor_write(std::uint64_t offset, std::uint64_t value, unsigned size = 4) {
        MmioAccess access{offset, size, true, value};
        EXPECT_TRUE(gic->distributor_access(access)) << "write at " << std::hex << offset;
    }
    std::uint64_t redistributor_read(std::uint32_t vcpu, std::uint64_t offset, unsigned size = 4) {
        MmioAccess access{vcpu * kRedistributorStride + offset, size, false, kGarbage};
        EXPECT_TRUE(gic->redistributor_access(access)) << "read at " << std::hex << access.offset;
        return access.value;
    }
    void redistributor_write(std::uint32_t vcpu, std::uint64_t offset, std::uint64_t value, unsigned size = 4) {
        MmioAccess access{vcpu * kRedistributorStride + offset, size, true, value};
        EXPECT_TRUE(gic->redistributor_access(access)) << "write at " << std::hex << access.offset;
    }
    std::uint64_t sgi_frame_read(std::uint32_t vcpu, std::uint64_t offset, unsigned size = 4) {
        return redistributor_read(vcpu, kSgiBase + offset, size);
    }
    void sgi_frame_write(std::uint32_t vcpu, std::uint64_t offset, std::uint64_t value, unsigned size = 4) {
        redistributor_write(vcpu, kSgiBase + offset, value, size);
    }

    // --- Guest set-up shortcuts -------------------------------------------------------------
    void enable_groups(std::uint64_t groups = kCtlrGroup0 | kCtlrGroup1) { distributor_write(kCtlr, groups); }
    // An SGI or PPI of one vCPU: group 1, enabled.
    void enable_private(std::uint32_t vcpu, std::uint32_t id) {
        sgi_frame_write(vcpu, kIgroupr, sgi_frame_read(vcpu, kIgroupr) | (1u << id));
        sgi_frame_write(vcpu, kIsenabler, 1u << id);
    }
    // An SPI: group 1, enabled, routed to `vcpu`.
    void enable_spi(std::uint32_t id, std::uint32_t vcpu = 0) {
        const std::uint64_t word = (id / 32) * 4;
        distributor_write(kIgroupr + word, distributor_read(kIgroupr + word) | (1u << (id % 32)));
        distributor_write(kIrouter + 8 * id, vcpu, 8);
        distributor_write(kIsenabler + word, 1u << (id % 32));
    }
    bool spi_bit(std::uint64_t bank, std::uint32_t id) {
        return ((distributor_read(bank + (id / 32) * 4) >> (id % 32)) & 1) != 0;
    }
    bool private_bit(std::uint32_t vcpu, std::uint64_t bank, std::uint32_t id) {
        return ((sgi_frame_read(vcpu, bank) >> id) & 1) != 0;
    }
    void set_spi_edge(std::uint32_t id, bool edge) {
        const std::uint64_t offset = kIcfgr + (id / 16) * 4;
        const unsigned shift = 2 * (id % 16) + 1;
        const std::uint64_t value = distributor_read(offset);
        distributor_write(offset, edge ? value | (std::uint64_t{1} << shift) : value & ~(std::uint64_t{1} << shift));
    }

    // --- The port's side: list registers ---------------------------------------------------
    // Takes the best candidate into "list register" `lr`; returns its INTID.
    std::uint32_t fill_one(std::uint32_t vcpu, std::uint8_t lr = 0) {
        const auto entry = gic->next_for_list_register(vcpu);
        EXPECT_TRUE(entry.has_value());
        if (!entry) return 0;
        gic->placed_in_list_register(vcpu, entry->interrupt_id, lr);
        return entry->interrupt_id;
    }
    std::vector<std::uint32_t> take_notifications() {
        std::vector<std::uint32_t> taken;
        taken.swap(notified);
        return taken;
    }

    std::unique_ptr<VirtualGic> gic = std::make_unique<VirtualGic>();
    std::vector<std::uint32_t> notified;
};

using Notified = std::vector<std::uint32_t>;

// --- Identification and control --------------------------------------------------------------

TEST_F(VirtualGicTest, DistributorControlReportsAffinityRoutingAndOneSecurityState) {
    EXPECT_EQ(distributor_read(kCtlr), kCtlrAre | kCtlrDs);
    enable_groups(kCtlrGroup1);
    EXPECT_EQ(distributor_read(kCtlr), kCtlrAre | kCtlrDs | kCtlrGroup1);
    enable_groups(kCtlrGroup0 | kCtlrGroup1);
    EXPECT_EQ(distributor_read(kCtlr), kCtlrAre | kCtlrDs | kCtlrGroup0 | kCtlrGroup1);
    // ARE and DS are fixed; RWP (bit 31) never reads as set.
    distributor_write(kCtlr, 0);
    EXPECT_EQ(distributor_read(kCtlr), kCtlrAre | kCtlrDs);
    distributor_write(kCtlr, 0xffff'ffff);
    EXPECT_EQ(distributor_read(kCtlr), kCtlrAre | kCtlrDs | kCtlrGroup0 | kCtlrGroup1);
}

TEST_F(VirtualGicTest, EnablingGroupsNotifiesEveryVcpu) {
    take_notifications();
    enable_groups();
    EXPECT_EQ(take_notifications(), (Notified{0, 1, 2, 3}));
}

TEST_F(VirtualGicTest, DistributorTypeDescribesTheInterruptRange) {
    const std::uint64_t typer = distributor_read(kTyper);
    const std::uint64_t it_lines = typer & 0x1f;
    EXPECT_EQ(32 * (it_lines + 1), kPrivateInterruptCount + kSpiCount);
    EXPECT_EQ(32 * (it_lines + 1) - 32, 96u);
    const std::uint64_t id_bits = ((typer >> 19) & 0x1f) + 1;
    EXPECT_EQ(id_bits, 10u);
    EXPECT_GE(std::uint64_t{1} << id_bits, 1024u);  // every INTID, special ones included
    EXPECT_EQ((typer >> 17) & 1, 0u);  // no LPIs
    EXPECT_EQ((typer >> 16) & 1, 0u);  // no message-based SPIs
    EXPECT_EQ((typer >> 10) & 1, 0u);  // no security extensions
    distributor_write(kTyper, 0);      // read-only
    EXPECT_EQ(distributor_read(kTyper), typer);
}

TEST_F(VirtualGicTest, PeripheralId2SaysGicv3OnBothFrames) {
    EXPECT_EQ((distributor_read(kPidr2) >> 4) & 0xf, 3u);
    for (std::uint32_t vcpu = 0; vcpu < kVcpus; ++vcpu) {
        EXPECT_EQ((redistributor_read(vcpu, kPidr2) >> 4) & 0xf, 3u) << "vCPU " << vcpu;
    }
}

TEST_F(VirtualGicTest, RedistributorTypePerVcpu) {
    for (std::uint32_t vcpu = 0; vcpu < kVcpus; ++vcpu) {
        const std::uint64_t typer = redistributor_read(vcpu, kGicrTyper, 8);
        EXPECT_EQ(typer >> 32, vcpu) << "affinity (Aff0) is the vCPU index";
        EXPECT_EQ((typer >> 8) & 0xffff, vcpu) << "processor number";
        EXPECT_EQ((typer >> 4) & 1, vcpu == kVcpus - 1 ? 1u : 0u) << "Last, vCPU " << vcpu;
        EXPECT_EQ(typer & 1, 0u);  // no physical LPIs
        // The same register as two 32-bit halves.
        EXPECT_EQ(redistributor_read(vcpu, kGicrTyper, 4), typer & 0xffff'ffff);
        EXPECT_EQ(redistributor_read(vcpu, kGicrTyper + 4, 4), typer >> 32);
    }
}

TEST_F(VirtualGicTest, LastRedistributorFollowsTheVcpuCount) {
    gic->reset(1, record_notification, &notified);
    EXPECT_EQ((redistributor_read(0, kGicrTyper, 8) >> 4) & 1, 1u);
    MmioAccess beyond{kRedistributorStride + kGicrTyper, 8, false, 0};
    EXPECT_FALSE(gic->redistributor_access(beyond));
}

TEST_F(VirtualGicTest, RedistributorWakesAndSleeps) {
    for (std::uint32_t vcpu = 0; vcpu < kVcpus; ++vcpu) {
        EXPECT_EQ(redistributor_read(vcpu, kGicrWaker), kWakerProcessorSleep | kWakerChildrenAsleep);
    }
    redistributor_write(1, kGicrWaker, 0);  // what a driver does to wake its redistributor
    EXPECT_EQ(redistributor_read(1, kGicrWaker), 0u);
    EXPECT_EQ(redistributor_read(0, kGicrWaker), kWakerProcessorSleep | kWakerChildrenAsleep);
    redistributor_write(1, kGicrWaker, kWakerProcessorSleep);
    EXPECT_EQ(redistributor_read(1, kGicrWaker), kWakerProcessorSleep | kWakerChildrenAsleep);
}

TEST_F(VirtualGicTest, RedistributorControlIsQuiet) {
    EXPECT_EQ(redistributor_read(0, kGicrCtlr), 0u);  // no LPIs, RWP clear
    redistributor_write(0, kGicrCtlr, 1);
    EXPECT_EQ(redistributor_read(0, kGicrCtlr), 0u);
}

TEST_F(VirtualGicTest, NonexistentVcpusRedistributorIsRefused) {
    for (const std::uint64_t offset : {kGicrTyper, kGicrWaker, kSgiBase + kIsenabler, kSgiBase + kIpriorityr}) {
        MmioAccess read{kVcpus * kRedistributorStride + offset, 4, false, 0};
        EXPECT_FALSE(gic->redistributor_access(read)) << std::hex << offset;
        MmioAccess write{kVcpus * kRedistributorStride + offset, 4, true, 0xffff'ffff};
        EXPECT_FALSE(gic->redistributor_access(write)) << std::hex << offset;
        MmioAccess far{7 * kRedistributorStride + offset, 4, false, 0};
        EXPECT_FALSE(gic->redistributor_access(far)) << std::hex << offset;
    }
    // The last real one is fine.
    MmioAccess last{(kVcpus - 1) * kRedistributorStride + kGicrTyper, 8, false, 0};
    EXPECT_TRUE(gic->redistributor_access(last));
}

// --- Enable, pending and active bits ---------------------------------------------------------

TEST_F(VirtualGicTest, PrivateEnableBitsLiveInEachVcpusSgiFrame) {
    const std::uint32_t bits = (1u << 3) | (1u << 20) | (1u << 27);
    sgi_frame_write(1, kIsenabler, bits);
    EXPECT_EQ(sgi_frame_read(1, kIsenabler), bits);
    EXPECT_EQ(sgi_frame_read(1, kIcenabler), bits);
    EXPECT_EQ(sgi_frame_read(0, kIsenabler), 0u);
    EXPECT_EQ(sgi_frame_read(2, kIsenabler), 0u);
    sgi_frame_write(1, kIsenabler, 0);  // zeros change nothing
    EXPECT_EQ(sgi_frame_read(1, kIsenabler), bits);
    sgi_frame_write(1, kIcenabler, 1u << 20);
    EXPECT_EQ(sgi_frame_read(1, kIsenabler), (1u << 3) | (1u << 27));
    sgi_frame_write(1, kIcenabler, 0);
    EXPECT_EQ(sgi_frame_read(1, kIsenabler), (1u << 3) | (1u << 27));
    EXPECT_TRUE(gic->interrupt(27, 1)->enabled);
    EXPECT_FALSE(gic->interrupt(20, 1)->enabled);
}

TEST_F(VirtualGicTest, PrivatePendingAndActiveBits) {
    sgi_frame_write(2, kIspendr, (1u << 1) | (1u << 30));
    EXPECT_EQ(sgi_frame_read(2, kIspendr), (1u << 1) | (1u << 30));
    EXPECT_EQ(sgi_frame_read(2, kIcpendr), (1u << 1) | (1u << 30));
    EXPECT_EQ(sgi_frame_read(3, kIspendr), 0u);
    sgi_frame_write(2, kIcpendr, 1u << 1);
    EXPECT_EQ(sgi_frame_read(2, kIspendr), 1u << 30);

    sgi_frame_write(2, kIsactiver, (1u << 9) | (1u << 16));
    EXPECT_EQ(sgi_frame_read(2, kIsactiver), (1u << 9) | (1u << 16));
    EXPECT_EQ(sgi_frame_read(2, kIcactiver), (1u << 9) | (1u << 16));
    sgi_frame_write(2, kIcactiver, 1u << 16);
    EXPECT_EQ(sgi_frame_read(2, kIsactiver), 1u << 9);
    EXPECT_EQ(sgi_frame_read(0, kIsactiver), 0u);
}

TEST_F(VirtualGicTest, SpiBitsLiveInTheDistributor) {
    distributor_write(kIsenabler + 4, 1u << 0);   // INTID 32
    distributor_write(kIsenabler + 12, 1u << 31); // INTID 127, the last SPI
    EXPECT_EQ(distributor_read(kIsenabler + 4), 1u);
    EXPECT_EQ(distributor_read(kIcenabler + 12), 1u << 31);
    EXPECT_TRUE(gic->interrupt(32, 0)->enabled);
    EXPECT_TRUE(gic->interrupt(127, 0)->enabled);
    distributor_write(kIcenabler + 4, 1u << 0);
    EXPECT_FALSE(spi_bit(kIsenabler, 32));

    distributor_write(kIspendr + 8, 1u << 2);  // INTID 66
    EXPECT_TRUE(spi_bit(kIspendr, 66));
    EXPECT_TRUE(spi_bit(kIcpendr, 66));
    distributor_write(kIcpendr + 8, 1u << 2);
    EXPECT_FALSE(spi_bit(kIspendr, 66));

    distributor_write(kIsactiver + 4, 1u << 5);  // INTID 37
    EXPECT_TRUE(spi_bit(kIsactiver, 37));
    EXPECT_TRUE(spi_bit(kIcactiver, 37));
    distributor_write(kIcactiver + 4, 1u << 5);
    EXPECT_FALSE(spi_bit(kIsactiver, 37));

    distributor_write(kIgroupr + 4, 0xffff'ffff);
    EXPECT_EQ(distributor_read(kIgroupr + 4), 0xffff'ffffu);
    distributor_write(kIgroupr + 4, 0x0000'ffff);  // group bits are written, not set
    EXPECT_EQ(distributor_read(kIgroupr + 4), 0x0000'ffffu);
    EXPECT_FALSE(gic->interrupt(63, 0)->group1);

    // Beyond the last SPI: RAZ/WI.
    distributor_write(kIsenabler + 16, 0xffff'ffff);
    EXPECT_EQ(distributor_read(kIsenabler + 16), 0u);
}

TEST_F(VirtualGicTest, DistributorCopiesOfPrivateInterruptsAreRazWi) {
    for (const std::uint64_t bank : {kIgroupr, kIsenabler, kIcenabler, kIspendr, kIcpendr, kIsactiver, kIcactiver}) {
        distributor_write(bank, 0xffff'ffff);
        EXPECT_EQ(distributor_read(bank), 0u) << std::hex << bank;
    }
    for (std::uint64_t offset = kIpriorityr; offset < kIpriorityr + 32; offset += 4) {
        distributor_write(offset, 0xffff'ffff);
        EXPECT_EQ(distributor_read(offset), 0u) << std::hex << offset;
    }
    distributor_write(kIcfgr + 4, 0xaaaa'aaaa);
    EXPECT_EQ(distributor_read(kIcfgr), 0u);
    EXPECT_EQ(distributor_read(kIcfgr + 4), 0u);
    // None of it reached any vCPU's SGIs and PPIs.
    for (std::uint32_t vcpu = 0; vcpu < kVcpus; ++vcpu) {
        EXPECT_EQ(sgi_frame_read(vcpu, kIgroupr), 0u);
        EXPECT_EQ(sgi_frame_read(vcpu, kIsenabler), 0u);
        EXPECT_EQ(sgi_frame_read(vcpu, kIspendr), 0u);
        EXPECT_EQ(sgi_frame_read(vcpu, kIsactiver), 0u);
        EXPECT_EQ(sgi_frame_read(vcpu, kIpriorityr), 0u);
        EXPECT_EQ(sgi_frame_read(vcpu, kIcfgr + 4), 0u);
    }
}

TEST_F(VirtualGicTest, SgiFrameHoldsOnlyTheFirstRegisterOfEachBank) {
    sgi_frame_write(0, kIsenabler + 4, 0xffff'ffff);
    EXPECT_EQ(sgi_frame_read(0, kIsenabler + 4), 0u);
    EXPECT_FALSE(spi_bit(kIsenabler, 32));
    sgi_frame_write(0, kIpriorityr + 32, 0xffff'ffff);
    EXPECT_EQ(sgi_frame_read(0, kIpriorityr + 32), 0u);
    EXPECT_EQ(distributor_read(kIpriorityr + 32), 0u);
    sgi_frame_write(0, kIcfgr + 8, 0xaaaa'aaaa);
    EXPECT_EQ(sgi_frame_read(0, kIcfgr + 8), 0u);
}

// --- Priorities and configuration ------------------------------------------------------------

TEST_F(VirtualGicTest, SpiPrioritiesByteAndWordWithFiveBits) {
    distributor_write(kIpriorityr + 40, 0xff, 1);
    EXPECT_EQ(distributor_read(kIpriorityr + 40, 1), 0xf8u);
    distributor_write(kIpriorityr + 41, 0xa7, 1);
    EXPECT_EQ(distributor_read(kIpriorityr + 41, 1), 0xa0u);
    EXPECT_EQ(distributor_read(kIpriorityr + 40, 4), 0x0000'a0f8u);  // INTIDs 40..43

    distributor_write(kIpriorityr + 44, 0x1234'5678);  // INTIDs 44..47
    EXPECT_EQ(distributor_read(kIpriorityr + 44), 0x1030'5078u);
    EXPECT_EQ(distributor_read(kIpriorityr + 44, 1), 0x78u);
    EXPECT_EQ(distributor_read(kIpriorityr + 45, 1), 0x50u);
    EXPECT_EQ(distributor_read(kIpriorityr + 46, 1), 0x30u);
    EXPECT_EQ(distributor_read(kIpriorityr + 47, 1), 0x10u);
    EXPECT_EQ(gic->interrupt(45, 0)->priority, 0x50u);

    // The last SPI, then past it.
    distributor_write(kIpriorityr + 124, 0x8080'8080);
    EXPECT_EQ(distributor_read(kIpriorityr + 124), 0x8080'8080u);
    distributor_write(kIpriorityr + 128, 0x8080'8080);
    EXPECT_EQ(distributor_read(kIpriorityr + 128), 0u);
}

TEST_F(VirtualGicTest, PrivatePrioritiesPerVcpu) {
    sgi_frame_write(1, kIpriorityr + 0, 0x4030'2010);  // SGIs 0..3
    sgi_frame_write(1, kIpriorityr + 27, 0xa8, 1);       // the virtual timer PPI
    EXPECT_EQ(sgi_frame_read(1, kIpriorityr + 0), 0x4030'2010u);
    EXPECT_EQ(sgi_frame_read(1, kIpriorityr + 27, 1), 0xa8u);
    EXPECT_EQ(sgi_frame_read(1, kIpriorityr + 24), 0xa800'0000u);
    EXPECT_EQ(sgi_frame_read(0, kIpriorityr + 0), 0u);
    EXPECT_EQ(sgi_frame_read(2, kIpriorityr + 24), 0u);
}

TEST_F(VirtualGicTest, PriorityHalfwordAccessIsRefused) {
    MmioAccess access{kIpriorityr + 40, 2, false, 0};
    EXPECT_FALSE(gic->distributor_access(access));
}

TEST_F(VirtualGicTest, SgisAreAlwaysEdgeTriggered) {
    EXPECT_EQ(sgi_frame_read(0, kIcfgr), 0xaaaa'aaaau);
    sgi_frame_write(0, kIcfgr, 0);
    EXPECT_EQ(sgi_frame_read(0, kIcfgr), 0xaaaa'aaaau);
    EXPECT_FALSE(gic->interrupt(5, 0)->level_sensitive);
}

TEST_F(VirtualGicTest, PpisAreConfigurable) {
    EXPECT_EQ(sgi_frame_read(2, kIcfgr + 4), 0u);  // level-sensitive after reset
    sgi_frame_write(2, kIcfgr + 4, 0xaaaa'aaaa);
    EXPECT_EQ(sgi_frame_read(2, kIcfgr + 4), 0xaaaa'aaaau);
    EXPECT_FALSE(gic->interrupt(20, 2)->level_sensitive);
    EXPECT_EQ(sgi_frame_read(1, kIcfgr + 4), 0u);  // other vCPUs untouched
    sgi_frame_write(2, kIcfgr + 4, std::uint64_t{2} << (2 * (27 - 16)));  // only the timer edge
    EXPECT_EQ(sgi_frame_read(2, kIcfgr + 4), std::uint64_t{2} << 22);
    EXPECT_TRUE(gic->interrupt(20, 2)->level_sensitive);
    EXPECT_FALSE(gic->interrupt(27, 2)->level_sensitive);
}

TEST_F(VirtualGicTest, SpisAreConfigurable) {
    // Edge-triggered after reset (a driver configures each one it uses).
    for (std::uint64_t word = 2; word < 8; ++word) EXPECT_EQ(distributor_read(kIcfgr + 4 * word), 0xaaaa'aaaau);
    EXPECT_FALSE(gic->interrupt(40, 0)->level_sensitive);
    set_spi_edge(33, false);
    EXPECT_EQ(distributor_read(kIcfgr + 8), 0xaaaa'aaa2u);  // INTIDs 32..47
    EXPECT_TRUE(gic->interrupt(33, 0)->level_sensitive);
    EXPECT_FALSE(gic->interrupt(32, 0)->level_sensitive);
    distributor_write(kIcfgr + 28, 0);  // INTIDs 112..127: all level
    EXPECT_EQ(distributor_read(kIcfgr + 28), 0u);
    EXPECT_TRUE(gic->interrupt(127, 0)->level_sensitive);
    set_spi_edge(127, true);
    EXPECT_EQ(distributor_read(kIcfgr + 28), 2u << 30);
    set_spi_edge(33, true);
    EXPECT_EQ(distributor_read(kIcfgr + 8), 0xaaaa'aaaau);
    distributor_write(kIcfgr + 32, 0xaaaa'aaaa);  // past the last SPI
    EXPECT_EQ(distributor_read(kIcfgr + 32), 0u);
}

// --- Routing ---------------------------------------------------------------------------------

TEST_F(VirtualGicTest, SpiRoutedToAVcpu) {
    enable_groups();
    enable_spi(40, 2);
    EXPECT_EQ(distributor_read(kIrouter + 8 * 40, 8), 2u);
    EXPECT_EQ(gic->interrupt(40, 0)->target_vcpu, 2u);
    take_notifications();
    gic->raise_edge(40);
    EXPECT_EQ(take_notifications(), Notified{2});
    EXPECT_FALSE(gic->next_for_list_register(0).has_value());
    const auto entry = gic->next_for_list_register(2);
    ASSERT_TRUE(entry.has_value());
    EXPECT_EQ(entry->interrupt_id, 40u);
    EXPECT_TRUE(gic->has_deliverable(2));
    EXPECT_FALSE(gic->has_deliverable(0));

    // Re-routing a pending SPI moves it, and tells the new target.
    distributor_write(kIrouter + 8 * 40, 3, 8);
    EXPECT_EQ(take_notifications(), Notified{3});
    EXPECT_FALSE(gic->next_for_list_register(2).has_value());
    EXPECT_TRUE(gic->next_for_list_register(3).has_value());
}

TEST_F(VirtualGicTest, AnyVcpuAndImpossibleRoutesGoToVcpu0) {
    distributor_write(kIrouter + 8 * 50, 3, 8);
    EXPECT_EQ(gic->interrupt(50, 0)->target_vcpu, 3u);
    distributor_write(kIrouter + 8 * 50, kIrm | 3, 8);  // 1 of N
    EXPECT_EQ(gic->interrupt(50, 0)->target_vcpu, 0u);
    EXPECT_EQ(distributor_read(kIrouter + 8 * 50, 8), kIrm | 3);

    distributor_write(kIrouter + 8 * 50, 7, 8);  // no such vCPU
    EXPECT_EQ(gic->interrupt(50, 0)->target_vcpu, 0u);
    EXPECT_EQ(distributor_read(kIrouter + 8 * 50, 8), 7u);

    for (const std::uint64_t route : {std::uint64_t{0x0100} | 1, std::uint64_t{0x01'0000} | 1,
                                      (std::uint64_t{1} << 32) | 1}) {  // Aff1, Aff2, Aff3
        distributor_write(kIrouter + 8 * 50, 2, 8);
        distributor_write(kIrouter + 8 * 50, route, 8);
        EXPECT_EQ(gic->interrupt(50, 0)->target_vcpu, 0u) << std::hex << route;
        EXPECT_EQ(distributor_read(kIrouter + 8 * 50, 8), route);
    }
    // Reserved bits are not kept.
    distributor_write(kIrouter + 8 * 50, 0xff00'0000'7f00'0001ull, 8);
    EXPECT_EQ(distributor_read(kIrouter + 8 * 50, 8), 1u);
    EXPECT_EQ(gic->interrupt(50, 0)->target_vcpu, 1u);
}

TEST_F(VirtualGicTest, RouterAsTwo32BitHalves) {
    // A guest that writes the 64-bit register as two words, low then high.
    distributor_write(kIrouter + 8 * 60, 2, 4);
    distributor_write(kIrouter + 8 * 60 + 4, 0, 4);
    EXPECT_EQ(gic->interrupt(60, 0)->target_vcpu, 2u);
    EXPECT_EQ(distributor_read(kIrouter + 8 * 60, 8), 2u);
    EXPECT_EQ(distributor_read(kIrouter + 8 * 60, 4), 2u);
    EXPECT_EQ(distributor_read(kIrouter + 8 * 60 + 4, 4), 0u);

    // Aff3 lives in the upper word; the lower one keeps Aff0.
    distributor_write(kIrouter + 8 * 60 + 4, 0x05, 4);
    EXPECT_EQ(distributor_read(kIrouter + 8 * 60, 8), (std::uint64_t{5} << 32) | 2);
    EXPECT_EQ(distributor_read(kIrouter + 8 * 60 + 4, 4), 5u);
    EXPECT_EQ(distributor_read(kIrouter + 8 * 60, 4), 2u);
    EXPECT_EQ(gic->interrupt(60, 0)->target_vcpu, 0u);  // Aff3 != 0: no such vCPU
    distributor_write(kIrouter + 8 * 60 + 4, 0, 4);
    EXPECT_EQ(gic->interrupt(60, 0)->target_vcpu, 2u);

    // Misaligned accesses are not emulated.
    MmioAccess odd{kIrouter + 8 * 60 + 4, 8, false, 0};
    EXPECT_FALSE(gic->distributor_access(odd));
    MmioAccess narrow{kIrouter + 8 * 60 + 2, 4, true, 1};
    EXPECT_FALSE(gic->distributor_access(narrow));
}

TEST_F(VirtualGicTest, RoutersOfPrivateAndMissingInterruptsAreRazWi) {
    distributor_write(kIrouter + 8 * 27, 3, 8);
    EXPECT_EQ(distributor_read(kIrouter + 8 * 27, 8), 0u);
    distributor_write(kIrouter + 8 * 128, 3, 8);
    EXPECT_EQ(distributor_read(kIrouter + 8 * 128, 8), 0u);
}

// --- SGIs ------------------------------------------------------------------------------------

TEST_F(VirtualGicTest, SgiToATargetList) {
    for (std::uint32_t vcpu = 0; vcpu < kVcpus; ++vcpu) enable_private(vcpu, 5);
    take_notifications();
    gic->send_sgi(0, sgi1r(5, 0b1010));
    EXPECT_EQ(take_notifications(), (Notified{1, 3}));
    EXPECT_FALSE(private_bit(0, kIspendr, 5));
    EXPECT_TRUE(private_bit(1, kIspendr, 5));
    EXPECT_FALSE(private_bit(2, kIspendr, 5));
    EXPECT_TRUE(private_bit(3, kIspendr, 5));
    EXPECT_EQ(sgi_frame_read(1, kIspendr), 1u << 5);  // only that SGI

    // Targets beyond the last vCPU are ignored; a vCPU may signal itself.
    gic->send_sgi(2, sgi1r(5, 0xfff4));
    EXPECT_EQ(take_notifications(), Notified{2});
    EXPECT_TRUE(private_bit(2, kIspendr, 5));
}

TEST_F(VirtualGicTest, SgiToAllButSelf) {
    for (std::uint32_t vcpu = 0; vcpu < kVcpus; ++vcpu) enable_private(vcpu, 1);
    take_notifications();
    gic->send_sgi(2, sgi1r(1, 0, std::uint64_t{1} << 40));
    EXPECT_EQ(take_notifications(), (Notified{0, 1, 3}));
    for (std::uint32_t vcpu = 0; vcpu < kVcpus; ++vcpu) {
        EXPECT_EQ(private_bit(vcpu, kIspendr, 1), vcpu != 2) << "vCPU " << vcpu;
    }
}

TEST_F(VirtualGicTest, SgiToHigherAffinityOrRangeReachesNobody) {
    for (std::uint32_t vcpu = 0; vcpu < kVcpus; ++vcpu) enable_private(vcpu, 7);
    take_notifications();
    gic->send_sgi(0, sgi1r(7, 0xf, std::uint64_t{1} << 16));  // Aff1 = 1
    gic->send_sgi(0, sgi1r(7, 0xf, std::uint64_t{1} << 32));  // Aff2 = 1
    gic->send_sgi(0, sgi1r(7, 0xf, std::uint64_t{1} << 48));  // Aff3 = 1
    gic->send_sgi(0, sgi1r(7, 0xf, std::uint64_t{1} << 44));  // RS = 1: Aff0 16..31
    EXPECT_TRUE(take_notifications().empty());
    for (std::uint32_t vcpu = 0; vcpu < kVcpus; ++vcpu) EXPECT_EQ(sgi_frame_read(vcpu, kIspendr), 0u);
}

TEST_F(VirtualGicTest, SgiToADisabledSgiIsPendingWithoutNotification) {
    gic->send_sgi(0, sgi1r(3, 0b10));
    EXPECT_TRUE(take_notifications().empty());
    EXPECT_TRUE(private_bit(1, kIspendr, 3));
    sgi_frame_write(1, kIsenabler, 1u << 3);  // enabling it makes it deliverable
    EXPECT_EQ(take_notifications(), Notified{1});
}

// --- Interrupt lines -------------------------------------------------------------------------

TEST_F(VirtualGicTest, LevelSensitivePendingFollowsTheLine) {
    enable_groups();
    enable_spi(50, 1);
    set_spi_edge(50, false);
    take_notifications();
    gic->set_level(50, true);
    EXPECT_EQ(take_notifications(), Notified{1});
    EXPECT_TRUE(spi_bit(kIspendr, 50));
    gic->set_level(50, true);  // still high: nothing new
    EXPECT_TRUE(take_notifications().empty());
    gic->set_level(50, false);
    EXPECT_FALSE(spi_bit(kIspendr, 50));
    EXPECT_FALSE(gic->has_deliverable(1));

    // Clearing the pending state while the line is high does not lower it.
    gic->set_level(50, true);
    distributor_write(kIcpendr + 4, 1u << (50 - 32));
    EXPECT_TRUE(spi_bit(kIspendr, 50));
    gic->set_level(50, false);
    EXPECT_FALSE(spi_bit(kIspendr, 50));

    // Pending set by software stays until cleared, whatever the line does.
    distributor_write(kIspendr + 4, 1u << (50 - 32));
    EXPECT_TRUE(spi_bit(kIspendr, 50));
    gic->set_level(50, true);
    gic->set_level(50, false);
    EXPECT_TRUE(spi_bit(kIspendr, 50));
    distributor_write(kIcpendr + 4, 1u << (50 - 32));
    EXPECT_FALSE(spi_bit(kIspendr, 50));
}

TEST_F(VirtualGicTest, EdgeTriggeredLatchesTheRisingEdge) {
    enable_groups();
    enable_spi(51, 0);  // edge-triggered, as after reset
    take_notifications();
    gic->set_level(51, true);
    EXPECT_EQ(take_notifications(), Notified{0});
    gic->set_level(51, false);
    EXPECT_TRUE(spi_bit(kIspendr, 51));  // latched
    distributor_write(kIcpendr + 4, 1u << (51 - 32));
    EXPECT_FALSE(spi_bit(kIspendr, 51));
    gic->set_level(51, true);
    EXPECT_TRUE(spi_bit(kIspendr, 51));
    distributor_write(kIcpendr + 4, 1u << (51 - 32));
    gic->set_level(51, true);  // no new edge
    EXPECT_FALSE(spi_bit(kIspendr, 51));
    EXPECT_TRUE(take_notifications().size() == 1);
}

TEST_F(VirtualGicTest, PrivateLinesBelongToTheirVcpu) {
    enable_groups();
    enable_private(2, 27);
    take_notifications();
    gic->set_level(27, true, 2);
    EXPECT_EQ(take_notifications(), Notified{2});
    EXPECT_TRUE(private_bit(2, kIspendr, 27));
    EXPECT_FALSE(private_bit(1, kIspendr, 27));
    gic->raise_edge(27, 3);  // disabled on vCPU 3
    EXPECT_TRUE(take_notifications().empty());
    EXPECT_TRUE(private_bit(3, kIspendr, 27));
    // A vCPU that does not exist is ignored.
    gic->raise_edge(27, kVcpus);
    gic->set_level(27, true, kVcpus);
    gic->raise_edge(kInterruptIdLimit);
    EXPECT_TRUE(take_notifications().empty());
}

// --- Notification ----------------------------------------------------------------------------

TEST_F(VirtualGicTest, NotifiesExactlyWhenAnEnabledInterruptBecomesPending) {
    // Disabled: pending, but nobody is told.
    gic->raise_edge(70);
    EXPECT_TRUE(take_notifications().empty());
    // Enabling it (routed to vCPU 0 by default) makes it deliverable.
    distributor_write(kIsenabler + 8, 1u << (70 - 64));
    EXPECT_EQ(take_notifications(), Notified{0});
    // Already enabled and now pending through ISPENDR: the target is told.
    distributor_write(kIrouter + 8 * 71, 3, 8);
    distributor_write(kIsenabler + 8, 1u << (71 - 64));
    EXPECT_TRUE(take_notifications().empty());  // enabled but not pending
    distributor_write(kIspendr + 8, 1u << (71 - 64));
    EXPECT_EQ(take_notifications(), Notified{3});
    // Disabling, clearing pending, priorities, configuration: no notification.
    distributor_write(kIcenabler + 8, 1u << (71 - 64));
    distributor_write(kIcpendr + 8, 1u << (70 - 64));
    distributor_write(kIpriorityr + 70, 0x80, 1);
    set_spi_edge(70, false);
    EXPECT_TRUE(take_notifications().empty());
    // Notification does not look at the group enables (the vCPU then finds
    // nothing deliverable): it only says "look again".
    gic->raise_edge(70);
    EXPECT_EQ(take_notifications(), Notified{0});
    EXPECT_FALSE(gic->has_deliverable(0));
}

TEST_F(VirtualGicTest, NotificationWithoutACallbackIsSkipped) {
    gic->reset(kVcpus, nullptr, nullptr);
    enable_groups();
    enable_spi(40, 1);
    gic->raise_edge(40);
    gic->send_sgi(0, sgi1r(0, 0xf));
    EXPECT_TRUE(gic->has_deliverable(1));
}

// --- List registers --------------------------------------------------------------------------

TEST_F(VirtualGicTest, NextForListRegisterPicksTheHighestPriorityForThatVcpu) {
    enable_groups();
    enable_spi(40, 1);
    enable_spi(41, 1);
    enable_spi(42, 2);
    enable_private(1, 3);
    enable_private(2, 4);
    distributor_write(kIpriorityr + 40, 0xa0, 1);
    distributor_write(kIpriorityr + 41, 0x60, 1);
    distributor_write(kIpriorityr + 42, 0x10, 1);  // higher, but another vCPU's
    sgi_frame_write(1, kIpriorityr + 3, 0x80, 1);
    sgi_frame_write(2, kIpriorityr + 4, 0x00, 1);  // likewise
    gic->raise_edge(40);
    gic->raise_edge(41);
    gic->raise_edge(42);
    gic->raise_edge(3, 1);
    gic->raise_edge(4, 2);

    std::vector<std::uint32_t> order;
    for (std::uint8_t lr = 0; lr < 4; ++lr) {
        const auto entry = gic->next_for_list_register(1);
        if (!entry) break;
        EXPECT_TRUE(entry->pending);
        EXPECT_FALSE(entry->active);
        EXPECT_TRUE(entry->group1);
        EXPECT_EQ(entry->hardware_id, 0u);
        EXPECT_EQ(entry->priority, gic->interrupt(entry->interrupt_id, 1)->priority);
        order.push_back(entry->interrupt_id);
        gic->placed_in_list_register(1, entry->interrupt_id, lr);  // skipped from now on
    }
    EXPECT_EQ(order, (std::vector<std::uint32_t>{41, 3, 40}));
    EXPECT_EQ(gic->interrupt(40, 1)->list_register, 2u);
    const auto other = gic->next_for_list_register(2);
    ASSERT_TRUE(other.has_value());
    EXPECT_EQ(other->interrupt_id, 4u);
}

TEST_F(VirtualGicTest, EqualPrioritiesGoInInterruptIdOrder) {
    enable_groups();
    enable_spi(90, 0);
    enable_private(0, 9);
    enable_spi(33, 0);
    gic->raise_edge(90);
    gic->raise_edge(33);
    gic->raise_edge(9, 0);
    EXPECT_EQ(fill_one(0, 0), 9u);
    EXPECT_EQ(fill_one(0, 1), 33u);
    EXPECT_EQ(fill_one(0, 2), 90u);
    EXPECT_FALSE(gic->next_for_list_register(0).has_value());
}

TEST_F(VirtualGicTest, NextForListRegisterSkipsDisabledAndGroupDisabled) {
    enable_spi(40, 0);                               // group 1
    distributor_write(kIsenabler + 4, 1u << 9);     // INTID 41: group 0
    distributor_write(kIpriorityr + 41, 0x00, 1);
    distributor_write(kIpriorityr + 40, 0x80, 1);
    gic->raise_edge(40);
    gic->raise_edge(41);
    gic->raise_edge(42);  // never enabled
    EXPECT_FALSE(gic->next_for_list_register(0).has_value());  // no group enabled
    EXPECT_FALSE(gic->has_deliverable(0));

    enable_groups(kCtlrGroup1);
    auto entry = gic->next_for_list_register(0);
    ASSERT_TRUE(entry.has_value());
    EXPECT_EQ(entry->interrupt_id, 40u);
    EXPECT_TRUE(entry->group1);

    enable_groups(kCtlrGroup0 | kCtlrGroup1);
    entry = gic->next_for_list_register(0);
    ASSERT_TRUE(entry.has_value());
    EXPECT_EQ(entry->interrupt_id, 41u);  // higher priority, now deliverable
    EXPECT_FALSE(entry->group1);

    enable_groups(kCtlrGroup0);
    entry = gic->next_for_list_register(0);
    ASSERT_TRUE(entry.has_value());
    EXPECT_EQ(entry->interrupt_id, 41u);
    gic->placed_in_list_register(0, 41, 0);
    EXPECT_FALSE(gic->next_for_list_register(0).has_value());
}

TEST_F(VirtualGicTest, NextForListRegisterOfAMissingVcpu) {
    enable_groups();
    EXPECT_FALSE(gic->next_for_list_register(kVcpus).has_value());
    EXPECT_FALSE(gic->has_deliverable(kVcpus));
}

TEST_F(VirtualGicTest, HardwareLinkIsReported) {
    enable_groups();
    gic->link_to_hardware(27, 30);
    for (std::uint32_t vcpu = 0; vcpu < kVcpus; ++vcpu) {
        enable_private(vcpu, 27);
        gic->raise_edge(27, vcpu);
        const auto entry = gic->next_for_list_register(vcpu);
        ASSERT_TRUE(entry.has_value());
        EXPECT_EQ(entry->interrupt_id, 27u);
        EXPECT_EQ(entry->hardware_id, 30u);
    }
}

TEST_F(VirtualGicTest, EdgeInterruptRoundTrip) {
    enable_groups();
    enable_spi(45, 1);
    gic->raise_edge(45);
    EXPECT_TRUE(gic->has_deliverable(1));
    EXPECT_EQ(fill_one(1, 3), 45u);
    // In the list register: the list register holds its state now.
    EXPECT_TRUE(gic->interrupt(45, 0)->in_list_register);
    EXPECT_FALSE(gic->next_for_list_register(1).has_value());
    EXPECT_FALSE(gic->has_deliverable(1));

    // Still pending (the guest has not taken it): back to pending.
    gic->sync_list_register(1, 45, true, false);
    EXPECT_FALSE(gic->interrupt(45, 0)->in_list_register);
    EXPECT_TRUE(spi_bit(kIspendr, 45));
    EXPECT_EQ(fill_one(1, 0), 45u);

    // Acknowledged: active.
    gic->sync_list_register(1, 45, false, true);
    EXPECT_FALSE(spi_bit(kIspendr, 45));
    EXPECT_TRUE(spi_bit(kIsactiver, 45));
    EXPECT_FALSE(gic->has_deliverable(1));
    auto entry = gic->next_for_list_register(1);  // the active state goes back in
    ASSERT_TRUE(entry.has_value());
    EXPECT_FALSE(entry->pending);
    EXPECT_TRUE(entry->active);
    gic->placed_in_list_register(1, 45, 0);
    // Readers elsewhere see the state it entered the list register with.
    EXPECT_TRUE(spi_bit(kIsactiver, 45));

    // Deactivated: done.
    gic->sync_list_register(1, 45, false, false);
    EXPECT_FALSE(spi_bit(kIspendr, 45));
    EXPECT_FALSE(spi_bit(kIsactiver, 45));
    EXPECT_FALSE(gic->next_for_list_register(1).has_value());
}

TEST_F(VirtualGicTest, NewEdgeWhileInAListRegisterIsKept) {
    enable_groups();
    enable_private(0, 2);
    gic->send_sgi(1, sgi1r(2, 0b1));
    EXPECT_EQ(fill_one(0), 2u);
    gic->send_sgi(3, sgi1r(2, 0b1));  // again, while the first is in the list register
    EXPECT_FALSE(gic->next_for_list_register(0).has_value());
    gic->sync_list_register(0, 2, false, true);  // the first one is being handled
    auto entry = gic->next_for_list_register(0);
    ASSERT_TRUE(entry.has_value());
    EXPECT_TRUE(entry->pending);
    EXPECT_TRUE(entry->active);
    gic->placed_in_list_register(0, 2, 0);
    gic->sync_list_register(0, 2, true, false);  // first done, second not taken yet
    entry = gic->next_for_list_register(0);
    ASSERT_TRUE(entry.has_value());
    EXPECT_TRUE(entry->pending);
    EXPECT_FALSE(entry->active);
}

TEST_F(VirtualGicTest, LevelInterruptWithTheLineStillHighIsPendingAgain) {
    enable_groups();
    enable_spi(60, 2);
    set_spi_edge(60, false);
    gic->set_level(60, true);
    EXPECT_EQ(fill_one(2), 60u);
    gic->sync_list_register(2, 60, false, true);  // handling it; the line is still high
    auto entry = gic->next_for_list_register(2);
    ASSERT_TRUE(entry.has_value());
    EXPECT_TRUE(entry->pending);
    EXPECT_TRUE(entry->active);
    gic->placed_in_list_register(2, 60, 0);
    gic->sync_list_register(2, 60, false, false);  // done, but the device still asserts it
    EXPECT_TRUE(spi_bit(kIspendr, 60));
    EXPECT_TRUE(gic->has_deliverable(2));
    entry = gic->next_for_list_register(2);
    ASSERT_TRUE(entry.has_value());
    EXPECT_TRUE(entry->pending);
    EXPECT_FALSE(entry->active);

    // The device lowers the line after the handler cleared it: nothing more.
    gic->placed_in_list_register(2, 60, 0);
    gic->sync_list_register(2, 60, false, true);
    gic->set_level(60, false);
    gic->placed_in_list_register(2, 60, 0);
    gic->sync_list_register(2, 60, false, false);
    EXPECT_FALSE(spi_bit(kIspendr, 60));
    EXPECT_FALSE(gic->has_deliverable(2));
    EXPECT_FALSE(gic->next_for_list_register(2).has_value());
}

TEST_F(VirtualGicTest, LevelInterruptPendedWithoutTheLineSurvivesAListRegister) {
    // The virtual timer: level-sensitive, but raised as an event.
    enable_groups();
    enable_private(1, 27);
    gic->raise_edge(27, 1);
    EXPECT_EQ(fill_one(1), 27u);
    gic->sync_list_register(1, 27, true, false);  // not taken yet
    EXPECT_TRUE(private_bit(1, kIspendr, 27));
    EXPECT_EQ(fill_one(1), 27u);
    gic->sync_list_register(1, 27, false, true);  // taken
    EXPECT_FALSE(private_bit(1, kIspendr, 27));
    EXPECT_TRUE(private_bit(1, kIsactiver, 27));
    gic->placed_in_list_register(1, 27, 0);
    gic->sync_list_register(1, 27, false, false);
    EXPECT_FALSE(gic->next_for_list_register(1).has_value());
}

TEST_F(VirtualGicTest, HasDeliverable) {
    EXPECT_FALSE(gic->has_deliverable(0));
    gic->raise_edge(40);  // disabled
    EXPECT_FALSE(gic->has_deliverable(0));
    enable_spi(40, 0);
    EXPECT_FALSE(gic->has_deliverable(0));  // groups disabled
    enable_groups(kCtlrGroup1);
    EXPECT_TRUE(gic->has_deliverable(0));
    EXPECT_FALSE(gic->has_deliverable(1));
    distributor_write(kIcpendr + 4, 1u << 8);
    EXPECT_FALSE(gic->has_deliverable(0));
    distributor_write(kIsactiver + 4, 1u << 8);  // active only: nothing to wake for
    EXPECT_FALSE(gic->has_deliverable(0));
    enable_private(3, 12);
    gic->send_sgi(0, sgi1r(12, 0b1000));
    EXPECT_TRUE(gic->has_deliverable(3));
    EXPECT_FALSE(gic->has_deliverable(2));
}

TEST_F(VirtualGicTest, ResetClearsEverything) {
    enable_groups();
    enable_spi(40, 2);
    enable_private(1, 5);
    gic->raise_edge(40);
    gic->raise_edge(5, 1);
    redistributor_write(1, kGicrWaker, 0);
    gic->reset(kVcpus, record_notification, &notified);
    EXPECT_EQ(distributor_read(kCtlr), kCtlrAre | kCtlrDs);
    EXPECT_FALSE(spi_bit(kIsenabler, 40));
    EXPECT_FALSE(spi_bit(kIspendr, 40));
    EXPECT_EQ(distributor_read(kIrouter + 8 * 40, 8), 0u);
    EXPECT_EQ(sgi_frame_read(1, kIsenabler), 0u);
    EXPECT_EQ(redistributor_read(1, kGicrWaker), kWakerProcessorSleep | kWakerChildrenAsleep);
    EXPECT_EQ(sgi_frame_read(1, kIcfgr + 4), 0u);
    EXPECT_FALSE(gic->has_deliverable(1));
    EXPECT_FALSE(gic->has_deliverable(2));
}

TEST(VirtualGic, PendingAndActiveRegistersAreTheOnesListRegistersHold) {
    for (const std::uint64_t bank : {kIspendr, kIcpendr, kIsactiver, kIcactiver}) {
        EXPECT_TRUE(VirtualGic::is_pending_or_active_register(bank)) << std::hex << bank;
        EXPECT_TRUE(VirtualGic::is_pending_or_active_register(bank + 0x7c)) << std::hex << bank;
    }
    for (const std::uint64_t offset : {kCtlr, kIgroupr, kIsenabler, kIcenabler + 0x7c, kIpriorityr, kIcfgr, kIrouter}) {
        EXPECT_FALSE(VirtualGic::is_pending_or_active_register(offset)) << std::hex << offset;
    }
}

TEST_F(VirtualGicTest, UnimplementedRegistersReadAsZero) {
    EXPECT_EQ(distributor_read(0x0010), 0u);   // reserved
    EXPECT_EQ(distributor_read(0x0d00), 0u);   // IGRPMODR: one security state
    EXPECT_EQ(distributor_read(0x0e00), 0u);   // NSACR
    EXPECT_EQ(distributor_read(0x0800), 0u);   // ITARGETSR: affinity routing
    EXPECT_EQ(redistributor_read(2, 0x0070), 0u);  // PROPBASER: no LPIs
    EXPECT_EQ(sgi_frame_read(2, 0x0d00), 0u);      // GICR_IGRPMODR0
    distributor_write(0x0d00, 0xffff'ffff);
    EXPECT_EQ(distributor_read(0x0d00), 0u);
}

}  // namespace
}  // namespace lamina
