// Writes a Flattened Device Tree blob (version 17) into a caller-provided
// buffer, node by node, in the order the DTB stores it:
//
//   FdtWriter writer{buffer};
//   writer.add_memory_reservation(base, size);   // optional, before any node
//   writer.begin_node("");                       // the root
//   writer.property_u32("#address-cells", 2);
//   writer.begin_node("memory@40000000");
//   ...
//   writer.end_node();
//   writer.end_node();
//   auto size = writer.finish();                 // blob = buffer[0, *size)
//
// Misuse (a buffer too small, unbalanced nodes, a property after a child
// node, a bad name) is recorded, later calls do nothing, and finish() reports
// the first error. The writer never writes outside its buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string_view>

#include "bytes.hpp"
#include "result.hpp"

namespace lamina::fdt {

class FdtWriter final {
public:
    explicit FdtWriter(std::span<std::byte> buffer);

    void set_boot_cpu_id(std::uint32_t id) { boot_cpu_id_ = id; }
    // Only before the first node.
    void add_memory_reservation(std::uint64_t address, std::uint64_t size);

    // The first node must be the root, named "".
    void begin_node(std::string_view name);
    void end_node();

    // Properties of the innermost open node, before any of its children.
    void property(std::string_view name, ByteSpan value);
    void property_empty(std::string_view name);
    void property_u32(std::string_view name, std::uint32_t value);
    void property_u64(std::string_view name, std::uint64_t value);  // two cells, high first
    void property_cells(std::string_view name, std::span<const std::uint32_t> cells);
    void property_cells(std::string_view name, std::initializer_list<std::uint32_t> cells);
    void property_string(std::string_view name, std::string_view value);
    void property_string_list(std::string_view name, std::span<const std::string_view> values);
    void property_string_list(std::string_view name, std::initializer_list<std::string_view> values);

    // Completes the blob; returns its total size. Repeatable once successful.
    [[nodiscard]] Result<std::size_t> finish();

    [[nodiscard]] bool ok() const { return !error_.has_value(); }
    [[nodiscard]] Status status() const { return error_ ? Status{*error_} : Status{}; }

private:
    void fail(Error error);
    [[nodiscard]] bool usable();
    [[nodiscard]] std::size_t free_space() const;
    [[nodiscard]] std::optional<std::span<std::byte>> claim(std::size_t bytes);
    [[nodiscard]] std::optional<std::uint32_t> intern_string(std::string_view text);
    [[nodiscard]] bool start_structure();
    // Writes a property header and returns its zeroed, padded value area.
    [[nodiscard]] std::optional<std::span<std::byte>> begin_property(std::string_view name, std::size_t length);
    void resolve_name_offsets();

    std::span<std::byte> buffer_;
    std::size_t capacity_;         // usable bytes: DTB offsets are 32-bit
    std::size_t front_;            // end of header + reservations + structure so far
    std::size_t struct_start_{0};  // 0 until the root node begins
    std::size_t strings_size_{0};  // strings grow down from the buffer's end
    std::size_t depth_{0};
    bool properties_allowed_{false};
    bool finished_{false};
    std::uint32_t boot_cpu_id_{0};
    std::size_t total_size_{0};
    std::optional<Error> error_;
};

}  // namespace lamina::fdt
