// Writes boot bundles (format v2, see docs/boot-bundle.md) from in-memory VM
// descriptions. Host-only C++ (allocates, throws). Header-only so the parser's
// unit tests build their fixtures with the very code the tool ships, and
// patch the result to make malformed ones.
//
// The layout constants and the metadata CRC come from core/bundle.hpp: the
// writer and Lamina's parser cannot disagree about the format.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/bundle.hpp"
#include "core/types.hpp"

namespace lamina::bundle_tool {

// One VM to put in a bundle. Values are written as given: vcpu_count 0 or an
// absurd memory size are representable on purpose (tests check that Lamina
// itself refuses them).
struct VmEntry {
    std::string name;
    std::uint64_t memory_bytes{0};
    std::uint32_t vcpu_count{1};
    std::uint32_t weight{0};  // 0 = Lamina's default share
    std::uint32_t cap_percent{0};
    std::uint64_t pinned_cpu_mask{0};
    std::vector<std::byte> kernel;
    std::vector<std::byte> initrd;  // empty = no initramfs
    std::string cmdline;
    std::vector<NicSpec> nics;    // NicSpec::network indexes the bundle's networks
    std::vector<DiskSpec> disks;  // in guest order: vda, vdb, ...
    bool start_at_boot{true};     // false: a template for the management API only
    bool best_effort{false};      // the autoscaler may lower its cap to make room for service replicas
};

// One service to put in a bundle (docs/services.md): the fields of a
// ServiceSpec, with the name owned. Defaults are the config's.
struct ServiceEntry {
    std::string name;
    std::uint32_t template_vm{0};  // index into the bundle's VMs
    std::uint32_t network{0};      // index into the bundle's networks
    std::uint32_t address{0};      // IPv4, host order (10.0.2.50 = 0x0a000232)
    std::uint16_t port{0};
    std::uint32_t first_replica_address{0};
    std::uint8_t replica_prefix{0};
    std::uint8_t percentile{0};
    std::uint32_t objective_us{0};
    std::uint16_t window_s{0};
    std::uint8_t min_replicas{0};
    std::uint8_t max_replicas{0};
    std::uint32_t scale_up_window_ms{bundle_format::service_limits::kDefaultScaleUpWindowMs};
    std::uint32_t scale_down_window_ms{bundle_format::service_limits::kDefaultScaleDownWindowMs};
    std::uint32_t drain_grace_ms{bundle_format::service_limits::kDefaultDrainGraceMs};
};

using Mac = std::array<std::uint8_t, 6>;

// "02:4c:00:12:ab:ff".
[[nodiscard]] inline std::string format_mac(const Mac& mac) {
    constexpr std::string_view kDigits = "0123456789abcdef";
    std::string text;
    for (const std::uint8_t byte : mac) {
        if (!text.empty()) text += ':';
        text += kDigits[byte >> 4];
        text += kDigits[byte & 0xF];
    }
    return text;
}

// The MAC of a NIC whose config gives none (bundle_format::default_mac).
[[nodiscard]] inline Mac default_mac(std::string_view vm_name, std::size_t nic_index) {
    return bundle_format::default_mac(vm_name, nic_index);
}

[[nodiscard]] inline bool is_valid_network_name(std::string_view name) {
    return name.size() < bundle_format::kNetworkNameFieldSize && bundle_format::is_valid_name(name);
}

[[nodiscard]] inline bool is_valid_service_name(std::string_view name) {
    return name.size() < bundle_format::kServiceNameFieldSize && bundle_format::is_valid_name(name);
}

// "10.0.2.50" for 0x0a000232.
[[nodiscard]] inline std::string format_ipv4(std::uint32_t address) {
    return std::to_string(address >> 24) + '.' + std::to_string((address >> 16) & 0xFF) + '.' +
           std::to_string((address >> 8) & 0xFF) + '.' + std::to_string(address & 0xFF);
}

namespace encoder_detail {

[[nodiscard]] inline bool is_board_slice(const DiskSpec& disk) { return disk.backing == DiskBacking::board_disk; }

// Both slices must already be known not to wrap.
[[nodiscard]] inline bool slices_overlap(const DiskSpec& a, const DiskSpec& b) {
    return is_board_slice(a) && is_board_slice(b) && a.offset_bytes < b.offset_bytes + b.size_bytes &&
           b.offset_bytes < a.offset_bytes + a.size_bytes;
}

[[nodiscard]] inline std::optional<std::string> nic_problem(const NicSpec& nic, std::size_t network_count) {
    if (nic.network >= network_count)
        return "network index " + std::to_string(nic.network) + " is not one of the bundle's " +
               std::to_string(network_count) + " networks";
    if ((nic.mac[0] & 1u) != 0) return "MAC " + format_mac(nic.mac) + " is multicast (bit 0 of its first byte is set)";
    if (nic.mac == Mac{}) return "MAC is all zero";
    return std::nullopt;
}

[[nodiscard]] inline std::optional<std::string> disk_problem(const DiskSpec& disk) {
    constexpr std::uint64_t kSector = bundle_format::kDiskSectorSize;
    if (disk.backing != DiskBacking::ram && disk.backing != DiskBacking::board_disk)
        return "backing " + std::to_string(static_cast<std::uint32_t>(disk.backing)) + " is not RAM or board disk";
    if (disk.size_bytes == 0 || disk.size_bytes % kSector != 0)
        return "size " + std::to_string(disk.size_bytes) + " is not a non-zero multiple of 512 bytes";
    if (disk.offset_bytes % kSector != 0)
        return "offset " + std::to_string(disk.offset_bytes) + " is not a multiple of 512 bytes";
    if (disk.backing == DiskBacking::ram && disk.offset_bytes != 0) return "a RAM disk has no offset";
    if (disk.offset_bytes > ~std::uint64_t{0} - disk.size_bytes) return "offset + size overflows 64 bits";
    return std::nullopt;
}

[[nodiscard]] inline std::optional<std::string> devices_problem(const VmEntry& vm, std::size_t network_count) {
    if (vm.nics.size() > kMaxNicsPerVm)
        return std::to_string(vm.nics.size()) + " NICs; the limit is " + std::to_string(kMaxNicsPerVm);
    if (vm.disks.size() > kMaxDisksPerVm)
        return std::to_string(vm.disks.size()) + " disks; the limit is " + std::to_string(kMaxDisksPerVm);
    for (std::size_t i = 0; i < vm.nics.size(); ++i) {
        const std::string where = "nics[" + std::to_string(i) + "]: ";
        if (auto problem = nic_problem(vm.nics[i], network_count)) return where + *problem;
        for (std::size_t earlier = 0; earlier < i; ++earlier) {
            if (vm.nics[earlier].network == vm.nics[i].network)
                return where + "on the same network as nics[" + std::to_string(earlier) + "]";
            if (vm.nics[earlier].mac == vm.nics[i].mac)
                return where + "MAC " + format_mac(vm.nics[i].mac) + " is already used by nics[" +
                       std::to_string(earlier) + "]";
        }
    }
    for (std::size_t i = 0; i < vm.disks.size(); ++i) {
        const std::string where = "disks[" + std::to_string(i) + "]: ";
        if (auto problem = disk_problem(vm.disks[i])) return where + *problem;
        for (std::size_t earlier = 0; earlier < i; ++earlier)
            if (slices_overlap(vm.disks[earlier], vm.disks[i]))
                return where + "board disk slice overlaps disks[" + std::to_string(earlier) + "]";
    }
    return std::nullopt;
}

}  // namespace encoder_detail

// Why `vm` cannot be encoded as a valid record, or nullopt. These are the
// parser's per-record rules (its NICs index a bundle with `network_count`
// networks); semantic limits (memory, vCPUs) are not checked. Conflicts with
// other VMs are encode_bundle()'s to find.
[[nodiscard]] inline std::optional<std::string> structural_problem(const VmEntry& vm, std::size_t network_count) {
    namespace wire = bundle_format;
    if (vm.name.empty()) return "name is empty";
    if (vm.name.size() > wire::kMaxNameLength)
        return "name \"" + vm.name + "\" is longer than " + std::to_string(wire::kMaxNameLength) + " characters";
    if (!wire::is_valid_name(vm.name)) return "name \"" + vm.name + "\" has characters outside [A-Za-z0-9._-]";
    if (vm.kernel.empty()) return "kernel is empty";
    if (vm.cmdline.size() > wire::kMaxCmdlineSize)
        return "cmdline is " + std::to_string(vm.cmdline.size()) + " bytes; the limit is " +
               std::to_string(wire::kMaxCmdlineSize);
    if (vm.cmdline.find('\0') != std::string::npos) return "cmdline contains a NUL character";
    return encoder_detail::devices_problem(vm, network_count);
}

// Why `service` cannot be encoded as a valid service record of a bundle with
// `vms` and `network_count` networks, or nullopt: the parser's per-service
// rules except the name's uniqueness (encode_bundle()'s to find).
[[nodiscard]] inline std::optional<std::string> service_problem(const ServiceEntry& service,
                                                                std::span<const VmEntry> vms,
                                                                std::size_t network_count) {
    namespace limit = bundle_format::service_limits;
    if (!is_valid_service_name(service.name))
        return "name \"" + service.name + "\" is not 1-15 characters from [A-Za-z0-9._-]";
    if (service.template_vm >= vms.size())
        return "template VM index " + std::to_string(service.template_vm) + " is not one of the bundle's " +
               std::to_string(vms.size()) + " VMs";
    if (service.network >= network_count)
        return "network index " + std::to_string(service.network) + " is not one of the bundle's " +
               std::to_string(network_count) + " networks";
    if (service.port == 0) return std::string{"port is 0"};
    struct Range {
        std::string_view what;
        std::uint64_t value, min, max;
        std::string_view unit;
    };
    const std::array<Range, 8> ranges{{
        {"replica prefix", service.replica_prefix, limit::kMinReplicaPrefix, limit::kMaxReplicaPrefix, ""},
        {"percentile", service.percentile, limit::kMinPercentile, limit::kMaxPercentile, ""},
        {"objective latency", service.objective_us, limit::kMinObjectiveUs, limit::kMaxObjectiveUs, " us"},
        {"objective window", service.window_s, limit::kMinWindowS, limit::kMaxWindowS, " s"},
        {"max_replicas", service.max_replicas, limit::kMinMaxReplicas, limit::kMaxReplicas, ""},
        {"scale-up window", service.scale_up_window_ms, limit::kMinScaleUpWindowMs, limit::kMaxScaleUpWindowMs,
         " ms"},
        {"scale-down window", service.scale_down_window_ms, limit::kMinScaleDownWindowMs,
         limit::kMaxScaleDownWindowMs, " ms"},
        {"drain grace", service.drain_grace_ms, limit::kMinDrainGraceMs, limit::kMaxDrainGraceMs, " ms"},
    }};
    for (const Range& range : ranges)
        if (range.value < range.min || range.value > range.max)
            return std::string{range.what} + " is " + std::to_string(range.value) + std::string{range.unit} +
                   "; it must be " + std::to_string(range.min) + "-" + std::to_string(range.max) +
                   std::string{range.unit};
    if (service.min_replicas > service.max_replicas)
        return "min_replicas " + std::to_string(service.min_replicas) + " is more than max_replicas " +
               std::to_string(service.max_replicas);

    const std::uint64_t host_mask = (std::uint64_t{1} << (32u - service.replica_prefix)) - 1;
    const std::uint64_t first = service.first_replica_address;
    const std::uint64_t network = first & ~host_mask;
    const std::uint64_t broadcast = network | host_mask;
    const std::uint64_t last = first + service.max_replicas - 1;
    const bool has_network_and_broadcast = service.replica_prefix <= 30;
    const std::string prefix = "/" + std::to_string(service.replica_prefix);
    const std::string replicas = "replica addresses " + format_ipv4(service.first_replica_address) + "-" +
                                 (last > 0xFFFF'FFFFu ? std::string{"(past 255.255.255.255)"}
                                                      : format_ipv4(static_cast<std::uint32_t>(last)));
    if (has_network_and_broadcast && first == network)
        return replicas + " include the network address " + format_ipv4(static_cast<std::uint32_t>(network)) +
               prefix;
    if (has_network_and_broadcast && last >= broadcast)
        return replicas + " include the broadcast address " + format_ipv4(static_cast<std::uint32_t>(broadcast)) +
               prefix;
    if (last > broadcast)
        return replicas + " run past the end of " + format_ipv4(static_cast<std::uint32_t>(network)) + prefix;
    if (has_network_and_broadcast && (service.address == network || service.address == broadcast))
        return "address " + format_ipv4(service.address) + " is the " +
               (service.address == network ? "network" : "broadcast") + " address of " +
               format_ipv4(static_cast<std::uint32_t>(network)) + prefix;
    if (service.address >= first && service.address <= last)
        return "address " + format_ipv4(service.address) + " is one of the " + replicas;

    const VmEntry& vm = vms[service.template_vm];
    if (vm.nics.size() != 1)
        return "template \"" + vm.name + "\" must have exactly one NIC, not " + std::to_string(vm.nics.size());
    if (vm.nics[0].network != service.network)
        return "template \"" + vm.name + "\"'s NIC is on network index " + std::to_string(vm.nics[0].network) +
               ", not the service's network index " + std::to_string(service.network);
    return std::nullopt;
}

template <typename T>
void store_le(std::span<std::byte> out, std::size_t offset, T value) {
    if (offset > out.size() || out.size() - offset < sizeof(T)) throw std::out_of_range{"store_le past the end"};
    for (std::size_t i = 0; i < sizeof(T); ++i)
        out[offset + i] = static_cast<std::byte>(static_cast<std::uint64_t>(value) >> (8 * i));
}

// (Re)computes and stores the metadata CRC; tests call it after patching.
inline void seal(std::span<std::byte> bundle) {
    const auto crc = bundle_format::metadata_crc32(bundle);
    if (!crc) throw std::invalid_argument{"bundle header points its tables outside the bundle"};
    store_le<std::uint32_t>(bundle, bundle_format::header::kMetadataCrc32, *crc);
}

namespace encoder_detail {

struct Placement {
    std::uint64_t offset{0};
    std::uint64_t size{0};
};

// Appends one payload at the next 4096-byte boundary; empty payloads are
// absent (offset 0, size 0), as the format requires.
inline Placement append_payload(std::vector<std::byte>& out, std::span<const std::byte> payload) {
    if (payload.empty()) return {};
    out.resize(align_up(out.size(), bundle_format::kPayloadAlignment));
    const Placement placement{out.size(), payload.size()};
    out.insert(out.end(), payload.begin(), payload.end());
    return placement;
}

inline void write_text(std::span<std::byte> field, std::string_view text) {
    for (std::size_t i = 0; i < text.size(); ++i) field[i] = static_cast<std::byte>(text[i]);
}

inline void write_record(std::span<std::byte> record, const VmEntry& vm, Placement kernel, Placement initrd,
                         Placement cmdline) {
    namespace field = bundle_format::record;
    write_text(record.subspan(field::kName), vm.name);
    store_le(record, field::kMemoryBytes, vm.memory_bytes);
    store_le(record, field::kVcpuCount, vm.vcpu_count);
    store_le(record, field::kWeight, vm.weight);
    store_le(record, field::kCapPercent, vm.cap_percent);
    store_le(record, field::kFlags,
             (vm.start_at_boot ? std::uint32_t{0} : bundle_format::kVmFlagTemplateOnly) |
                 (vm.best_effort ? bundle_format::kVmFlagBestEffort : std::uint32_t{0}));
    store_le(record, field::kPinnedCpuMask, vm.pinned_cpu_mask);
    store_le(record, field::kKernelOffset, kernel.offset);
    store_le(record, field::kKernelSize, kernel.size);
    store_le(record, field::kInitrdOffset, initrd.offset);
    store_le(record, field::kInitrdSize, initrd.size);
    store_le(record, field::kCmdlineOffset, cmdline.offset);
    store_le(record, field::kCmdlineSize, cmdline.size);
}

inline void write_nic(std::span<std::byte> record, std::uint32_t vm_index, const NicSpec& nic) {
    namespace field = bundle_format::device_record;
    store_le(record, field::kVmIndex, vm_index);
    store_le(record, field::kType, static_cast<std::uint32_t>(bundle_format::DeviceType::nic));
    store_le(record, field::kNetwork, nic.network);
    for (std::size_t i = 0; i < nic.mac.size(); ++i) store_le(record, field::kMac + i, nic.mac[i]);
}

inline void write_disk(std::span<std::byte> record, std::uint32_t vm_index, const DiskSpec& disk) {
    namespace field = bundle_format::device_record;
    store_le(record, field::kVmIndex, vm_index);
    store_le(record, field::kType, static_cast<std::uint32_t>(bundle_format::DeviceType::disk));
    store_le(record, field::kFlags, disk.read_only ? bundle_format::kDiskFlagReadOnly : std::uint32_t{0});
    store_le(record, field::kBacking, static_cast<std::uint32_t>(disk.backing));
    store_le(record, field::kOffset, disk.offset_bytes);
    store_le(record, field::kSize, disk.size_bytes);
}

inline void write_service(std::span<std::byte> record, const ServiceEntry& service) {
    namespace field = bundle_format::service_record;
    write_text(record.subspan(field::kName), service.name);
    store_le(record, field::kTemplateVm, service.template_vm);
    store_le(record, field::kNetwork, service.network);
    store_le(record, field::kAddress, service.address);
    store_le(record, field::kPort, service.port);
    store_le(record, field::kReplicaPrefix, service.replica_prefix);
    store_le(record, field::kPercentile, service.percentile);
    store_le(record, field::kFirstReplicaAddress, service.first_replica_address);
    store_le(record, field::kObjectiveUs, service.objective_us);
    store_le(record, field::kWindowS, service.window_s);
    store_le(record, field::kMinReplicas, service.min_replicas);
    store_le(record, field::kMaxReplicas, service.max_replicas);
    store_le(record, field::kScaleUpWindowMs, service.scale_up_window_ms);
    store_le(record, field::kScaleDownWindowMs, service.scale_down_window_ms);
    store_le(record, field::kDrainGraceMs, service.drain_grace_ms);
}

struct HeaderCounts {
    std::uint32_t vm_count{0};
    std::uint32_t network_count{0};
    std::uint32_t device_count{0};
    std::uint32_t uplink_network{0};  // as stored: 0 = none, else 1 + index
    std::uint32_t service_count{0};
};

inline void write_header(std::span<std::byte> out, const HeaderCounts& counts, std::uint64_t total_size) {
    namespace wire = bundle_format;
    for (std::size_t i = 0; i < wire::kMagic.size(); ++i)
        out[wire::header::kMagic + i] = static_cast<std::byte>(wire::kMagic[i]);
    store_le(out, wire::header::kVersion, wire::kVersion);
    store_le(out, wire::header::kHeaderSize, wire::kHeaderSize);
    store_le(out, wire::header::kVmCount, counts.vm_count);
    store_le(out, wire::header::kVmRecordSize, wire::kVmRecordSize);
    store_le(out, wire::header::kVmTableOffset, std::uint64_t{wire::kHeaderSize});
    store_le(out, wire::header::kTotalSize, total_size);
    store_le(out, wire::header::kNetworkCount, counts.network_count);
    store_le(out, wire::header::kDeviceCount, counts.device_count);
    store_le(out, wire::header::kUplinkNetwork, counts.uplink_network);
    store_le(out, wire::header::kServiceCount, counts.service_count);
}

inline void check_networks(std::span<const std::string> networks, std::optional<std::uint32_t> uplink) {
    namespace wire = bundle_format;
    if (networks.size() > wire::kMaxNetworkCount)
        throw std::invalid_argument{"a bundle holds at most " + std::to_string(wire::kMaxNetworkCount) +
                                    " networks, not " + std::to_string(networks.size())};
    for (std::size_t i = 0; i < networks.size(); ++i) {
        const std::string where = "networks[" + std::to_string(i) + "]: name \"" + networks[i] + "\" ";
        if (!is_valid_network_name(networks[i]))
            throw std::invalid_argument{where + "is not 1-15 characters from [A-Za-z0-9._-]"};
        for (std::size_t earlier = 0; earlier < i; ++earlier)
            if (networks[earlier] == networks[i])
                throw std::invalid_argument{where + "is already used by networks[" + std::to_string(earlier) + "]"};
    }
    if (uplink && *uplink >= networks.size())
        throw std::invalid_argument{"uplink network index " + std::to_string(*uplink) + " is not one of the " +
                                    std::to_string(networks.size()) + " networks"};
}

// What the parser refuses across VMs: the later VM is named.
inline void check_conflicts(std::span<const VmEntry> vms, std::size_t i) {
    const std::string where = "vms[" + std::to_string(i) + "]: ";
    for (std::size_t earlier = 0; earlier < i; ++earlier) {
        const std::string other = "vms[" + std::to_string(earlier) + "]";
        if (vms[earlier].name == vms[i].name)
            throw std::invalid_argument{where + "name \"" + vms[i].name + "\" is already used by " + other};
        for (std::size_t nic = 0; nic < vms[i].nics.size(); ++nic)
            for (std::size_t theirs = 0; theirs < vms[earlier].nics.size(); ++theirs)
                if (vms[i].nics[nic].mac == vms[earlier].nics[theirs].mac)
                    throw std::invalid_argument{where + "nics[" + std::to_string(nic) + "]: MAC " +
                                                format_mac(vms[i].nics[nic].mac) + " is already used by " + other +
                                                ".nics[" + std::to_string(theirs) + "]"};
        for (std::size_t disk = 0; disk < vms[i].disks.size(); ++disk)
            for (std::size_t theirs = 0; theirs < vms[earlier].disks.size(); ++theirs)
                if (slices_overlap(vms[i].disks[disk], vms[earlier].disks[theirs]))
                    throw std::invalid_argument{where + "disks[" + std::to_string(disk) +
                                                "]: board disk slice overlaps " + other + ".disks[" +
                                                std::to_string(theirs) + "]"};
    }
}

inline void check_services(std::span<const ServiceEntry> services, std::span<const VmEntry> vms,
                           std::size_t network_count) {
    namespace wire = bundle_format;
    if (services.size() > wire::kMaxServiceCount)
        throw std::invalid_argument{"a bundle holds at most " + std::to_string(wire::kMaxServiceCount) +
                                    " services, not " + std::to_string(services.size())};
    for (std::size_t i = 0; i < services.size(); ++i) {
        const std::string where = "services[" + std::to_string(i) + "]: ";
        if (auto problem = service_problem(services[i], vms, network_count))
            throw std::invalid_argument{where + *problem};
        for (std::size_t earlier = 0; earlier < i; ++earlier)
            if (services[earlier].name == services[i].name)
                throw std::invalid_argument{where + "name \"" + services[i].name + "\" is already used by services[" +
                                            std::to_string(earlier) + "]"};
    }
}

}  // namespace encoder_detail

// Lays out header, VM table (right after the header), network table, device
// table (each VM's NICs then disks, in VM order), service table and payloads
// (each on a 4096-byte boundary, in VM order: kernel, initrd, cmdline).
// `uplink_network` indexes `networks`. Throws std::invalid_argument naming the
// VM, network or service if anything would make the parser refuse a VM, a
// service or the bundle. Without services the bundle is what it was before
// services existed.
[[nodiscard]] inline std::vector<std::byte> encode_bundle(std::span<const VmEntry> vms,
                                                         std::span<const std::string> networks = {},
                                                         std::optional<std::uint32_t> uplink_network = std::nullopt,
                                                         std::span<const ServiceEntry> services = {}) {
    namespace wire = bundle_format;
    using namespace encoder_detail;
    if (vms.size() > wire::kMaxVmCount)
        throw std::invalid_argument{"a bundle holds at most " + std::to_string(wire::kMaxVmCount) + " VMs, not " +
                                    std::to_string(vms.size())};
    check_networks(networks, uplink_network);
    std::size_t device_count = 0;
    for (std::size_t i = 0; i < vms.size(); ++i) {
        if (auto problem = structural_problem(vms[i], networks.size()))
            throw std::invalid_argument{"vms[" + std::to_string(i) + "]: " + *problem};
        check_conflicts(vms, i);
        device_count += vms[i].nics.size() + vms[i].disks.size();
    }
    if (device_count > wire::kMaxDeviceCount)
        throw std::invalid_argument{"a bundle holds at most " + std::to_string(wire::kMaxDeviceCount) +
                                    " devices (NICs and disks), not " + std::to_string(device_count)};
    check_services(services, vms, networks.size());

    const HeaderCounts counts{
        .vm_count = static_cast<std::uint32_t>(vms.size()),
        .network_count = static_cast<std::uint32_t>(networks.size()),
        .device_count = static_cast<std::uint32_t>(device_count),
        .uplink_network = uplink_network ? *uplink_network + 1 : 0,
        .service_count = static_cast<std::uint32_t>(services.size()),
    };
    const std::size_t network_table = wire::kHeaderSize + std::size_t{counts.vm_count} * wire::kVmRecordSize;
    const std::size_t device_table = network_table + std::size_t{counts.network_count} * wire::kNetworkRecordSize;
    const std::size_t service_table = device_table + device_count * wire::kDeviceRecordSize;
    std::vector<std::byte> out(service_table + services.size() * wire::kServiceRecordSize);

    std::vector<Placement> placements;  // kernel, initrd, cmdline per VM
    for (const VmEntry& vm : vms) {
        placements.push_back(append_payload(out, vm.kernel));
        placements.push_back(append_payload(out, vm.initrd));
        placements.push_back(append_payload(out, std::as_bytes(std::span{vm.cmdline})));
    }
    const std::span<std::byte> bytes{out};
    for (std::size_t i = 0; i < vms.size(); ++i) {
        const auto record = bytes.subspan(wire::kHeaderSize + i * wire::kVmRecordSize, wire::kVmRecordSize);
        write_record(record, vms[i], placements[3 * i], placements[3 * i + 1], placements[3 * i + 2]);
    }
    for (std::size_t i = 0; i < networks.size(); ++i)
        write_text(bytes.subspan(network_table + i * wire::kNetworkRecordSize, wire::kNetworkRecordSize), networks[i]);
    std::size_t device = 0;
    const auto next_device = [&] {
        return bytes.subspan(device_table + device++ * wire::kDeviceRecordSize, wire::kDeviceRecordSize);
    };
    for (std::size_t i = 0; i < vms.size(); ++i) {
        const auto vm_index = static_cast<std::uint32_t>(i);
        for (const NicSpec& nic : vms[i].nics) write_nic(next_device(), vm_index, nic);
        for (const DiskSpec& disk : vms[i].disks) write_disk(next_device(), vm_index, disk);
    }
    for (std::size_t i = 0; i < services.size(); ++i)
        write_service(bytes.subspan(service_table + i * wire::kServiceRecordSize, wire::kServiceRecordSize),
                      services[i]);
    write_header(out, counts, out.size());
    seal(out);
    // service_problem() mirrors the parser's rules; should the two ever
    // disagree, fail here rather than ship a service Lamina refuses.
    if (!services.empty()) {
        const auto parsed = BootBundle::parse(out);
        if (!parsed) throw std::logic_error{std::string{"encoded bundle is refused: "} + parsed.error().message};
        for (std::uint32_t i = 0; i < parsed->service_count(); ++i)
            if (const auto service = parsed->service(i); !service)
                throw std::logic_error{"services[" + std::to_string(i) + "] is refused: " + service.error().message};
    }
    return out;
}

}  // namespace lamina::bundle_tool
