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
inline constexpr std::uint32_t kVersion = 1;
inline constexpr std::uint32_t kHeaderSize = 64;
inline constexpr std::uint32_t kVmRecordSize = 128;
inline constexpr std::uint32_t kMaxVmCount = 64;
inline constexpr std::uint64_t kVmTableAlignment = 8;
inline constexpr std::uint64_t kPayloadAlignment = 4096;
inline constexpr std::size_t kNameFieldSize = 32;
inline constexpr std::size_t kMaxNameLength = kNameFieldSize - 1;  // room for the terminating NUL
inline constexpr std::uint64_t kMaxCmdlineSize = 2048;
inline constexpr std::uint32_t kDefaultWeight = 256;

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
inline constexpr std::size_t kReserved = 44;
inline constexpr std::size_t kReservedSize = 20;
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

static_assert(header::kReserved + header::kReservedSize == kHeaderSize);
static_assert(record::kReserved + record::kReservedSize == kVmRecordSize);

// VM names end up in console messages and logs: keep them to a safe charset.
[[nodiscard]] constexpr bool is_name_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
}

[[nodiscard]] constexpr bool is_valid_name(std::string_view name) {
    if (name.empty() || name.size() > kMaxNameLength) return false;
    for (const char c : name)
        if (!is_name_char(c)) return false;
    return true;
}

// CRC-32 of the metadata: the header with its metadata_crc32 field taken as
// zero, then the VM table the header points at. nullopt when the header or the
// table does not fit in `bundle`. Shared by the parser and the bundle writer.
[[nodiscard]] std::optional<std::uint32_t> metadata_crc32(ByteSpan bundle);

}  // namespace bundle_format

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
};

class BootBundle final {
public:
    BootBundle() = default;  // an empty bundle (no VMs); Result<T> needs it

    // Validates the header, the VM table bounds and the metadata CRC. The
    // bundle's own total_size may be smaller than `bytes` (loaders pad).
    [[nodiscard]] static Result<BootBundle> parse(ByteSpan bytes);

    [[nodiscard]] std::uint32_t vm_count() const { return vm_count_; }

    // Validates and decodes one record. A bad record only fails itself, so
    // the caller can report it and still start the other VMs.
    [[nodiscard]] Result<VmImageSpec> vm(std::uint32_t index) const;

    [[nodiscard]] std::uint64_t total_size() const { return bundle_.size(); }

    // The bundle's bytes (exactly total_size of them).
    [[nodiscard]] ByteSpan bytes() const { return bundle_; }

private:
    BootBundle(ByteSpan bundle, std::uint32_t vm_count, std::uint64_t vm_table_offset)
        : bundle_{bundle}, vm_count_{vm_count}, vm_table_offset_{vm_table_offset} {}

    [[nodiscard]] ByteSpan record_bytes(std::uint32_t index) const;
    [[nodiscard]] bool name_repeats_earlier_vm(std::uint32_t index) const;

    ByteSpan bundle_{};
    std::uint32_t vm_count_{0};
    std::uint64_t vm_table_offset_{0};
};

}  // namespace lamina
