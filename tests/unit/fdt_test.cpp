#include "core/fdt.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/fdt_writer.hpp"
#include "test_data.hpp"

namespace lamina::fdt {
namespace {

using namespace std::string_view_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

using test::Blob;

using test::load_fixture;

[[nodiscard]] std::uint32_t get_be32(const Blob& blob, std::size_t offset) {
    return load_be<std::uint32_t>(blob, offset).value();
}

void set_be32(Blob& blob, std::size_t offset, std::uint32_t value) {
    for (std::size_t i = 0; i < 4; ++i) blob[offset + i] = static_cast<std::byte>(value >> (24 - 8 * i));
}

[[nodiscard]] std::string_view error_of(const Result<DeviceTree>& result) {
    return result.ok() ? std::string_view{"(parsed)"} : std::string_view{result.error().message};
}

[[nodiscard]] std::string text_of(ByteSpan bytes) {
    std::string text;
    for (const std::byte b : bytes) text.push_back(static_cast<char>(b));
    return text;
}

[[nodiscard]] std::vector<std::string> child_names(const DeviceTree& tree, Node node) {
    std::vector<std::string> names;
    for (const Node child : tree.children(node)) names.emplace_back(tree.node_name(child));
    return names;
}

[[nodiscard]] std::vector<std::string> property_names(const DeviceTree& tree, Node node) {
    std::vector<std::string> names;
    for (const Property property : tree.properties(node)) names.emplace_back(property.name);
    return names;
}

// Touches every accessor on every node: run on mutated blobs under ASan to
// prove that whatever parse() accepts is safe to navigate.
void exercise_everything(const DeviceTree& tree) {
    std::size_t visited = 0;
    for (std::optional<Node> node{tree.root()}; node && visited < 10'000; node = tree.next_node(*node), ++visited) {
        (void)tree.node_name(*node);
        for (const Property property : tree.properties(*node)) {
            (void)tree.property_string(*node, property.name);
            (void)tree.property_u64(*node, property.name);
            (void)string_list_at(property.value, 1);
        }
        for (const Node child : tree.children(*node)) (void)tree.node_name(child);
        (void)tree.parent(*node);
        (void)tree.is_available(*node);
        (void)tree.interrupt_parent(*node);
        for (std::size_t index = 0; index < tree.reg_count(*node) + 1; ++index) {
            (void)tree.raw_reg(*node, index);
            (void)tree.reg_entry(*node, index);
        }
    }
    for (const HostPhysRange reservation : tree.memory_reservations()) (void)reservation;
    (void)tree.find_node("/cpus/cpu@0");
    (void)tree.find_node("serial0/x");
    (void)tree.stdout_node();
    (void)tree.find_by_phandle(0x8003);
    (void)tree.find_compatible("virtio,mmio");
}

// ---------------------------------------------------------------------------
// Hand-assembled blobs, for structures no well-behaved tool would produce.

class RawBlob final {
public:
    RawBlob& word(std::uint32_t value) {
        for (int shift = 24; shift >= 0; shift -= 8) structure_.push_back(static_cast<std::byte>(value >> shift));
        return *this;
    }
    RawBlob& token(Token kind) { return word(static_cast<std::uint32_t>(kind)); }
    RawBlob& begin(std::string_view name) {
        token(Token::begin_node);
        for (const char c : name) structure_.push_back(static_cast<std::byte>(c));
        structure_.push_back(std::byte{0});
        pad();
        return *this;
    }
    RawBlob& end_node() { return token(Token::end_node); }
    RawBlob& end() { return token(Token::end); }
    RawBlob& nop() { return token(Token::nop); }
    RawBlob& property(std::uint32_t name_offset, std::string_view value) {
        token(Token::property).word(static_cast<std::uint32_t>(value.size())).word(name_offset);
        for (const char c : value) structure_.push_back(static_cast<std::byte>(c));
        pad();
        return *this;
    }
    // Bytes with no NUL, to the end of the block.
    RawBlob& unterminated_name() {
        token(Token::begin_node);
        for (int i = 0; i < 8; ++i) structure_.push_back(std::byte{'x'});
        return *this;
    }

    // Header, an empty reservation block, the structure, then the strings.
    [[nodiscard]] Blob build(std::string_view strings) const {
        constexpr std::size_t kStructOffset = header::kSizeV17 + kReservationEntrySize;
        Blob blob(kStructOffset);
        blob.insert(blob.end(), structure_.begin(), structure_.end());
        const std::size_t strings_offset = blob.size();
        for (const char c : strings) blob.push_back(static_cast<std::byte>(c));
        set_be32(blob, header::kMagic, kMagic);
        set_be32(blob, header::kTotalSize, static_cast<std::uint32_t>(blob.size()));
        set_be32(blob, header::kStructOffset, kStructOffset);
        set_be32(blob, header::kStringsOffset, static_cast<std::uint32_t>(strings_offset));
        set_be32(blob, header::kReservationsOffset, header::kSizeV17);
        set_be32(blob, header::kVersion, 17);
        set_be32(blob, header::kLastCompatibleVersion, 16);
        set_be32(blob, header::kStringsSize, static_cast<std::uint32_t>(strings.size()));
        set_be32(blob, header::kStructSize, static_cast<std::uint32_t>(structure_.size()));
        return blob;
    }

private:
    void pad() {
        while (structure_.size() % 4 != 0) structure_.push_back(std::byte{0});
    }
    Blob structure_;
};

constexpr std::string_view kStrings{"model\0compatible\0"sv};
constexpr std::uint32_t kModelName = 0;
constexpr std::uint32_t kCompatibleName = 6;

// ---------------------------------------------------------------------------
// The reference board.

class FdtQemuVirt : public ::testing::Test {
protected:
    void SetUp() override {
        auto parsed = DeviceTree::parse(blob_);
        ASSERT_TRUE(parsed.ok()) << error_of(parsed);
        tree_ = *parsed;
    }
    [[nodiscard]] Node node(std::string_view path) const {
        const auto found = tree_.find_node(path);
        EXPECT_TRUE(found.has_value()) << path;
        return found.value_or(Node{});
    }

    Blob blob_{load_fixture("qemu-virt.dtb")};
    DeviceTree tree_{};
};

TEST_F(FdtQemuVirt, ReportsHeaderFields) {
    EXPECT_EQ(tree_.total_size(), blob_.size());
    EXPECT_EQ(tree_.blob().data(), blob_.data());
    EXPECT_EQ(tree_.boot_cpu_id(), 0u);
    EXPECT_EQ(tree_.memory_reservation_count(), 0u);
    EXPECT_EQ(tree_.memory_reservations().begin(), tree_.memory_reservations().end());
}

TEST_F(FdtQemuVirt, ListsTheRootsChildrenInOrder) {
    EXPECT_EQ(tree_.node_name(tree_.root()), "");
    const auto names = child_names(tree_, tree_.root());
    ASSERT_EQ(names.size(), 48u);  // 32 virtio-mmio slots and 16 other nodes
    EXPECT_EQ(names.front(), "psci");
    EXPECT_EQ(names[1], "memory@40000000");
    EXPECT_EQ(names.back(), "chosen");
    EXPECT_THAT(child_names(tree_, node("/cpus")), ElementsAre("cpu-map", "cpu@0", "cpu@1"));
    EXPECT_THAT(child_names(tree_, node("/psci")), ElementsAre());
}

TEST_F(FdtQemuVirt, FindsNodesByPath) {
    EXPECT_EQ(tree_.find_node("/"), tree_.root());
    EXPECT_EQ(tree_.node_name(node("/chosen")), "chosen");
    EXPECT_EQ(tree_.node_name(node("/memory")), "memory@40000000");  // unit address optional
    EXPECT_EQ(tree_.node_name(node("/memory@40000000")), "memory@40000000");
    EXPECT_EQ(tree_.node_name(node("/cpus/cpu@1")), "cpu@1");
    EXPECT_EQ(tree_.node_name(node("/cpus/cpu")), "cpu@0");  // the first match
    EXPECT_EQ(tree_.node_name(node("/intc/its")), "its@8080000");
    EXPECT_EQ(tree_.node_name(node("/cpus/cpu-map/socket0/cluster0/core1")), "core1");
    EXPECT_EQ(tree_.node_name(node("/cpus/")), "cpus");
    EXPECT_EQ(tree_.node_name(node("//cpus//cpu@1")), "cpu@1");

    EXPECT_FALSE(tree_.find_node("/memory@4"));  // a given unit address must match exactly
    EXPECT_FALSE(tree_.find_node("/mem"));       // no prefix matching
    EXPECT_FALSE(tree_.find_node("/cpus/cpu@2"));
    EXPECT_FALSE(tree_.find_node("/nonexistent/cpu@0"));
    EXPECT_FALSE(tree_.find_node(""));
    EXPECT_FALSE(tree_.find_node("serial0"));  // this tree has no /aliases
}

TEST_F(FdtQemuVirt, NavigatesParentsSiblingsAndDocumentOrder) {
    EXPECT_EQ(tree_.parent(node("/cpus/cpu@1")), node("/cpus"));
    EXPECT_EQ(tree_.parent(node("/cpus")), tree_.root());
    EXPECT_FALSE(tree_.parent(tree_.root()));
    EXPECT_EQ(tree_.next_sibling(node("/cpus/cpu@0")), node("/cpus/cpu@1"));
    EXPECT_FALSE(tree_.next_sibling(node("/cpus/cpu@1")));
    EXPECT_FALSE(tree_.next_sibling(tree_.root()));
    EXPECT_EQ(tree_.first_child(node("/intc")), node("/intc/its"));

    // next_node visits each node once: as many as a recursive walk finds.
    std::size_t in_document_order = 0;
    for (std::optional<Node> current{tree_.root()}; current; current = tree_.next_node(*current)) ++in_document_order;
    std::size_t recursive = 0;
    const auto count = [&](auto&& self, Node parent) -> void {
        ++recursive;
        for (const Node child : tree_.children(parent)) self(self, child);
    };
    count(count, tree_.root());
    EXPECT_EQ(in_document_order, recursive);
    EXPECT_EQ(recursive, 58u);
}

TEST_F(FdtQemuVirt, ReadsProperties) {
    EXPECT_EQ(tree_.property_string(tree_.root(), "model"), "linux,dummy-virt");
    EXPECT_EQ(tree_.property_u32(node("/cpus"), "#address-cells"), 1u);
    EXPECT_EQ(tree_.property_u64(node("/cpus"), "#address-cells"), 1u);  // one cell is fine
    EXPECT_EQ(tree_.property_u32(node("/apb-pclk"), "clock-frequency"), 24'000'000u);
    EXPECT_FALSE(tree_.property_u32(node("/memory"), "reg"));  // 16 bytes: neither size
    EXPECT_FALSE(tree_.property_u64(node("/memory"), "reg"));
    EXPECT_FALSE(tree_.property(node("/memory"), "no-such-property"));
    EXPECT_EQ(tree_.property_u64(node("/chosen"), "kaslr-seed"), 0x8d0f'6dc0'cb4e'c75dull);

    const auto dma = tree_.property(node("/fw-cfg"), "dma-coherent");
    ASSERT_TRUE(dma);
    EXPECT_TRUE(dma->empty());
    EXPECT_TRUE(tree_.has_property(node("/fw-cfg"), "dma-coherent"));
    EXPECT_FALSE(tree_.property_string(node("/fw-cfg"), "dma-coherent"));  // empty is no string

    EXPECT_THAT(property_names(tree_, node("/psci")),
                ElementsAre("migrate", "cpu_on", "cpu_off", "cpu_suspend", "method", "compatible"));
    EXPECT_EQ(tree_.property_string_at(node("/psci"), "compatible", 0), "arm,psci-1.0");
    EXPECT_EQ(tree_.property_string_at(node("/psci"), "compatible", 2), "arm,psci");
    EXPECT_FALSE(tree_.property_string_at(node("/psci"), "compatible", 3));
    EXPECT_TRUE(tree_.is_available(node("/psci")));
}

TEST_F(FdtQemuVirt, MatchesCompatibleStringLists) {
    const Node uart = node("/pl011");
    EXPECT_TRUE(tree_.is_compatible(uart, "arm,pl011"));
    EXPECT_TRUE(tree_.is_compatible(uart, "arm,primecell"));
    EXPECT_FALSE(tree_.is_compatible(uart, "arm,pl01"));
    EXPECT_FALSE(tree_.is_compatible(uart, "arm,pl011\0arm"sv));

    std::vector<std::uint64_t> virtio_addresses;
    for (auto found = tree_.find_compatible("virtio,mmio"); found; found = tree_.find_compatible("virtio,mmio", found))
        virtio_addresses.push_back(tree_.reg_entry(*found, 0).value().base.value());
    ASSERT_EQ(virtio_addresses.size(), 32u);
    EXPECT_EQ(virtio_addresses.front(), 0x0a00'0000u);  // document order
    EXPECT_EQ(virtio_addresses.back(), 0x0a00'3e00u);

    EXPECT_EQ(tree_.find_compatible("linux,dummy-virt"), tree_.root());
    EXPECT_EQ(tree_.find_compatible("arm,gic-v3-its"), node("/intc/its"));
    EXPECT_FALSE(tree_.find_compatible("arm,gic-400"));
    EXPECT_FALSE(tree_.find_compatible("simple-bus", node("/platform-bus")));
}

TEST_F(FdtQemuVirt, ResolvesPhandlesAndInterruptParents) {
    EXPECT_EQ(tree_.find_by_phandle(0x8003), node("/intc"));
    EXPECT_EQ(tree_.find_by_phandle(0x8001), node("/cpus/cpu@1"));
    EXPECT_FALSE(tree_.find_by_phandle(0x1234));
    EXPECT_FALSE(tree_.find_by_phandle(0));
    EXPECT_FALSE(tree_.find_by_phandle(0xffff'ffff));

    EXPECT_EQ(tree_.interrupt_parent(node("/pl011")), node("/intc"));
    EXPECT_EQ(tree_.interrupt_parent(node("/intc")), node("/intc"));  // via the root's interrupt-parent
    EXPECT_EQ(tree_.interrupt_parent(node("/intc/its")), node("/intc"));
}

TEST_F(FdtQemuVirt, DecodesRegWithTheParentsCells) {
    const auto memory = tree_.reg_entry(node("/memory"), 0);
    ASSERT_TRUE(memory);
    EXPECT_EQ(memory->base, HostPhysAddr{0x4000'0000});
    EXPECT_EQ(memory->size, 1 * GiB);
    EXPECT_FALSE(tree_.reg_entry(node("/memory"), 1));

    const Node gic = node("/intc");
    EXPECT_EQ(tree_.reg_count(gic), 2u);
    EXPECT_EQ(tree_.reg_entry(gic, 0)->base, HostPhysAddr{0x0800'0000});
    EXPECT_EQ(tree_.reg_entry(gic, 1)->base, HostPhysAddr{0x080a'0000});
    EXPECT_EQ(tree_.reg_entry(gic, 1)->size, 0xf6'0000u);

    // Under the GIC: translated through its empty (identity) "ranges".
    EXPECT_EQ(tree_.reg_entry(node("/intc/its"), 0)->base, HostPhysAddr{0x0808'0000});
    EXPECT_EQ(tree_.reg_entry(node("/pcie"), 0)->base, HostPhysAddr{0x40'1000'0000});
    EXPECT_EQ(tree_.reg_entry(node("/flash"), 1)->base, HostPhysAddr{0x0400'0000});

    // CPU reg is an MPIDR, not an address: /cpus has no "ranges".
    const Node cpu1 = node("/cpus/cpu@1");
    EXPECT_FALSE(tree_.reg_entry(cpu1, 0));
    ASSERT_TRUE(tree_.raw_reg(cpu1, 0));
    EXPECT_EQ(tree_.raw_reg(cpu1, 0)->address, 1u);
    EXPECT_EQ(tree_.raw_reg(cpu1, 0)->size, 0u);
    EXPECT_EQ(tree_.reg_count(cpu1), 1u);

    EXPECT_EQ(tree_.address_cells(tree_.root()), 2u);
    EXPECT_EQ(tree_.size_cells(node("/cpus")), 0u);
    EXPECT_EQ(tree_.address_cells(node("/psci")), kDefaultAddressCells);  // absent: the default
    EXPECT_EQ(tree_.size_cells(node("/psci")), kDefaultSizeCells);
    EXPECT_EQ(tree_.reg_count(node("/psci")), 0u);
}

TEST_F(FdtQemuVirt, FindsTheStdoutNode) { EXPECT_EQ(tree_.stdout_node(), node("/pl011@9000000")); }

// ---------------------------------------------------------------------------
// The hand-written test board: aliases, translation, reservations.

class FdtTestBoard : public ::testing::Test {
protected:
    void SetUp() override {
        auto parsed = DeviceTree::parse(blob_);
        ASSERT_TRUE(parsed.ok()) << error_of(parsed);
        tree_ = *parsed;
    }
    [[nodiscard]] Node node(std::string_view path) const {
        const auto found = tree_.find_node(path);
        EXPECT_TRUE(found.has_value()) << path;
        return found.value_or(Node{});
    }

    Blob blob_{load_fixture("test-board.dtb")};
    DeviceTree tree_{};
};

TEST_F(FdtTestBoard, IteratesMemoryReservations) {
    ASSERT_EQ(tree_.memory_reservation_count(), 1u);
    std::vector<std::pair<std::uint64_t, std::uint64_t>> seen;
    for (const HostPhysRange range : tree_.memory_reservations()) seen.emplace_back(range.base.value(), range.size);
    EXPECT_THAT(seen, ElementsAre(std::pair<std::uint64_t, std::uint64_t>{0x4800'0000, 0x10'0000}));
    EXPECT_FALSE(tree_.memory_reservation(1));
}

TEST_F(FdtTestBoard, ResolvesAliases) {
    EXPECT_EQ(tree_.alias("serial0"), "/soc/serial@a0000");
    EXPECT_EQ(tree_.alias("serial1"), "/soc@1c000000/serial@90000");  // written by dtc from a label
    EXPECT_FALSE(tree_.alias("serial2"));
    EXPECT_EQ(tree_.find_node("serial0"), node("/soc/serial@a0000"));
    EXPECT_EQ(tree_.find_node("serial1"), node("/soc/serial@90000"));
    EXPECT_FALSE(tree_.find_node("serial0/child"));
    EXPECT_FALSE(tree_.find_node("broken"));                    // alias values must be absolute
    EXPECT_EQ(tree_.stdout_node(), node("/soc/serial@a0000"));  // "serial0:115200n8"
}

TEST_F(FdtTestBoard, TranslatesRegThroughBusRanges) {
    EXPECT_EQ(tree_.raw_reg(node("/soc/serial@a0000"), 0)->address, 0xa'0000u);
    const auto uart = tree_.reg_entry(node("/soc/serial@a0000"), 0);
    ASSERT_TRUE(uart);
    EXPECT_EQ(uart->base, HostPhysAddr{0x1c0a'0000});
    EXPECT_EQ(uart->size, 0x1000u);
    EXPECT_FALSE(tree_.reg_entry(node("/soc/outside"), 0));  // outside the bus window
    EXPECT_FALSE(tree_.reg_entry(node("/soc/i2c/rtc"), 0));  // an I2C address, not memory
    EXPECT_EQ(tree_.raw_reg(node("/soc/i2c/rtc"), 0)->address, 0x68u);
    EXPECT_EQ(tree_.reg_entry(node("/reserved-memory/secure"), 0)->base, HostPhysAddr{0x9e00'0000});
    EXPECT_EQ(tree_.raw_reg(node("/cpus/cpu@100000000"), 0)->address, 0x1'0000'0000u);
}

TEST_F(FdtTestBoard, ReportsAvailability) {
    EXPECT_FALSE(tree_.is_available(node("/soc/virtio@20000")));
    EXPECT_TRUE(tree_.is_available(node("/soc/virtio@10000")));
}

// ---------------------------------------------------------------------------
// Header validation.

class FdtCorruptedHeader : public ::testing::Test {
protected:
    [[nodiscard]] std::string_view parse_with(std::size_t field, std::uint32_t value) {
        Blob blob = blob_;
        set_be32(blob, field, value);
        return error_of(DeviceTree::parse(blob));
    }
    Blob blob_{load_fixture("qemu-virt.dtb")};
};

TEST_F(FdtCorruptedHeader, RejectsBadMagicAndVersions) {
    EXPECT_THAT(parse_with(header::kMagic, 0xedfe'0dd0), HasSubstr("bad magic"));
    EXPECT_THAT(parse_with(header::kVersion, 15), HasSubstr("version"));
    EXPECT_THAT(parse_with(header::kLastCompatibleVersion, 18), HasSubstr("version"));
}

TEST_F(FdtCorruptedHeader, RejectsSizesBeyondTheBlob) {
    const auto total = static_cast<std::uint32_t>(blob_.size());
    EXPECT_THAT(parse_with(header::kTotalSize, total + 1), HasSubstr("truncated"));
    EXPECT_THAT(parse_with(header::kTotalSize, 0xffff'ffff), HasSubstr("truncated"));
    EXPECT_THAT(parse_with(header::kTotalSize, 39), HasSubstr("smaller than the header"));
    EXPECT_THAT(parse_with(header::kStructOffset, total), HasSubstr("structure block"));
    EXPECT_THAT(parse_with(header::kStructOffset, 0xffff'ff00), HasSubstr("structure block"));
    EXPECT_THAT(parse_with(header::kStructOffset, 0), HasSubstr("structure block"));  // overlaps the header
    EXPECT_THAT(parse_with(header::kStructOffset, get_be32(blob_, header::kStructOffset) + 2),
                HasSubstr("structure block"));  // misaligned
    EXPECT_THAT(parse_with(header::kStructOffset, get_be32(blob_, header::kStructOffset) + 4),
                HasSubstr("malformed"));  // starts inside the root's name: no valid token
    EXPECT_THAT(parse_with(header::kStructSize, 0xffff'fff0), HasSubstr("structure block"));
    EXPECT_THAT(parse_with(header::kStringsOffset, total + 4), HasSubstr("strings block"));
    EXPECT_THAT(parse_with(header::kStringsSize, total), HasSubstr("strings block"));
    EXPECT_THAT(parse_with(header::kReservationsOffset, 44), HasSubstr("memory reservation"));  // misaligned
    EXPECT_THAT(parse_with(header::kReservationsOffset, total + 8), HasSubstr("memory reservation"));
    EXPECT_THAT(parse_with(header::kReservationsOffset, 8), HasSubstr("memory reservation"));
}

TEST_F(FdtCorruptedHeader, RejectsAnUnterminatedReservationBlock) {
    // The strings block never holds sixteen zero bytes: no terminator before the end.
    const auto strings = get_be32(blob_, header::kStringsOffset);
    EXPECT_THAT(parse_with(header::kReservationsOffset, (strings + 7) & ~7u), HasSubstr("not terminated"));
}

TEST_F(FdtCorruptedHeader, RejectsShrunkenBlocks) {
    const auto struct_size = get_be32(blob_, header::kStructSize);
    const auto strings_size = get_be32(blob_, header::kStringsSize);
    EXPECT_THAT(parse_with(header::kStructSize, struct_size - 4), HasSubstr("structure block"));
    EXPECT_THAT(parse_with(header::kStringsSize, strings_size - 1), HasSubstr("property name is not a string"));
    EXPECT_THAT(parse_with(header::kStringsSize, 0), HasSubstr("property name is not a string"));
}

TEST_F(FdtCorruptedHeader, AcceptsVersion16WhoseStructBlockRunsToTheEnd) {
    EXPECT_EQ(parse_with(header::kVersion, 16), "(parsed)");
}

TEST_F(FdtCorruptedHeader, ToleratesALargerBufferThanTotalSize) {
    Blob padded = blob_;
    padded.resize(padded.size() + 100, std::byte{0xaa});
    const auto parsed = DeviceTree::parse(padded);
    ASSERT_TRUE(parsed.ok()) << error_of(parsed);
    EXPECT_EQ(parsed->total_size(), blob_.size());
}

TEST(FdtTruncation, RejectsEveryPrefixOfAValidBlob) {
    const Blob blob = load_fixture("qemu-virt.dtb");
    for (std::size_t length = 0; length < blob.size(); ++length)
        EXPECT_FALSE(DeviceTree::parse(ByteSpan{blob}.first(length)).ok()) << "prefix " << length;
    EXPECT_TRUE(DeviceTree::parse(blob).ok());
}

// A cut whose header claims it is whole: the walker itself must notice.
TEST(FdtTruncation, RejectsEveryPrefixEvenWhenTheHeaderIsPatchedToMatch) {
    const Blob original = load_fixture("test-board.dtb");
    const auto struct_offset = get_be32(original, header::kStructOffset);
    const auto strings_offset = get_be32(original, header::kStringsOffset);
    for (std::size_t length = header::kSizeV17; length < original.size(); ++length) {
        Blob blob{original.begin(), original.begin() + static_cast<std::ptrdiff_t>(length)};
        const auto clip = [&](std::size_t size_field, std::uint32_t offset) {
            const std::uint32_t room = length > offset ? static_cast<std::uint32_t>(length - offset) : 0;
            set_be32(blob, size_field, std::min(get_be32(blob, size_field), room));
        };
        set_be32(blob, header::kTotalSize, static_cast<std::uint32_t>(length));
        clip(header::kStructSize, struct_offset);
        clip(header::kStringsSize, strings_offset);
        EXPECT_FALSE(DeviceTree::parse(blob).ok()) << "prefix " << length;
    }
}

// ---------------------------------------------------------------------------
// Structure-block validation, on hand-assembled blobs.

TEST(FdtStructure, AcceptsAMinimalTreeWithNops) {
    const Blob blob = RawBlob{}
                          .nop()
                          .begin("")
                          .nop()
                          .property(kModelName, "m\0"sv)
                          .nop()
                          .begin("child@1")
                          .end_node()
                          .nop()
                          .end_node()
                          .nop()
                          .end()
                          .build(kStrings);
    const auto parsed = DeviceTree::parse(blob);
    ASSERT_TRUE(parsed.ok()) << error_of(parsed);
    const DeviceTree& tree = *parsed;
    EXPECT_EQ(tree.property_string(tree.root(), "model"), "m");
    EXPECT_THAT(property_names(tree, tree.root()), ElementsAre("model"));
    EXPECT_THAT(child_names(tree, tree.root()), ElementsAre("child@1"));
    EXPECT_EQ(tree.node_name(tree.find_node("/child").value()), "child@1");
}

struct BadStructureCase final {
    const char* description;
    Blob blob;
    std::string_view expected_error;
};

[[nodiscard]] std::vector<BadStructureCase> bad_structures() {
    std::vector<BadStructureCase> cases;
    const auto add = [&](const char* description, const RawBlob& raw, std::string_view error,
                         std::string_view strings = kStrings) {
        cases.push_back({description, raw.build(strings), error});
    };
    add("empty structure block", RawBlob{}, "malformed");
    add("no END token", RawBlob{}.begin("").end_node(), "malformed");
    add("END inside the root", RawBlob{}.begin("").end(), "ends inside");
    add("no root at all", RawBlob{}.end(), "no root");
    add("unknown token", RawBlob{}.begin("").word(7).end_node().end(), "malformed");
    add("token 0", RawBlob{}.begin("").word(0).end_node().end(), "malformed");
    add("unterminated node name", RawBlob{}.begin("").unterminated_name(), "malformed");
    add("property name offset beyond the strings block", RawBlob{}.begin("").property(1000, "").end_node().end(),
        "property name is not a string");
    add("property name offset at the strings block's end",
        RawBlob{}.begin("").property(static_cast<std::uint32_t>(kStrings.size()), "").end_node().end(),
        "property name is not a string");
    add("unterminated property name", RawBlob{}.begin("").property(kModelName, "").end_node().end(),
        "property name is not a string", "model"sv);
    add("property length beyond the block",
        RawBlob{}.begin("").token(Token::property).word(0x1000).word(kModelName).end_node().end(), "malformed");
    add("property length of 4 GiB - 1",
        RawBlob{}.begin("").token(Token::property).word(0xffff'ffff).word(kModelName).end_node().end(), "malformed");
    add("property header cut short", RawBlob{}.begin("").token(Token::property).word(0), "malformed");
    add("END_NODE without a node", RawBlob{}.end_node().end(), "without a node");
    add("one END_NODE too many", RawBlob{}.begin("").end_node().end_node().end(), "without a node");
    add("two roots", RawBlob{}.begin("").end_node().begin("").end_node().end(), "after the root");
    add("root with a name", RawBlob{}.begin("root").end_node().end(), "root node has a name");
    add("child without a name", RawBlob{}.begin("").begin("").end_node().end_node().end(), "without a name");
    add("property before the root", RawBlob{}.property(kModelName, "").begin("").end_node().end(), "outside");
    add("property after the root", RawBlob{}.begin("").end_node().property(kModelName, "").end(), "outside");
    add("property after a child node",
        RawBlob{}.begin("").begin("a").end_node().property(kCompatibleName, "x\0"sv).end_node().end(), "after a child");
    return cases;
}

TEST(FdtStructure, RejectsMalformedStructures) {
    for (const auto& bad : bad_structures()) {
        const auto parsed = DeviceTree::parse(bad.blob);
        EXPECT_FALSE(parsed.ok()) << bad.description;
        EXPECT_THAT(error_of(parsed), HasSubstr(bad.expected_error)) << bad.description;
    }
}

[[nodiscard]] Blob nested(std::size_t depth) {
    RawBlob raw;
    raw.begin("");
    for (std::size_t level = 1; level < depth; ++level) raw.begin("n");
    for (std::size_t level = 0; level < depth; ++level) raw.end_node();
    return raw.end().build(kStrings);
}

TEST(FdtStructure, CapsNestingDepth) {
    const Blob deepest_blob = nested(kMaxDepth);
    const auto deepest = DeviceTree::parse(deepest_blob);
    ASSERT_TRUE(deepest.ok()) << error_of(deepest);
    std::string path;
    for (std::size_t level = 1; level < kMaxDepth; ++level) path += "/n";
    const auto leaf = deepest->find_node(path);
    ASSERT_TRUE(leaf);
    EXPECT_TRUE(deepest->parent(*leaf));
    EXPECT_FALSE(deepest->reg_entry(*leaf, 0));

    EXPECT_THAT(error_of(DeviceTree::parse(nested(kMaxDepth + 1))), HasSubstr("too deeply"));
    EXPECT_THAT(error_of(DeviceTree::parse(nested(100'000))), HasSubstr("too deeply"));
}

TEST(FdtStructure, DefaultConstructedTreeFindsNothing) {
    const DeviceTree empty{};
    EXPECT_EQ(empty.total_size(), 0u);
    EXPECT_FALSE(empty.find_node("/"));
    EXPECT_FALSE(empty.find_node("/chosen"));
    EXPECT_FALSE(empty.first_child(empty.root()));
    EXPECT_FALSE(empty.next_node(empty.root()));
    EXPECT_FALSE(empty.find_compatible("x"));
    EXPECT_FALSE(empty.stdout_node());
    EXPECT_EQ(empty.node_name(empty.root()), "");
    EXPECT_EQ(empty.memory_reservation_count(), 0u);
    exercise_everything(empty);
}

TEST(FdtStructure, BogusNodeHandlesFindNothing) {
    const Blob blob = load_fixture("qemu-virt.dtb");
    const auto parsed = DeviceTree::parse(blob);
    ASSERT_TRUE(parsed.ok());
    for (const std::uint32_t offset : {1u, 2u, 8u, 0xfff0u, 0xffff'fffcu}) {
        const Node bogus{offset};
        EXPECT_EQ(parsed->node_name(bogus), "");
        EXPECT_FALSE(parsed->first_child(bogus));
        EXPECT_FALSE(parsed->next_node(bogus));
        EXPECT_FALSE(parsed->parent(bogus));
        EXPECT_FALSE(parsed->property(bogus, "reg"));
        EXPECT_FALSE(parsed->reg_entry(bogus, 0));
    }
}

TEST(FdtStrings, SplitsStringLists) {
    constexpr std::string_view list{"one\0two\0\0four\0"sv};
    const ByteSpan bytes{reinterpret_cast<const std::byte*>(list.data()), list.size()};
    EXPECT_EQ(string_list_at(bytes, 0), "one");
    EXPECT_EQ(string_list_at(bytes, 1), "two");
    EXPECT_EQ(string_list_at(bytes, 2), "");
    EXPECT_EQ(string_list_at(bytes, 3), "four");
    EXPECT_FALSE(string_list_at(bytes, 4));
    EXPECT_TRUE(string_list_contains(bytes, "four"));
    EXPECT_FALSE(string_list_contains(bytes, "on"));
    // Without a final NUL the last entry is not a string.
    EXPECT_FALSE(string_list_at(bytes.first(list.size() - 1), 3));
    EXPECT_EQ(string_list_at(bytes.first(list.size() - 1), 1), "two");
    EXPECT_FALSE(string_list_at(ByteSpan{}, 0));
}

// Random byte corruption: whatever parses must be safe to walk (ASan checks).
TEST(FdtFuzz, MutatedBlobsAreRejectedOrSafeToWalk) {
    for (const char* fixture : {"qemu-virt.dtb", "test-board.dtb"}) {
        const Blob original = load_fixture(fixture);
        std::uint64_t state = 0x9e37'79b9'7f4a'7c15;
        const auto next_random = [&state] {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            return state;
        };
        std::size_t accepted = 0;
        for (int round = 0; round < 100; ++round) {
            Blob blob = original;
            const auto flips = 1 + next_random() % 4;
            for (std::uint64_t flip = 0; flip < flips; ++flip) {
                const auto position = next_random() % blob.size();
                blob[position] = static_cast<std::byte>(next_random());
            }
            const auto parsed = DeviceTree::parse(blob);
            if (!parsed.ok()) continue;
            ++accepted;
            exercise_everything(*parsed);
        }
        EXPECT_GT(accepted, 0u) << fixture;  // the walk was really exercised
    }
}

// ---------------------------------------------------------------------------
// Writer.

class FdtWriterTest : public ::testing::Test {
protected:
    [[nodiscard]] DeviceTree parse_written(std::size_t size) {
        written_ = Blob{buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(size)};
        auto parsed = DeviceTree::parse(written_);
        EXPECT_TRUE(parsed.ok()) << error_of(parsed);
        return parsed.ok() ? *parsed : DeviceTree{};
    }

    Blob buffer_ = Blob(16 * 1024);
    Blob written_;
};

TEST_F(FdtWriterTest, RoundTripsEveryPropertyKind) {
    FdtWriter writer{buffer_};
    writer.set_boot_cpu_id(3);
    writer.add_memory_reservation(0x4800'0000, 0x10'0000);
    writer.add_memory_reservation(0x1'0000'0000, 0x2000);
    writer.begin_node("");
    writer.property_u32("#address-cells", 2);
    writer.property_u32("#size-cells", 2);
    writer.property_string("compatible", "lamina,guest");
    writer.begin_node("memory@40000000");
    writer.property_string("device_type", "memory");
    writer.property_cells("reg", {0x0, 0x4000'0000, 0x0, 0x1000'0000});
    writer.end_node();
    writer.begin_node("chosen");
    writer.property_string("bootargs", "console=hvc0");
    writer.property_u64("linux,initrd-start", 0x1'4800'0000);
    writer.property_empty("lamina,empty");
    const std::array<std::byte, 3> raw{std::byte{1}, std::byte{2}, std::byte{3}};
    writer.property("lamina,raw", raw);
    writer.end_node();
    writer.begin_node("uart@9000000");
    writer.property_string_list("compatible", {"arm,pl011", "arm,primecell"});
    const std::array<std::uint32_t, 4> reg{0x0, 0x0900'0000, 0x0, 0x1000};
    writer.property_cells("reg", reg);
    writer.property_string_list("empty-list", std::span<const std::string_view>{});
    writer.end_node();
    writer.end_node();
    const auto size = writer.finish();
    ASSERT_TRUE(size.ok()) << size.error().message;
    EXPECT_TRUE(writer.ok());

    const DeviceTree tree = parse_written(*size);
    EXPECT_EQ(tree.total_size(), *size);
    EXPECT_EQ(tree.boot_cpu_id(), 3u);
    ASSERT_EQ(tree.memory_reservation_count(), 2u);
    EXPECT_EQ(tree.memory_reservation(1)->base, HostPhysAddr{0x1'0000'0000});
    EXPECT_EQ(tree.memory_reservation(1)->size, 0x2000u);

    EXPECT_EQ(tree.property_string(tree.root(), "compatible"), "lamina,guest");
    const Node memory = tree.find_node("/memory").value();
    EXPECT_EQ(tree.property_string(memory, "device_type"), "memory");
    EXPECT_EQ(tree.reg_entry(memory, 0)->base, HostPhysAddr{0x4000'0000});
    EXPECT_EQ(tree.reg_entry(memory, 0)->size, 0x1000'0000u);

    const Node chosen = tree.find_node("/chosen").value();
    EXPECT_EQ(tree.property_string(chosen, "bootargs"), "console=hvc0");
    EXPECT_EQ(tree.property_u64(chosen, "linux,initrd-start"), 0x1'4800'0000u);
    EXPECT_TRUE(tree.property(chosen, "lamina,empty")->empty());
    EXPECT_EQ(text_of(tree.property(chosen, "lamina,raw").value()), "\1\2\3");

    const Node uart = tree.find_node("/uart").value();
    EXPECT_TRUE(tree.is_compatible(uart, "arm,primecell"));
    EXPECT_EQ(tree.reg_entry(uart, 0)->base, HostPhysAddr{0x0900'0000});
    EXPECT_TRUE(tree.property(uart, "empty-list")->empty());
    EXPECT_THAT(child_names(tree, tree.root()), ElementsAre("memory@40000000", "chosen", "uart@9000000"));
}

TEST_F(FdtWriterTest, DeduplicatesPropertyNames) {
    FdtWriter writer{buffer_};
    writer.begin_node("");
    writer.property_string("compatible", "a");
    writer.property_string("linux,phandle", "b");
    for (const char* name : {"x@1", "x@2", "x@3"}) {
        writer.begin_node(name);
        writer.property_string("compatible", "c");
        writer.property_u32("phandle", 1);  // the tail of "linux,phandle"
        writer.end_node();
    }
    writer.end_node();
    const auto size = writer.finish();
    ASSERT_TRUE(size.ok());
    const DeviceTree tree = parse_written(*size);
    EXPECT_EQ(get_be32(written_, header::kStringsSize), "compatible"sv.size() + 1 + "linux,phandle"sv.size() + 1);
    EXPECT_EQ(tree.find_by_phandle(1), tree.find_node("/x@1"));
    EXPECT_EQ(tree.property_string(tree.root(), "linux,phandle"), "b");
    for (const char* path : {"/x@1", "/x@2", "/x@3"})
        EXPECT_EQ(tree.property_string(tree.find_node(path).value(), "compatible"), "c") << path;
}

// Copies every node and property of a parsed tree through the writer.
void copy_node(const DeviceTree& tree, Node node, FdtWriter& writer) {
    writer.begin_node(tree.node_name(node));
    for (const Property property : tree.properties(node)) writer.property(property.name, property.value);
    for (const Node child : tree.children(node)) copy_node(tree, child, writer);
    writer.end_node();
}

void expect_same_subtree(const DeviceTree& left, Node left_node, const DeviceTree& right, Node right_node) {
    ASSERT_EQ(left.node_name(left_node), right.node_name(right_node));
    std::vector<std::pair<std::string, std::string>> left_properties;
    std::vector<std::pair<std::string, std::string>> right_properties;
    for (const Property property : left.properties(left_node))
        left_properties.emplace_back(property.name, text_of(property.value));
    for (const Property property : right.properties(right_node))
        right_properties.emplace_back(property.name, text_of(property.value));
    EXPECT_EQ(left_properties, right_properties) << left.node_name(left_node);
    auto right_child = right.first_child(right_node);
    for (const Node left_child : left.children(left_node)) {
        ASSERT_TRUE(right_child);
        expect_same_subtree(left, left_child, right, *right_child);
        right_child = right.next_sibling(*right_child);
    }
    EXPECT_FALSE(right_child);
}

TEST_F(FdtWriterTest, ReproducesTheQemuTree) {
    const Blob original_blob = load_fixture("qemu-virt.dtb");
    const auto original = DeviceTree::parse(original_blob);
    ASSERT_TRUE(original.ok());
    FdtWriter writer{buffer_};
    copy_node(*original, original->root(), writer);
    const auto size = writer.finish();
    ASSERT_TRUE(size.ok()) << size.error().message;
    EXPECT_LE(*size, original_blob.size());  // dtc also shares strings: no bigger
    const DeviceTree copy = parse_written(*size);
    expect_same_subtree(*original, original->root(), copy, copy.root());
}

TEST_F(FdtWriterTest, ReportsATooSmallBufferAtEverySizeWithoutOverflowing) {
    const auto write_tree = [](FdtWriter& writer) {
        writer.add_memory_reservation(0x1000, 0x1000);
        writer.begin_node("");
        writer.property_string("compatible", "lamina,guest");
        writer.begin_node("memory@40000000");
        writer.property_string("device_type", "memory");
        writer.property_cells("reg", {0x0, 0x4000'0000, 0x0, 0x1000'0000});
        writer.end_node();
        writer.begin_node("chosen");
        writer.property_string_list("compatible", {"x", "y"});
        writer.end_node();
        writer.end_node();
    };
    Blob roomy(4096);
    FdtWriter measuring{roomy};
    write_tree(measuring);
    const auto needed = measuring.finish();
    ASSERT_TRUE(needed.ok());

    constexpr std::size_t kGuard = 64;
    for (std::size_t capacity = 0; capacity < *needed; ++capacity) {
        Blob buffer(capacity + kGuard, std::byte{0x5a});
        FdtWriter writer{std::span{buffer}.first(capacity)};
        write_tree(writer);
        const auto result = writer.finish();
        ASSERT_FALSE(result.ok()) << "capacity " << capacity;
        EXPECT_THAT(result.error().message, HasSubstr("buffer too small"));
        EXPECT_FALSE(writer.ok());
        EXPECT_TRUE(std::all_of(buffer.begin() + static_cast<std::ptrdiff_t>(capacity), buffer.end(),
                                [](std::byte b) { return b == std::byte{0x5a}; }))
            << "wrote past capacity " << capacity;
    }
    Blob exact(*needed);
    FdtWriter writer{exact};
    write_tree(writer);
    EXPECT_EQ(writer.finish().value(), *needed);
    EXPECT_TRUE(DeviceTree::parse(exact).ok());
}

struct MisuseCase final {
    const char* description;
    void (*misuse)(FdtWriter&);
    std::string_view expected_error;
};

TEST_F(FdtWriterTest, RejectsMisuse) {
    const std::array<MisuseCase, 14> cases{{
        {"no nodes", [](FdtWriter&) {}, "no root"},
        {"end without begin", [](FdtWriter& w) { w.end_node(); }, "without an open node"},
        {"unclosed root", [](FdtWriter& w) { w.begin_node(""); }, "not ended"},
        {"unclosed child",
         [](FdtWriter& w) {
             w.begin_node("");
             w.begin_node("a");
             w.end_node();
             w.begin_node("b");
             w.end_node();
             w.begin_node("c");
             w.end_node();
             w.begin_node("d");
         },
         "not ended"},
        {"one end too many",
         [](FdtWriter& w) {
             w.begin_node("");
             w.end_node();
             w.end_node();
         },
         "without an open node"},
        {"named root", [](FdtWriter& w) { w.begin_node("root"); }, "must be the root"},
        {"second root",
         [](FdtWriter& w) {
             w.begin_node("");
             w.end_node();
             w.begin_node("");
         },
         "second root"},
        {"unnamed child",
         [](FdtWriter& w) {
             w.begin_node("");
             w.begin_node("");
         },
         "invalid node name"},
        {"slash in a node name",
         [](FdtWriter& w) {
             w.begin_node("");
             w.begin_node("a/b");
         },
         "invalid node name"},
        {"property before the root", [](FdtWriter& w) { w.property_u32("x", 1); }, "outside any node"},
        {"property after a child",
         [](FdtWriter& w) {
             w.begin_node("");
             w.begin_node("a");
             w.end_node();
             w.property_u32("x", 1);
         },
         "after a child"},
        {"empty property name",
         [](FdtWriter& w) {
             w.begin_node("");
             w.property_u32("", 1);
         },
         "invalid property name"},
        {"NUL inside a string",
         [](FdtWriter& w) {
             w.begin_node("");
             w.property_string("x", "a\0b"sv);
         },
         "contains NUL"},
        {"reservation after a node",
         [](FdtWriter& w) {
             w.begin_node("");
             w.add_memory_reservation(0, 0x1000);
         },
         "reservation after"},
    }};
    for (const auto& bad : cases) {
        Blob buffer(1024);
        FdtWriter writer{buffer};
        bad.misuse(writer);
        const auto result = writer.finish();
        ASSERT_FALSE(result.ok()) << bad.description;
        EXPECT_THAT(result.error().message, HasSubstr(bad.expected_error)) << bad.description;
        EXPECT_FALSE(writer.status().ok()) << bad.description;
    }
}

TEST_F(FdtWriterTest, CapsNestingAtTheReadersLimit) {
    FdtWriter writer{buffer_};
    writer.begin_node("");
    for (std::size_t level = 1; level < kMaxDepth; ++level) writer.begin_node("n");
    EXPECT_TRUE(writer.ok());
    writer.begin_node("one-too-deep");
    EXPECT_FALSE(writer.ok());
    EXPECT_THAT(writer.finish().error().message, HasSubstr("too deeply"));
}

TEST_F(FdtWriterTest, FinishIsRepeatableButLaterEditsAreErrors) {
    FdtWriter writer{buffer_};
    writer.begin_node("");
    writer.end_node();
    const auto first = writer.finish();
    ASSERT_TRUE(first.ok());
    EXPECT_EQ(writer.finish().value(), *first);
    (void)parse_written(*first);
    writer.begin_node("late");
    EXPECT_THAT(writer.finish().error().message, HasSubstr("after finish"));
}

}  // namespace
}  // namespace lamina::fdt
