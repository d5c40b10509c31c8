#include "bundle.hpp"

#include <algorithm>
#include <optional>

#include "crc32.hpp"
#include "types.hpp"

namespace lamina {

namespace {

namespace wire = bundle_format;  // the on-disk layout

// Reads a field the caller has already proven to be in bounds. value_or
// keeps this total (never throws, never reads past the span) regardless.
template <typename T>
[[nodiscard]] T field(ByteSpan bytes, std::size_t offset) {
    return load_le<T>(bytes, offset).value_or(T{0});
}

// Searches here use predicate algorithms: std::find and string_view::find may
// lower to memchr, which the freestanding image does not provide.
[[nodiscard]] bool all_zero(ByteSpan bytes) {
    return std::all_of(bytes.begin(), bytes.end(), [](std::byte b) { return b == std::byte{0}; });
}

[[nodiscard]] std::string_view as_text(ByteSpan bytes) {
    // Viewing bytes as chars is allowed aliasing; the text is validated by the caller.
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

struct Header final {
    std::uint32_t version{0};
    std::uint32_t header_size{0};
    std::uint32_t vm_count{0};
    std::uint32_t vm_record_size{0};
    std::uint64_t vm_table_offset{0};
    std::uint64_t total_size{0};
    std::uint32_t metadata_crc32{0};
};

[[nodiscard]] Header read_header(ByteSpan bytes) {
    return Header{
        .version = field<std::uint32_t>(bytes, wire::header::kVersion),
        .header_size = field<std::uint32_t>(bytes, wire::header::kHeaderSize),
        .vm_count = field<std::uint32_t>(bytes, wire::header::kVmCount),
        .vm_record_size = field<std::uint32_t>(bytes, wire::header::kVmRecordSize),
        .vm_table_offset = field<std::uint64_t>(bytes, wire::header::kVmTableOffset),
        .total_size = field<std::uint64_t>(bytes, wire::header::kTotalSize),
        .metadata_crc32 = field<std::uint32_t>(bytes, wire::header::kMetadataCrc32),
    };
}

[[nodiscard]] bool has_magic(ByteSpan bytes) {
    for (std::size_t i = 0; i < wire::kMagic.size(); ++i)
        if (bytes[wire::header::kMagic + i] != static_cast<std::byte>(wire::kMagic[i])) return false;
    return true;
}

// Version, sizes and counts: everything that fixes how to read the rest.
[[nodiscard]] Status check_layout(const Header& header) {
    if (header.version != wire::kVersion) return Error{"boot bundle version is not 1"};
    if (header.header_size != wire::kHeaderSize) return Error{"boot bundle header_size is not 64"};
    if (header.vm_record_size != wire::kVmRecordSize) return Error{"boot bundle vm_record_size is not 128"};
    if (header.vm_count > wire::kMaxVmCount) return Error{"boot bundle vm_count exceeds 64"};
    return {};
}

[[nodiscard]] Status check_extent(const Header& header, std::size_t available) {
    if (header.total_size < wire::kHeaderSize) return Error{"boot bundle total_size is smaller than its header"};
    if (header.total_size > available) return Error{"boot bundle total_size exceeds the bytes loaded (truncated?)"};
    if (header.vm_table_offset < header.header_size) return Error{"boot bundle VM table overlaps the header"};
    if (!is_aligned(header.vm_table_offset, wire::kVmTableAlignment))
        return Error{"boot bundle VM table offset is not 8-byte aligned"};
    // Written as subtractions so hostile values cannot wrap around.
    const std::uint64_t table_size = std::uint64_t{header.vm_count} * wire::kVmRecordSize;
    if (header.vm_table_offset > header.total_size || table_size > header.total_size - header.vm_table_offset)
        return Error{"boot bundle VM table extends past total_size"};
    return {};
}

// Where one payload of a record lives, and how to complain about it.
struct PayloadField final {
    std::size_t offset_field;
    std::size_t size_field;
    Error out_of_bounds;
    Error misaligned;
    Error stray_offset;  // size 0 (absent) but a nonzero offset
};

constexpr PayloadField kKernelField{
    .offset_field = wire::record::kKernelOffset,
    .size_field = wire::record::kKernelSize,
    .out_of_bounds = Error{"kernel lies outside the bundle's payload area"},
    .misaligned = Error{"kernel offset is not 4096-byte aligned"},
    .stray_offset = Error{"kernel_size is zero"},  // the bigger problem for a kernel
};
constexpr PayloadField kInitrdField{
    .offset_field = wire::record::kInitrdOffset,
    .size_field = wire::record::kInitrdSize,
    .out_of_bounds = Error{"initrd lies outside the bundle's payload area"},
    .misaligned = Error{"initrd offset is not 4096-byte aligned"},
    .stray_offset = Error{"initrd_size is zero but initrd_offset is not"},
};
constexpr PayloadField kCmdlineField{
    .offset_field = wire::record::kCmdlineOffset,
    .size_field = wire::record::kCmdlineSize,
    .out_of_bounds = Error{"cmdline lies outside the bundle's payload area"},
    .misaligned = Error{"cmdline offset is not 4096-byte aligned"},
    .stray_offset = Error{"cmdline_size is zero but cmdline_offset is not"},
};

// A payload must sit after the VM table (it may not alias metadata) and end
// within total_size. Payloads may overlap each other: VMs can share a kernel.
// An absent payload (size 0) must have offset 0 too, so stray values stand out.
[[nodiscard]] Result<ByteSpan> payload(ByteSpan bundle, std::uint64_t payload_area_start, ByteSpan record,
                                       const PayloadField& which) {
    const auto offset = field<std::uint64_t>(record, which.offset_field);
    const auto size = field<std::uint64_t>(record, which.size_field);
    if (size == 0) {
        if (offset != 0) return which.stray_offset;
        return ByteSpan{};
    }
    if (offset < payload_area_start || offset > bundle.size() || size > bundle.size() - offset)
        return which.out_of_bounds;
    if (!is_aligned(offset, wire::kPayloadAlignment)) return which.misaligned;
    return bundle.subspan(offset, size);
}

[[nodiscard]] Result<std::string_view> decode_name(ByteSpan record) {
    const ByteSpan field_bytes = record.subspan(wire::record::kName, wire::kNameFieldSize);
    const auto terminator =
        std::find_if(field_bytes.begin(), field_bytes.end(), [](std::byte b) { return b == std::byte{0}; });
    if (terminator == field_bytes.end()) return Error{"VM name is not NUL-terminated"};
    if (!all_zero(ByteSpan{terminator, field_bytes.end()})) return Error{"VM name has bytes after its NUL terminator"};
    const std::string_view name =
        as_text(field_bytes.first(static_cast<std::size_t>(terminator - field_bytes.begin())));
    if (name.empty()) return Error{"VM name is empty"};
    if (!wire::is_valid_name(name)) return Error{"VM name has characters outside [A-Za-z0-9._-]"};
    return name;
}

[[nodiscard]] Result<std::string_view> decode_cmdline(ByteSpan bundle, std::uint64_t payload_area_start,
                                                      ByteSpan record) {
    // Checked before the bounds so an oversized command line says so plainly.
    if (field<std::uint64_t>(record, wire::record::kCmdlineSize) > wire::kMaxCmdlineSize)
        return Error{"cmdline is longer than 2048 bytes"};
    const auto bytes = payload(bundle, payload_area_start, record, kCmdlineField);
    if (!bytes) return bytes.error();
    const std::string_view cmdline = as_text(*bytes);
    // It becomes a C string in the guest's device tree: a NUL would cut it short.
    if (std::any_of(cmdline.begin(), cmdline.end(), [](char c) { return c == '\0'; }))
        return Error{"cmdline contains a NUL byte"};
    return cmdline;
}

[[nodiscard]] Status check_reserved_fields(ByteSpan record) {
    if (field<std::uint32_t>(record, wire::record::kFlags) != 0) return Error{"VM flags are not zero (reserved)"};
    if (!all_zero(record.subspan(wire::record::kReserved, wire::record::kReservedSize)))
        return Error{"VM record reserved bytes are not zero"};
    return {};
}

}  // namespace

std::optional<std::uint32_t> bundle_format::metadata_crc32(ByteSpan bundle) {
    if (bundle.size() < kHeaderSize) return std::nullopt;
    const auto table_offset = field<std::uint64_t>(bundle, header::kVmTableOffset);
    const auto vm_count = field<std::uint32_t>(bundle, header::kVmCount);
    // vm_count is unchecked here: widen before multiplying so it cannot wrap.
    const std::uint64_t table_size = std::uint64_t{vm_count} * kVmRecordSize;
    if (table_offset > bundle.size() || table_size > bundle.size() - table_offset) return std::nullopt;

    Crc32 crc{};
    constexpr std::size_t kAfterCrc = header::kMetadataCrc32 + sizeof(std::uint32_t);
    crc.update(bundle.first(header::kMetadataCrc32));
    crc.update_zeros(sizeof(std::uint32_t));
    crc.update(bundle.subspan(kAfterCrc, kHeaderSize - kAfterCrc));
    crc.update(bundle.subspan(static_cast<std::size_t>(table_offset), static_cast<std::size_t>(table_size)));
    return crc.value();
}

Result<BootBundle> BootBundle::parse(ByteSpan bytes) {
    if (bytes.size() < wire::kHeaderSize) return Error{"boot bundle is shorter than its 64-byte header"};
    if (!has_magic(bytes)) return Error{"boot bundle magic is not \"LAMINABN\""};
    const Header header = read_header(bytes);
    if (const Status layout = check_layout(header); !layout) return layout.error();
    if (const Status extent = check_extent(header, bytes.size()); !extent) return extent.error();
    if (!all_zero(bytes.subspan(wire::header::kReserved, wire::header::kReservedSize)))
        return Error{"boot bundle header reserved bytes are not zero"};
    const ByteSpan bundle = bytes.first(static_cast<std::size_t>(header.total_size));
    if (wire::metadata_crc32(bundle) != header.metadata_crc32)
        return Error{"boot bundle metadata CRC-32 mismatch (corrupted header or VM table)"};
    return BootBundle{bundle, header.vm_count, header.vm_table_offset};
}

Result<VmImageSpec> BootBundle::vm(std::uint32_t index) const {
    if (index >= vm_count_) return Error{"VM index is out of range"};
    const ByteSpan record = record_bytes(index);
    const std::uint64_t payload_area_start = vm_table_offset_ + std::uint64_t{vm_count_} * wire::kVmRecordSize;

    const auto name = decode_name(record);
    if (!name) return name.error();
    if (name_repeats_earlier_vm(index)) return Error{"VM name repeats an earlier VM's name"};
    if (const Status reserved = check_reserved_fields(record); !reserved) return reserved.error();
    const auto kernel = payload(bundle_, payload_area_start, record, kKernelField);
    if (!kernel) return kernel.error();
    if (kernel->empty()) return Error{"kernel_size is zero"};  // a VM needs something to boot
    const auto initrd = payload(bundle_, payload_area_start, record, kInitrdField);
    if (!initrd) return initrd.error();
    const auto cmdline = decode_cmdline(bundle_, payload_area_start, record);
    if (!cmdline) return cmdline.error();

    const auto stored_weight = field<std::uint32_t>(record, wire::record::kWeight);
    return VmImageSpec{
        .name = *name,
        .memory_bytes = field<std::uint64_t>(record, wire::record::kMemoryBytes),
        .vcpu_count = field<std::uint32_t>(record, wire::record::kVcpuCount),
        .weight = stored_weight == 0 ? wire::kDefaultWeight : stored_weight,
        .cap_percent = field<std::uint32_t>(record, wire::record::kCapPercent),
        .pinned_cpu_mask = field<std::uint64_t>(record, wire::record::kPinnedCpuMask),
        .kernel = *kernel,
        .initrd = *initrd,
        .cmdline = *cmdline,
    };
}

ByteSpan BootBundle::record_bytes(std::uint32_t index) const {
    // parse() proved the whole table lies inside bundle_.
    return bundle_.subspan(vm_table_offset_ + std::size_t{index} * wire::kVmRecordSize, wire::kVmRecordSize);
}

// Names identify VMs on the console; two VMs with one name would be ambiguous,
// so the later one is refused and the first still starts.
bool BootBundle::name_repeats_earlier_vm(std::uint32_t index) const {
    const ByteSpan name = record_bytes(index).first(wire::kNameFieldSize);
    for (std::uint32_t earlier = 0; earlier < index; ++earlier) {
        const ByteSpan other = record_bytes(earlier).first(wire::kNameFieldSize);
        if (std::equal(name.begin(), name.end(), other.begin(), other.end())) return true;
    }
    return false;
}

}  // namespace lamina
