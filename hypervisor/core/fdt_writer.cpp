#include "fdt_writer.hpp"

#include <algorithm>
#include <limits>

#include "fdt.hpp"

namespace lamina::fdt {

namespace {

constexpr Error kBufferTooSmall{"device tree writer: buffer too small"};

[[nodiscard]] constexpr std::size_t align4(std::size_t size) { return (size + 3) & ~std::size_t{3}; }

// Stores are bounds-checked so a logic slip cannot write outside the span.
template <typename T>
void store_be(std::span<std::byte> out, std::size_t offset, T value) {
    if (offset > out.size() || out.size() - offset < sizeof(T)) return;
    for (std::size_t i = 0; i < sizeof(T); ++i)
        out[offset + i] = static_cast<std::byte>(value >> (8 * (sizeof(T) - 1 - i)));
}

void store_token(std::span<std::byte> out, std::size_t offset, Token token) {
    store_be(out, offset, static_cast<std::uint32_t>(token));
}

void store_text(std::span<std::byte> out, std::size_t offset, std::string_view text) {
    if (offset > out.size() || out.size() - offset < text.size()) return;
    for (std::size_t i = 0; i < text.size(); ++i) out[offset + i] = static_cast<std::byte>(text[i]);
}

[[nodiscard]] bool contains_char(std::string_view text, char wanted) {
    return std::any_of(text.begin(), text.end(), [wanted](char c) { return c == wanted; });
}

[[nodiscard]] bool is_valid_node_name(std::string_view name) {
    return !name.empty() && !contains_char(name, '/') && !contains_char(name, '\0');
}

[[nodiscard]] bool is_valid_property_name(std::string_view name) { return !name.empty() && !contains_char(name, '\0'); }

// Whether `text` followed by a NUL sits at `offset` of `bytes`.
[[nodiscard]] bool terminated_text_at(std::span<const std::byte> bytes, std::size_t offset, std::string_view text) {
    if (offset > bytes.size() || bytes.size() - offset < text.size() + 1) return false;
    for (std::size_t i = 0; i < text.size(); ++i)
        if (bytes[offset + i] != static_cast<std::byte>(text[i])) return false;
    return bytes[offset + text.size()] == std::byte{0};
}

}  // namespace

FdtWriter::FdtWriter(std::span<std::byte> buffer)
    : buffer_{buffer},
      capacity_{std::min<std::size_t>(buffer.size(), std::numeric_limits<std::uint32_t>::max())},
      front_{header::kSizeV17} {
    if (capacity_ < header::kSizeV17) fail(kBufferTooSmall);
}

void FdtWriter::fail(Error error) {
    if (!error_) error_ = error;
}

bool FdtWriter::usable() {
    if (finished_) fail(Error{"device tree writer: used after finish"});
    return !error_;
}

std::size_t FdtWriter::free_space() const {
    if (front_ > capacity_ || strings_size_ > capacity_ - front_) return 0;
    return capacity_ - front_ - strings_size_;
}

std::optional<std::span<std::byte>> FdtWriter::claim(std::size_t bytes) {
    if (bytes > free_space()) {
        fail(kBufferTooSmall);
        return std::nullopt;
    }
    const auto area = buffer_.subspan(front_, bytes);
    front_ += bytes;
    return area;
}

// Returns the string's distance from the end of the buffer: stable while
// later strings are prepended, turned into a real offset by finish().
std::optional<std::uint32_t> FdtWriter::intern_string(std::string_view text) {
    const std::span<const std::byte> strings = buffer_.subspan(capacity_ - strings_size_, strings_size_);
    // Any earlier string ending in `text` can be shared.
    for (std::size_t offset = 0; offset + text.size() < strings.size(); ++offset)
        if (terminated_text_at(strings, offset, text)) return static_cast<std::uint32_t>(strings_size_ - offset);
    if (text.size() + 1 > free_space()) {
        fail(kBufferTooSmall);
        return std::nullopt;
    }
    strings_size_ += text.size() + 1;
    const std::size_t start = capacity_ - strings_size_;
    store_text(buffer_, start, text);
    buffer_[start + text.size()] = std::byte{0};
    return static_cast<std::uint32_t>(strings_size_);
}

void FdtWriter::add_memory_reservation(std::uint64_t address, std::uint64_t size) {
    if (!usable()) return;
    if (struct_start_ != 0) return fail(Error{"device tree writer: memory reservation after the first node"});
    const auto entry = claim(kReservationEntrySize);
    if (!entry) return;
    store_be(*entry, 0, address);
    store_be(*entry, 8, size);
}

// Ends the reservation block (with its all-zero entry) where the structure
// block starts.
bool FdtWriter::start_structure() {
    const auto terminator = claim(kReservationEntrySize);
    if (!terminator) return false;
    std::fill(terminator->begin(), terminator->end(), std::byte{0});
    struct_start_ = front_;
    return true;
}

void FdtWriter::begin_node(std::string_view name) {
    if (!usable()) return;
    if (struct_start_ == 0) {
        if (!name.empty()) return fail(Error{"device tree writer: the first node must be the root, named \"\""});
        if (!start_structure()) return;
    } else if (depth_ == 0) {
        return fail(Error{"device tree writer: a second root node"});
    } else if (!is_valid_node_name(name)) {
        return fail(Error{"device tree writer: invalid node name"});
    }
    if (depth_ == kMaxDepth) return fail(Error{"device tree writer: nodes nested too deeply"});
    const auto area = claim(4 + align4(name.size() + 1));
    if (!area) return;
    std::fill(area->begin(), area->end(), std::byte{0});
    store_token(*area, 0, Token::begin_node);
    store_text(*area, 4, name);
    ++depth_;
    properties_allowed_ = true;
}

void FdtWriter::end_node() {
    if (!usable()) return;
    if (depth_ == 0) return fail(Error{"device tree writer: end_node without an open node"});
    const auto area = claim(4);
    if (!area) return;
    store_token(*area, 0, Token::end_node);
    --depth_;
    properties_allowed_ = false;  // the parent has a child now
}

std::optional<std::span<std::byte>> FdtWriter::begin_property(std::string_view name, std::size_t length) {
    if (!usable()) return std::nullopt;
    if (depth_ == 0) {
        fail(Error{"device tree writer: property outside any node"});
        return std::nullopt;
    }
    if (!properties_allowed_) {
        fail(Error{"device tree writer: property after a child node"});
        return std::nullopt;
    }
    if (!is_valid_property_name(name)) {
        fail(Error{"device tree writer: invalid property name"});
        return std::nullopt;
    }
    if (length > capacity_) {
        fail(kBufferTooSmall);
        return std::nullopt;
    }
    const auto name_distance = intern_string(name);
    if (!name_distance) return std::nullopt;
    const auto area = claim(12 + align4(length));
    if (!area) return std::nullopt;
    std::fill(area->begin(), area->end(), std::byte{0});
    store_token(*area, 0, Token::property);
    store_be(*area, 4, static_cast<std::uint32_t>(length));
    store_be(*area, 8, *name_distance);
    return area->subspan(12, length);
}

void FdtWriter::property(std::string_view name, ByteSpan value) {
    const auto area = begin_property(name, value.size());
    if (area) std::copy(value.begin(), value.end(), area->begin());
}

void FdtWriter::property_empty(std::string_view name) { (void)begin_property(name, 0); }

void FdtWriter::property_u32(std::string_view name, std::uint32_t value) {
    const auto area = begin_property(name, 4);
    if (area) store_be(*area, 0, value);
}

void FdtWriter::property_u64(std::string_view name, std::uint64_t value) {
    const auto area = begin_property(name, 8);
    if (area) store_be(*area, 0, value);
}

void FdtWriter::property_cells(std::string_view name, std::span<const std::uint32_t> cells) {
    if (cells.size() > capacity_ / 4) return fail(kBufferTooSmall);
    const auto area = begin_property(name, 4 * cells.size());
    if (!area) return;
    for (std::size_t i = 0; i < cells.size(); ++i) store_be(*area, 4 * i, cells[i]);
}

void FdtWriter::property_cells(std::string_view name, std::initializer_list<std::uint32_t> cells) {
    property_cells(name, std::span<const std::uint32_t>{cells.begin(), cells.size()});
}

void FdtWriter::property_string(std::string_view name, std::string_view value) {
    property_string_list(name, std::span<const std::string_view>{&value, 1});
}

void FdtWriter::property_string_list(std::string_view name, std::span<const std::string_view> values) {
    if (!usable()) return;
    std::size_t length = 0;
    for (const auto value : values) {
        if (contains_char(value, '\0')) return fail(Error{"device tree writer: string contains NUL"});
        if (value.size() >= capacity_ || length >= capacity_ - value.size()) return fail(kBufferTooSmall);
        length += value.size() + 1;
    }
    const auto area = begin_property(name, length);
    if (!area) return;
    std::size_t offset = 0;
    for (const auto value : values) {
        store_text(*area, offset, value);  // the NUL is already there: the area was zeroed
        offset += value.size() + 1;
    }
}

void FdtWriter::property_string_list(std::string_view name, std::initializer_list<std::string_view> values) {
    property_string_list(name, std::span<const std::string_view>{values.begin(), values.size()});
}

// Property name offsets were written as distances from the buffer's end;
// now that the strings block has its final size they become real offsets.
void FdtWriter::resolve_name_offsets() {
    const auto structure = buffer_.subspan(struct_start_, front_ - struct_start_);
    std::size_t offset = 0;
    while (offset < structure.size()) {
        const auto token = load_be<std::uint32_t>(structure, offset).value_or(static_cast<std::uint32_t>(Token::end));
        switch (static_cast<Token>(token)) {
            case Token::begin_node: {
                // Node names were written by begin_node: NUL-terminated and padded.
                std::size_t name_end = offset + 4;
                while (name_end < structure.size() && structure[name_end] != std::byte{0}) ++name_end;
                offset = align4(name_end + 1);
                break;
            }
            case Token::property: {
                const auto length = load_be<std::uint32_t>(structure, offset + 4).value_or(0);
                const auto distance = load_be<std::uint32_t>(structure, offset + 8).value_or(0);
                store_be(structure, offset + 8, static_cast<std::uint32_t>(strings_size_ - distance));
                offset += 12 + align4(length);
                break;
            }
            case Token::end_node:
            case Token::nop:
                offset += 4;
                break;
            case Token::end:
            default:
                return;
        }
    }
}

Result<std::size_t> FdtWriter::finish() {
    if (finished_ && !error_) return total_size_;
    if (!usable()) return *error_;
    if (struct_start_ == 0) fail(Error{"device tree writer: no root node"});
    if (depth_ != 0) fail(Error{"device tree writer: a node was not ended"});
    if (error_) return *error_;
    const auto end_token = claim(4);
    if (!end_token) return *error_;
    store_token(*end_token, 0, Token::end);
    resolve_name_offsets();

    // Close the gap: move the strings block down to follow the structure.
    const std::size_t strings_start = capacity_ - strings_size_;
    for (std::size_t i = 0; i < strings_size_; ++i) buffer_[front_ + i] = buffer_[strings_start + i];

    total_size_ = front_ + strings_size_;
    const auto header_area = buffer_.first(header::kSizeV17);
    const auto field = [&header_area](std::size_t offset, std::size_t value) {
        store_be(header_area, offset, static_cast<std::uint32_t>(value));
    };
    field(header::kMagic, kMagic);
    field(header::kTotalSize, total_size_);
    field(header::kStructOffset, struct_start_);
    field(header::kStringsOffset, front_);
    field(header::kReservationsOffset, header::kSizeV17);
    field(header::kVersion, kVersion);
    field(header::kLastCompatibleVersion, kLastCompatibleVersion);
    field(header::kBootCpuId, boot_cpu_id_);
    field(header::kStringsSize, strings_size_);
    field(header::kStructSize, front_ - struct_start_);
    finished_ = true;
    return total_size_;
}

}  // namespace lamina::fdt
