// Read-only parser for Flattened Device Tree blobs (the DTB format, versions
// 16 and 17). A blob is untrusted input: parse() validates the header and the
// whole structure block once, and every accessor bounds-checks again, so a
// corrupt blob yields an Error or an empty answer, never an out-of-bounds read.
// A DeviceTree only views the blob; the blob must outlive it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "bytes.hpp"
#include "result.hpp"
#include "types.hpp"

namespace lamina::fdt {

inline constexpr std::uint32_t kMagic = 0xd00d'feed;
inline constexpr std::uint32_t kVersion = 17;                // what FdtWriter emits
inline constexpr std::uint32_t kLastCompatibleVersion = 16;  // oldest reader our output needs
inline constexpr std::size_t kMaxDepth = 32;                 // deepest nesting accepted (the root is 1)
inline constexpr std::uint32_t kDefaultAddressCells = 2;
inline constexpr std::uint32_t kDefaultSizeCells = 1;

// Structure-block tokens, stored as big-endian 32-bit words.
enum class Token : std::uint32_t {
    begin_node = 1,
    end_node = 2,
    property = 3,
    nop = 4,
    end = 9,
};

// Byte offsets of the big-endian 32-bit header fields.
namespace header {
inline constexpr std::size_t kMagic = 0;
inline constexpr std::size_t kTotalSize = 4;
inline constexpr std::size_t kStructOffset = 8;
inline constexpr std::size_t kStringsOffset = 12;
inline constexpr std::size_t kReservationsOffset = 16;
inline constexpr std::size_t kVersion = 20;
inline constexpr std::size_t kLastCompatibleVersion = 24;
inline constexpr std::size_t kBootCpuId = 28;
inline constexpr std::size_t kStringsSize = 32;
inline constexpr std::size_t kStructSize = 36;  // only from version 17
inline constexpr std::size_t kSizeV16 = 36;
inline constexpr std::size_t kSizeV17 = 40;
}  // namespace header

inline constexpr std::size_t kReservationEntrySize = 16;  // two big-endian u64: address, size

// A node, named by the offset of its begin-node token in the structure block.
// Only meaningful together with the DeviceTree that produced it.
struct Node final {
    std::uint32_t offset{0};

    friend constexpr bool operator==(Node, Node) = default;
};

struct Property final {
    std::string_view name;
    ByteSpan value;
};

// A reg entry as written, in the parent bus's address space (not translated).
struct RawReg final {
    std::uint64_t address{0};
    std::uint64_t size{0};
};

// The index-th string of a NUL-separated string list (e.g. "compatible");
// nullopt when out of range or when the list is not NUL-terminated.
[[nodiscard]] std::optional<std::string_view> string_list_at(ByteSpan value, std::size_t index);
[[nodiscard]] bool string_list_contains(ByteSpan value, std::string_view wanted);

class DeviceTree final {
public:
    class ReservationRange;
    class ChildRange;
    class PropertyRange;

    DeviceTree() = default;  // an empty tree: every lookup finds nothing

    [[nodiscard]] static Result<DeviceTree> parse(ByteSpan blob);

    [[nodiscard]] std::size_t total_size() const { return blob_.size(); }
    [[nodiscard]] ByteSpan blob() const { return blob_; }
    [[nodiscard]] std::uint32_t boot_cpu_id() const { return boot_cpu_id_; }

    // The /memreserve/ block (terminator excluded).
    [[nodiscard]] std::size_t memory_reservation_count() const;
    [[nodiscard]] std::optional<HostPhysRange> memory_reservation(std::size_t index) const;
    [[nodiscard]] ReservationRange memory_reservations() const;

    // Navigation.
    [[nodiscard]] Node root() const { return Node{root_offset_}; }
    // Absolute path ("/cpus/cpu@0"), or one starting with an alias ("serial0").
    // A component without "@unit" also matches a node that has one.
    [[nodiscard]] std::optional<Node> find_node(std::string_view path) const;
    [[nodiscard]] std::optional<Node> find_child(Node parent, std::string_view name) const;
    [[nodiscard]] std::optional<Node> first_child(Node node) const;
    [[nodiscard]] std::optional<Node> next_sibling(Node node) const;
    [[nodiscard]] ChildRange children(Node node) const;
    [[nodiscard]] std::optional<Node> parent(Node node) const;
    // The node after this one in depth-first document order (every node once).
    [[nodiscard]] std::optional<Node> next_node(Node node) const;
    // "name@unit-address" as stored; empty for the root.
    [[nodiscard]] std::string_view node_name(Node node) const;

    // Properties.
    [[nodiscard]] PropertyRange properties(Node node) const;
    [[nodiscard]] std::optional<ByteSpan> property(Node node, std::string_view name) const;
    [[nodiscard]] bool has_property(Node node, std::string_view name) const;
    [[nodiscard]] std::optional<std::uint32_t> property_u32(Node node, std::string_view name) const;
    // Accepts one or two cells.
    [[nodiscard]] std::optional<std::uint64_t> property_u64(Node node, std::string_view name) const;
    // The first string of the value (which must be NUL-terminated).
    [[nodiscard]] std::optional<std::string_view> property_string(Node node, std::string_view name) const;
    [[nodiscard]] std::optional<std::string_view> property_string_at(Node node, std::string_view name,
                                                                     std::size_t index) const;
    [[nodiscard]] bool is_compatible(Node node, std::string_view compatible) const;
    // "status" absent, "okay" or "ok".
    [[nodiscard]] bool is_available(Node node) const;

    // Lookups.
    // The first node in document order after `after` (or from the root) whose
    // compatible list holds `compatible`.
    [[nodiscard]] std::optional<Node> find_compatible(std::string_view compatible,
                                                      std::optional<Node> after = std::nullopt) const;
    [[nodiscard]] std::optional<Node> find_by_phandle(std::uint32_t phandle) const;
    // The path an /aliases entry names.
    [[nodiscard]] std::optional<std::string_view> alias(std::string_view name) const;
    // /chosen stdout-path (path or alias, ":options" ignored).
    [[nodiscard]] std::optional<Node> stdout_node() const;
    // The interrupt controller that decodes this node's "interrupts": the
    // nearest interrupt-parent (or tree parent) having #interrupt-cells.
    [[nodiscard]] std::optional<Node> interrupt_parent(Node node) const;

    // Addresses. The cells a bus gives its children's reg; defaults when
    // absent, nullopt when malformed.
    [[nodiscard]] std::optional<std::uint32_t> address_cells(Node bus) const;
    [[nodiscard]] std::optional<std::uint32_t> size_cells(Node bus) const;
    [[nodiscard]] std::size_t reg_count(Node node) const;
    // As written, honouring the parent's cells (each at most 2).
    [[nodiscard]] std::optional<RawReg> raw_reg(Node node, std::size_t index) const;
    // Translated through every ancestor bus's "ranges" to a CPU physical
    // address; nullopt when a bus is not memory-mapped or the range wraps.
    [[nodiscard]] std::optional<HostPhysRange> reg_entry(Node node, std::size_t index) const;

private:
    // Root-to-node chain; nodes[depth - 1] is the node itself.
    struct NodePath final {
        std::array<Node, kMaxDepth> nodes{};
        std::size_t depth{0};
    };

    [[nodiscard]] std::optional<NodePath> path_to(Node node) const;
    [[nodiscard]] std::optional<Node> find_relative(Node start, std::string_view path) const;
    [[nodiscard]] std::optional<std::size_t> first_property_offset(Node node) const;
    [[nodiscard]] std::optional<std::size_t> property_offset_from(std::size_t offset) const;
    [[nodiscard]] std::optional<std::size_t> next_property_offset(std::size_t property_offset) const;
    [[nodiscard]] std::optional<Property> property_at(std::size_t property_offset) const;
    [[nodiscard]] std::optional<RawReg> raw_reg_with_cells(Node node, std::size_t index, std::uint32_t address_cells,
                                                           std::uint32_t size_cells) const;
    [[nodiscard]] std::optional<std::uint64_t> translate_through_bus(Node bus, Node bus_parent, std::uint64_t address,
                                                                     std::uint64_t size) const;

    ByteSpan blob_{};
    ByteSpan structure_{};
    ByteSpan strings_{};
    ByteSpan reservations_{};  // entries only, without the terminator
    std::uint32_t root_offset_{0};
    std::uint32_t boot_cpu_id_{0};
};

class DeviceTree::ReservationRange final {
public:
    class Iterator final {
    public:
        Iterator(const DeviceTree* tree, std::size_t index) : tree_{tree}, index_{index} {}
        [[nodiscard]] HostPhysRange operator*() const {
            return tree_->memory_reservation(index_).value_or(HostPhysRange{});
        }
        Iterator& operator++() {
            ++index_;
            return *this;
        }
        [[nodiscard]] bool operator==(const Iterator& other) const { return index_ == other.index_; }

    private:
        const DeviceTree* tree_;
        std::size_t index_;
    };

    explicit ReservationRange(const DeviceTree* tree) : tree_{tree} {}
    [[nodiscard]] Iterator begin() const { return Iterator{tree_, 0}; }
    [[nodiscard]] Iterator end() const { return Iterator{tree_, tree_->memory_reservation_count()}; }

private:
    const DeviceTree* tree_;
};

class DeviceTree::ChildRange final {
public:
    class Iterator final {
    public:
        Iterator(const DeviceTree* tree, std::optional<Node> node) : tree_{tree}, node_{node} {}
        [[nodiscard]] Node operator*() const { return node_.value_or(Node{}); }
        Iterator& operator++() {
            if (node_) node_ = tree_->next_sibling(*node_);
            return *this;
        }
        [[nodiscard]] bool operator==(const Iterator& other) const { return node_ == other.node_; }

    private:
        const DeviceTree* tree_;
        std::optional<Node> node_;
    };

    ChildRange(const DeviceTree* tree, Node parent) : tree_{tree}, parent_{parent} {}
    [[nodiscard]] Iterator begin() const { return Iterator{tree_, tree_->first_child(parent_)}; }
    [[nodiscard]] Iterator end() const { return Iterator{tree_, std::nullopt}; }

private:
    const DeviceTree* tree_;
    Node parent_;
};

class DeviceTree::PropertyRange final {
public:
    class Iterator final {
    public:
        Iterator(const DeviceTree* tree, std::optional<std::size_t> offset) : tree_{tree}, offset_{offset} {}
        [[nodiscard]] Property operator*() const {
            return offset_ ? tree_->property_at(*offset_).value_or(Property{}) : Property{};
        }
        Iterator& operator++() {
            if (offset_) offset_ = tree_->next_property_offset(*offset_);
            return *this;
        }
        [[nodiscard]] bool operator==(const Iterator& other) const { return offset_ == other.offset_; }

    private:
        const DeviceTree* tree_;
        std::optional<std::size_t> offset_;
    };

    PropertyRange(const DeviceTree* tree, Node node) : tree_{tree}, node_{node} {}
    [[nodiscard]] Iterator begin() const { return Iterator{tree_, tree_->first_property_offset(node_)}; }
    [[nodiscard]] Iterator end() const { return Iterator{tree_, std::nullopt}; }

private:
    const DeviceTree* tree_;
    Node node_;
};

inline DeviceTree::ReservationRange DeviceTree::memory_reservations() const { return ReservationRange{this}; }
inline DeviceTree::ChildRange DeviceTree::children(Node node) const { return ChildRange{this, node}; }
inline DeviceTree::PropertyRange DeviceTree::properties(Node node) const { return PropertyRange{this, node}; }

}  // namespace lamina::fdt
