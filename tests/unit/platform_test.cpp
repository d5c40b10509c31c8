#include "core/platform.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/fdt.hpp"
#include "core/fdt_writer.hpp"
#include "test_data.hpp"

namespace lamina {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

using test::Blob;

using test::load_fixture;

MATCHER_P2(IsRange, base, size, "") {
    return arg.base == HostPhysAddr{static_cast<std::uint64_t>(base)} && arg.size == static_cast<std::uint64_t>(size);
}

// Parses a blob and discovers its platform; the blob must outlive the result's bootargs.
[[nodiscard]] Result<Platform> discover(const Blob& blob) {
    const auto tree = fdt::DeviceTree::parse(blob);
    if (!tree.ok()) return tree.error();
    return discover_platform(*tree);
}

[[nodiscard]] std::string_view error_of(const Result<Platform>& result) {
    return result.ok() ? std::string_view{"(discovered)"} : std::string_view{result.error().message};
}

// ---------------------------------------------------------------------------
// The reference board.

class PlatformQemuVirt : public ::testing::Test {
protected:
    void SetUp() override {
        auto discovered = discover(blob_);
        ASSERT_TRUE(discovered.ok()) << error_of(discovered);
        platform_ = *discovered;
    }
    Blob blob_{load_fixture("qemu-virt.dtb")};
    Platform platform_{};
};

TEST_F(PlatformQemuVirt, FindsMemoryAndNoReservations) {
    ASSERT_EQ(platform_.memory_count, 1u);
    EXPECT_THAT(platform_.memory[0], IsRange(0x4000'0000, 1 * GiB));
    EXPECT_EQ(platform_.reserved_count, 0u);
}

TEST_F(PlatformQemuVirt, FindsTwoCpusAndPsciOverSmc) {
    ASSERT_EQ(platform_.cpu_count, 2u);
    EXPECT_EQ(platform_.cpu_mpidr[0], 0u);
    EXPECT_EQ(platform_.cpu_mpidr[1], 1u);
    EXPECT_EQ(platform_.psci_conduit, PsciConduit::smc);
}

TEST_F(PlatformQemuVirt, FindsTheGicAndItsInterrupts) {
    EXPECT_THAT(platform_.gic_distributor, IsRange(0x0800'0000, 0x1'0000));
    EXPECT_THAT(platform_.gic_redistributors, IsRange(0x080a'0000, 0xf6'0000));
    EXPECT_EQ(platform_.gic_maintenance_interrupt_id, 25u);  // PPI 9
    EXPECT_EQ(platform_.timer_hyp_interrupt_id, 26u);        // PPI 10
    EXPECT_EQ(platform_.timer_virtual_interrupt_id, 27u);    // PPI 11
    EXPECT_EQ(platform_.timer_physical_interrupt_id, 30u);   // PPI 14
}

TEST_F(PlatformQemuVirt, FindsTheConsoleUart) {
    EXPECT_THAT(platform_.uart, IsRange(0x0900'0000, 0x1000));
    EXPECT_EQ(platform_.uart_interrupt_id, 33u);  // SPI 1
}

TEST_F(PlatformQemuVirt, FindsAllVirtioSlotsSortedByAddress) {
    ASSERT_EQ(platform_.virtio_mmio_count, 32u);
    for (std::size_t slot = 0; slot < 32; ++slot) {
        EXPECT_THAT(platform_.virtio_mmio[slot].registers, IsRange(0x0a00'0000 + 0x200 * slot, 0x200)) << slot;
        EXPECT_EQ(platform_.virtio_mmio[slot].interrupt_id, 48 + slot) << slot;  // SPIs 16..47
        EXPECT_TRUE(platform_.virtio_mmio[slot].dma_coherent) << slot;
    }
}

TEST_F(PlatformQemuVirt, HasNoInitrdOrBootargs) {
    EXPECT_FALSE(platform_.initrd);
    EXPECT_TRUE(platform_.bootargs.empty());
}

// ---------------------------------------------------------------------------
// The hand-written board: translation, aliases, /chosen, disabled nodes.

class PlatformTestBoard : public ::testing::Test {
protected:
    void SetUp() override {
        auto discovered = discover(blob_);
        ASSERT_TRUE(discovered.ok()) << error_of(discovered);
        platform_ = *discovered;
    }
    Blob blob_{load_fixture("test-board.dtb")};
    Platform platform_{};
};

TEST_F(PlatformTestBoard, CollectsEveryEnabledMemoryRange) {
    ASSERT_EQ(platform_.memory_count, 3u);
    EXPECT_THAT(platform_.memory[0], IsRange(0x8000'0000, 1 * GiB));
    EXPECT_THAT(platform_.memory[1], IsRange(0x8'8000'0000, 1 * GiB));
    EXPECT_THAT(platform_.memory[2], IsRange(0xc000'0000, 512 * MiB));
}

TEST_F(PlatformTestBoard, CollectsMemreserveAndReservedMemory) {
    ASSERT_EQ(platform_.reserved_count, 2u);
    EXPECT_THAT(platform_.reserved[0], IsRange(0x4800'0000, 1 * MiB));
    EXPECT_THAT(platform_.reserved[1], IsRange(0x9e00'0000, 32 * MiB));
}

TEST_F(PlatformTestBoard, ReadsTwoCellMpidrsAndSkipsDisabledCpus) {
    ASSERT_EQ(platform_.cpu_count, 4u);
    EXPECT_THAT(std::vector<std::uint64_t>(platform_.cpu_mpidr.begin(), platform_.cpu_mpidr.begin() + 4),
                ElementsAre(0x0u, 0x100u, 0x1'0000u, 0x1'0000'0000u));
    EXPECT_EQ(platform_.psci_conduit, PsciConduit::hvc);
}

TEST_F(PlatformTestBoard, FindsTheGicAndTimer) {
    EXPECT_THAT(platform_.gic_distributor, IsRange(0x2f00'0000, 0x1'0000));
    EXPECT_THAT(platform_.gic_redistributors, IsRange(0x2f10'0000, 0x20'0000));
    EXPECT_EQ(platform_.gic_maintenance_interrupt_id, 25u);
    EXPECT_EQ(platform_.timer_hyp_interrupt_id, 26u);
    EXPECT_EQ(platform_.timer_virtual_interrupt_id, 27u);
    EXPECT_EQ(platform_.timer_physical_interrupt_id, 30u);
}

TEST_F(PlatformTestBoard, PicksTheUartNamedByTheStdoutAlias) {
    // stdout-path = "serial0:115200n8"; serial0 is the second PL011, behind the bus.
    EXPECT_THAT(platform_.uart, IsRange(0x1c0a'0000, 0x1000));
    EXPECT_EQ(platform_.uart_interrupt_id, 38u);  // SPI 6
}

TEST_F(PlatformTestBoard, SortsEnabledVirtioSlots) {
    ASSERT_EQ(platform_.virtio_mmio_count, 2u);
    EXPECT_THAT(platform_.virtio_mmio[0].registers, IsRange(0x1c01'0000, 0x200));
    EXPECT_EQ(platform_.virtio_mmio[0].interrupt_id, 72u);
    EXPECT_THAT(platform_.virtio_mmio[1].registers, IsRange(0x1c03'0000, 0x200));
    EXPECT_EQ(platform_.virtio_mmio[1].interrupt_id, 74u);
    EXPECT_FALSE(platform_.virtio_mmio[0].dma_coherent);
    EXPECT_TRUE(platform_.virtio_mmio[1].dma_coherent);  // "dma-coherent" on the node
}

TEST_F(PlatformTestBoard, ReadsInitrdAndBootargsFromChosen) {
    ASSERT_TRUE(platform_.initrd);
    EXPECT_THAT(*platform_.initrd, IsRange(0x4800'0000, 0x80'0000));  // a 32-bit start, a 64-bit end
    EXPECT_EQ(platform_.bootargs, "console=ttyAMA0 earlycon root=/dev/vda");
    // The view points into the blob, not into a copy.
    const auto* first = reinterpret_cast<const char*>(blob_.data());
    EXPECT_GE(platform_.bootargs.data(), first);
    EXPECT_LT(platform_.bootargs.data(), first + blob_.size());
}

// ---------------------------------------------------------------------------
// Generated boards, one variation at a time.

constexpr std::uint32_t kGicPhandle = 1;
constexpr std::uint32_t kOtherControllerPhandle = 2;

struct BoardSpec final {
    std::size_t memory_nodes = 1;
    std::size_t reservations = 0;
    std::size_t cpus = 1;
    bool gic = true;
    std::uint32_t gic_interrupt_cells = 3;
    std::vector<std::uint32_t> gic_interrupts{1, 9, 4};
    bool timer = true;
    std::vector<std::uint32_t> timer_interrupts{1, 13, 8, 1, 14, 8, 1, 11, 8, 1, 10, 8};
    bool psci = true;
    std::optional<std::string_view> psci_method{"smc"};
    std::string_view psci_compatible{"arm,psci-1.0"};
    std::size_t uarts = 1;
    std::optional<std::string_view> stdout_path{};
    std::uint32_t uart_interrupt_parent = kGicPhandle;
    std::size_t virtio_slots = 0;
    bool root_dma_coherent = false;
    bool chosen = true;
    std::optional<std::uint64_t> initrd_start{};
    std::optional<std::uint64_t> initrd_end{};
};

[[nodiscard]] Blob build_board(const BoardSpec& spec) {
    Blob buffer(64 * 1024);
    fdt::FdtWriter writer{buffer};
    for (std::size_t index = 0; index < spec.reservations; ++index)
        writer.add_memory_reservation(0x4000'0000 + index * 0x1000, 0x1000);
    writer.begin_node("");
    writer.property_u32("#address-cells", 2);
    writer.property_u32("#size-cells", 2);
    writer.property_u32("interrupt-parent", kGicPhandle);
    if (spec.root_dma_coherent) writer.property_empty("dma-coherent");

    if (spec.chosen) {
        writer.begin_node("chosen");
        if (spec.stdout_path) writer.property_string("stdout-path", *spec.stdout_path);
        if (spec.initrd_start) writer.property_u64("linux,initrd-start", *spec.initrd_start);
        if (spec.initrd_end) writer.property_u32("linux,initrd-end", static_cast<std::uint32_t>(*spec.initrd_end));
        writer.end_node();
    }
    for (std::size_t index = 0; index < spec.memory_nodes; ++index) {
        writer.begin_node("memory");
        writer.property_string("device_type", "memory");
        writer.property_cells("reg",
                              {0x0, static_cast<std::uint32_t>(0x4000'0000 + index * 0x100'0000), 0x0, 0x100'0000});
        writer.end_node();
    }
    writer.begin_node("cpus");
    writer.property_u32("#address-cells", 1);
    writer.property_u32("#size-cells", 0);
    for (std::size_t index = 0; index < spec.cpus; ++index) {
        writer.begin_node("cpu");
        writer.property_string("device_type", "cpu");
        writer.property_u32("reg", static_cast<std::uint32_t>(index));
        writer.end_node();
    }
    writer.end_node();
    if (spec.psci) {
        writer.begin_node("psci");
        writer.property_string("compatible", spec.psci_compatible);
        if (spec.psci_method) writer.property_string("method", *spec.psci_method);
        writer.end_node();
    }
    if (spec.gic) {
        writer.begin_node("intc@8000000");
        writer.property_string("compatible", "arm,gic-v3");
        writer.property_u32("phandle", kGicPhandle);
        writer.property_u32("#interrupt-cells", spec.gic_interrupt_cells);
        writer.property_cells("reg", {0x0, 0x0800'0000, 0x0, 0x1'0000, 0x0, 0x080a'0000, 0x0, 0xf6'0000});
        writer.property_cells("interrupts", spec.gic_interrupts);
        writer.end_node();
    }
    writer.begin_node("other-controller");
    writer.property_u32("phandle", kOtherControllerPhandle);
    writer.property_u32("#interrupt-cells", 1);
    writer.end_node();
    if (spec.timer) {
        writer.begin_node("timer");
        writer.property_string("compatible", "arm,armv8-timer");
        writer.property_cells("interrupts", spec.timer_interrupts);
        writer.end_node();
    }
    for (std::size_t index = 0; index < spec.uarts; ++index) {
        writer.begin_node(index == 0 ? "uart@9000000" : "uart@9001000");
        writer.property_string_list("compatible", {"arm,pl011", "arm,primecell"});
        writer.property_cells("reg", {0x0, static_cast<std::uint32_t>(0x0900'0000 + index * 0x1000), 0x0, 0x1000});
        writer.property_cells("interrupts", {0, static_cast<std::uint32_t>(1 + index), 4});
        writer.property_u32("interrupt-parent", spec.uart_interrupt_parent);
        writer.end_node();
    }
    for (std::size_t index = 0; index < spec.virtio_slots; ++index) {
        writer.begin_node("virtio_mmio");
        writer.property_string("compatible", "virtio,mmio");
        writer.property_cells("reg", {0x0, static_cast<std::uint32_t>(0x0a00'0000 + index * 0x200), 0x0, 0x200});
        writer.property_cells("interrupts", {0, static_cast<std::uint32_t>(16 + index), 1});
        writer.end_node();
    }
    writer.end_node();
    const auto size = writer.finish();
    EXPECT_TRUE(size.ok()) << size.error().message;
    buffer.resize(size.ok() ? *size : 0);
    return buffer;
}

TEST(PlatformGenerated, TheDefaultBoardIsDiscovered) {
    const Blob blob = build_board({});
    const auto platform = discover(blob);
    ASSERT_TRUE(platform.ok()) << error_of(platform);
    EXPECT_EQ(platform->cpu_count, 1u);
    EXPECT_EQ(platform->psci_conduit, PsciConduit::smc);
    EXPECT_THAT(platform->uart, IsRange(0x0900'0000, 0x1000));
    EXPECT_EQ(platform->virtio_mmio_count, 0u);
}

TEST(PlatformGenerated, ABoardWithoutPsciHasNoConduit) {
    const Blob blob = build_board({.psci = false});
    const auto platform = discover(blob);
    ASSERT_TRUE(platform.ok()) << error_of(platform);
    EXPECT_EQ(platform->psci_conduit, PsciConduit::none);
}

TEST(PlatformGenerated, RecognisesEveryPsciCompatible) {
    for (const std::string_view compatible : {"arm,psci", "arm,psci-0.2", "arm,psci-1.0"}) {
        const Blob blob = build_board({.psci_method = "hvc", .psci_compatible = compatible});
        const auto platform = discover(blob);
        ASSERT_TRUE(platform.ok()) << error_of(platform);
        EXPECT_EQ(platform->psci_conduit, PsciConduit::hvc) << compatible;
    }
}

TEST(PlatformGenerated, FallsBackToTheFirstPl011) {
    for (const std::string_view path : {"/nonexistent", "/intc@8000000", "serial9"}) {
        const Blob blob = build_board({.uarts = 2, .stdout_path = path});
        const auto platform = discover(blob);
        ASSERT_TRUE(platform.ok()) << error_of(platform);
        EXPECT_THAT(platform->uart, IsRange(0x0900'0000, 0x1000)) << path;
    }
    const Blob blob = build_board({.uarts = 2, .stdout_path = "/uart@9001000:115200"});
    const auto platform = discover(blob);
    ASSERT_TRUE(platform.ok()) << error_of(platform);
    EXPECT_THAT(platform->uart, IsRange(0x0900'1000, 0x1000));
    EXPECT_EQ(platform->uart_interrupt_id, 34u);
}

TEST(PlatformGenerated, AcceptsExactlyTheLimits) {
    const Blob blob = build_board({.memory_nodes = Platform::kMaxMemoryRanges,
                                   .reservations = Platform::kMaxReserved,
                                   .cpus = Platform::kMaxCpus,
                                   .virtio_slots = Platform::kMaxVirtioSlots});
    const auto platform = discover(blob);
    ASSERT_TRUE(platform.ok()) << error_of(platform);
    EXPECT_EQ(platform->memory_count, Platform::kMaxMemoryRanges);
    EXPECT_EQ(platform->reserved_count, Platform::kMaxReserved);
    EXPECT_EQ(platform->cpu_count, Platform::kMaxCpus);
    EXPECT_EQ(platform->virtio_mmio_count, Platform::kMaxVirtioSlots);
}

TEST(PlatformGenerated, VirtioSlotsInheritDmaCoherenceFromTheirParents) {
    for (const bool coherent : {false, true}) {
        const Blob blob = build_board({.virtio_slots = 2, .root_dma_coherent = coherent});
        const auto platform = discover(blob);
        ASSERT_TRUE(platform.ok()) << error_of(platform);
        ASSERT_EQ(platform->virtio_mmio_count, 2u);
        EXPECT_EQ(platform->virtio_mmio[0].dma_coherent, coherent);
        EXPECT_EQ(platform->virtio_mmio[1].dma_coherent, coherent);
    }
}

TEST(PlatformGenerated, ReadsAnInitrdOfMixedWidths) {
    const Blob blob = build_board({.initrd_start = 0x4800'0000, .initrd_end = 0x4900'0000});
    const auto platform = discover(blob);
    ASSERT_TRUE(platform.ok()) << error_of(platform);
    ASSERT_TRUE(platform->initrd);
    EXPECT_THAT(*platform->initrd, IsRange(0x4800'0000, 0x100'0000));
}

TEST(PlatformGenerated, ToleratesAMissingChosen) {
    const Blob blob = build_board({.chosen = false});
    const auto platform = discover(blob);
    ASSERT_TRUE(platform.ok()) << error_of(platform);
    EXPECT_FALSE(platform->initrd);
    EXPECT_TRUE(platform->bootargs.empty());
}

struct BrokenBoard final {
    const char* description;
    BoardSpec spec;
    std::string_view expected_error;
};

TEST(PlatformGenerated, ExplainsWhatIsWrongWithABrokenBoard) {
    const std::vector<BrokenBoard> boards{
        {"no memory", {.memory_nodes = 0}, "no memory node"},
        {"too much memory", {.memory_nodes = Platform::kMaxMemoryRanges + 1}, "too many memory ranges"},
        {"too many reservations", {.reservations = Platform::kMaxReserved + 1}, "too many reserved"},
        {"no CPUs", {.cpus = 0}, "no cpu nodes"},
        {"too many CPUs", {.cpus = Platform::kMaxCpus + 1}, "too many CPUs"},
        {"no GIC", {.gic = false}, "no GICv3"},
        {"2-cell GIC specifiers", {.gic_interrupt_cells = 2}, "#interrupt-cells"},
        {"no maintenance interrupt", {.gic_interrupts = {}}, "interrupts property missing"},
        {"maintenance interrupt of unknown type", {.gic_interrupts = {2, 9, 4}}, "unknown type"},
        {"PPI out of range", {.gic_interrupts = {1, 16, 4}}, "out of range"},
        {"no timer", {.timer = false}, "architected timer"},
        {"timer without the hyp interrupt", {.timer_interrupts = {1, 13, 8, 1, 14, 8, 1, 11, 8}}, "too short"},
        {"bad PSCI method", {.psci_method = "svc"}, "psci node method"},
        {"PSCI without a method", {.psci_method = std::nullopt, .psci_compatible = "arm,psci"}, "psci node method"},
        {"no UART", {.uarts = 0}, "no PL011"},
        {"UART wired to another controller", {.uart_interrupt_parent = kOtherControllerPhandle}, "not routed"},
        {"UART wired to nothing", {.uart_interrupt_parent = 0x77}, "not routed"},
        {"too many virtio slots", {.virtio_slots = Platform::kMaxVirtioSlots + 1}, "too many virtio"},
        {"initrd end before start", {.initrd_start = 0x4900'0000, .initrd_end = 0x4800'0000}, "before it starts"},
        {"initrd start without end", {.initrd_start = 0x4800'0000}, "initrd start or end"},
        {"initrd end without start", {.initrd_end = 0x4800'0000}, "initrd start or end"},
    };
    for (const auto& board : boards) {
        const Blob blob = build_board(board.spec);
        const auto platform = discover(blob);
        EXPECT_FALSE(platform.ok()) << board.description;
        EXPECT_THAT(error_of(platform), HasSubstr(board.expected_error)) << board.description;
    }
}

// Random byte corruption of real trees: discovery either fails cleanly or
// returns ranges read from the tree; ASan and UBSan watch every access.
TEST(PlatformFuzz, MutatedTreesFailCleanlyOrDiscover) {
    for (const char* fixture : {"qemu-virt.dtb", "test-board.dtb"}) {
        const Blob original = load_fixture(fixture);
        std::uint64_t state = 0x2545'f491'4f6c'dd1d;
        const auto next_random = [&state] {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            return state;
        };
        std::size_t discovered = 0;
        for (int round = 0; round < 200; ++round) {
            Blob blob = original;
            const auto flips = 1 + next_random() % 3;
            for (std::uint64_t flip = 0; flip < flips; ++flip)
                blob[next_random() % blob.size()] = static_cast<std::byte>(next_random());
            const auto platform = discover(blob);
            if (!platform.ok()) {
                EXPECT_NE(platform.error().message, nullptr);
                continue;
            }
            ++discovered;
            EXPECT_GE(platform->memory_count, 1u);
            EXPECT_LE(platform->memory_count, Platform::kMaxMemoryRanges);
            EXPECT_GE(platform->cpu_count, 1u);
            EXPECT_LE(platform->virtio_mmio_count, Platform::kMaxVirtioSlots);
        }
        EXPECT_GT(discovered, 0u) << fixture;
    }
}

}  // namespace
}  // namespace lamina
