// TranslationTable over fake table memory: a pool of host pages that stand in
// for physical frames. Descriptors are inspected with an independent walker
// so the tests check the architectural format, not the code's own view of it.
#include "arch/aarch64/translation_table.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <map>
#include <optional>
#include <ostream>
#include <random>
#include <set>
#include <vector>

namespace lamina {
namespace {

using arch::LeafAttributes;
using arch::TableGeometry;

// --- descriptor format, written out independently of the header ---------------

constexpr std::uint64_t kTypeMask = 0b11;
constexpr std::uint64_t kTypeBlock = 0b01;        // levels 1 and 2
constexpr std::uint64_t kTypeTableOrPage = 0b11;  // table at levels 0-2, page at level 3
constexpr std::uint64_t kOutputMask = 0x0000'ffff'ffff'f000;
constexpr std::uint64_t kStage2InputLimit = std::uint64_t{1} << 39;
constexpr std::uint64_t kEl2InputLimit = std::uint64_t{1} << 48;

constexpr unsigned shift_of(unsigned level) { return 12 + 9 * (3 - level); }
constexpr std::size_t index_of(std::uint64_t input, unsigned level) { return (input >> shift_of(level)) & 511; }

const LeafAttributes kRam = arch::stage2_attributes::kGuestRam;
const LeafAttributes kDevice = arch::stage2_attributes::kGuestDevice;

// --- fake table memory --------------------------------------------------------

// A pool of 4 KiB pages with made-up physical addresses. Any access to a page
// that is not currently handed out (use after free, double free, a pointer
// into nowhere) fails the running test.
class FakeTableMemory {
public:
    static constexpr std::uint64_t kPoolBase = 0x8000'0000;

    explicit FakeTableMemory(std::size_t pages = 64) : pages_(pages), in_use_(pages, false), limit_{pages} {}

    std::optional<HostPhysAddr> allocate_table() {
        if (live_ >= limit_) return std::nullopt;
        const auto free_page = std::find(in_use_.begin(), in_use_.end(), false);
        if (free_page == in_use_.end()) return std::nullopt;
        const auto index = static_cast<std::size_t>(free_page - in_use_.begin());
        in_use_[index] = true;
        pages_[index].entries.fill(0);
        ++allocations_;
        ++live_;
        return HostPhysAddr{kPoolBase + index * kPageSize};
    }

    std::uint64_t* table_entries(HostPhysAddr table) {
        const auto index = checked_index(table, "table_entries");
        return index ? pages_[*index].entries.data() : scratch_.entries.data();
    }

    void free_table(HostPhysAddr table) {
        const auto index = checked_index(table, "free_table");
        if (!index) return;
        in_use_[*index] = false;
        pages_[*index].entries.fill(0xdead'beef'dead'beef);  // a later walk through it would go astray
        ++frees_;
        --live_;
    }

    // Allocation fails once this many tables are live.
    void set_limit(std::size_t live_tables) { limit_ = live_tables; }

    [[nodiscard]] std::size_t allocations() const { return allocations_; }
    [[nodiscard]] std::size_t frees() const { return frees_; }
    [[nodiscard]] std::size_t live() const { return live_; }
    [[nodiscard]] static bool in_pool_window(std::uint64_t address) {
        return address >= kPoolBase && address < kPoolBase + GiB;
    }

private:
    struct alignas(4096) Page {
        std::array<std::uint64_t, 512> entries;
    };

    std::optional<std::size_t> checked_index(HostPhysAddr table, const char* what) {
        const std::uint64_t offset = table.value() - kPoolBase;
        if (table.value() < kPoolBase || !is_aligned(offset, kPageSize) || offset / kPageSize >= pages_.size()) {
            ADD_FAILURE() << what << " on an address outside the pool: 0x" << std::hex << table.value();
            return std::nullopt;
        }
        const auto index = static_cast<std::size_t>(offset / kPageSize);
        if (!in_use_[index]) {
            ADD_FAILURE() << what << " on a table page that is not allocated: 0x" << std::hex << table.value();
            return std::nullopt;
        }
        return index;
    }

    std::vector<Page> pages_;
    std::vector<bool> in_use_;
    Page scratch_{};
    std::size_t limit_;
    std::size_t allocations_{0};
    std::size_t frees_{0};
    std::size_t live_{0};
};

static_assert(arch::TableMemory<FakeTableMemory>);

using Table = arch::TranslationTable<FakeTableMemory>;

// A created table over its own fake memory; on destruction the table is
// destroyed and every table page must have come back exactly once.
struct Harness {
    explicit Harness(TableGeometry geometry_in = arch::kStage2Geometry, std::size_t pages = 64)
        : geometry{geometry_in}, memory{pages}, table{memory, geometry_in} {
        const Status status = table.create();
        EXPECT_TRUE(status.ok()) << status.error().message;
    }
    ~Harness() {
        table.destroy();
        EXPECT_EQ(memory.live(), 0u) << "table pages leaked";
        EXPECT_EQ(memory.allocations(), memory.frees());
    }
    Harness(const Harness&) = delete;
    Harness& operator=(const Harness&) = delete;

    TableGeometry geometry;
    FakeTableMemory memory;
    Table table;
};

// --- independent inspection ---------------------------------------------------

// The descriptors a hardware walk for `input` reads, from the start level down
// to the first one that is not a table.
std::vector<std::uint64_t> walk(FakeTableMemory& memory, const Table& table, TableGeometry geometry,
                                std::uint64_t input) {
    std::vector<std::uint64_t> descriptors;
    if (!table.root()) return descriptors;
    std::uint64_t current = table.root()->value();
    for (unsigned level = geometry.start_level; level <= 3; ++level) {
        const std::uint64_t descriptor = memory.table_entries(HostPhysAddr{current})[index_of(input, level)];
        descriptors.push_back(descriptor);
        if (level == 3 || (descriptor & kTypeMask) != kTypeTableOrPage) break;
        current = descriptor & kOutputMask;
    }
    return descriptors;
}

struct Leaf {
    std::uint64_t input;
    unsigned level;
    std::uint64_t output;
    std::uint64_t attributes;  // descriptor bits outside the address and type fields

    bool operator==(const Leaf&) const = default;
    friend void PrintTo(const Leaf& leaf, std::ostream* out) {
        *out << std::hex << "{input 0x" << leaf.input << ", level " << leaf.level << ", output 0x" << leaf.output
             << ", attributes 0x" << leaf.attributes << "}";
    }
};

struct Tree {
    std::vector<Leaf> leaves;         // in input address order
    std::set<std::uint64_t> tables;  // every table page reachable from the root
};

void collect(FakeTableMemory& memory, std::uint64_t table, unsigned level, std::uint64_t input_base, Tree& tree) {
    EXPECT_TRUE(tree.tables.insert(table).second) << "table page reachable twice: 0x" << std::hex << table;
    const std::uint64_t* entries = memory.table_entries(HostPhysAddr{table});
    for (std::size_t i = 0; i < 512; ++i) {
        const std::uint64_t descriptor = entries[i];
        if ((descriptor & 1) == 0) continue;
        const std::uint64_t input = input_base + (std::uint64_t{i} << shift_of(level));
        const std::uint64_t type = descriptor & kTypeMask;
        if (level < 3 && type == kTypeTableOrPage) {
            collect(memory, descriptor & kOutputMask, level + 1, input, tree);
            continue;
        }
        EXPECT_FALSE(level == 0) << "level-0 block descriptors do not exist with a 4 KiB granule";
        EXPECT_FALSE(level == 3 && type == kTypeBlock) << "reserved level-3 descriptor at input 0x" << std::hex
                                                       << input;
        tree.leaves.push_back(Leaf{input, level, descriptor & kOutputMask, descriptor & ~kOutputMask & ~kTypeMask});
    }
}

Tree inspect(Harness& h) {
    Tree tree;
    if (h.table.root()) collect(h.memory, h.table.root()->value(), h.geometry.start_level, 0, tree);
    return tree;
}

std::size_t count_leaves_at(const Tree& tree, unsigned level) {
    return static_cast<std::size_t>(
        std::count_if(tree.leaves.begin(), tree.leaves.end(), [&](const Leaf& leaf) { return leaf.level == level; }));
}

// Expects `input` to translate to `output` with `attributes`.
void expect_translates(const Table& table, std::uint64_t input, std::uint64_t output, LeafAttributes attributes) {
    const auto translation = table.translate(input);
    ASSERT_TRUE(translation.has_value()) << "input 0x" << std::hex << input << " is not mapped";
    EXPECT_EQ(translation->output.value(), output) << "input 0x" << std::hex << input;
    EXPECT_EQ(translation->attributes.bits, attributes.bits) << "input 0x" << std::hex << input;
}

// ==============================================================================
// Stage-2 geometry: walk starts at level 1, 39-bit input addresses.
// ==============================================================================

TEST(Stage2Table, CreateAllocatesOneZeroedRootTable) {
    Harness h;
    ASSERT_TRUE(h.table.root().has_value());
    EXPECT_EQ(h.memory.allocations(), 1u);
    const std::uint64_t* entries = h.memory.table_entries(*h.table.root());
    EXPECT_TRUE(std::all_of(entries, entries + 512, [](std::uint64_t e) { return e == 0; }));
    EXPECT_FALSE(h.table.translate(0).has_value());
}

TEST(Stage2Table, CreateTwiceIsRefused) {
    Harness h;
    const auto root = h.table.root();
    EXPECT_FALSE(h.table.create().ok());
    EXPECT_EQ(h.table.root(), root);
    EXPECT_EQ(h.memory.allocations(), 1u);
}

TEST(Stage2Table, CreateFailsWithoutMemory) {
    FakeTableMemory memory{4};
    memory.set_limit(0);
    Table table{memory, arch::kStage2Geometry};
    EXPECT_FALSE(table.create().ok());
    EXPECT_FALSE(table.root().has_value());
    EXPECT_FALSE(table.map(0, HostPhysAddr{0x4000'0000}, kPageSize, kRam).ok());
    EXPECT_EQ(memory.allocations(), 0u);
}

TEST(Stage2Table, OperationsBeforeCreateAreRefused) {
    FakeTableMemory memory{4};
    Table table{memory, arch::kStage2Geometry};
    EXPECT_FALSE(table.map(0, HostPhysAddr{0x4000'0000}, kPageSize, kRam).ok());
    EXPECT_FALSE(table.unmap(0, kPageSize).ok());
    EXPECT_FALSE(table.translate(0).has_value());
    table.destroy();
    EXPECT_EQ(memory.allocations(), 0u);
    EXPECT_EQ(memory.frees(), 0u);
}

TEST(Stage2Table, MapsA4KiBPageThroughThreeLevels) {
    Harness h;
    const std::uint64_t input = 0x8000'1000;  // level-1 index 2, level-2 index 0, level-3 index 1
    const std::uint64_t output = 0x4123'4000;
    ASSERT_TRUE(h.table.map(input, HostPhysAddr{output}, kPageSize, kRam).ok());
    EXPECT_EQ(h.memory.allocations(), 3u);  // root + level 2 + level 3

    const auto descriptors = walk(h.memory, h.table, h.geometry, input);
    ASSERT_EQ(descriptors.size(), 3u);
    EXPECT_EQ(descriptors[0] & kTypeMask, kTypeTableOrPage);
    EXPECT_TRUE(FakeTableMemory::in_pool_window(descriptors[0] & kOutputMask));
    EXPECT_EQ(descriptors[1] & kTypeMask, kTypeTableOrPage);
    EXPECT_TRUE(FakeTableMemory::in_pool_window(descriptors[1] & kOutputMask));
    EXPECT_EQ(descriptors[2] & kTypeMask, kTypeTableOrPage);  // a page
    EXPECT_EQ(descriptors[2] & kOutputMask, output);
    EXPECT_EQ(descriptors[2] & ~kOutputMask & ~kTypeMask, kRam.bits);

    const Tree tree = inspect(h);
    EXPECT_EQ(tree.leaves, (std::vector<Leaf>{{input, 3, output, kRam.bits}}));
    EXPECT_EQ(tree.tables.size(), 3u);
}

TEST(Stage2Table, MapsA2MiBBlockWhenInputAndOutputAreAligned) {
    Harness h;
    const std::uint64_t input = 0x4020'0000;
    const std::uint64_t output = 0x8760'0000;
    ASSERT_TRUE(h.table.map(input, HostPhysAddr{output}, 2 * MiB, kRam).ok());
    EXPECT_EQ(h.memory.allocations(), 2u);  // root + level 2

    const auto descriptors = walk(h.memory, h.table, h.geometry, input);
    ASSERT_EQ(descriptors.size(), 2u);
    EXPECT_EQ(descriptors[0] & kTypeMask, kTypeTableOrPage);
    EXPECT_EQ(descriptors[1] & kTypeMask, kTypeBlock);
    EXPECT_EQ(descriptors[1] & kOutputMask, output);
    EXPECT_EQ(descriptors[1] & ~kOutputMask & ~kTypeMask, kRam.bits);
    EXPECT_EQ(inspect(h).leaves, (std::vector<Leaf>{{input, 2, output, kRam.bits}}));
}

TEST(Stage2Table, MapsA1GiBBlockWhenInputAndOutputAreAligned) {
    Harness h;
    const std::uint64_t input = 3 * GiB;
    const std::uint64_t output = 5 * GiB;
    ASSERT_TRUE(h.table.map(input, HostPhysAddr{output}, GiB, kDevice).ok());
    EXPECT_EQ(h.memory.allocations(), 1u);  // the block sits in the root

    const auto descriptors = walk(h.memory, h.table, h.geometry, input);
    ASSERT_EQ(descriptors.size(), 1u);
    EXPECT_EQ(descriptors[0] & kTypeMask, kTypeBlock);
    EXPECT_EQ(descriptors[0] & kOutputMask, output);
    EXPECT_EQ(descriptors[0] & ~kOutputMask & ~kTypeMask, kDevice.bits);
    EXPECT_EQ(h.memory.table_entries(*h.table.root())[3], descriptors[0]);
}

TEST(Stage2Table, Uses2MiBBlocksWhenOutputIsNot1GiBAligned) {
    Harness h;
    ASSERT_TRUE(h.table.map(GiB, HostPhysAddr{0x4020'0000}, GiB, kRam).ok());
    const Tree tree = inspect(h);
    ASSERT_EQ(tree.leaves.size(), 512u);
    EXPECT_EQ(count_leaves_at(tree, 2), 512u);
    for (std::size_t i = 0; i < tree.leaves.size(); ++i) {
        EXPECT_EQ(tree.leaves[i].input, GiB + i * 2 * MiB);
        EXPECT_EQ(tree.leaves[i].output, 0x4020'0000 + i * 2 * MiB);
    }
}

TEST(Stage2Table, UsesPagesWhenOutputIsNotBlockAligned) {
    Harness h;
    ASSERT_TRUE(h.table.map(2 * MiB, HostPhysAddr{0x4000'1000}, 2 * MiB, kRam).ok());
    const Tree tree = inspect(h);
    ASSERT_EQ(tree.leaves.size(), 512u);
    EXPECT_EQ(count_leaves_at(tree, 3), 512u);
    EXPECT_EQ(tree.leaves.front(), (Leaf{2 * MiB, 3, 0x4000'1000, kRam.bits}));
    EXPECT_EQ(tree.leaves.back(), (Leaf{4 * MiB - kPageSize, 3, 0x4020'0000, kRam.bits}));
}

TEST(Stage2Table, UsesPagesWhenInputIsNotBlockAligned) {
    Harness h;
    ASSERT_TRUE(h.table.map(2 * MiB + kPageSize, HostPhysAddr{0x4020'0000}, 2 * MiB, kRam).ok());
    const Tree tree = inspect(h);
    EXPECT_EQ(tree.leaves.size(), 512u);
    EXPECT_EQ(count_leaves_at(tree, 3), 512u);
}

TEST(Stage2Table, SplitsMixedAlignmentRangeIntoPagesAndBlocks) {
    Harness h;
    // page | 2 MiB block | 1 GiB block | 2 MiB block | page
    const std::uint64_t input = GiB - 2 * MiB - kPageSize;
    const std::uint64_t size = kPageSize + 2 * MiB + GiB + 2 * MiB + kPageSize;
    const std::uint64_t delta = 3 * GiB;  // output keeps the input's alignment
    ASSERT_TRUE(h.table.map(input, HostPhysAddr{input + delta}, size, kRam).ok());

    const auto leaf = [&](std::uint64_t in, unsigned level) { return Leaf{in, level, in + delta, kRam.bits}; };
    EXPECT_EQ(inspect(h).leaves, (std::vector<Leaf>{leaf(GiB - 2 * MiB - kPageSize, 3), leaf(GiB - 2 * MiB, 2),
                                                    leaf(GiB, 1), leaf(2 * GiB, 2), leaf(2 * GiB + 2 * MiB, 3)}));
    EXPECT_EQ(h.memory.allocations(), 5u);  // root, two level-2 and two level-3 tables
}

TEST(Stage2Table, SplitsRangeWhoseOutputIsOnly2MiBAligned) {
    Harness h;
    const std::uint64_t input = GiB - 2 * MiB - kPageSize;
    const std::uint64_t size = kPageSize + 2 * MiB + GiB + 2 * MiB + kPageSize;
    const std::uint64_t delta = 3 * GiB + 2 * MiB;  // no 1 GiB block possible
    ASSERT_TRUE(h.table.map(input, HostPhysAddr{input + delta}, size, kRam).ok());
    const Tree tree = inspect(h);
    EXPECT_EQ(count_leaves_at(tree, 1), 0u);
    EXPECT_EQ(count_leaves_at(tree, 2), 1u + 512u + 1u);
    EXPECT_EQ(count_leaves_at(tree, 3), 2u);
    for (const Leaf& leaf : tree.leaves) EXPECT_EQ(leaf.output, leaf.input + delta);
}

TEST(Stage2Table, TranslateReturnsOutputPlusOffsetAndAttributes) {
    Harness h;
    ASSERT_TRUE(h.table.map(0x1000, HostPhysAddr{0x4000'5000}, kPageSize, kRam).ok());
    ASSERT_TRUE(h.table.map(0x20'0000, HostPhysAddr{0x4060'0000}, 2 * MiB, kDevice).ok());
    ASSERT_TRUE(h.table.map(GiB, HostPhysAddr{2 * GiB}, GiB, kRam).ok());

    expect_translates(h.table, 0x1000, 0x4000'5000, kRam);
    expect_translates(h.table, 0x1abc, 0x4000'5abc, kRam);
    expect_translates(h.table, 0x1fff, 0x4000'5fff, kRam);
    expect_translates(h.table, 0x20'0000, 0x4060'0000, kDevice);
    expect_translates(h.table, 0x31'2345, 0x4071'2345, kDevice);
    expect_translates(h.table, 0x3f'ffff, 0x407f'ffff, kDevice);
    expect_translates(h.table, GiB, 2 * GiB, kRam);
    expect_translates(h.table, GiB + 0x1234'5678, 2 * GiB + 0x1234'5678, kRam);
    expect_translates(h.table, 2 * GiB - 1, 3 * GiB - 1, kRam);
}

TEST(Stage2Table, UnmappedAddressesTranslateToNothing) {
    Harness h;
    ASSERT_TRUE(h.table.map(0x1000, HostPhysAddr{0x4000'5000}, kPageSize, kRam).ok());
    ASSERT_TRUE(h.table.map(0x20'0000, HostPhysAddr{0x4060'0000}, 2 * MiB, kRam).ok());
    for (const std::uint64_t input : {std::uint64_t{0}, std::uint64_t{0xfff}, std::uint64_t{0x2000},
                                      std::uint64_t{0x1f'ffff}, std::uint64_t{0x40'0000}, GiB, 511 * GiB,
                                      kStage2InputLimit - 1, kStage2InputLimit, kStage2InputLimit + 0x1000,
                                      ~std::uint64_t{0}}) {
        EXPECT_FALSE(h.table.translate(input).has_value()) << std::hex << input;
    }
}

TEST(Stage2Table, RefusesDoubleMappingAndKeepsTheExistingMapping) {
    Harness h;
    ASSERT_TRUE(h.table.map(0x5000, HostPhysAddr{0x4000'0000}, kPageSize, kRam).ok());
    const Tree before = inspect(h);
    EXPECT_FALSE(h.table.map(0x5000, HostPhysAddr{0x5000'0000}, kPageSize, kDevice).ok());
    EXPECT_FALSE(h.table.map(0x5000, HostPhysAddr{0x4000'0000}, kPageSize, kRam).ok());  // even if identical
    expect_translates(h.table, 0x5123, 0x4000'0123, kRam);
    EXPECT_EQ(inspect(h).leaves, before.leaves);
}

TEST(Stage2Table, RefusesBlockOverExistingPages) {
    Harness h;
    ASSERT_TRUE(h.table.map(2 * MiB + 0x3000, HostPhysAddr{0x4000'0000}, kPageSize, kRam).ok());
    const Tree before = inspect(h);
    EXPECT_FALSE(h.table.map(2 * MiB, HostPhysAddr{0x6000'0000}, 2 * MiB, kDevice).ok());
    EXPECT_FALSE(h.table.map(0, HostPhysAddr{0}, GiB, kDevice).ok());
    EXPECT_EQ(inspect(h).leaves, before.leaves);
    EXPECT_EQ(inspect(h).tables, before.tables);
    expect_translates(h.table, 2 * MiB + 0x3010, 0x4000'0010, kRam);
    EXPECT_FALSE(h.table.translate(2 * MiB).has_value());
}

TEST(Stage2Table, RefusesMappingsInsideExistingBlocks) {
    Harness h;
    ASSERT_TRUE(h.table.map(2 * MiB, HostPhysAddr{0x4020'0000}, 2 * MiB, kRam).ok());
    ASSERT_TRUE(h.table.map(GiB, HostPhysAddr{GiB}, GiB, kRam).ok());
    const Tree before = inspect(h);
    EXPECT_FALSE(h.table.map(3 * MiB, HostPhysAddr{0x7000'0000}, kPageSize, kDevice).ok());      // page in 2 MiB
    EXPECT_FALSE(h.table.map(GiB + 0x5000, HostPhysAddr{0x7000'0000}, kPageSize, kDevice).ok());  // page in 1 GiB
    EXPECT_FALSE(h.table.map(GiB + 4 * MiB, HostPhysAddr{0x7000'0000}, 2 * MiB, kDevice).ok());  // 2 MiB in 1 GiB
    EXPECT_EQ(inspect(h).leaves, before.leaves);
    EXPECT_EQ(h.memory.live(), before.tables.size());
    expect_translates(h.table, 3 * MiB, 0x4030'0000, kRam);
    expect_translates(h.table, GiB + 0x5000, GiB + 0x5000, kRam);
}

TEST(Stage2Table, RefusesUnalignedArguments) {
    Harness h;
    EXPECT_FALSE(h.table.map(0x800, HostPhysAddr{0x4000'0000}, kPageSize, kRam).ok());
    EXPECT_FALSE(h.table.map(0x1000, HostPhysAddr{0x4000'0800}, kPageSize, kRam).ok());
    EXPECT_FALSE(h.table.map(0x1000, HostPhysAddr{0x4000'0000}, 0x800, kRam).ok());
    EXPECT_FALSE(h.table.map(0x1000, HostPhysAddr{0x4000'0000}, kPageSize + 1, kRam).ok());
    EXPECT_FALSE(h.table.map(0x1000, HostPhysAddr{0x4000'0000}, 0, kRam).ok());
    EXPECT_FALSE(h.table.unmap(0x800, kPageSize).ok());
    EXPECT_FALSE(h.table.unmap(0x1000, 0x800).ok());
    EXPECT_EQ(h.memory.allocations(), 1u);
    EXPECT_TRUE(inspect(h).leaves.empty());
}

TEST(Stage2Table, RefusesRangesBeyondTheInputSize) {
    Harness h;
    const HostPhysAddr out{0x4000'0000};
    const std::uint64_t top = ~std::uint64_t{0} - kPageSize + 1;  // the last page of the 64-bit space
    EXPECT_FALSE(h.table.map(kStage2InputLimit, out, kPageSize, kRam).ok());
    EXPECT_FALSE(h.table.map(kStage2InputLimit - kPageSize, out, 2 * kPageSize, kRam).ok());
    EXPECT_FALSE(h.table.map(0, out, kStage2InputLimit + kPageSize, kRam).ok());
    EXPECT_FALSE(h.table.map(top, out, kPageSize, kRam).ok());
    EXPECT_FALSE(h.table.map(top, out, 2 * kPageSize, kRam).ok());              // input + size wraps to 0x1000
    EXPECT_FALSE(h.table.map(2 * kPageSize, out, top, kRam).ok());              // size alone wraps past 2^64
    EXPECT_FALSE(h.table.unmap(kStage2InputLimit, kPageSize).ok());
    EXPECT_FALSE(h.table.unmap(top, 2 * kPageSize).ok());
    EXPECT_EQ(h.memory.allocations(), 1u);
    EXPECT_TRUE(inspect(h).leaves.empty());

    // The very last page is inside.
    ASSERT_TRUE(h.table.map(kStage2InputLimit - kPageSize, out, kPageSize, kRam).ok());
    expect_translates(h.table, kStage2InputLimit - 1, out.value() + kPageSize - 1, kRam);
    EXPECT_TRUE(h.table.unmap(kStage2InputLimit - kPageSize, kPageSize).ok());
}

TEST(Stage2Table, MapsTheWholeInputSpaceWith1GiBBlocks) {
    Harness h;
    ASSERT_TRUE(h.table.map(0, HostPhysAddr{0}, kStage2InputLimit, kRam).ok());
    EXPECT_EQ(count_leaves_at(inspect(h), 1), 512u);
    EXPECT_EQ(h.memory.allocations(), 1u);
    expect_translates(h.table, kStage2InputLimit - 1, kStage2InputLimit - 1, kRam);
    EXPECT_FALSE(h.table.translate(kStage2InputLimit).has_value());
}

TEST(Stage2Table, RefusesOutputBeyondThe48BitAddressField) {
    Harness h;
    const std::uint64_t output_limit = std::uint64_t{1} << 48;
    const std::uint64_t top = ~std::uint64_t{0} - kPageSize + 1;
    EXPECT_FALSE(h.table.map(0, HostPhysAddr{output_limit}, kPageSize, kRam).ok());
    EXPECT_FALSE(h.table.map(0, HostPhysAddr{output_limit - kPageSize}, 2 * kPageSize, kRam).ok());
    EXPECT_FALSE(h.table.map(0, HostPhysAddr{top}, kPageSize, kRam).ok());
    // Output + size wraps to 0x1000: must not write the high bits into the descriptor.
    EXPECT_FALSE(h.table.map(0, HostPhysAddr{top}, 2 * kPageSize, kRam).ok());
    EXPECT_TRUE(inspect(h).leaves.empty());

    // The last page of the output space is valid.
    ASSERT_TRUE(h.table.map(0, HostPhysAddr{output_limit - kPageSize}, kPageSize, kRam).ok());
    expect_translates(h.table, 0x10, output_limit - kPageSize + 0x10, kRam);
}

TEST(Stage2Table, AttributesCannotChangeDescriptorTypeOrAddress) {
    Harness h;
    // Attribute bits that overlap the type and address fields must be dropped.
    const LeafAttributes noisy{kRam.bits | kTypeMask | 0x0000'0123'4567'8000};
    ASSERT_TRUE(h.table.map(0x1000, HostPhysAddr{0x4000'1000}, kPageSize, noisy).ok());
    ASSERT_TRUE(h.table.map(2 * MiB, HostPhysAddr{0x4020'0000}, 2 * MiB, noisy).ok());
    EXPECT_EQ(inspect(h).leaves, (std::vector<Leaf>{{0x1000, 3, 0x4000'1000, kRam.bits},
                                                    {2 * MiB, 2, 0x4020'0000, kRam.bits}}));
    expect_translates(h.table, 2 * MiB + 0x10, 0x4020'0010, kRam);
}

TEST(Stage2Table, UnmapRemovesPagesAndAllowsRemapping) {
    Harness h;
    ASSERT_TRUE(h.table.map(0x10'0000, HostPhysAddr{0x4000'0000}, 4 * kPageSize, kRam).ok());
    ASSERT_TRUE(h.table.unmap(0x10'1000, 2 * kPageSize).ok());
    expect_translates(h.table, 0x10'0000, 0x4000'0000, kRam);
    EXPECT_FALSE(h.table.translate(0x10'1000).has_value());
    EXPECT_FALSE(h.table.translate(0x10'2fff).has_value());
    expect_translates(h.table, 0x10'3000, 0x4000'3000, kRam);

    ASSERT_TRUE(h.table.map(0x10'1000, HostPhysAddr{0x5000'0000}, 2 * kPageSize, kDevice).ok());
    expect_translates(h.table, 0x10'2000, 0x5000'1000, kDevice);
}

TEST(Stage2Table, UnmapOfUnmappedRangeChangesNothing) {
    Harness h;
    ASSERT_TRUE(h.table.map(0x10'0000, HostPhysAddr{0x4000'0000}, kPageSize, kRam).ok());
    EXPECT_TRUE(h.table.unmap(0x20'0000, 16 * kPageSize).ok());
    EXPECT_TRUE(h.table.unmap(0, 0).ok());
    expect_translates(h.table, 0x10'0000, 0x4000'0000, kRam);
}

TEST(Stage2Table, UnmapRemovesWholeBlocks) {
    Harness h;
    ASSERT_TRUE(h.table.map(2 * MiB, HostPhysAddr{0x4020'0000}, 2 * MiB, kRam).ok());
    ASSERT_TRUE(h.table.map(GiB, HostPhysAddr{GiB}, GiB, kRam).ok());
    ASSERT_TRUE(h.table.unmap(2 * MiB, 2 * MiB).ok());
    ASSERT_TRUE(h.table.unmap(GiB, GiB).ok());
    EXPECT_FALSE(h.table.translate(3 * MiB).has_value());
    EXPECT_FALSE(h.table.translate(GiB + 5 * MiB).has_value());
    EXPECT_TRUE(inspect(h).leaves.empty());
    // The space can be reused at a finer grain.
    ASSERT_TRUE(h.table.map(GiB + 0x1000, HostPhysAddr{0x9000'0000}, kPageSize, kDevice).ok());
    expect_translates(h.table, GiB + 0x1000, 0x9000'0000, kDevice);
}

TEST(Stage2Table, UnmapRefusesToSplitABlock) {
    Harness h;
    ASSERT_TRUE(h.table.map(2 * MiB, HostPhysAddr{0x4020'0000}, 2 * MiB, kRam).ok());
    ASSERT_TRUE(h.table.map(GiB, HostPhysAddr{GiB}, GiB, kRam).ok());
    const Tree before = inspect(h);
    EXPECT_FALSE(h.table.unmap(2 * MiB, kPageSize).ok());             // head of a 2 MiB block
    EXPECT_FALSE(h.table.unmap(3 * MiB, kPageSize).ok());             // middle of a 2 MiB block
    EXPECT_FALSE(h.table.unmap(2 * MiB, 2 * MiB - kPageSize).ok());   // all but its last page
    EXPECT_FALSE(h.table.unmap(GiB, 2 * MiB).ok());                   // 2 MiB of a 1 GiB block
    EXPECT_FALSE(h.table.unmap(GiB + GiB / 2, GiB / 2).ok());         // tail of a 1 GiB block
    EXPECT_EQ(inspect(h).leaves, before.leaves);
    expect_translates(h.table, 2 * MiB, 0x4020'0000, kRam);
    expect_translates(h.table, GiB + GiB / 2, GiB + GiB / 2, kRam);
}

TEST(Stage2Table, UnmapOfAMixedRangeRemovesEveryLeaf) {
    Harness h;
    const std::uint64_t input = GiB - 2 * MiB - kPageSize;
    const std::uint64_t size = kPageSize + 2 * MiB + GiB + 2 * MiB + kPageSize;
    ASSERT_TRUE(h.table.map(input, HostPhysAddr{input + 3 * GiB}, size, kRam).ok());
    ASSERT_TRUE(h.table.unmap(input, size).ok());
    EXPECT_TRUE(inspect(h).leaves.empty());
    EXPECT_FALSE(h.table.translate(input).has_value());
    EXPECT_FALSE(h.table.translate(input + size - 1).has_value());
}

TEST(Stage2Table, DestroyFreesEveryTablePageExactlyOnce) {
    Harness h{arch::kStage2Geometry, 256};
    // Scatter pages over many level-2 and level-3 tables, plus blocks.
    for (std::uint64_t gib = 0; gib < 8; ++gib) {
        for (std::uint64_t block = 0; block < 4; ++block) {
            const std::uint64_t input = gib * GiB + block * 2 * MiB + (gib + 1) * kPageSize;
            ASSERT_TRUE(h.table.map(input, HostPhysAddr{0x4000'0000 + input}, kPageSize, kRam).ok());
        }
        ASSERT_TRUE(h.table.map(gib * GiB + 64 * MiB, HostPhysAddr{0x1'0000'0000}, 2 * MiB, kRam).ok());
    }
    ASSERT_TRUE(h.table.map(100 * GiB, HostPhysAddr{GiB}, GiB, kRam).ok());
    const Tree tree = inspect(h);
    EXPECT_EQ(tree.tables.size(), 1u + 8u + 8u * 4u);
    EXPECT_EQ(h.memory.live(), tree.tables.size());

    h.table.destroy();
    EXPECT_FALSE(h.table.root().has_value());
    EXPECT_EQ(h.memory.live(), 0u);
    EXPECT_EQ(h.memory.frees(), h.memory.allocations());
    h.table.destroy();  // a second destroy frees nothing more
    EXPECT_EQ(h.memory.frees(), h.memory.allocations());
    EXPECT_FALSE(h.table.translate(100 * GiB).has_value());
}

TEST(Stage2Table, DestroyFreesTablesEmptiedByUnmap) {
    Harness h;
    ASSERT_TRUE(h.table.map(5 * GiB + 0x3000, HostPhysAddr{0x4000'0000}, kPageSize, kRam).ok());
    ASSERT_TRUE(h.table.unmap(5 * GiB + 0x3000, kPageSize).ok());
    EXPECT_EQ(h.memory.live(), 3u);  // empty tables stay until destroy
    h.table.destroy();
    EXPECT_EQ(h.memory.live(), 0u);
}

TEST(Stage2Table, TableCanBeCreatedAgainAfterDestroy) {
    Harness h;
    ASSERT_TRUE(h.table.map(0x1000, HostPhysAddr{0x4000'0000}, kPageSize, kRam).ok());
    h.table.destroy();
    ASSERT_TRUE(h.table.create().ok());
    EXPECT_FALSE(h.table.translate(0x1000).has_value());
    ASSERT_TRUE(h.table.map(0x1000, HostPhysAddr{0x5000'0000}, kPageSize, kRam).ok());
    expect_translates(h.table, 0x1000, 0x5000'0000, kRam);
}

TEST(Stage2Table, OutOfMemoryMidMapFailsCleanlyAtEveryPoint) {
    // The mixed range needs five tables: root, two level-2 and two level-3.
    const std::uint64_t input = GiB - 2 * MiB - kPageSize;
    const std::uint64_t size = kPageSize + 2 * MiB + GiB + 2 * MiB + kPageSize;
    for (std::size_t limit = 1; limit <= 6; ++limit) {
        SCOPED_TRACE(limit);
        Harness h;
        h.memory.set_limit(limit);
        const Status status = h.table.map(input, HostPhysAddr{input + 3 * GiB}, size, kRam);
        EXPECT_EQ(status.ok(), limit >= 5);
        EXPECT_LE(h.memory.live(), limit);
        // Whatever got mapped translates correctly; nothing else does.
        for (const Leaf& leaf : inspect(h).leaves) EXPECT_EQ(leaf.output, leaf.input + 3 * GiB);
        EXPECT_FALSE(h.table.translate(input - kPageSize).has_value());
        // ~Harness destroys the table and checks every page came back once.
    }
}

TEST(Stage2Table, OutOfMemoryKeepsEarlierMappingsAndCanBeRetried) {
    Harness h;
    ASSERT_TRUE(h.table.map(0x1000, HostPhysAddr{0x4000'0000}, kPageSize, kRam).ok());
    h.memory.set_limit(h.memory.live() + 1);  // one table short of what the next page needs
    EXPECT_FALSE(h.table.map(7 * GiB + 0x1000, HostPhysAddr{0x5000'0000}, kPageSize, kRam).ok());
    expect_translates(h.table, 0x1000, 0x4000'0000, kRam);
    EXPECT_FALSE(h.table.translate(7 * GiB + 0x1000).has_value());

    h.memory.set_limit(64);
    ASSERT_TRUE(h.table.map(7 * GiB + 0x1000, HostPhysAddr{0x5000'0000}, kPageSize, kRam).ok());
    expect_translates(h.table, 7 * GiB + 0x1000, 0x5000'0000, kRam);
}

// Random non-overlapping mappings of mixed alignment, checked against a model.
TEST(Stage2Table, RandomMappingsMatchModel) {
    Harness h{arch::kStage2Geometry, 4096};
    struct Mapping {
        std::uint64_t size;
        std::uint64_t output;
        LeafAttributes attributes;
    };
    std::map<std::uint64_t, Mapping> model;  // input base -> mapping
    const auto lookup = [&](std::uint64_t input) -> const std::pair<const std::uint64_t, Mapping>* {
        auto it = model.upper_bound(input);
        if (it == model.begin()) return nullptr;
        --it;
        return input - it->first < it->second.size ? &*it : nullptr;
    };
    const auto overlaps = [&](std::uint64_t input, std::uint64_t size) {
        auto it = model.lower_bound(input);
        if (it != model.end() && it->first < input + size) return true;
        return lookup(input) != nullptr;
    };

    std::mt19937_64 rng{0x5'7a6e'2ULL};
    const auto uniform = [&](std::uint64_t lo, std::uint64_t hi) {
        return std::uniform_int_distribution<std::uint64_t>{lo, hi}(rng);
    };
    std::size_t mapped = 0;
    std::size_t refused = 0;
    for (int attempt = 0; attempt < 400; ++attempt) {
        SCOPED_TRACE(attempt);
        const std::uint64_t kind = uniform(0, 2);
        const std::uint64_t granule = kind == 0 ? kPageSize : kind == 1 ? 2 * MiB : GiB;
        const std::uint64_t input = uniform(0, kStage2InputLimit / granule - 1) * granule + uniform(0, 3) * kPageSize;
        const std::uint64_t size = kind == 0   ? uniform(1, 16) * kPageSize
                                   : kind == 1 ? uniform(1, 4) * 2 * MiB + uniform(0, 3) * kPageSize
                                               : uniform(1, 2) * GiB + uniform(0, 3) * kPageSize;
        if (input + size > kStage2InputLimit) continue;
        // Mostly keep the input's alignment in the output so blocks get used.
        const bool congruent = kind == 2 || uniform(0, 2) != 0;
        const std::uint64_t output = congruent ? uniform(0, 1023) * GiB + (input & (GiB - 1))
                                               : uniform(0, (std::uint64_t{1} << 40) / kPageSize - 1) * kPageSize;
        const LeafAttributes attributes = uniform(0, 1) == 0 ? kRam : kDevice;

        if (lookup(input) != nullptr) {
            // Starting inside a mapping fails at the first leaf and changes nothing.
            const std::size_t live_before = h.memory.live();
            EXPECT_FALSE(h.table.map(input, HostPhysAddr{output}, size, attributes).ok());
            EXPECT_EQ(h.memory.live(), live_before);
            ++refused;
            continue;
        }
        if (overlaps(input, size)) continue;
        ASSERT_TRUE(h.table.map(input, HostPhysAddr{output}, size, attributes).ok())
            << std::hex << "input 0x" << input << " size 0x" << size << " output 0x" << output;
        model.emplace(input, Mapping{size, output, attributes});
        ++mapped;
    }
    ASSERT_GT(mapped, 100u);
    ASSERT_GT(refused, 0u);

    const auto check = [&](std::uint64_t input) {
        const auto* hit = lookup(input);
        const auto translation = h.table.translate(input);
        ASSERT_EQ(translation.has_value(), hit != nullptr) << std::hex << "input 0x" << input;
        if (!hit) return;
        EXPECT_EQ(translation->output.value(), hit->second.output + (input - hit->first)) << std::hex << input;
        EXPECT_EQ(translation->attributes.bits, hit->second.attributes.bits) << std::hex << input;
    };
    for (const auto& [input, mapping] : model) {
        check(input);
        check(input + mapping.size - 1);
        check(input + uniform(0, mapping.size - 1));
        if (input >= kPageSize) check(input - 1);
        check(input + mapping.size);
    }
    for (int i = 0; i < 20000; ++i) check(uniform(0, kStage2InputLimit - 1));

    // Unmap every other mapping by its exact range; the rest stay.
    bool remove = true;
    for (auto it = model.begin(); it != model.end(); remove = !remove) {
        if (!remove) {
            ++it;
            continue;
        }
        ASSERT_TRUE(h.table.unmap(it->first, it->second.size).ok()) << std::hex << it->first;
        it = model.erase(it);
    }
    for (const auto& [input, mapping] : model) {
        check(input);
        check(input + mapping.size - 1);
    }
    for (int i = 0; i < 20000; ++i) check(uniform(0, kStage2InputLimit - 1));
}

// ==============================================================================
// EL2 stage-1 geometry: walk starts at level 0, 48-bit input addresses.
// ==============================================================================

TEST(TranslationTable, El2MapsAPageThroughFourLevels) {
    Harness h{arch::kEl2Geometry};
    const std::uint64_t input = (std::uint64_t{1} << 47) + 0x4000'1000;  // level-0 index 256
    ASSERT_TRUE(h.table.map(input, HostPhysAddr{0x4000'0000}, kPageSize, arch::el2_attributes::kData).ok());
    EXPECT_EQ(h.memory.allocations(), 4u);
    const auto descriptors = walk(h.memory, h.table, h.geometry, input);
    ASSERT_EQ(descriptors.size(), 4u);
    for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(descriptors[i] & kTypeMask, kTypeTableOrPage) << i;
    EXPECT_EQ(descriptors[3] & kTypeMask, kTypeTableOrPage);
    EXPECT_EQ(descriptors[3] & kOutputMask, 0x4000'0000u);
    EXPECT_NE(h.memory.table_entries(*h.table.root())[256], 0u);
    expect_translates(h.table, input + 0x123, 0x4000'0123, arch::el2_attributes::kData);
}

TEST(TranslationTable, El2MapsBlocksBelowLevel0) {
    Harness h{arch::kEl2Geometry};
    ASSERT_TRUE(h.table.map(GiB, HostPhysAddr{GiB}, GiB, arch::el2_attributes::kCode).ok());
    ASSERT_TRUE(h.table.map(2 * GiB + 2 * MiB, HostPhysAddr{0x4020'0000}, 2 * MiB, arch::el2_attributes::kDevice).ok());
    EXPECT_EQ(inspect(h).leaves,
              (std::vector<Leaf>{{GiB, 1, GiB, arch::el2_attributes::kCode.bits},
                                 {2 * GiB + 2 * MiB, 2, 0x4020'0000, arch::el2_attributes::kDevice.bits}}));
    const auto block = walk(h.memory, h.table, h.geometry, GiB);
    ASSERT_EQ(block.size(), 2u);
    EXPECT_EQ(block[0] & kTypeMask, kTypeTableOrPage);
    EXPECT_EQ(block[1] & kTypeMask, kTypeBlock);
    expect_translates(h.table, 2 * GiB + 3 * MiB, 0x4030'0000, arch::el2_attributes::kDevice);
}

TEST(TranslationTable, El2NeverUsesLevel0Blocks) {
    Harness h{arch::kEl2Geometry};
    const std::uint64_t gib512 = 512 * GiB;  // what one level-0 entry covers
    ASSERT_TRUE(h.table.map(gib512, HostPhysAddr{gib512}, gib512, arch::el2_attributes::kData).ok());
    const Tree tree = inspect(h);
    EXPECT_EQ(tree.leaves.size(), 512u);
    EXPECT_EQ(count_leaves_at(tree, 1), 512u);  // collect() also flags any level-0 block
    expect_translates(h.table, 2 * gib512 - 1, 2 * gib512 - 1, arch::el2_attributes::kData);
}

TEST(TranslationTable, El2RefusesRangesBeyond48Bits) {
    Harness h{arch::kEl2Geometry};
    const HostPhysAddr out{0x4000'0000};
    const std::uint64_t top = ~std::uint64_t{0} - kPageSize + 1;
    EXPECT_FALSE(h.table.map(kEl2InputLimit, out, kPageSize, arch::el2_attributes::kData).ok());
    EXPECT_FALSE(h.table.map(kEl2InputLimit - kPageSize, out, 2 * kPageSize, arch::el2_attributes::kData).ok());
    EXPECT_FALSE(h.table.map(top, out, 2 * kPageSize, arch::el2_attributes::kData).ok());
    EXPECT_FALSE(h.table.translate(kEl2InputLimit).has_value());
    EXPECT_EQ(h.memory.allocations(), 1u);
    ASSERT_TRUE(h.table.map(kEl2InputLimit - kPageSize, out, kPageSize, arch::el2_attributes::kData).ok());
    expect_translates(h.table, kEl2InputLimit - 1, out.value() + kPageSize - 1, arch::el2_attributes::kData);
}

TEST(TranslationTable, El2DestroyFreesAllFourLevels) {
    Harness h{arch::kEl2Geometry};
    for (std::uint64_t i = 0; i < 4; ++i) {
        const std::uint64_t input = i * (std::uint64_t{1} << 46) + i * GiB + i * 2 * MiB + 0x1000;
        ASSERT_TRUE(h.table.map(input, HostPhysAddr{0x4000'0000}, kPageSize, arch::el2_attributes::kData).ok());
    }
    EXPECT_EQ(h.memory.live(), 1u + 4u * 3u);
    EXPECT_EQ(inspect(h).tables.size(), h.memory.live());
    h.table.destroy();
    EXPECT_EQ(h.memory.live(), 0u);
    EXPECT_EQ(h.memory.frees(), h.memory.allocations());
}

// ==============================================================================
// Isolation: two VMs whose tables share one table memory.
// ==============================================================================

struct VmMapping {
    std::uint64_t guest;
    std::uint64_t host;
    std::uint64_t size;
};

constexpr HostPhysRange kHostWindowA{HostPhysAddr{0x4000'0000}, 256 * MiB};
constexpr HostPhysRange kHostWindowB{HostPhysAddr{0x5000'0000}, 256 * MiB};

// Guest layouts chosen so that pages, 2 MiB and 1 GiB blocks all appear and
// the guest ranges of the two VMs overlap each other.
const std::vector<VmMapping> kLayoutA{
    {0x0, 0x4000'0000, 64 * MiB},                           // 2 MiB blocks
    {0x800'1000, 0x4800'3000, 2 * MiB + 5 * kPageSize},     // pages only
    {0x40'0000'0000, 0x4c00'0000, 2 * MiB},                 // high guest address
};
const std::vector<VmMapping> kLayoutB{
    {0x0, 0x5000'0000, 64 * MiB},
    {0x4000'0000, 0x5800'0000, 16 * MiB + kPageSize},  // blocks then a page
    {0x900'0000, 0x5f00'0000, kPageSize},              // a device page
    {0x800'0000, 0x5e00'0000, 2 * MiB},                // overlaps A's guest range 0x800'1000..
};

std::optional<std::uint64_t> expected_host(const std::vector<VmMapping>& layout, std::uint64_t guest) {
    for (const VmMapping& m : layout) {
        if (guest >= m.guest && guest - m.guest < m.size) return m.host + (guest - m.guest);
    }
    return std::nullopt;
}

void map_layout(Table& table, const std::vector<VmMapping>& layout) {
    for (const VmMapping& m : layout) {
        ASSERT_TRUE(table.map(m.guest, HostPhysAddr{m.host}, m.size, kRam).ok()) << std::hex << m.guest;
    }
}

TEST(Stage2Isolation, TwoVmsNeverTranslateIntoEachOthersMemory) {
    FakeTableMemory memory{256};
    Table vm_a{memory, arch::kStage2Geometry};
    Table vm_b{memory, arch::kStage2Geometry};
    ASSERT_TRUE(vm_a.create().ok());
    ASSERT_TRUE(vm_b.create().ok());
    map_layout(vm_a, kLayoutA);
    map_layout(vm_b, kLayoutB);

    std::mt19937_64 rng{0x15'0a7e'0ULL};
    const auto uniform = [&](std::uint64_t lo, std::uint64_t hi) {
        return std::uniform_int_distribution<std::uint64_t>{lo, hi}(rng);
    };
    std::size_t hits_a = 0;
    std::size_t hits_b = 0;
    for (int i = 0; i < 50000; ++i) {
        // Half anywhere in the guest space, half around the mapped ranges.
        std::uint64_t guest = uniform(0, kStage2InputLimit - 1);
        if (i % 2 == 0) {
            const auto& layout = uniform(0, 1) == 0 ? kLayoutA : kLayoutB;
            const VmMapping& m = layout[uniform(0, layout.size() - 1)];
            guest = m.guest + uniform(0, m.size + 2 * MiB) - std::min(m.guest, MiB);
        }
        const auto a = vm_a.translate(guest);
        const auto b = vm_b.translate(guest);
        const auto want_a = expected_host(kLayoutA, guest);
        const auto want_b = expected_host(kLayoutB, guest);
        ASSERT_EQ(a.has_value(), want_a.has_value()) << std::hex << "VM A, guest 0x" << guest;
        ASSERT_EQ(b.has_value(), want_b.has_value()) << std::hex << "VM B, guest 0x" << guest;
        if (a) {
            ++hits_a;
            EXPECT_EQ(a->output.value(), *want_a);
            ASSERT_TRUE(kHostWindowA.contains(a->output)) << std::hex << "VM A, guest 0x" << guest;
            ASSERT_FALSE(kHostWindowB.contains(a->output)) << std::hex << "VM A, guest 0x" << guest;
        }
        if (b) {
            ++hits_b;
            EXPECT_EQ(b->output.value(), *want_b);
            ASSERT_TRUE(kHostWindowB.contains(b->output)) << std::hex << "VM B, guest 0x" << guest;
            ASSERT_FALSE(kHostWindowA.contains(b->output)) << std::hex << "VM B, guest 0x" << guest;
        }
        // Neither VM can reach the table pages.
        ASSERT_FALSE(a && FakeTableMemory::in_pool_window(a->output.value()));
        ASSERT_FALSE(b && FakeTableMemory::in_pool_window(b->output.value()));
    }
    EXPECT_GT(hits_a, 5000u);
    EXPECT_GT(hits_b, 5000u);

    // The two VMs share no table page.
    Tree tree_a;
    Tree tree_b;
    collect(memory, vm_a.root()->value(), 1, 0, tree_a);
    collect(memory, vm_b.root()->value(), 1, 0, tree_b);
    std::vector<std::uint64_t> shared;
    std::set_intersection(tree_a.tables.begin(), tree_a.tables.end(), tree_b.tables.begin(), tree_b.tables.end(),
                          std::back_inserter(shared));
    EXPECT_TRUE(shared.empty());
    EXPECT_EQ(tree_a.tables.size() + tree_b.tables.size(), memory.live());

    vm_a.destroy();
    vm_b.destroy();
    EXPECT_EQ(memory.live(), 0u);
}

TEST(Stage2Isolation, DestroyingOneVmLeavesTheOtherIntact) {
    FakeTableMemory memory{256};
    Table vm_a{memory, arch::kStage2Geometry};
    Table vm_b{memory, arch::kStage2Geometry};
    ASSERT_TRUE(vm_a.create().ok());
    ASSERT_TRUE(vm_b.create().ok());
    map_layout(vm_a, kLayoutA);
    map_layout(vm_b, kLayoutB);
    const std::size_t live_before = memory.live();

    vm_a.destroy();
    EXPECT_LT(memory.live(), live_before);
    // Every translation of B still works; a walk through a freed page would fail the test.
    for (const VmMapping& m : kLayoutB) {
        for (std::uint64_t offset = 0; offset < m.size; offset += 64 * KiB) {
            expect_translates(vm_b, m.guest + offset, m.host + offset, kRam);
        }
    }
    // Tables handed out after A's destruction do not disturb B either.
    Table vm_c{memory, arch::kStage2Geometry};
    ASSERT_TRUE(vm_c.create().ok());
    map_layout(vm_c, kLayoutA);
    for (const VmMapping& m : kLayoutB) expect_translates(vm_b, m.guest, m.host, kRam);
    vm_b.destroy();
    vm_c.destroy();
    EXPECT_EQ(memory.live(), 0u);
    EXPECT_EQ(memory.frees(), memory.allocations());
}

}  // namespace
}  // namespace lamina
