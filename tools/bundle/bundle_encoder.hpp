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
    store_le(record, field::kFlags, vm.start_at_boot ? std::uint32_t{0} : bundle_format::kVmFlagTemplateOnly);
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

struct HeaderCounts {
    std::uint32_t vm_count{0};
    std::uint32_t network_count{0};
    std::uint32_t device_count{0};
    std::uint32_t uplink_network{0};  // as stored: 0 = none, else 1 + index
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

}  // namespace encoder_detail

// Lays out header, VM table (right after the header), network table, device
// table (each VM's NICs then disks, in VM order) and payloads (each on a
// 4096-byte boundary, in VM order: kernel, initrd, cmdline). `uplink_network`
// indexes `networks`. Throws std::invalid_argument naming the VM (or network)
// if anything would make the parser refuse a VM or the bundle.
[[nodiscard]] inline std::vector<std::byte> encode_bundle(std::span<const VmEntry> vms,
                                                         std::span<const std::string> networks = {},
                                                         std::optional<std::uint32_t> uplink_network = std::nullopt) {
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

    const HeaderCounts counts{
        .vm_count = static_cast<std::uint32_t>(vms.size()),
        .network_count = static_cast<std::uint32_t>(networks.size()),
        .device_count = static_cast<std::uint32_t>(device_count),
        .uplink_network = uplink_network ? *uplink_network + 1 : 0,
    };
    const std::size_t network_table = wire::kHeaderSize + std::size_t{counts.vm_count} * wire::kVmRecordSize;
    const std::size_t device_table = network_table + std::size_t{counts.network_count} * wire::kNetworkRecordSize;
    std::vector<std::byte> out(device_table + device_count * wire::kDeviceRecordSize);

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
    write_header(out, counts, out.size());
    seal(out);
    return out;
}

}  // namespace lamina::bundle_tool
