#include "fdt.hpp"

#include <cstddef>
#include <optional>

namespace guest {
namespace {

constexpr std::uint32_t kMagic = 0xd00dfeed;
constexpr std::uint32_t kHeaderBytes = 40;
// Version 17 introduced size_dt_struct, which the bounds checks rely on.
constexpr std::uint32_t kMinVersion = 17;

constexpr std::uint32_t kBeginNode = 1;
constexpr std::uint32_t kEndNode = 2;
constexpr std::uint32_t kProperty = 3;
constexpr std::uint32_t kNop = 4;
constexpr std::uint32_t kEnd = 9;

// Nodes deeper than this are skipped; the guests only look at depth <= 2.
constexpr unsigned kTrackedDepth = 3;

// A window onto part of the blob. Byte-at-a-time loads: the blob is only
// guaranteed 8-byte aligned as a whole, and MMU-off accesses must be aligned.
class Window final {
public:
    Window(const unsigned char* base, std::size_t size) : base_{base}, size_{size} {}

    [[nodiscard]] std::size_t size() const { return size_; }

    [[nodiscard]] std::optional<std::uint32_t> be32(std::size_t offset) const {
        if (offset > size_ || size_ - offset < 4) return std::nullopt;
        std::uint32_t value = 0;
        for (std::size_t i = 0; i < 4; ++i) value = (value << 8) | base_[offset + i];
        return value;
    }

    // The NUL-terminated string at `offset`, which must end inside the window.
    [[nodiscard]] std::optional<std::string_view> c_string(std::size_t offset) const {
        for (std::size_t end = offset; end < size_; ++end)
            if (base_[end] == 0)
                return std::string_view{reinterpret_cast<const char*>(base_ + offset), end - offset};
        return std::nullopt;
    }

    // A sub-window, or nullopt when it would not fit.
    [[nodiscard]] std::optional<Window> slice(std::size_t offset, std::size_t length) const {
        if (offset > size_ || size_ - offset < length) return std::nullopt;
        return Window{base_ + offset, length};
    }

    // A big-endian number of `cells` 32-bit cells starting at cell `index`.
    [[nodiscard]] std::optional<std::uint64_t> cells(std::size_t index, std::uint32_t cells) const {
        std::uint64_t value = 0;
        for (std::uint32_t i = 0; i < cells; ++i) {
            const auto cell = be32((index + i) * 4);
            if (!cell) return std::nullopt;
            value = (value << 32) | *cell;
        }
        return value;
    }

private:
    const unsigned char* base_;
    std::size_t size_;
};

[[nodiscard]] constexpr std::size_t round_up_to_4(std::size_t n) { return (n + 3) & ~std::size_t{3}; }

[[nodiscard]] bool is_memory_node(std::string_view name) {
    return name == "memory" || name.starts_with("memory@");
}

// Walks the structure block once, collecting the facts as it goes.
class StructureWalk final {
public:
    StructureWalk(Window structure, Window strings) : structure_{structure}, strings_{strings} {}

    [[nodiscard]] std::string_view run(DeviceTreeFacts& facts);

private:
    [[nodiscard]] std::string_view begin_node(std::size_t& offset, DeviceTreeFacts& facts);
    [[nodiscard]] std::string_view property(std::size_t& offset, DeviceTreeFacts& facts);
    void use_property(std::string_view name, Window value, DeviceTreeFacts& facts);

    Window structure_;
    Window strings_;
    unsigned depth_{0};                           // 1 inside the root node
    std::string_view path_[kTrackedDepth + 1]{};  // path_[d]: the open node at depth d
    std::uint32_t address_cells_{2};              // the root's; the spec's defaults
    std::uint32_t size_cells_{1};
    bool memory_found_{false};
};

std::string_view StructureWalk::run(DeviceTreeFacts& facts) {
    std::size_t offset = 0;
    for (;;) {
        const auto token = structure_.be32(offset);
        if (!token) return "structure block ends without FDT_END";
        offset += 4;
        std::string_view error{};
        switch (*token) {
            case kBeginNode: error = begin_node(offset, facts); break;
            case kProperty: error = property(offset, facts); break;
            case kNop: break;
            case kEndNode:
                if (depth_ == 0) return "unbalanced FDT_END_NODE";
                --depth_;
                break;
            case kEnd: return depth_ == 0 ? std::string_view{} : "FDT_END inside a node";
            default: return "unknown structure token";
        }
        if (!error.empty()) return error;
    }
}

std::string_view StructureWalk::begin_node(std::size_t& offset, DeviceTreeFacts& facts) {
    const auto name = structure_.c_string(offset);
    if (!name) return "node name runs off the structure block";
    offset += round_up_to_4(name->size() + 1);
    ++depth_;
    if (depth_ <= kTrackedDepth) path_[depth_] = *name;
    // Children of /cpus named cpu@N are the vCPUs (not e.g. cpu-map).
    if (depth_ == 3 && path_[2] == "cpus" && name->starts_with("cpu@")) ++facts.cpu_count;
    return {};
}

std::string_view StructureWalk::property(std::size_t& offset, DeviceTreeFacts& facts) {
    const auto length = structure_.be32(offset);
    const auto name_offset = structure_.be32(offset + 4);
    if (!length || !name_offset) return "property header runs off the structure block";
    offset += 8;
    const auto value = structure_.slice(offset, *length);
    if (!value) return "property value runs off the structure block";
    offset += round_up_to_4(*length);
    const auto name = strings_.c_string(*name_offset);
    if (!name) return "property name runs off the strings block";
    use_property(*name, *value, facts);
    return {};
}

void StructureWalk::use_property(std::string_view name, Window value, DeviceTreeFacts& facts) {
    if (depth_ == 1) {
        // Properties precede subnodes, so these are known before /memory.
        if (name == "#address-cells") address_cells_ = value.be32(0).value_or(address_cells_);
        if (name == "#size-cells") size_cells_ = value.be32(0).value_or(size_cells_);
        return;
    }
    if (depth_ != 2) return;
    if (path_[2] == "chosen" && name == "bootargs") {
        // Drop the terminating NUL (and anything after an embedded one).
        const auto text = value.c_string(0);
        facts.bootargs = text ? *text : std::string_view{};
    }
    if (is_memory_node(path_[2]) && name == "reg" && !memory_found_) {
        if (address_cells_ == 0 || address_cells_ > 2 || size_cells_ == 0 || size_cells_ > 2) return;
        const auto base = value.cells(0, address_cells_);
        const auto size = value.cells(address_cells_, size_cells_);
        if (!base || !size) return;
        facts.ram_base = *base;
        facts.ram_size = *size;
        memory_found_ = true;
    }
}

}  // namespace

DeviceTreeResult read_device_tree(const unsigned char* blob) {
    DeviceTreeResult result{};
    const Window header{blob, kHeaderBytes};
    if (header.be32(0) != kMagic) {
        result.error = "bad magic";
        return result;
    }
    const auto total_size = *header.be32(4);
    const auto structure_offset = *header.be32(8);
    const auto strings_offset = *header.be32(12);
    const auto version = *header.be32(20);
    const auto strings_size = *header.be32(32);
    const auto structure_size = *header.be32(36);
    if (total_size < kHeaderBytes || total_size > kMaxDeviceTreeBytes) {
        result.error = "implausible totalsize";
        return result;
    }
    if (version < kMinVersion) {
        result.error = "version older than 17";
        return result;
    }
    const Window whole{blob, total_size};
    const auto structure = whole.slice(structure_offset, structure_size);
    const auto strings = whole.slice(strings_offset, strings_size);
    if (!structure || !strings) {
        result.error = "blocks outside totalsize";
        return result;
    }
    result.facts.blob_size = total_size;
    StructureWalk walk{*structure, *strings};
    result.error = walk.run(result.facts);
    return result;
}

}  // namespace guest
