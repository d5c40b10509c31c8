#include "fdt.hpp"

#include <algorithm>
#include <limits>

namespace lamina::fdt {

namespace {

// One decoded structure-block token. Offsets are relative to the block.
struct TokenView final {
    Token kind{Token::end};
    std::size_t next{0};           // where the following token starts
    std::string_view node_name{};  // begin-node only
    std::uint32_t name_offset{0};  // property only: its name in the strings block
    ByteSpan value{};              // property only
};

// Searches use predicate algorithms: std::find and string_view::find may
// lower to memchr, which the freestanding image does not provide.
[[nodiscard]] std::optional<std::size_t> find_nul(ByteSpan bytes, std::size_t from) {
    if (from > bytes.size()) return std::nullopt;
    const auto start = bytes.begin() + static_cast<std::ptrdiff_t>(from);
    const auto nul = std::find_if(start, bytes.end(), [](std::byte b) { return b == std::byte{0}; });
    if (nul == bytes.end()) return std::nullopt;
    return static_cast<std::size_t>(nul - bytes.begin());
}

[[nodiscard]] std::optional<std::size_t> find_char(std::string_view text, char wanted) {
    const auto found = std::find_if(text.begin(), text.end(), [wanted](char c) { return c == wanted; });
    if (found == text.end()) return std::nullopt;
    return static_cast<std::size_t>(found - text.begin());
}

[[nodiscard]] std::string_view as_text(ByteSpan bytes) {
    // Viewing bytes as chars is allowed aliasing.
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

// The NUL-terminated string starting at `offset`, without its terminator.
[[nodiscard]] std::optional<std::string_view> terminated_string(ByteSpan bytes, std::size_t offset) {
    const auto nul = find_nul(bytes, offset);
    if (!nul) return std::nullopt;
    return as_text(bytes.subspan(offset, *nul - offset));
}

[[nodiscard]] constexpr std::size_t align4(std::size_t offset) { return (offset + 3) & ~std::size_t{3}; }

// Property names are resolved separately (property_name): walks that only
// follow the structure need not touch the strings block.
[[nodiscard]] std::optional<TokenView> read_token(ByteSpan structure, std::size_t offset) {
    if (offset % 4 != 0) return std::nullopt;
    const auto word = load_be<std::uint32_t>(structure, offset);
    if (!word) return std::nullopt;
    TokenView token{.kind = static_cast<Token>(*word), .next = offset + 4};
    switch (token.kind) {
        case Token::begin_node: {
            const auto name = terminated_string(structure, offset + 4);
            if (!name) return std::nullopt;
            token.node_name = *name;
            token.next = align4(offset + 4 + name->size() + 1);
            return token;
        }
        case Token::property: {
            const auto length = load_be<std::uint32_t>(structure, offset + 4);
            const auto name_offset = load_be<std::uint32_t>(structure, offset + 8);
            const std::size_t value_offset = offset + 12;  // in bounds: the loads above succeeded
            if (!length || !name_offset || *length > structure.size() - value_offset) return std::nullopt;
            token.name_offset = *name_offset;
            token.value = structure.subspan(value_offset, *length);
            token.next = align4(value_offset + *length);
            return token;
        }
        case Token::end_node:
        case Token::nop:
        case Token::end:
            return token;
    }
    return std::nullopt;  // unknown token
}

[[nodiscard]] std::optional<std::string_view> property_name(ByteSpan strings, const TokenView& token) {
    return terminated_string(strings, token.name_offset);
}

// A span [offset, offset + size) of the blob, if it lies after the header and
// inside the blob.
[[nodiscard]] std::optional<ByteSpan> block(ByteSpan blob, std::size_t header_size, std::uint32_t offset,
                                            std::uint32_t size) {
    if (offset < header_size || offset > blob.size() || size > blob.size() - offset) return std::nullopt;
    return blob.subspan(offset, size);
}

// Walks the structure block once, checking tokens, nesting, names and the
// property-before-children rule. Returns the root node's offset.
[[nodiscard]] Result<std::uint32_t> validate_structure(ByteSpan structure, ByteSpan strings) {
    // Whether the node open at each depth has already seen a child node.
    std::array<bool, kMaxDepth + 1> has_child{};
    std::size_t depth = 0;
    std::optional<std::uint32_t> root_offset;
    bool root_closed = false;
    std::size_t offset = 0;
    // Terminates: every token advances `offset`, and reads past the block fail.
    while (true) {
        const auto token = read_token(structure, offset);
        if (!token) return Error{"device tree: malformed or truncated structure block"};
        switch (token->kind) {
            case Token::begin_node:
                if (root_closed) return Error{"device tree: node after the root node"};
                if (depth == 0) {
                    if (!token->node_name.empty()) return Error{"device tree: root node has a name"};
                    root_offset = static_cast<std::uint32_t>(offset);
                } else if (token->node_name.empty()) {
                    return Error{"device tree: node without a name"};
                }
                if (depth == kMaxDepth) return Error{"device tree: nodes nested too deeply"};
                has_child[depth] = true;
                ++depth;
                has_child[depth] = false;
                break;
            case Token::end_node:
                if (depth == 0) return Error{"device tree: end of node without a node"};
                --depth;
                root_closed = depth == 0;
                break;
            case Token::property:
                if (depth == 0) return Error{"device tree: property outside any node"};
                if (has_child[depth]) return Error{"device tree: property after a child node"};
                if (!property_name(strings, *token))
                    return Error{"device tree: property name is not a string in the strings block"};
                break;
            case Token::nop:
                break;
            case Token::end:
                if (!root_closed) return Error{"device tree: structure ends inside a node or has no root"};
                return *root_offset;
        }
        offset = token->next;
    }
}

struct Header final {
    std::size_t size{0};  // 36 bytes for version 16, 40 from version 17
    std::uint32_t total_size{0};
    std::uint32_t struct_offset{0};
    std::uint32_t struct_size{0};
    std::uint32_t strings_offset{0};
    std::uint32_t strings_size{0};
    std::uint32_t reservations_offset{0};
    std::uint32_t boot_cpu_id{0};
};

// Checks magic, versions and that totalsize fits the buffer; block bounds
// are checked by the caller.
[[nodiscard]] Result<Header> read_header(ByteSpan blob) {
    const auto field = [&blob](std::size_t offset) { return load_be<std::uint32_t>(blob, offset).value_or(0); };
    if (blob.size() < header::kSizeV16) return Error{"device tree: blob shorter than its header"};
    if (field(header::kMagic) != kMagic) return Error{"device tree: bad magic"};
    const auto version = field(header::kVersion);
    if (version < 16) return Error{"device tree: version older than 16"};
    if (field(header::kLastCompatibleVersion) > kVersion) return Error{"device tree: version newer than 17"};

    Header fields{};
    fields.size = version >= 17 ? header::kSizeV17 : header::kSizeV16;
    if (blob.size() < fields.size) return Error{"device tree: blob shorter than its header"};
    fields.total_size = field(header::kTotalSize);
    if (fields.total_size > blob.size()) return Error{"device tree: blob truncated (totalsize beyond its buffer)"};
    if (fields.total_size < fields.size) return Error{"device tree: totalsize smaller than the header"};
    fields.struct_offset = field(header::kStructOffset);
    // Version 16 has no struct size: the block runs to the end of the blob.
    fields.struct_size = version >= 17 ? field(header::kStructSize)
                                       : fields.total_size - std::min(fields.struct_offset, fields.total_size);
    fields.strings_offset = field(header::kStringsOffset);
    fields.strings_size = field(header::kStringsSize);
    fields.reservations_offset = field(header::kReservationsOffset);
    fields.boot_cpu_id = field(header::kBootCpuId);
    return fields;
}

// Counts /memreserve/ entries up to the all-zero terminator.
[[nodiscard]] Result<ByteSpan> reservation_entries(ByteSpan blob, std::size_t header_size, std::uint32_t offset) {
    if (offset < header_size || offset % 8 != 0 || offset > blob.size())
        return Error{"device tree: memory reservation block out of bounds"};
    const auto entries = blob.subspan(offset);
    for (std::size_t at = 0;; at += kReservationEntrySize) {
        const auto address = load_be<std::uint64_t>(entries, at);
        const auto size = load_be<std::uint64_t>(entries, at + 8);
        if (!address || !size) return Error{"device tree: memory reservation block not terminated"};
        if (*address == 0 && *size == 0) return entries.first(at);
    }
}

[[nodiscard]] std::uint64_t read_cells(ByteSpan bytes, std::size_t offset, std::uint32_t cells) {
    std::uint64_t value{0};
    for (std::uint32_t cell = 0; cell < cells; ++cell)
        value = (value << 32) | load_be<std::uint32_t>(bytes, offset + 4 * cell).value_or(0);
    return value;
}

// A component without "@unit" matches any unit address of that name.
[[nodiscard]] bool name_matches(std::string_view node_name, std::string_view component) {
    if (node_name == component) return true;
    if (find_char(component, '@')) return false;
    return node_name.size() > component.size() && node_name[component.size()] == '@' &&
           node_name.substr(0, component.size()) == component;
}

// Interrupt-parent chains are phandle links an attacker controls; bound them.
inline constexpr std::size_t kMaxInterruptParentHops = 64;

}  // namespace

std::optional<std::string_view> string_list_at(ByteSpan value, std::size_t index) {
    std::size_t offset = 0;
    while (offset < value.size()) {
        const auto text = terminated_string(value, offset);
        if (!text) return std::nullopt;
        if (index == 0) return text;
        --index;
        offset += text->size() + 1;
    }
    return std::nullopt;
}

bool string_list_contains(ByteSpan value, std::string_view wanted) {
    for (std::size_t index = 0;; ++index) {
        const auto text = string_list_at(value, index);
        if (!text) return false;
        if (*text == wanted) return true;
    }
}

Result<DeviceTree> DeviceTree::parse(ByteSpan blob) {
    const auto fields = read_header(blob);
    if (!fields) return fields.error();
    const Header& header = *fields;

    DeviceTree tree{};
    tree.blob_ = blob.first(header.total_size);
    tree.boot_cpu_id_ = header.boot_cpu_id;
    const auto structure = block(tree.blob_, header.size, header.struct_offset, header.struct_size);
    if (!structure || header.struct_offset % 4 != 0) return Error{"device tree: structure block out of bounds"};
    const auto strings = block(tree.blob_, header.size, header.strings_offset, header.strings_size);
    if (!strings) return Error{"device tree: strings block out of bounds"};
    tree.structure_ = *structure;
    tree.strings_ = *strings;

    const auto reservations = reservation_entries(tree.blob_, header.size, header.reservations_offset);
    if (!reservations) return reservations.error();
    tree.reservations_ = *reservations;

    const auto root_offset = validate_structure(tree.structure_, tree.strings_);
    if (!root_offset) return root_offset.error();
    tree.root_offset_ = *root_offset;
    return tree;
}

std::size_t DeviceTree::memory_reservation_count() const { return reservations_.size() / kReservationEntrySize; }

std::optional<HostPhysRange> DeviceTree::memory_reservation(std::size_t index) const {
    if (index >= memory_reservation_count()) return std::nullopt;
    const auto address = load_be<std::uint64_t>(reservations_, index * kReservationEntrySize);
    const auto size = load_be<std::uint64_t>(reservations_, index * kReservationEntrySize + 8);
    if (!address || !size) return std::nullopt;
    return HostPhysRange{HostPhysAddr{*address}, *size};
}

std::string_view DeviceTree::node_name(Node node) const {
    const auto token = read_token(structure_, node.offset);
    if (!token || token->kind != Token::begin_node) return {};
    return token->node_name;
}

std::optional<Node> DeviceTree::first_child(Node node) const {
    const auto token = read_token(structure_, node.offset);
    if (!token || token->kind != Token::begin_node) return std::nullopt;
    for (std::size_t offset = token->next;;) {
        const auto next = read_token(structure_, offset);
        if (!next) return std::nullopt;
        if (next->kind == Token::begin_node) return Node{static_cast<std::uint32_t>(offset)};
        if (next->kind != Token::property && next->kind != Token::nop) return std::nullopt;
        offset = next->next;
    }
}

std::optional<Node> DeviceTree::next_sibling(Node node) const {
    // Skip the node's whole subtree, then any NOPs.
    std::size_t depth = 0;
    for (std::size_t offset = node.offset;;) {
        const auto token = read_token(structure_, offset);
        if (!token) return std::nullopt;
        switch (token->kind) {
            case Token::begin_node:
                if (depth == 0 && offset != node.offset) return Node{static_cast<std::uint32_t>(offset)};
                ++depth;
                break;
            case Token::end_node:
                if (depth == 0) return std::nullopt;  // the parent ends: no more siblings
                --depth;
                break;
            case Token::property:
            case Token::nop:
                if (offset == node.offset) return std::nullopt;  // not a node
                break;
            case Token::end:
                return std::nullopt;
        }
        offset = token->next;
    }
}

std::optional<Node> DeviceTree::next_node(Node node) const {
    const auto token = read_token(structure_, node.offset);
    if (!token || token->kind != Token::begin_node) return std::nullopt;
    for (std::size_t offset = token->next;;) {
        const auto next = read_token(structure_, offset);
        if (!next || next->kind == Token::end) return std::nullopt;
        if (next->kind == Token::begin_node) return Node{static_cast<std::uint32_t>(offset)};
        offset = next->next;
    }
}

std::optional<DeviceTree::NodePath> DeviceTree::path_to(Node node) const {
    NodePath path{};
    std::size_t depth = 0;
    // Tokens are in document order, so the walk can stop once past the node.
    for (std::size_t offset = root_offset_; offset <= node.offset;) {
        const auto token = read_token(structure_, offset);
        if (!token) return std::nullopt;
        if (token->kind == Token::begin_node) {
            if (depth == kMaxDepth) return std::nullopt;
            path.nodes[depth++] = Node{static_cast<std::uint32_t>(offset)};
            if (offset == node.offset) {
                path.depth = depth;
                return path;
            }
        } else if (token->kind == Token::end_node) {
            if (depth <= 1) return std::nullopt;  // the root closed without meeting the node
            --depth;
        } else if (token->kind == Token::end) {
            return std::nullopt;
        }
        offset = token->next;
    }
    return std::nullopt;
}

std::optional<Node> DeviceTree::parent(Node node) const {
    const auto path = path_to(node);
    if (!path || path->depth < 2) return std::nullopt;
    return path->nodes[path->depth - 2];
}

std::optional<Node> DeviceTree::find_child(Node parent, std::string_view name) const {
    for (const Node child : children(parent))
        if (name_matches(node_name(child), name)) return child;
    return std::nullopt;
}

std::optional<Node> DeviceTree::find_relative(Node start, std::string_view path) const {
    Node current = start;
    while (true) {
        while (!path.empty() && path.front() == '/') path.remove_prefix(1);
        if (path.empty()) return current;
        const auto slash = find_char(path, '/');
        const auto component = path.substr(0, slash.value_or(path.size()));
        const auto child = find_child(current, component);
        if (!child) return std::nullopt;
        current = *child;
        path.remove_prefix(component.size());
    }
}

std::optional<Node> DeviceTree::find_node(std::string_view path) const {
    if (path.empty()) return std::nullopt;
    if (path.front() == '/') {
        // Reject a tree without a root (a default-constructed one).
        if (read_token(structure_, root_offset_).value_or(TokenView{}).kind != Token::begin_node) return std::nullopt;
        return find_relative(root(), path);
    }
    const auto slash = find_char(path, '/');
    const auto target = alias(path.substr(0, slash.value_or(path.size())));
    // Alias values are absolute paths; refusing anything else avoids alias loops.
    if (!target || target->empty() || target->front() != '/') return std::nullopt;
    const auto aliased = find_relative(root(), *target);
    if (!aliased || !slash) return aliased;
    path.remove_prefix(*slash);  // keeps "/rest"; *slash < path.size()
    return find_relative(*aliased, path);
}

std::optional<std::size_t> DeviceTree::property_offset_from(std::size_t offset) const {
    while (true) {
        const auto token = read_token(structure_, offset);
        if (!token) return std::nullopt;
        if (token->kind == Token::property) return offset;
        if (token->kind != Token::nop) return std::nullopt;
        offset = token->next;
    }
}

std::optional<std::size_t> DeviceTree::first_property_offset(Node node) const {
    const auto token = read_token(structure_, node.offset);
    if (!token || token->kind != Token::begin_node) return std::nullopt;
    return property_offset_from(token->next);
}

std::optional<std::size_t> DeviceTree::next_property_offset(std::size_t property_offset) const {
    const auto token = read_token(structure_, property_offset);
    if (!token || token->kind != Token::property) return std::nullopt;
    return property_offset_from(token->next);
}

std::optional<Property> DeviceTree::property_at(std::size_t property_offset) const {
    const auto token = read_token(structure_, property_offset);
    if (!token || token->kind != Token::property) return std::nullopt;
    const auto name = property_name(strings_, *token);
    if (!name) return std::nullopt;
    return Property{*name, token->value};
}

std::optional<ByteSpan> DeviceTree::property(Node node, std::string_view name) const {
    for (const Property found : properties(node))
        if (found.name == name) return found.value;
    return std::nullopt;
}

bool DeviceTree::has_property(Node node, std::string_view name) const { return property(node, name).has_value(); }

std::optional<std::uint32_t> DeviceTree::property_u32(Node node, std::string_view name) const {
    const auto value = property(node, name);
    if (!value || value->size() != 4) return std::nullopt;
    return load_be<std::uint32_t>(*value, 0);
}

std::optional<std::uint64_t> DeviceTree::property_u64(Node node, std::string_view name) const {
    const auto value = property(node, name);
    if (!value) return std::nullopt;
    if (value->size() == 4) return load_be<std::uint32_t>(*value, 0);
    if (value->size() == 8) return load_be<std::uint64_t>(*value, 0);
    return std::nullopt;
}

std::optional<std::string_view> DeviceTree::property_string(Node node, std::string_view name) const {
    return property_string_at(node, name, 0);
}

std::optional<std::string_view> DeviceTree::property_string_at(Node node, std::string_view name,
                                                               std::size_t index) const {
    const auto value = property(node, name);
    if (!value) return std::nullopt;
    return string_list_at(*value, index);
}

bool DeviceTree::is_compatible(Node node, std::string_view compatible) const {
    const auto value = property(node, "compatible");
    return value && string_list_contains(*value, compatible);
}

bool DeviceTree::is_available(Node node) const {
    if (!has_property(node, "status")) return true;
    const auto status = property_string(node, "status");
    return status && (*status == "okay" || *status == "ok");
}

std::optional<Node> DeviceTree::find_compatible(std::string_view compatible, std::optional<Node> after) const {
    for (auto node = after ? next_node(*after) : std::optional<Node>{root()}; node; node = next_node(*node))
        if (is_compatible(*node, compatible)) return node;
    return std::nullopt;
}

std::optional<Node> DeviceTree::find_by_phandle(std::uint32_t phandle) const {
    if (phandle == 0 || phandle == 0xffff'ffff) return std::nullopt;  // reserved values
    for (std::optional<Node> node{root()}; node; node = next_node(*node)) {
        const auto own = property_u32(*node, "phandle");
        if (own == phandle || (!own && property_u32(*node, "linux,phandle") == phandle)) return node;
    }
    return std::nullopt;
}

std::optional<std::string_view> DeviceTree::alias(std::string_view name) const {
    const auto aliases = find_relative(root(), "/aliases");
    if (!aliases) return std::nullopt;
    return property_string(*aliases, name);
}

std::optional<Node> DeviceTree::stdout_node() const {
    const auto chosen = find_relative(root(), "/chosen");
    if (!chosen) return std::nullopt;
    auto path = property_string(*chosen, "stdout-path");
    if (!path) path = property_string(*chosen, "linux,stdout-path");
    if (!path) return std::nullopt;
    // "serial0:115200n8": options follow the first colon.
    return find_node(path->substr(0, find_char(*path, ':').value_or(path->size())));
}

std::optional<Node> DeviceTree::interrupt_parent(Node node) const {
    Node current = node;
    for (std::size_t hop = 0; hop < kMaxInterruptParentHops; ++hop) {
        const auto link = property_u32(current, "interrupt-parent");
        const auto next = link ? find_by_phandle(*link) : parent(current);
        if (!next) return std::nullopt;
        if (has_property(*next, "#interrupt-cells")) return next;
        current = *next;
    }
    return std::nullopt;
}

std::optional<std::uint32_t> DeviceTree::address_cells(Node bus) const {
    if (!has_property(bus, "#address-cells")) return kDefaultAddressCells;
    return property_u32(bus, "#address-cells");
}

std::optional<std::uint32_t> DeviceTree::size_cells(Node bus) const {
    if (!has_property(bus, "#size-cells")) return kDefaultSizeCells;
    return property_u32(bus, "#size-cells");
}

std::size_t DeviceTree::reg_count(Node node) const {
    const auto parent_node = parent(node);
    if (!parent_node) return 0;
    const auto address = address_cells(*parent_node);
    const auto size = size_cells(*parent_node);
    const auto reg = property(node, "reg");
    if (!address || !size || !reg || *address > 2 || *size > 2) return 0;
    const std::size_t entry_size = 4 * (*address + *size);
    if (entry_size == 0 || reg->size() % entry_size != 0) return 0;
    return reg->size() / entry_size;
}

std::optional<RawReg> DeviceTree::raw_reg_with_cells(Node node, std::size_t index, std::uint32_t address_cells,
                                                     std::uint32_t size_cells) const {
    // Wider values (PCI's 3-cell addresses) do not fit a 64-bit address.
    if (address_cells > 2 || size_cells > 2) return std::nullopt;
    const std::size_t entry_size = 4 * (address_cells + size_cells);
    const auto reg = property(node, "reg");
    if (!reg || entry_size == 0 || reg->size() % entry_size != 0 || index >= reg->size() / entry_size)
        return std::nullopt;
    const std::size_t offset = index * entry_size;
    return RawReg{read_cells(*reg, offset, address_cells), read_cells(*reg, offset + 4 * address_cells, size_cells)};
}

std::optional<RawReg> DeviceTree::raw_reg(Node node, std::size_t index) const {
    const auto parent_node = parent(node);
    if (!parent_node) return std::nullopt;
    const auto address = address_cells(*parent_node);
    const auto size = size_cells(*parent_node);
    if (!address || !size) return std::nullopt;
    return raw_reg_with_cells(node, index, *address, *size);
}

std::optional<std::uint64_t> DeviceTree::translate_through_bus(Node bus, Node bus_parent, std::uint64_t address,
                                                               std::uint64_t size) const {
    const auto ranges = property(bus, "ranges");
    if (!ranges) return std::nullopt;     // a bus without "ranges" is not memory-mapped
    if (ranges->empty()) return address;  // identity mapping
    const auto child_cells = address_cells(bus);
    const auto parent_cells = address_cells(bus_parent);
    const auto length_cells = size_cells(bus);
    if (!child_cells || !parent_cells || !length_cells || *child_cells > 2 || *parent_cells > 2 || *length_cells > 2)
        return std::nullopt;
    const std::size_t entry_size = 4 * (*child_cells + *parent_cells + *length_cells);
    if (entry_size == 0 || ranges->size() % entry_size != 0) return std::nullopt;
    for (std::size_t offset = 0; offset < ranges->size(); offset += entry_size) {
        const auto child_base = read_cells(*ranges, offset, *child_cells);
        const auto parent_base = read_cells(*ranges, offset + 4 * *child_cells, *parent_cells);
        const auto length = read_cells(*ranges, offset + 4 * (*child_cells + *parent_cells), *length_cells);
        if (address < child_base || address - child_base >= length) continue;
        const auto displacement = address - child_base;
        if (size > length - displacement) continue;  // straddles the window
        if (displacement > std::numeric_limits<std::uint64_t>::max() - parent_base) return std::nullopt;
        return parent_base + displacement;
    }
    return std::nullopt;
}

std::optional<HostPhysRange> DeviceTree::reg_entry(Node node, std::size_t index) const {
    const auto path = path_to(node);
    if (!path || path->depth < 2) return std::nullopt;
    const auto& nodes = path->nodes;
    const Node parent_node = nodes[path->depth - 2];
    const auto address_cell_count = address_cells(parent_node);
    const auto size_cell_count = size_cells(parent_node);
    if (!address_cell_count || !size_cell_count) return std::nullopt;
    const auto raw = raw_reg_with_cells(node, index, *address_cell_count, *size_cell_count);
    if (!raw) return std::nullopt;
    std::uint64_t address = raw->address;
    // Climb from the node's parent to just below the root; the root's address
    // space is the CPU's.
    for (std::size_t bus = path->depth - 2; bus > 0; --bus) {
        const auto translated = translate_through_bus(nodes[bus], nodes[bus - 1], address, raw->size);
        if (!translated) return std::nullopt;
        address = *translated;
    }
    if (raw->size > std::numeric_limits<std::uint64_t>::max() - address) return std::nullopt;
    return HostPhysRange{HostPhysAddr{address}, raw->size};
}

}  // namespace lamina::fdt
