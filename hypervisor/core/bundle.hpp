// The boot bundle: one binary blob (loaded by QEMU with -initrd, found via
// /chosen) describing every VM Lamina starts at boot, with their kernels,
// initramfs images and command lines. The format is documented for users in
// docs/boot-bundle.md; the constants below are the single source of truth for
// its layout, shared with the host tool that writes bundles.
//
// The bundle is untrusted input. Parsing is allocation-free: every span and
// string_view in the results points into the caller's bytes, which must
// outlive the BootBundle and everything obtained from it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "bytes.hpp"
#include "result.hpp"

namespace lamina {

namespace bundle_format {

inline constexpr std::array<char, 8> kMagic{'L', 'A', 'M', 'I', 'N', 'A', 'B', 'N'};
inline constexpr std::uint32_t kVersion = 2;
inline constexpr std::uint32_t kHeaderSize = 64;
inline constexpr std::uint32_t kVmRecordSize = 128;
inline constexpr std::uint32_t kNetworkRecordSize = 32;
inline constexpr std::uint32_t kDeviceRecordSize = 64;
inline constexpr std::uint32_t kServiceRecordSize = 128;
inline constexpr std::uint32_t kMaxVmCount = 64;
inline constexpr std::uint32_t kMaxNetworkCount = 16;
inline constexpr std::uint32_t kMaxDeviceCount = 256;
inline constexpr std::uint32_t kMaxServiceCount = 4;
inline constexpr std::size_t kNetworkNameFieldSize = 16;  // 1-15 name characters, NUL padded
inline constexpr std::size_t kServiceNameFieldSize = 16;  // 1-15 name characters, NUL padded
inline constexpr std::uint64_t kVmTableAlignment = 8;
inline constexpr std::uint64_t kPayloadAlignment = 4096;
inline constexpr std::size_t kNameFieldSize = 32;
inline constexpr std::size_t kMaxNameLength = kNameFieldSize - 1;  // room for the terminating NUL
inline constexpr std::uint64_t kMaxCmdlineSize = 2048;
inline constexpr std::uint32_t kDefaultWeight = 256;
inline constexpr std::uint64_t kDiskSectorSize = 512;  // disk sizes and board-disk offsets are multiples of it

// Byte offsets of the header fields.
namespace header {
inline constexpr std::size_t kMagic = 0;
inline constexpr std::size_t kVersion = 8;
inline constexpr std::size_t kHeaderSize = 12;
inline constexpr std::size_t kVmCount = 16;
inline constexpr std::size_t kVmRecordSize = 20;
inline constexpr std::size_t kVmTableOffset = 24;
inline constexpr std::size_t kTotalSize = 32;
inline constexpr std::size_t kMetadataCrc32 = 40;
// The network table follows the VM table, the device table follows the
// network table and the service table follows the device table, each packed;
// payloads come after the service table.
inline constexpr std::size_t kNetworkCount = 44;
inline constexpr std::size_t kDeviceCount = 48;
inline constexpr std::size_t kUplinkNetwork = 52;  // 1 + index of the network bridged to the board NIC; 0 = none
inline constexpr std::size_t kServiceCount = 56;   // 0..kMaxServiceCount
inline constexpr std::size_t kReserved = 60;
inline constexpr std::size_t kReservedSize = 4;
}  // namespace header

// Byte offsets of the fields of one VM record, relative to the record.
namespace record {
inline constexpr std::size_t kName = 0;
inline constexpr std::size_t kMemoryBytes = 32;
inline constexpr std::size_t kVcpuCount = 40;
inline constexpr std::size_t kWeight = 44;
inline constexpr std::size_t kCapPercent = 48;
inline constexpr std::size_t kFlags = 52;
inline constexpr std::size_t kPinnedCpuMask = 56;
inline constexpr std::size_t kKernelOffset = 64;
inline constexpr std::size_t kKernelSize = 72;
inline constexpr std::size_t kInitrdOffset = 80;
inline constexpr std::size_t kInitrdSize = 88;
inline constexpr std::size_t kCmdlineOffset = 96;
inline constexpr std::size_t kCmdlineSize = 104;
inline constexpr std::size_t kReserved = 112;
inline constexpr std::size_t kReservedSize = 16;
}  // namespace record

// Byte offsets of a network record: its name, then reserved zero bytes.
namespace network_record {
inline constexpr std::size_t kName = 0;
inline constexpr std::size_t kReserved = 16;
inline constexpr std::size_t kReservedSize = 16;
}  // namespace network_record

// Byte offsets of a device record (a VM's NIC or disk).
namespace device_record {
inline constexpr std::size_t kVmIndex = 0;
inline constexpr std::size_t kType = 4;      // DeviceType
inline constexpr std::size_t kFlags = 8;     // disks: bit 0 = read-only
inline constexpr std::size_t kNetwork = 12;  // NICs: index into the network table
inline constexpr std::size_t kMac = 16;      // NICs: 6 bytes, then 2 zero bytes
inline constexpr std::size_t kBacking = 12;  // disks: DiskBacking
inline constexpr std::size_t kOffset = 24;   // disks on the board disk: first byte (512-byte multiple)
inline constexpr std::size_t kSize = 32;     // disks: bytes (a non-zero multiple of 512)
inline constexpr std::size_t kReserved = 40;
inline constexpr std::size_t kReservedSize = 24;
}  // namespace device_record

// Byte offsets of a service record (docs/services.md). Addresses are IPv4 in
// host order as a little-endian u32 (10.0.2.50 is stored as 0x0a000232).
namespace service_record {
inline constexpr std::size_t kName = 0;                  // kServiceNameFieldSize bytes, NUL padded
inline constexpr std::size_t kTemplateVm = 16;           // u32: index into the VM table
inline constexpr std::size_t kNetwork = 20;              // u32: index into the network table
inline constexpr std::size_t kAddress = 24;              // u32: the service's IPv4 address
inline constexpr std::size_t kPort = 28;                 // u16: its TCP port
inline constexpr std::size_t kReplicaPrefix = 30;        // u8: prefix length of the replicas' network
inline constexpr std::size_t kPercentile = 31;           // u8: the objective's percentile
inline constexpr std::size_t kFirstReplicaAddress = 32;  // u32: replica n gets this + n - 1
inline constexpr std::size_t kObjectiveUs = 36;          // u32: the objective's latency, microseconds
inline constexpr std::size_t kWindowS = 40;              // u16: the objective's window, seconds
inline constexpr std::size_t kMinReplicas = 42;          // u8
inline constexpr std::size_t kMaxReplicas = 43;          // u8
inline constexpr std::size_t kScaleUpWindowMs = 44;      // u32
inline constexpr std::size_t kScaleDownWindowMs = 48;    // u32
inline constexpr std::size_t kDrainGraceMs = 52;         // u32
inline constexpr std::size_t kReserved = 56;
inline constexpr std::size_t kReservedSize = 72;
}  // namespace service_record

// The valid ranges of a service's settings (inclusive), shared by the parser
// and the host tool.
namespace service_limits {
inline constexpr std::uint8_t kMinReplicaPrefix = 1;
inline constexpr std::uint8_t kMaxReplicaPrefix = 32;
inline constexpr std::uint8_t kMinPercentile = 50;
inline constexpr std::uint8_t kMaxPercentile = 99;
inline constexpr std::uint32_t kMinObjectiveUs = 1'000;       // 1 ms
inline constexpr std::uint32_t kMaxObjectiveUs = 60'000'000;  // 60 s
inline constexpr std::uint16_t kMinWindowS = 1;
inline constexpr std::uint16_t kMaxWindowS = 15;
inline constexpr std::uint8_t kMinMaxReplicas = 1;  // max_replicas is at least 1; min_replicas may be 0
inline constexpr std::uint8_t kMaxReplicas = 8;
inline constexpr std::uint32_t kMinScaleUpWindowMs = 1'000;
inline constexpr std::uint32_t kMaxScaleUpWindowMs = 60'000;
inline constexpr std::uint32_t kMinScaleDownWindowMs = 1'000;
inline constexpr std::uint32_t kMaxScaleDownWindowMs = 600'000;
inline constexpr std::uint32_t kMinDrainGraceMs = 1'000;
inline constexpr std::uint32_t kMaxDrainGraceMs = 600'000;
// What a config that leaves them out gets (docs/services.md).
inline constexpr std::uint32_t kDefaultScaleUpWindowMs = 2'000;
inline constexpr std::uint32_t kDefaultScaleDownWindowMs = 15'000;
inline constexpr std::uint32_t kDefaultDrainGraceMs = 10'000;
}  // namespace service_limits

enum class DeviceType : std::uint32_t { nic = 1, disk = 2 };
inline constexpr std::uint32_t kDiskFlagReadOnly = 1;
// VM record flags: bit 0 = a template only, not started at boot (the
// management API creates VMs from it); bit 1 = best effort (the autoscaler
// may lower its cap to make room for service replicas).
inline constexpr std::uint32_t kVmFlagTemplateOnly = 1;
inline constexpr std::uint32_t kVmFlagBestEffort = 2;
inline constexpr std::uint32_t kVmFlagsKnown = kVmFlagTemplateOnly | kVmFlagBestEffort;

static_assert(header::kReserved + header::kReservedSize == kHeaderSize);
static_assert(network_record::kReserved + network_record::kReservedSize == kNetworkRecordSize);
static_assert(device_record::kReserved + device_record::kReservedSize == kDeviceRecordSize);
static_assert(record::kReserved + record::kReservedSize == kVmRecordSize);
static_assert(header::kServiceCount + sizeof(std::uint32_t) == header::kReserved);
static_assert(service_record::kDrainGraceMs + sizeof(std::uint32_t) == service_record::kReserved);
static_assert(service_record::kReserved + service_record::kReservedSize == kServiceRecordSize);

// VM names end up in console messages and logs: keep them to a safe charset.
[[nodiscard]] constexpr bool is_name_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
}

// The MAC of a NIC whose config gives none: 02:4c (locally administered,
// unicast; 0x4c is 'L') then the 32-bit FNV-1a hash of "<vm name>/<nic index>",
// most significant byte first. Stable across builds, so a guest keeps its
// address (and its DHCP lease) when the bundle is rebuilt; the management
// API gives a VM created under a new name the MACs of that name.
[[nodiscard]] constexpr std::array<std::uint8_t, 6> default_mac(std::string_view vm_name, std::size_t nic_index) {
    std::uint32_t hash = 2166136261u;
    const auto mix = [&hash](char c) {
        hash ^= static_cast<std::uint8_t>(c);
        hash *= 16777619u;
    };
    for (const char c : vm_name) mix(c);
    mix('/');
    std::array<char, 20> digits{};
    std::size_t count = 0;
    do {
        digits[count++] = static_cast<char>('0' + nic_index % 10);
        nic_index /= 10;
    } while (nic_index != 0);
    while (count != 0) mix(digits[--count]);
    return {0x02, 0x4c, static_cast<std::uint8_t>(hash >> 24), static_cast<std::uint8_t>(hash >> 16),
            static_cast<std::uint8_t>(hash >> 8), static_cast<std::uint8_t>(hash)};
}

[[nodiscard]] constexpr bool is_valid_name(std::string_view name) {
    if (name.empty() || name.size() > kMaxNameLength) return false;
    for (const char c : name)
        if (!is_name_char(c)) return false;
    return true;
}

// CRC-32 of the metadata: the header with its metadata_crc32 field taken as
// zero, then the VM, network, device and service tables (one contiguous run
// from vm_table_offset). nullopt when the header or the tables do not fit in
// `bundle`. Shared by the parser and the bundle writer.
[[nodiscard]] std::optional<std::uint32_t> metadata_crc32(ByteSpan bundle);

}  // namespace bundle_format

inline constexpr std::size_t kMaxNicsPerVm = 4;
inline constexpr std::size_t kMaxDisksPerVm = 4;

// A VM's network card: the switch network it is plugged into, and its MAC
// (unicast, not zero).
struct NicSpec final {
    std::uint32_t network{0};  // index into the bundle's network table
    std::array<std::uint8_t, 6> mac{};
};

enum class DiskBacking : std::uint32_t {
    ram = 1,         // zeroed RAM owned by Lamina, gone when the VM is destroyed
    board_disk = 2,  // a slice of the board's real disk, kept across reboots
};

struct DiskSpec final {
    DiskBacking backing{DiskBacking::ram};
    std::uint64_t offset_bytes{0};  // board_disk only; a multiple of 512
    std::uint64_t size_bytes{0};    // a non-zero multiple of 512
    bool read_only{false};
};

// One VM as the bundle describes it, after structural validation. Values a
// machine may not be able to honour (0 vCPUs, more RAM than exists) are
// carried through unchanged: deciding that is the VM builder's job.
struct VmImageSpec final {
    std::string_view name{};
    std::uint64_t memory_bytes{0};
    std::uint32_t vcpu_count{0};
    std::uint32_t weight{0};           // effective share: a stored 0 already became kDefaultWeight
    std::uint32_t cap_percent{0};      // 0 = no cap; 100 = one full physical CPU
    std::uint64_t pinned_cpu_mask{0};  // bit n = may run on physical CPU n; 0 = any
    ByteSpan kernel{};                 // never empty
    ByteSpan initrd{};                 // empty = no initramfs
    std::string_view cmdline{};        // no NUL inside, no terminator; may be empty
    std::array<NicSpec, kMaxNicsPerVm> nics{};  // in device table order
    std::uint32_t nic_count{0};
    std::array<DiskSpec, kMaxDisksPerVm> disks{};  // in device table order: vda, vdb, ...
    std::uint32_t disk_count{0};
    bool start_at_boot{true};  // false: only a template for the management API
    bool best_effort{false};   // the autoscaler may lower its cap to make room for service replicas
};

// A service (docs/services.md) as the bundle describes it, after structural
// validation: the template and network exist, the numbers are in range.
struct ServiceSpec final {
    std::string_view name{};             // 1-15 name characters
    std::uint32_t template_vm{0};        // index into the VM table
    std::uint32_t network{0};            // index into the network table
    std::uint32_t address{0};            // IPv4, host order (10.0.2.50 = 0x0a000232)
    std::uint16_t port{0};               // 1-65535
    std::uint32_t first_replica_address{0};  // IPv4, host order
    std::uint8_t replica_prefix{0};      // 1-32
    std::uint8_t percentile{0};          // 50-99
    std::uint32_t objective_us{0};       // 1 ms - 60 s
    std::uint16_t window_s{0};           // 1-15
    std::uint8_t min_replicas{0};        // 0 <= min <= max
    std::uint8_t max_replicas{0};        // 1-8
    std::uint32_t scale_up_window_ms{0};    // 1-60 s
    std::uint32_t scale_down_window_ms{0};  // 1-600 s
    std::uint32_t drain_grace_ms{0};        // 1-600 s
};

// The rules a service's addresses follow, from the bundle or the management
// API: replica n gets first_replica_address + n - 1 (n up to max_replicas);
// they stay inside their prefix and, for prefixes up to /30, avoid its
// network and broadcast addresses, as the service address does; the service
// address is not a replica's.
[[nodiscard]] Status check_service_addresses(const ServiceSpec& service);

class BootBundle final {
public:
    BootBundle() = default;  // an empty bundle (no VMs); Result<T> needs it

    // Validates the header, the bounds of the VM, network, device and service
    // tables, the metadata CRC, the network table and each device's VM index.
    // The bundle's own total_size may be smaller than `bytes` (loaders pad).
    [[nodiscard]] static Result<BootBundle> parse(ByteSpan bytes);

    [[nodiscard]] std::uint32_t vm_count() const { return vm_count_; }

    // The switch networks VMs' NICs plug into, by index (names validated by
    // parse(): 1-15 characters from the VM name charset, unique).
    [[nodiscard]] std::uint32_t network_count() const { return network_count_; }
    [[nodiscard]] std::string_view network_name(std::uint32_t index) const;
    // The network bridged to the board's NIC, if the bundle names one.
    [[nodiscard]] std::optional<std::uint32_t> uplink_network() const { return uplink_network_; }

    // Validates and decodes one record and its devices. A bad record or
    // device only fails its own VM, so the caller can report it and still
    // start the other VMs.
    [[nodiscard]] Result<VmImageSpec> vm(std::uint32_t index) const;

    // The services (docs/services.md), by index: 0..kMaxServiceCount.
    [[nodiscard]] std::uint32_t service_count() const { return service_count_; }

    // Validates and decodes one service record: its name (unique among the
    // services), template and network indices, every setting's range, that
    // neither the service address nor a replica address is the network or
    // broadcast address of the replicas' prefix, and that the template VM is
    // valid with exactly one NIC, on the service's network. A bad service
    // only fails itself.
    [[nodiscard]] Result<ServiceSpec> service(std::uint32_t index) const;

    [[nodiscard]] std::uint64_t total_size() const { return bundle_.size(); }

    // The bundle's bytes (exactly total_size of them).
    [[nodiscard]] ByteSpan bytes() const { return bundle_; }

private:
    // Where parse() found the tables; it has proven they lie inside the bundle.
    struct Tables final {
        std::uint64_t vm_table_offset{0};
        std::uint32_t vm_count{0};
        std::uint32_t network_count{0};
        std::uint32_t device_count{0};
        std::uint32_t service_count{0};
    };

    BootBundle(ByteSpan bundle, const Tables& tables, std::optional<std::uint32_t> uplink_network)
        : bundle_{bundle},
          vm_count_{tables.vm_count},
          vm_table_offset_{tables.vm_table_offset},
          network_count_{tables.network_count},
          device_count_{tables.device_count},
          service_count_{tables.service_count},
          uplink_network_{uplink_network} {}

    [[nodiscard]] ByteSpan record_bytes(std::uint32_t index) const;
    [[nodiscard]] bool name_repeats_earlier_vm(std::uint32_t index) const;
    [[nodiscard]] ByteSpan network_table() const;
    [[nodiscard]] ByteSpan device_table() const;
    [[nodiscard]] ByteSpan service_table() const;
    [[nodiscard]] std::uint64_t payload_area_start() const;  // the first byte after the service table

    ByteSpan bundle_{};
    std::uint32_t vm_count_{0};
    std::uint64_t vm_table_offset_{0};
    std::uint32_t network_count_{0};
    std::uint32_t device_count_{0};
    std::uint32_t service_count_{0};
    std::optional<std::uint32_t> uplink_network_{};
};

}  // namespace lamina
