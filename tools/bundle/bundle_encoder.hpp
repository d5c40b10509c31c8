// Writes boot bundles (format v1, see docs/boot-bundle.md) from in-memory VM
// descriptions. Host-only C++ (allocates, throws). Header-only so the parser's
// unit tests build their fixtures with the very code the tool ships, and
// patch the result to make malformed ones.
//
// The layout constants and the metadata CRC come from core/bundle.hpp: the
// writer and Lamina's parser cannot disagree about the format.
#pragma once

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
};

// Why `vm` cannot be encoded as a valid record, or nullopt. These are the
// parser's per-record rules; semantic limits (memory, vCPUs) are not checked.
[[nodiscard]] inline std::optional<std::string> structural_problem(const VmEntry& vm) {
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
    if (!crc) throw std::invalid_argument{"bundle header points its VM table outside the bundle"};
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

inline void write_record(std::span<std::byte> record, const VmEntry& vm, Placement kernel, Placement initrd,
                         Placement cmdline) {
    namespace field = bundle_format::record;
    for (std::size_t i = 0; i < vm.name.size(); ++i) record[field::kName + i] = static_cast<std::byte>(vm.name[i]);
    store_le(record, field::kMemoryBytes, vm.memory_bytes);
    store_le(record, field::kVcpuCount, vm.vcpu_count);
    store_le(record, field::kWeight, vm.weight);
    store_le(record, field::kCapPercent, vm.cap_percent);
    store_le(record, field::kPinnedCpuMask, vm.pinned_cpu_mask);
    store_le(record, field::kKernelOffset, kernel.offset);
    store_le(record, field::kKernelSize, kernel.size);
    store_le(record, field::kInitrdOffset, initrd.offset);
    store_le(record, field::kInitrdSize, initrd.size);
    store_le(record, field::kCmdlineOffset, cmdline.offset);
    store_le(record, field::kCmdlineSize, cmdline.size);
}

inline void write_header(std::span<std::byte> out, std::uint32_t vm_count, std::uint64_t total_size) {
    namespace wire = bundle_format;
    for (std::size_t i = 0; i < wire::kMagic.size(); ++i)
        out[wire::header::kMagic + i] = static_cast<std::byte>(wire::kMagic[i]);
    store_le(out, wire::header::kVersion, wire::kVersion);
    store_le(out, wire::header::kHeaderSize, wire::kHeaderSize);
    store_le(out, wire::header::kVmCount, vm_count);
    store_le(out, wire::header::kVmRecordSize, wire::kVmRecordSize);
    store_le(out, wire::header::kVmTableOffset, std::uint64_t{wire::kHeaderSize});
    store_le(out, wire::header::kTotalSize, total_size);
}

}  // namespace encoder_detail

// Lays out header, VM table (right after the header) and payloads (each on a
// 4096-byte boundary, in VM order: kernel, initrd, cmdline). Throws
// std::invalid_argument naming the VM if an entry is structurally invalid.
[[nodiscard]] inline std::vector<std::byte> encode_bundle(std::span<const VmEntry> vms) {
    namespace wire = bundle_format;
    using namespace encoder_detail;
    if (vms.size() > wire::kMaxVmCount)
        throw std::invalid_argument{"a bundle holds at most " + std::to_string(wire::kMaxVmCount) + " VMs, not " +
                                    std::to_string(vms.size())};
    for (std::size_t i = 0; i < vms.size(); ++i) {
        if (auto problem = structural_problem(vms[i]))
            throw std::invalid_argument{"vms[" + std::to_string(i) + "]: " + *problem};
        for (std::size_t earlier = 0; earlier < i; ++earlier)
            if (vms[earlier].name == vms[i].name)
                throw std::invalid_argument{"vms[" + std::to_string(i) + "]: name \"" + vms[i].name +
                                            "\" is already used by vms[" + std::to_string(earlier) + "]"};
    }

    const auto vm_count = static_cast<std::uint32_t>(vms.size());
    std::vector<std::byte> out(wire::kHeaderSize + std::size_t{vm_count} * wire::kVmRecordSize);
    std::vector<Placement> placements;  // kernel, initrd, cmdline per VM
    for (const VmEntry& vm : vms) {
        placements.push_back(append_payload(out, vm.kernel));
        placements.push_back(append_payload(out, vm.initrd));
        placements.push_back(append_payload(out, std::as_bytes(std::span{vm.cmdline})));
    }
    for (std::size_t i = 0; i < vms.size(); ++i) {
        const auto record = std::span{out}.subspan(wire::kHeaderSize + i * wire::kVmRecordSize, wire::kVmRecordSize);
        write_record(record, vms[i], placements[3 * i], placements[3 * i + 1], placements[3 * i + 2]);
    }
    write_header(out, vm_count, out.size());
    seal(out);
    return out;
}

}  // namespace lamina::bundle_tool
