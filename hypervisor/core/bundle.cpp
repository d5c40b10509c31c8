#include "bundle.hpp"

#include <algorithm>
#include <array>
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
    std::uint32_t network_count{0};
    std::uint32_t device_count{0};
    std::uint32_t uplink_network{0};  // 0 = none, else 1 + network index
    std::uint32_t service_count{0};
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
        .network_count = field<std::uint32_t>(bytes, wire::header::kNetworkCount),
        .device_count = field<std::uint32_t>(bytes, wire::header::kDeviceCount),
        .uplink_network = field<std::uint32_t>(bytes, wire::header::kUplinkNetwork),
        .service_count = field<std::uint32_t>(bytes, wire::header::kServiceCount),
    };
}

[[nodiscard]] bool has_magic(ByteSpan bytes) {
    for (std::size_t i = 0; i < wire::kMagic.size(); ++i)
        if (bytes[wire::header::kMagic + i] != static_cast<std::byte>(wire::kMagic[i])) return false;
    return true;
}

// Version, sizes and counts: everything that fixes how to read the rest.
[[nodiscard]] Status check_layout(const Header& header) {
    if (header.version != wire::kVersion) return Error{"boot bundle version is not 2"};
    if (header.header_size != wire::kHeaderSize) return Error{"boot bundle header_size is not 64"};
    if (header.vm_record_size != wire::kVmRecordSize) return Error{"boot bundle vm_record_size is not 128"};
    if (header.vm_count > wire::kMaxVmCount) return Error{"boot bundle vm_count exceeds 64"};
    if (header.network_count > wire::kMaxNetworkCount) return Error{"boot bundle network_count exceeds 16"};
    if (header.device_count > wire::kMaxDeviceCount) return Error{"boot bundle device_count exceeds 256"};
    if (header.service_count > wire::kMaxServiceCount) return Error{"boot bundle service_count exceeds 4"};
    // 0 is "no uplink"; 1..network_count name a network.
    if (header.uplink_network > header.network_count)
        return Error{"boot bundle uplink_network names a network past network_count"};
    return {};
}

[[nodiscard]] Status check_extent(const Header& header, std::size_t available) {
    if (header.total_size < wire::kHeaderSize) return Error{"boot bundle total_size is smaller than its header"};
    if (header.total_size > available) return Error{"boot bundle total_size exceeds the bytes loaded (truncated?)"};
    if (header.vm_table_offset < header.header_size) return Error{"boot bundle VM table overlaps the header"};
    if (!is_aligned(header.vm_table_offset, wire::kVmTableAlignment))
        return Error{"boot bundle VM table offset is not 8-byte aligned"};
    // Written as subtractions so hostile values cannot wrap around. The
    // counts are already bounded, so the table sizes cannot.
    const std::uint64_t vm_table_size = std::uint64_t{header.vm_count} * wire::kVmRecordSize;
    if (header.vm_table_offset > header.total_size || vm_table_size > header.total_size - header.vm_table_offset)
        return Error{"boot bundle VM table extends past total_size"};
    const std::uint64_t network_table_offset = header.vm_table_offset + vm_table_size;
    const std::uint64_t network_table_size = std::uint64_t{header.network_count} * wire::kNetworkRecordSize;
    if (network_table_size > header.total_size - network_table_offset)
        return Error{"boot bundle network table extends past total_size"};
    const std::uint64_t device_table_offset = network_table_offset + network_table_size;
    const std::uint64_t device_table_size = std::uint64_t{header.device_count} * wire::kDeviceRecordSize;
    if (device_table_size > header.total_size - device_table_offset)
        return Error{"boot bundle device table extends past total_size"};
    const std::uint64_t service_table_offset = device_table_offset + device_table_size;
    const std::uint64_t service_table_size = std::uint64_t{header.service_count} * wire::kServiceRecordSize;
    if (service_table_size > header.total_size - service_table_offset)
        return Error{"boot bundle service table extends past total_size"};
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

// A payload must sit after the service table (it may not alias metadata) and end
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

// The text of a NUL-padded name field, up to its first NUL (all of it if none).
[[nodiscard]] std::string_view padded_text(ByteSpan field_bytes) {
    const auto terminator =
        std::find_if(field_bytes.begin(), field_bytes.end(), [](std::byte b) { return b == std::byte{0}; });
    return as_text(field_bytes.first(static_cast<std::size_t>(terminator - field_bytes.begin())));
}

// How to complain about one kind of name field (VM or network).
struct NameErrors final {
    Error unterminated;
    Error bytes_after_nul;
    Error empty;
    Error bad_characters;
};

constexpr NameErrors kVmNameErrors{
    .unterminated = Error{"VM name is not NUL-terminated"},
    .bytes_after_nul = Error{"VM name has bytes after its NUL terminator"},
    .empty = Error{"VM name is empty"},
    .bad_characters = Error{"VM name has characters outside [A-Za-z0-9._-]"},
};
constexpr NameErrors kServiceNameErrors{
    .unterminated = Error{"service name is not NUL-terminated (longer than 15 characters)"},
    .bytes_after_nul = Error{"service name has bytes after its NUL terminator"},
    .empty = Error{"service name is empty"},
    .bad_characters = Error{"service name has characters outside [A-Za-z0-9._-]"},
};
constexpr NameErrors kNetworkNameErrors{
    .unterminated = Error{"boot bundle network name is not NUL-terminated (longer than 15 characters)"},
    .bytes_after_nul = Error{"boot bundle network name has bytes after its NUL terminator"},
    .empty = Error{"boot bundle network name is empty"},
    .bad_characters = Error{"boot bundle network name has characters outside [A-Za-z0-9._-]"},
};

// A name from the safe charset, then NUL bytes to the end of the field.
[[nodiscard]] Result<std::string_view> decode_padded_name(ByteSpan field_bytes, const NameErrors& errors) {
    const std::string_view name = padded_text(field_bytes);
    if (name.size() == field_bytes.size()) return errors.unterminated;
    if (!all_zero(field_bytes.subspan(name.size()))) return errors.bytes_after_nul;
    if (name.empty()) return errors.empty;
    if (!wire::is_valid_name(name)) return errors.bad_characters;
    return name;
}

[[nodiscard]] Result<std::string_view> decode_name(ByteSpan record) {
    return decode_padded_name(record.subspan(wire::record::kName, wire::kNameFieldSize), kVmNameErrors);
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
    if ((field<std::uint32_t>(record, wire::record::kFlags) & ~wire::kVmFlagsKnown) != 0)
        return Error{"VM flags have bits other than template-only and best-effort set"};
    if (!all_zero(record.subspan(wire::record::kReserved, wire::record::kReservedSize)))
        return Error{"VM record reserved bytes are not zero"};
    return {};
}

// ---------------------------------------------------------------- networks and devices

[[nodiscard]] ByteSpan table_record(ByteSpan table, std::size_t index, std::size_t record_size) {
    return table.subspan(index * record_size, record_size);
}

// Network names are whole-bundle metadata: NICs and the uplink refer to them
// by index, so a bad one rejects the bundle.
[[nodiscard]] Status check_network_table(ByteSpan table) {
    const std::size_t count = table.size() / wire::kNetworkRecordSize;
    for (std::size_t i = 0; i < count; ++i) {
        const ByteSpan record = table_record(table, i, wire::kNetworkRecordSize);
        const auto name =
            decode_padded_name(record.subspan(wire::network_record::kName, wire::kNetworkNameFieldSize),
                               kNetworkNameErrors);
        if (!name) return name.error();
        if (!all_zero(record.subspan(wire::network_record::kReserved, wire::network_record::kReservedSize)))
            return Error{"boot bundle network record reserved bytes are not zero"};
        for (std::size_t earlier = 0; earlier < i; ++earlier) {
            const ByteSpan other = table_record(table, earlier, wire::kNetworkRecordSize);
            if (padded_text(other.first(wire::kNetworkNameFieldSize)) == *name)
                return Error{"boot bundle network name repeats an earlier network's name"};
        }
    }
    return {};
}

// A device belongs to a VM by index; one pointing past the VM table cannot be
// blamed on any VM, so it rejects the bundle.
[[nodiscard]] Status check_device_owners(ByteSpan table, std::uint32_t vm_count) {
    const std::size_t count = table.size() / wire::kDeviceRecordSize;
    for (std::size_t i = 0; i < count; ++i)
        if (field<std::uint32_t>(table_record(table, i, wire::kDeviceRecordSize), wire::device_record::kVmIndex) >=
            vm_count)
            return Error{"boot bundle device vm_index is not below vm_count"};
    return {};
}

constexpr std::size_t kMacSize = std::tuple_size_v<decltype(NicSpec::mac)>;

[[nodiscard]] Result<NicSpec> decode_nic(ByteSpan record, std::uint32_t network_count) {
    namespace field_at = wire::device_record;
    if (field<std::uint32_t>(record, field_at::kFlags) != 0) return Error{"NIC flags are not zero (reserved)"};
    // Everything after the MAC is unused by NICs: its padding, the disk fields, the reserved bytes.
    if (!all_zero(record.subspan(field_at::kMac + kMacSize)))
        return Error{"NIC record unused bytes are not zero"};
    NicSpec nic{.network = field<std::uint32_t>(record, field_at::kNetwork)};
    if (nic.network >= network_count) return Error{"NIC network index is not below network_count"};
    for (std::size_t i = 0; i < kMacSize; ++i) nic.mac[i] = field<std::uint8_t>(record, field_at::kMac + i);
    if ((nic.mac[0] & 1u) != 0) return Error{"NIC MAC address is multicast (bit 0 of its first byte is set)"};
    if (std::all_of(nic.mac.begin(), nic.mac.end(), [](std::uint8_t b) { return b == 0; }))
        return Error{"NIC MAC address is all zero"};
    return nic;
}

[[nodiscard]] Result<DiskSpec> decode_disk(ByteSpan record) {
    namespace field_at = wire::device_record;
    const auto flags = field<std::uint32_t>(record, field_at::kFlags);
    if ((flags & ~wire::kDiskFlagReadOnly) != 0) return Error{"disk flags have bits other than read-only set"};
    const auto backing = field<std::uint32_t>(record, field_at::kBacking);
    if (backing != static_cast<std::uint32_t>(DiskBacking::ram) &&
        backing != static_cast<std::uint32_t>(DiskBacking::board_disk))
        return Error{"disk backing is not 1 (RAM) or 2 (board disk)"};
    // Unused by disks: the 12 bytes between the backing and the offset, and the reserved bytes.
    constexpr std::size_t kAfterBacking = field_at::kBacking + sizeof(std::uint32_t);
    if (!all_zero(record.subspan(kAfterBacking, field_at::kOffset - kAfterBacking)) ||
        !all_zero(record.subspan(field_at::kReserved, field_at::kReservedSize)))
        return Error{"disk record unused bytes are not zero"};
    const DiskSpec disk{
        .backing = static_cast<DiskBacking>(backing),
        .offset_bytes = field<std::uint64_t>(record, field_at::kOffset),
        .size_bytes = field<std::uint64_t>(record, field_at::kSize),
        .read_only = (flags & wire::kDiskFlagReadOnly) != 0,
    };
    if (disk.size_bytes == 0 || !is_aligned(disk.size_bytes, wire::kDiskSectorSize))
        return Error{"disk size is not a non-zero multiple of 512"};
    if (!is_aligned(disk.offset_bytes, wire::kDiskSectorSize)) return Error{"disk offset is not a multiple of 512"};
    if (disk.backing == DiskBacking::ram && disk.offset_bytes != 0) return Error{"RAM disk offset is not zero"};
    if (disk.offset_bytes > ~std::uint64_t{0} - disk.size_bytes) return Error{"disk slice end overflows 64 bits"};
    return disk;
}

[[nodiscard]] bool is_board_slice(const DiskSpec& disk) { return disk.backing == DiskBacking::board_disk; }

[[nodiscard]] bool slices_overlap(const DiskSpec& a, const DiskSpec& b) {
    // decode_disk() proved neither end wraps.
    return is_board_slice(a) && is_board_slice(b) && a.offset_bytes < b.offset_bytes + b.size_bytes &&
           b.offset_bytes < a.offset_bytes + a.size_bytes;
}

// A VM's devices, collected from the table in order.
class DeviceCollector final {
public:
    DeviceCollector(ByteSpan table, std::uint32_t network_count) : table_{table}, network_count_{network_count} {}

    [[nodiscard]] Status collect(std::uint32_t vm_index, VmImageSpec& spec) const {
        for (std::size_t i = 0; i < count(); ++i) {
            const ByteSpan record = at(i);
            if (owner(record) != vm_index) continue;
            if (const Status added = add(record, spec); !added) return added;
        }
        if (const Status nics = check_nics(vm_index, spec); !nics) return nics;
        return check_disks(vm_index, spec);
    }

private:
    [[nodiscard]] std::size_t count() const { return table_.size() / wire::kDeviceRecordSize; }
    [[nodiscard]] ByteSpan at(std::size_t i) const { return table_record(table_, i, wire::kDeviceRecordSize); }
    [[nodiscard]] static std::uint32_t owner(ByteSpan record) {
        return field<std::uint32_t>(record, wire::device_record::kVmIndex);
    }
    [[nodiscard]] static std::uint32_t type(ByteSpan record) {
        return field<std::uint32_t>(record, wire::device_record::kType);
    }
    // Does `record` hold a device of `kind` that belongs to a VM before `vm_index`?
    [[nodiscard]] static bool of_earlier_vm(ByteSpan record, std::uint32_t vm_index, wire::DeviceType kind) {
        return owner(record) < vm_index && type(record) == static_cast<std::uint32_t>(kind);
    }

    [[nodiscard]] Status add(ByteSpan record, VmImageSpec& spec) const {
        switch (type(record)) {
            case static_cast<std::uint32_t>(wire::DeviceType::nic): {
                if (spec.nic_count == kMaxNicsPerVm) return Error{"VM has more than 4 NICs"};
                const auto nic = decode_nic(record, network_count_);
                if (!nic) return nic.error();
                spec.nics[spec.nic_count++] = *nic;
                return {};
            }
            case static_cast<std::uint32_t>(wire::DeviceType::disk): {
                if (spec.disk_count == kMaxDisksPerVm) return Error{"VM has more than 4 disks"};
                const auto disk = decode_disk(record);
                if (!disk) return disk.error();
                spec.disks[spec.disk_count++] = *disk;
                return {};
            }
            default:
                return Error{"device type is not 1 (NIC) or 2 (disk)"};
        }
    }

    // Conflicts with another VM are blamed on the later VM, so the first one
    // still starts. They are checked against the earlier VMs' device records
    // that are valid on their own, whether or not those VMs start.
    [[nodiscard]] Status check_nics(std::uint32_t vm_index, const VmImageSpec& spec) const {
        for (std::uint32_t i = 0; i < spec.nic_count; ++i) {
            for (std::uint32_t earlier = 0; earlier < i; ++earlier) {
                if (spec.nics[earlier].network == spec.nics[i].network)
                    return Error{"two NICs of the VM are on the same network"};
                if (spec.nics[earlier].mac == spec.nics[i].mac)
                    return Error{"NIC MAC address repeats another NIC of the VM"};
            }
            for (std::size_t other = 0; other < count(); ++other) {
                const ByteSpan record = at(other);
                if (!of_earlier_vm(record, vm_index, wire::DeviceType::nic)) continue;
                const auto nic = decode_nic(record, network_count_);
                if (nic && nic->mac == spec.nics[i].mac) return Error{"NIC MAC address repeats an earlier VM's NIC"};
            }
        }
        return {};
    }

    // Two VMs writing one stretch of the board's disk would corrupt each
    // other's file systems, read-only or not.
    [[nodiscard]] Status check_disks(std::uint32_t vm_index, const VmImageSpec& spec) const {
        for (std::uint32_t i = 0; i < spec.disk_count; ++i) {
            if (!is_board_slice(spec.disks[i])) continue;
            for (std::uint32_t earlier = 0; earlier < i; ++earlier)
                if (slices_overlap(spec.disks[earlier], spec.disks[i]))
                    return Error{"disk slice overlaps another disk slice of the VM"};
            for (std::size_t other = 0; other < count(); ++other) {
                const ByteSpan record = at(other);
                if (!of_earlier_vm(record, vm_index, wire::DeviceType::disk)) continue;
                const auto disk = decode_disk(record);
                if (disk && slices_overlap(*disk, spec.disks[i]))
                    return Error{"disk slice overlaps an earlier VM's disk slice"};
            }
        }
        return {};
    }

    ByteSpan table_;
    std::uint32_t network_count_;
};

// ---------------------------------------------------------------- services

// The settings of a service record that need nothing but the record itself.
[[nodiscard]] Status check_service_settings(const ServiceSpec& service) {
    namespace limit = wire::service_limits;
    if (service.port == 0) return Error{"service port is 0"};
    if (service.replica_prefix < limit::kMinReplicaPrefix || service.replica_prefix > limit::kMaxReplicaPrefix)
        return Error{"service replica prefix is not 1-32"};
    if (service.percentile < limit::kMinPercentile || service.percentile > limit::kMaxPercentile)
        return Error{"service objective percentile is not 50-99"};
    if (service.objective_us < limit::kMinObjectiveUs || service.objective_us > limit::kMaxObjectiveUs)
        return Error{"service objective latency is not 1 ms - 60 s"};
    if (service.window_s < limit::kMinWindowS || service.window_s > limit::kMaxWindowS)
        return Error{"service objective window is not 1-15 s"};
    if (service.max_replicas < limit::kMinMaxReplicas || service.max_replicas > limit::kMaxReplicas)
        return Error{"service max_replicas is not 1-8"};
    if (service.min_replicas > service.max_replicas) return Error{"service min_replicas exceeds max_replicas"};
    if (service.scale_up_window_ms < limit::kMinScaleUpWindowMs ||
        service.scale_up_window_ms > limit::kMaxScaleUpWindowMs)
        return Error{"service scale-up window is not 1-60 s"};
    if (service.scale_down_window_ms < limit::kMinScaleDownWindowMs ||
        service.scale_down_window_ms > limit::kMaxScaleDownWindowMs)
        return Error{"service scale-down window is not 1-600 s"};
    if (service.drain_grace_ms < limit::kMinDrainGraceMs || service.drain_grace_ms > limit::kMaxDrainGraceMs)
        return Error{"service drain grace is not 1-600 s"};
    return {};
}

}  // namespace

std::optional<std::uint32_t> bundle_format::metadata_crc32(ByteSpan bundle) {
    if (bundle.size() < kHeaderSize) return std::nullopt;
    const auto table_offset = field<std::uint64_t>(bundle, header::kVmTableOffset);
    // The counts are unchecked here: widen before multiplying so nothing can
    // wrap (the sum stays below 2^41).
    const std::uint64_t table_size =
        std::uint64_t{field<std::uint32_t>(bundle, header::kVmCount)} * kVmRecordSize +
        std::uint64_t{field<std::uint32_t>(bundle, header::kNetworkCount)} * kNetworkRecordSize +
        std::uint64_t{field<std::uint32_t>(bundle, header::kDeviceCount)} * kDeviceRecordSize +
        std::uint64_t{field<std::uint32_t>(bundle, header::kServiceCount)} * kServiceRecordSize;
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
    const std::optional<std::uint32_t> uplink =
        header.uplink_network == 0 ? std::nullopt : std::optional{header.uplink_network - 1};
    const BootBundle parsed{bundle,
                            Tables{.vm_table_offset = header.vm_table_offset,
                                   .vm_count = header.vm_count,
                                   .network_count = header.network_count,
                                   .device_count = header.device_count,
                                   .service_count = header.service_count},
                            uplink};
    if (const Status networks = check_network_table(parsed.network_table()); !networks) return networks.error();
    if (const Status owners = check_device_owners(parsed.device_table(), header.vm_count); !owners)
        return owners.error();
    return parsed;
}

std::string_view BootBundle::network_name(std::uint32_t index) const {
    if (index >= network_count_) return {};
    return padded_text(
        table_record(network_table(), index, wire::kNetworkRecordSize).first(wire::kNetworkNameFieldSize));
}

Result<VmImageSpec> BootBundle::vm(std::uint32_t index) const {
    if (index >= vm_count_) return Error{"VM index is out of range"};
    const ByteSpan record = record_bytes(index);
    const std::uint64_t payload_area_start = this->payload_area_start();

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
    const auto flags = field<std::uint32_t>(record, wire::record::kFlags);
    VmImageSpec spec{
        .name = *name,
        .memory_bytes = field<std::uint64_t>(record, wire::record::kMemoryBytes),
        .vcpu_count = field<std::uint32_t>(record, wire::record::kVcpuCount),
        .weight = stored_weight == 0 ? wire::kDefaultWeight : stored_weight,
        .cap_percent = field<std::uint32_t>(record, wire::record::kCapPercent),
        .pinned_cpu_mask = field<std::uint64_t>(record, wire::record::kPinnedCpuMask),
        .kernel = *kernel,
        .initrd = *initrd,
        .cmdline = *cmdline,
        .start_at_boot = (flags & wire::kVmFlagTemplateOnly) == 0,
        .best_effort = (flags & wire::kVmFlagBestEffort) != 0,
    };
    if (const Status devices = DeviceCollector{device_table(), network_count_}.collect(index, spec); !devices)
        return devices.error();
    return spec;
}

Result<ServiceSpec> BootBundle::service(std::uint32_t index) const {
    namespace field_at = wire::service_record;
    if (index >= service_count_) return Error{"service index is out of range"};
    const ByteSpan table = service_table();
    const ByteSpan record = table_record(table, index, wire::kServiceRecordSize);

    const auto name = decode_padded_name(record.subspan(field_at::kName, wire::kServiceNameFieldSize),
                                         kServiceNameErrors);
    if (!name) return name.error();
    // Services are named on the console and in the management API: the later of two is refused.
    for (std::uint32_t earlier = 0; earlier < index; ++earlier) {
        const ByteSpan other = table_record(table, earlier, wire::kServiceRecordSize);
        if (padded_text(other.first(wire::kServiceNameFieldSize)) == *name)
            return Error{"service name repeats an earlier service's name"};
    }
    if (!all_zero(record.subspan(field_at::kReserved, field_at::kReservedSize)))
        return Error{"service record reserved bytes are not zero"};

    const ServiceSpec service{
        .name = *name,
        .template_vm = field<std::uint32_t>(record, field_at::kTemplateVm),
        .network = field<std::uint32_t>(record, field_at::kNetwork),
        .address = field<std::uint32_t>(record, field_at::kAddress),
        .port = field<std::uint16_t>(record, field_at::kPort),
        .first_replica_address = field<std::uint32_t>(record, field_at::kFirstReplicaAddress),
        .replica_prefix = field<std::uint8_t>(record, field_at::kReplicaPrefix),
        .percentile = field<std::uint8_t>(record, field_at::kPercentile),
        .objective_us = field<std::uint32_t>(record, field_at::kObjectiveUs),
        .window_s = field<std::uint16_t>(record, field_at::kWindowS),
        .min_replicas = field<std::uint8_t>(record, field_at::kMinReplicas),
        .max_replicas = field<std::uint8_t>(record, field_at::kMaxReplicas),
        .scale_up_window_ms = field<std::uint32_t>(record, field_at::kScaleUpWindowMs),
        .scale_down_window_ms = field<std::uint32_t>(record, field_at::kScaleDownWindowMs),
        .drain_grace_ms = field<std::uint32_t>(record, field_at::kDrainGraceMs),
    };
    if (service.template_vm >= vm_count_) return Error{"service template VM index is not below vm_count"};
    if (service.network >= network_count_) return Error{"service network index is not below network_count"};
    if (const Status settings = check_service_settings(service); !settings) return settings.error();
    if (const Status addresses = check_service_addresses(service); !addresses) return addresses.error();

    // Replicas are built from the template: it must be valid itself, and its
    // one NIC is the replica's address on the service's network.
    const auto template_vm = vm(service.template_vm);
    if (!template_vm) return Error{"service template VM is invalid"};
    if (template_vm->nic_count != 1) return Error{"service template VM does not have exactly one NIC"};
    if (template_vm->nics[0].network != service.network)
        return Error{"service template VM's NIC is not on the service's network"};
    return service;
}

ByteSpan BootBundle::record_bytes(std::uint32_t index) const {
    // parse() proved the whole table lies inside bundle_.
    return bundle_.subspan(vm_table_offset_ + std::size_t{index} * wire::kVmRecordSize, wire::kVmRecordSize);
}

ByteSpan BootBundle::network_table() const {
    // parse() proved all four tables lie inside bundle_, one after the other.
    return bundle_.subspan(vm_table_offset_ + std::size_t{vm_count_} * wire::kVmRecordSize,
                           std::size_t{network_count_} * wire::kNetworkRecordSize);
}

ByteSpan BootBundle::device_table() const {
    const ByteSpan networks = network_table();
    return bundle_.subspan(static_cast<std::size_t>(networks.data() + networks.size() - bundle_.data()),
                           std::size_t{device_count_} * wire::kDeviceRecordSize);
}

ByteSpan BootBundle::service_table() const {
    const ByteSpan devices = device_table();
    return bundle_.subspan(static_cast<std::size_t>(devices.data() + devices.size() - bundle_.data()),
                           std::size_t{service_count_} * wire::kServiceRecordSize);
}

std::uint64_t BootBundle::payload_area_start() const {
    const ByteSpan services = service_table();
    return static_cast<std::uint64_t>(services.data() + services.size() - bundle_.data());
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

// Replica n gets first_replica_address + n - 1. Neither they nor the service
// address may be the network or broadcast address of the replicas' prefix
// (a /31 or /32 has neither), the replicas must stay inside the prefix, and
// the service address is not a replica's.
Status check_service_addresses(const ServiceSpec& service) {
    // 64-bit arithmetic, so the last replica of a range at 255.255.255.255 cannot wrap.
    const std::uint64_t host_mask = (std::uint64_t{1} << (32u - service.replica_prefix)) - 1;  // prefix 1..32
    const std::uint64_t first = service.first_replica_address;
    const std::uint64_t network = first & ~host_mask;
    const std::uint64_t broadcast = network | host_mask;
    const std::uint64_t last = first + service.max_replicas - 1;  // max_replicas >= 1 was checked
    const bool has_network_and_broadcast = service.replica_prefix <= 30;
    if (has_network_and_broadcast && (first == network || last >= broadcast))
        return Error{"service replica addresses include the network or broadcast address of their prefix"};
    if (last > broadcast) return Error{"service replica addresses run past the end of their prefix"};
    if (has_network_and_broadcast && (service.address == network || service.address == broadcast))
        return Error{"service address is the network or broadcast address of the replica prefix"};
    if (service.address >= first && service.address <= last)
        return Error{"service address is one of the replica addresses"};
    return {};
}


}  // namespace lamina
