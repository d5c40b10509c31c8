// The boot bundle parser against bundles written by the real encoder (the one
// lamina-bundle ships), then patched into every kind of malformed input.
// Runs under ASan/UBSan: each input lives in its own exactly-sized heap
// buffer, so any read past it is caught.
#include "core/bundle.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <ostream>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../../tools/bundle/bundle_encoder.hpp"
#include "core/crc32.hpp"

namespace lamina {
namespace {

using bundle_tool::default_mac;
using bundle_tool::encode_bundle;
using bundle_tool::format_mac;
using bundle_tool::Mac;
using bundle_tool::seal;
using bundle_tool::ServiceEntry;
using bundle_tool::store_le;
using bundle_tool::VmEntry;
using ::testing::HasSubstr;
namespace wire = bundle_format;

using Bytes = std::vector<std::byte>;

// Distinct, recognisable content so a payload span can be checked exactly.
[[nodiscard]] Bytes pattern(std::size_t size, std::uint8_t seed) {
    Bytes out(size);
    for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<std::byte>(seed + i * 7);
    return out;
}

[[nodiscard]] std::string_view text_of(ByteSpan bytes) {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

[[nodiscard]] bool same_bytes(ByteSpan actual, const Bytes& expected) {
    return std::equal(actual.begin(), actual.end(), expected.begin(), expected.end());
}

[[nodiscard]] bool lies_within(ByteSpan inner, ByteSpan outer) {
    if (inner.empty()) return true;
    const std::less_equal<const std::byte*> not_after{};
    return not_after(outer.data(), inner.data()) && not_after(inner.data() + inner.size(), outer.data() + outer.size());
}

[[nodiscard]] constexpr Mac mac(std::uint8_t last) { return {0x02, 0x00, 0x00, 0x00, 0x00, last}; }

[[nodiscard]] DiskSpec board_slice(std::uint64_t offset, std::uint64_t size, bool read_only = false) {
    return {.backing = DiskBacking::board_disk, .offset_bytes = offset, .size_bytes = size, .read_only = read_only};
}

[[nodiscard]] DiskSpec ram_disk(std::uint64_t size) { return {.backing = DiskBacking::ram, .size_bytes = size}; }

const std::vector<std::string> kNetworks{"lan", "wan"};
constexpr std::uint32_t kLan = 0;
constexpr std::uint32_t kWan = 1;

// Three VMs with every kind of device. The encoder writes each VM's NICs, then
// its disks, in VM order; the device indices below follow from that.
[[nodiscard]] std::vector<VmEntry> three_vms() {
    VmEntry hello{.name = "hello",
                  .memory_bytes = 16 * MiB,
                  .vcpu_count = 1,
                  .weight = 0,
                  .cap_percent = 0,
                  .pinned_cpu_mask = 0,
                  .kernel = pattern(5000, 1),
                  .initrd = {},
                  .cmdline = "console=ttyAMA0",
                  .nics = {{.network = kLan, .mac = mac(1)}},
                  .disks = {board_slice(0, 16 * MiB)}};
    VmEntry worker{.name = "worker-1.b_x",
                   .memory_bytes = 256 * MiB,
                   .vcpu_count = 4,
                   .weight = 512,
                   .cap_percent = 150,
                   .pinned_cpu_mask = 0b1010,
                   .kernel = pattern(9000, 2),
                   .initrd = pattern(300, 3),
                   .cmdline = "root=/dev/ram0 quiet",
                   .nics = {{.network = kLan, .mac = mac(2)}, {.network = kWan, .mac = mac(3)}},
                   // Starts where hello's slice ends: adjacent slices do not overlap.
                   .disks = {board_slice(16 * MiB, 64 * MiB, true), board_slice(80 * MiB, 32 * MiB), ram_disk(512)}};
    VmEntry tiny{.name = "t",
                 .memory_bytes = 2 * MiB,
                 .vcpu_count = 1,
                 .weight = 1,
                 .cap_percent = 5,
                 .pinned_cpu_mask = ~std::uint64_t{0},
                 .kernel = pattern(1, 4),
                 .initrd = {},
                 .cmdline = {},
                 .nics = {{.network = kWan, .mac = mac(4)}},
                 .disks = {board_slice(112 * MiB, 512)}};
    return {hello, worker, tiny};
}

[[nodiscard]] Bytes three_vm_bundle() { return encode_bundle(three_vms(), kNetworks, kWan); }

[[nodiscard]] constexpr std::size_t record_at(std::size_t index) {
    return wire::kHeaderSize + index * wire::kVmRecordSize;  // the encoder puts the table right after the header
}

// The tables of three_vm_bundle(), packed after the VM table.
[[nodiscard]] constexpr std::size_t network_at(std::size_t index) {
    return record_at(3) + index * wire::kNetworkRecordSize;
}
[[nodiscard]] constexpr std::size_t device_at(std::size_t index) {
    return network_at(2) + index * wire::kDeviceRecordSize;
}
constexpr std::size_t kMetadataEnd = device_at(9);

// Device indices in three_vm_bundle().
constexpr std::size_t kHelloNic = 0;
constexpr std::size_t kHelloSlice = 1;
constexpr std::size_t kWorkerLanNic = 2;
constexpr std::size_t kWorkerWanNic = 3;
constexpr std::size_t kWorkerSlice = 4;  // read-only
constexpr std::size_t kWorkerSecondSlice = 5;
constexpr std::size_t kWorkerRamDisk = 6;
constexpr std::size_t kTinyNic = 7;
constexpr std::size_t kTinySlice = 8;

// Recomputes the CRC when the header still lets it be computed, so a test
// reaches the specific check it targets instead of stopping at the CRC.
void reseal_if_possible(Bytes& bundle) {
    if (wire::metadata_crc32(bundle)) seal(bundle);
}

template <typename T>
void patch(Bytes& bundle, std::size_t offset, T value) {
    store_le<T>(bundle, offset, value);
    reseal_if_possible(bundle);
}

void patch_mac(Bytes& bundle, std::size_t device, const Mac& value) {
    for (std::size_t i = 0; i < value.size(); ++i)
        store_le<std::uint8_t>(bundle, device_at(device) + wire::device_record::kMac + i, value[i]);
    reseal_if_possible(bundle);
}

void write_network_name(Bytes& b, std::size_t network, std::string_view name_field) {
    for (std::size_t i = 0; i < wire::kNetworkNameFieldSize; ++i)
        b[network_at(network) + i] = i < name_field.size() ? static_cast<std::byte>(name_field[i]) : std::byte{0};
    reseal_if_possible(b);
}

void swap_devices(Bytes& bundle, std::size_t a, std::size_t b) {
    std::swap_ranges(bundle.begin() + static_cast<std::ptrdiff_t>(device_at(a)),
                     bundle.begin() + static_cast<std::ptrdiff_t>(device_at(a) + wire::kDeviceRecordSize),
                     bundle.begin() + static_cast<std::ptrdiff_t>(device_at(b)));
    reseal_if_possible(bundle);
}

void expect_same_devices(const VmImageSpec& vm, const VmEntry& expected) {
    ASSERT_EQ(vm.nic_count, expected.nics.size());
    for (std::size_t i = 0; i < expected.nics.size(); ++i) {
        EXPECT_EQ(vm.nics[i].network, expected.nics[i].network) << "nic " << i;
        EXPECT_EQ(vm.nics[i].mac, expected.nics[i].mac) << "nic " << i;
    }
    ASSERT_EQ(vm.disk_count, expected.disks.size());
    for (std::size_t i = 0; i < expected.disks.size(); ++i) {
        EXPECT_EQ(vm.disks[i].backing, expected.disks[i].backing) << "disk " << i;
        EXPECT_EQ(vm.disks[i].offset_bytes, expected.disks[i].offset_bytes) << "disk " << i;
        EXPECT_EQ(vm.disks[i].size_bytes, expected.disks[i].size_bytes) << "disk " << i;
        EXPECT_EQ(vm.disks[i].read_only, expected.disks[i].read_only) << "disk " << i;
    }
}

[[nodiscard]] std::string parse_error(const Bytes& bundle) {
    const auto parsed = BootBundle::parse(bundle);
    return parsed ? std::string{"(parsed)"} : std::string{parsed.error().message};
}

// ---------------------------------------------------------------- CRC-32

// The standard CRC check input "123456789", as bytes usable at compile time.
constexpr std::array<std::byte, 9> kCheckInput = [] {
    std::array<std::byte, 9> digits{};
    for (std::size_t i = 0; i < digits.size(); ++i) digits[i] = static_cast<std::byte>('1' + i);
    return digits;
}();

TEST(BundleCrc32, MatchesTheZlibCheckValue) {
    static_assert(crc32(kCheckInput) == 0xCBF4'3926u);  // the table is built at compile time
    EXPECT_EQ(crc32(ByteSpan{}), 0u);
    Crc32 pieces{};
    pieces.update(std::as_bytes(std::span{"1234", 4}));
    pieces.update(std::as_bytes(std::span{"56789", 5}));
    EXPECT_EQ(pieces.value(), 0xCBF4'3926u);
}

TEST(BundleCrc32, TreatsUpdateZerosLikeZeroBytes) {
    const Bytes zeros(5);
    Crc32 explicit_zeros{};
    explicit_zeros.update(zeros);
    Crc32 implicit_zeros{};
    implicit_zeros.update_zeros(zeros.size());
    EXPECT_EQ(explicit_zeros.value(), implicit_zeros.value());
}

// ---------------------------------------------------------------- valid bundles

TEST(BootBundle, ParsesAValidMultiVmBundleWithExactFields) {
    const Bytes bytes = three_vm_bundle();
    const auto bundle = BootBundle::parse(bytes);
    ASSERT_TRUE(bundle) << bundle.error().message;
    EXPECT_EQ(bundle->vm_count(), 3u);
    EXPECT_EQ(bundle->total_size(), bytes.size());

    const std::vector<VmEntry> expected = three_vms();
    for (std::uint32_t i = 0; i < 3; ++i) {
        SCOPED_TRACE(expected[i].name);
        const auto vm = bundle->vm(i);
        ASSERT_TRUE(vm) << vm.error().message;
        EXPECT_EQ(vm->name, expected[i].name);
        EXPECT_EQ(vm->memory_bytes, expected[i].memory_bytes);
        EXPECT_EQ(vm->vcpu_count, expected[i].vcpu_count);
        EXPECT_EQ(vm->cap_percent, expected[i].cap_percent);
        EXPECT_EQ(vm->pinned_cpu_mask, expected[i].pinned_cpu_mask);
        EXPECT_TRUE(same_bytes(vm->kernel, expected[i].kernel));
        EXPECT_TRUE(same_bytes(vm->initrd, expected[i].initrd));
        EXPECT_EQ(vm->cmdline, expected[i].cmdline);
        expect_same_devices(*vm, expected[i]);
        EXPECT_TRUE(lies_within(vm->kernel, bytes));  // views, not copies
        EXPECT_TRUE(is_aligned(static_cast<std::uint64_t>(vm->kernel.data() - bytes.data()), wire::kPayloadAlignment));
    }
    EXPECT_EQ(bundle->vm(0)->weight, wire::kDefaultWeight);  // stored 0 means the default share
    EXPECT_EQ(bundle->vm(1)->weight, 512u);
    EXPECT_EQ(bundle->vm(2)->weight, 1u);

    ASSERT_EQ(bundle->network_count(), 2u);
    EXPECT_EQ(bundle->network_name(0), "lan");
    EXPECT_EQ(bundle->network_name(1), "wan");
    EXPECT_EQ(bundle->network_name(2), "");
    EXPECT_EQ(bundle->uplink_network(), std::optional<std::uint32_t>{kWan});
}

TEST(BootBundle, ParsesNetworksWithoutAnUplinkAndVmsWithoutDevices) {
    std::vector<VmEntry> vms = three_vms();
    vms[2].nics.clear();
    vms[2].disks.clear();
    const std::vector<std::string> networks{"lan", "wan", "a.b_c-15chars.."};
    const Bytes bytes = encode_bundle(vms, networks);
    const auto bundle = BootBundle::parse(bytes);
    ASSERT_TRUE(bundle) << bundle.error().message;
    EXPECT_EQ(bundle->uplink_network(), std::nullopt);
    EXPECT_EQ(bundle->network_name(2), "a.b_c-15chars..");
    const auto tiny = bundle->vm(2);
    ASSERT_TRUE(tiny) << tiny.error().message;
    EXPECT_EQ(tiny->nic_count, 0u);
    EXPECT_EQ(tiny->disk_count, 0u);
    EXPECT_TRUE(bundle->vm(1));
}

TEST(BootBundle, AcceptsEveryLimitAtOnce) {
    // 16 networks, 64 VMs, 256 devices, 4 NICs on one VM and 4 disks on another.
    std::vector<std::string> networks;
    for (int i = 0; i < 16; ++i) networks.push_back("net" + std::to_string(i));
    std::vector<VmEntry> vms(64);
    std::uint8_t next_mac = 1;
    for (std::size_t i = 0; i < vms.size(); ++i) {
        vms[i].name = "vm" + std::to_string(i);
        vms[i].kernel = pattern(1, 9);
        for (std::uint32_t n = 0; n < 2; ++n)
            vms[i].nics.push_back({.network = n, .mac = {0x02, 0, 0, 0, static_cast<std::uint8_t>(i), next_mac++}});
        vms[i].disks = {board_slice(2 * i * MiB, MiB), board_slice((2 * i + 1) * MiB, MiB, true)};
    }
    vms[0].nics.push_back({.network = 2, .mac = mac(0xF0)});
    vms[0].nics.push_back({.network = 3, .mac = mac(0xF1)});
    vms[0].disks.clear();
    vms[1].disks.push_back(ram_disk(MiB));
    vms[1].disks.push_back(ram_disk(MiB));
    vms[2].disks.clear();
    const Bytes bytes = encode_bundle(vms, networks, 15);
    EXPECT_EQ(*load_le<std::uint32_t>(bytes, wire::header::kDeviceCount), wire::kMaxDeviceCount);
    const auto bundle = BootBundle::parse(bytes);
    ASSERT_TRUE(bundle) << bundle.error().message;
    EXPECT_EQ(bundle->uplink_network(), std::optional<std::uint32_t>{15});
    for (std::uint32_t i = 0; i < vms.size(); ++i) {
        const auto vm = bundle->vm(i);
        ASSERT_TRUE(vm) << i << ": " << vm.error().message;
        expect_same_devices(*vm, vms[i]);
    }
}

TEST(BootBundle, ParsesABundleWithNoVms) {
    const Bytes bytes = encode_bundle({});
    const auto bundle = BootBundle::parse(bytes);
    ASSERT_TRUE(bundle) << bundle.error().message;
    EXPECT_EQ(bundle->vm_count(), 0u);
    EXPECT_EQ(bundle->total_size(), wire::kHeaderSize);
    EXPECT_EQ(bundle->network_count(), 0u);
    EXPECT_EQ(bundle->uplink_network(), std::nullopt);
    EXPECT_FALSE(bundle->vm(0));
}

TEST(BootBundle, CarriesZeroVcpusAndAbsurdMemoryThroughUnchanged) {
    std::vector<VmEntry> vms = three_vms();
    vms[0].vcpu_count = 0;
    vms[1].memory_bytes = ~std::uint64_t{0};
    vms[2].vcpu_count = 0xFFFF'FFFF;
    vms[2].memory_bytes = 0;
    const Bytes bytes = encode_bundle(vms, kNetworks, kWan);
    const auto bundle = BootBundle::parse(bytes);
    ASSERT_TRUE(bundle) << bundle.error().message;
    EXPECT_EQ(bundle->vm(0)->vcpu_count, 0u);
    EXPECT_EQ(bundle->vm(1)->memory_bytes, ~std::uint64_t{0});
    EXPECT_EQ(bundle->vm(2)->vcpu_count, 0xFFFF'FFFFu);
    EXPECT_EQ(bundle->vm(2)->memory_bytes, 0u);
}

TEST(BootBundle, TemplateOnlyRecordsAreNotStartedAtBoot) {
    std::vector<VmEntry> vms = three_vms();
    vms[1].start_at_boot = false;
    const Bytes bytes = encode_bundle(vms, kNetworks, kWan);
    const auto bundle = BootBundle::parse(bytes);
    ASSERT_TRUE(bundle) << bundle.error().message;
    EXPECT_TRUE(bundle->vm(0)->start_at_boot);
    EXPECT_FALSE(bundle->vm(1)->start_at_boot);
    EXPECT_TRUE(bundle->vm(2)->start_at_boot);
}

TEST(BootBundle, IgnoresBytesBeyondTotalSize) {
    Bytes bytes = three_vm_bundle();
    const std::size_t total = bytes.size();
    bytes.resize(total + 12345, std::byte{0xAA});  // loaders round the image up
    const auto bundle = BootBundle::parse(bytes);
    ASSERT_TRUE(bundle) << bundle.error().message;
    EXPECT_EQ(bundle->total_size(), total);
    EXPECT_EQ(bundle->bytes().size(), total);
}

TEST(BootBundle, RefusesAnIndexPastTheLastVm) {
    const Bytes bytes = three_vm_bundle();
    const auto bundle = BootBundle::parse(bytes);
    ASSERT_TRUE(bundle);
    EXPECT_THAT(bundle->vm(3).error().message, HasSubstr("out of range"));
    EXPECT_FALSE(bundle->vm(0xFFFF'FFFF));
}

TEST(BootBundle, DefaultConstructedBundleIsEmpty) {
    const BootBundle empty{};
    EXPECT_EQ(empty.vm_count(), 0u);
    EXPECT_EQ(empty.total_size(), 0u);
    EXPECT_EQ(empty.network_count(), 0u);
    EXPECT_EQ(empty.network_name(0), "");
    EXPECT_EQ(empty.uplink_network(), std::nullopt);
    EXPECT_FALSE(empty.vm(0));
}

// ---------------------------------------------------------------- truncation and corruption

TEST(BootBundle, RejectsEveryTruncation) {
    const Bytes full = three_vm_bundle();
    for (std::size_t length = 0; length < full.size(); ++length) {
        const Bytes prefix(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(length));  // exact-size buffer
        const auto bundle = BootBundle::parse(prefix);
        ASSERT_FALSE(bundle) << "a " << length << "-byte prefix was accepted";
    }
}

TEST(BootBundle, RejectsEveryTruncationEvenWhenTotalSizeIsAdjusted) {
    // A loader could hand over a shorter bundle whose header agrees: records
    // pointing past the end must then fail on their own, without reading out of bounds.
    const Bytes full = three_vm_bundle();
    for (std::size_t length = kMetadataEnd; length < full.size(); length += 97) {
        Bytes prefix(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(length));
        patch<std::uint64_t>(prefix, wire::header::kTotalSize, length);
        const auto bundle = BootBundle::parse(prefix);
        ASSERT_TRUE(bundle) << bundle.error().message;
        for (std::uint32_t i = 0; i < bundle->vm_count(); ++i) {
            const auto vm = bundle->vm(i);
            if (vm) {
                EXPECT_TRUE(lies_within(vm->kernel, prefix) && lies_within(vm->initrd, prefix));
            }
        }
        EXPECT_FALSE(bundle->vm(2)) << "the last VM's payloads end at the last byte";
    }
}

struct HeaderCorruption {
    const char* what;
    std::function<void(Bytes&)> corrupt;
    const char* expected_error;
};

void PrintTo(const HeaderCorruption& corruption, std::ostream* out) { *out << corruption.what; }

class BootBundleHeader : public ::testing::TestWithParam<HeaderCorruption> {};

TEST_P(BootBundleHeader, RejectsTheWholeBundleAndSaysWhy) {
    Bytes bytes = three_vm_bundle();
    GetParam().corrupt(bytes);
    EXPECT_THAT(parse_error(bytes), HasSubstr(GetParam().expected_error));
}

INSTANTIATE_TEST_SUITE_P(
    EachField, BootBundleHeader,
    ::testing::Values(
        HeaderCorruption{"magic", [](Bytes& b) { b[3] = std::byte{'X'}; }, "magic"},
        HeaderCorruption{"version1", [](Bytes& b) { patch<std::uint32_t>(b, wire::header::kVersion, 1); },
                         "version is not 2"},
        HeaderCorruption{"version3", [](Bytes& b) { patch<std::uint32_t>(b, wire::header::kVersion, 3); },
                         "version is not 2"},
        HeaderCorruption{"version0", [](Bytes& b) { patch<std::uint32_t>(b, wire::header::kVersion, 0); }, "version"},
        HeaderCorruption{"header_size", [](Bytes& b) { patch<std::uint32_t>(b, wire::header::kHeaderSize, 128); },
                         "header_size"},
        HeaderCorruption{"vm_count", [](Bytes& b) { patch<std::uint32_t>(b, wire::header::kVmCount, 65); }, "vm_count"},
        HeaderCorruption{"vm_count_huge",
                         [](Bytes& b) { patch<std::uint32_t>(b, wire::header::kVmCount, 0xFFFF'FFFF); }, "vm_count"},
        HeaderCorruption{"vm_count_past_end",
                         [](Bytes& b) {
                             b.resize(record_at(3));  // header and table only
                             patch<std::uint64_t>(b, wire::header::kTotalSize, b.size());
                             patch<std::uint32_t>(b, wire::header::kVmCount, 4);
                         },
                         "VM table extends past total_size"},
        HeaderCorruption{"vm_record_size", [](Bytes& b) { patch<std::uint32_t>(b, wire::header::kVmRecordSize, 64); },
                         "vm_record_size"},
        HeaderCorruption{"table_inside_header",
                         [](Bytes& b) { patch<std::uint64_t>(b, wire::header::kVmTableOffset, 56); }, "overlaps"},
        HeaderCorruption{"table_misaligned",
                         [](Bytes& b) { patch<std::uint64_t>(b, wire::header::kVmTableOffset, 68); }, "aligned"},
        HeaderCorruption{
            "table_past_end",
            [](Bytes& b) { patch<std::uint64_t>(b, wire::header::kVmTableOffset, align_down(b.size() - 64, 8)); },
            "VM table extends past total_size"},
        HeaderCorruption{"table_offset_wraps",
                         [](Bytes& b) { patch<std::uint64_t>(b, wire::header::kVmTableOffset, 0xFFFF'FFFF'FFFF'FF00); },
                         "VM table extends past total_size"},
        HeaderCorruption{"total_size_too_big",
                         [](Bytes& b) { patch<std::uint64_t>(b, wire::header::kTotalSize, b.size() + 1); },
                         "total_size exceeds"},
        HeaderCorruption{"total_size_max",
                         [](Bytes& b) { patch<std::uint64_t>(b, wire::header::kTotalSize, ~std::uint64_t{0}); },
                         "total_size exceeds"},
        HeaderCorruption{"total_size_too_small",
                         [](Bytes& b) { patch<std::uint64_t>(b, wire::header::kTotalSize, 63); }, "smaller than"},
        HeaderCorruption{"total_size_cuts_table",
                         [](Bytes& b) { patch<std::uint64_t>(b, wire::header::kTotalSize, record_at(2)); },
                         "VM table extends past total_size"},
        HeaderCorruption{"reserved",
                         [](Bytes& b) {
                             patch<std::uint8_t>(b, wire::header::kReserved + wire::header::kReservedSize - 1, 1);
                         },
                         "reserved"},
        HeaderCorruption{"reserved_first_byte",
                         [](Bytes& b) { patch<std::uint8_t>(b, wire::header::kReserved, 1); }, "reserved"},
        HeaderCorruption{"service_count", [](Bytes& b) { patch<std::uint32_t>(b, wire::header::kServiceCount, 5); },
                         "service_count exceeds 4"},
        HeaderCorruption{"service_count_huge",
                         [](Bytes& b) { patch<std::uint32_t>(b, wire::header::kServiceCount, 0xFFFF'FFFF); },
                         "service_count exceeds 4"},
        HeaderCorruption{"service_table_past_end",
                         [](Bytes& b) {
                             b.resize(kMetadataEnd);  // the metadata only
                             patch<std::uint64_t>(b, wire::header::kTotalSize, b.size());
                             patch<std::uint32_t>(b, wire::header::kServiceCount, 1);
                         },
                         "service table extends past total_size"},
        HeaderCorruption{"crc_field", [](Bytes& b) { b[wire::header::kMetadataCrc32] ^= std::byte{1}; }, "CRC"},
        HeaderCorruption{"record_without_reseal",
                         [](Bytes& b) { b[record_at(1) + wire::record::kMemoryBytes] ^= std::byte{0x10}; }, "CRC"},
        HeaderCorruption{"network_without_reseal",
                         [](Bytes& b) { b[network_at(1) + wire::network_record::kReserved] ^= std::byte{1}; }, "CRC"},
        HeaderCorruption{"device_without_reseal",
                         [](Bytes& b) { b[device_at(8) + wire::device_record::kSize + 1] ^= std::byte{1}; }, "CRC"},
        // The network and device tables: their counts, bounds and contents.
        HeaderCorruption{"network_count",
                         [](Bytes& b) { patch<std::uint32_t>(b, wire::header::kNetworkCount, 17); },
                         "network_count exceeds 16"},
        HeaderCorruption{"network_count_huge",
                         [](Bytes& b) { patch<std::uint32_t>(b, wire::header::kNetworkCount, 0xFFFF'FFFF); },
                         "network_count exceeds 16"},
        HeaderCorruption{"device_count",
                         [](Bytes& b) { patch<std::uint32_t>(b, wire::header::kDeviceCount, 257); },
                         "device_count exceeds 256"},
        HeaderCorruption{"device_count_huge",
                         [](Bytes& b) { patch<std::uint32_t>(b, wire::header::kDeviceCount, 0x8000'0000); },
                         "device_count exceeds 256"},
        HeaderCorruption{"network_table_past_end",
                         [](Bytes& b) {
                             b.resize(network_at(2));  // header, VM table and network table only
                             patch<std::uint64_t>(b, wire::header::kTotalSize, b.size());
                             patch<std::uint32_t>(b, wire::header::kDeviceCount, 0);
                             patch<std::uint32_t>(b, wire::header::kNetworkCount, 3);
                         },
                         "network table extends past total_size"},
        HeaderCorruption{"device_table_past_end",
                         [](Bytes& b) {
                             b.resize(kMetadataEnd);  // the metadata only
                             patch<std::uint64_t>(b, wire::header::kTotalSize, b.size());
                             patch<std::uint32_t>(b, wire::header::kDeviceCount, 10);
                         },
                         "device table extends past total_size"},
        HeaderCorruption{"total_size_cuts_device_table",
                         [](Bytes& b) { patch<std::uint64_t>(b, wire::header::kTotalSize, kMetadataEnd - 1); },
                         "device table extends past total_size"},
        HeaderCorruption{"uplink_past_networks",
                         [](Bytes& b) { patch<std::uint32_t>(b, wire::header::kUplinkNetwork, 3); }, "uplink_network"},
        HeaderCorruption{"uplink_huge",
                         [](Bytes& b) { patch<std::uint32_t>(b, wire::header::kUplinkNetwork, 0xFFFF'FFFF); },
                         "uplink_network"},
        HeaderCorruption{"network_name_empty", [](Bytes& b) { write_network_name(b, 1, ""); },
                         "network name is empty"},
        HeaderCorruption{"network_name_without_nul",
                         [](Bytes& b) { write_network_name(b, 1, std::string(16, 'n')); }, "not NUL-terminated"},
        HeaderCorruption{"network_name_with_space", [](Bytes& b) { write_network_name(b, 1, "w an"); },
                         "network name has characters outside"},
        HeaderCorruption{"network_name_garbage_after_nul",
                         [](Bytes& b) { write_network_name(b, 1, std::string_view{"wan\0x", 5}); },
                         "network name has bytes after its NUL"},
        HeaderCorruption{"network_name_duplicate", [](Bytes& b) { write_network_name(b, 1, "lan"); },
                         "repeats an earlier network"},
        HeaderCorruption{"network_reserved",
                         [](Bytes& b) {
                             patch<std::uint8_t>(b, network_at(0) + wire::network_record::kReserved + 15, 1);
                         },
                         "network record reserved"},
        HeaderCorruption{"device_vm_index_past_vm_count",
                         [](Bytes& b) {
                             patch<std::uint32_t>(b, device_at(kTinySlice) + wire::device_record::kVmIndex, 3);
                         },
                         "vm_index"},
        HeaderCorruption{"device_vm_index_huge",
                         [](Bytes& b) {
                             patch<std::uint32_t>(b, device_at(kHelloNic) + wire::device_record::kVmIndex, 0xFFFF'FFFF);
                         },
                         "vm_index"}),
    [](const ::testing::TestParamInfo<HeaderCorruption>& info) { return std::string{info.param.what}; });

TEST(BootBundle, DetectsEverySingleBitFlipInTheMetadata) {
    const Bytes good = three_vm_bundle();
    for (std::size_t byte = 0; byte < kMetadataEnd; ++byte) {  // header, VM, network and device tables
        for (int bit = 0; bit < 8; ++bit) {
            Bytes flipped = good;
            flipped[byte] ^= static_cast<std::byte>(1u << bit);
            ASSERT_FALSE(BootBundle::parse(flipped)) << "flip of byte " << byte << " bit " << bit;
        }
    }
}

TEST(BootBundle, PayloadsAreNotCoveredByTheCrc) {
    Bytes bytes = three_vm_bundle();
    bytes.back() ^= std::byte{0xFF};  // last byte of the last payload
    EXPECT_TRUE(BootBundle::parse(bytes));
}

// ---------------------------------------------------------------- one bad record among good ones

struct RecordCorruption {
    const char* what;
    std::function<void(Bytes&, std::size_t record)> corrupt;
    const char* expected_error;
};

void write_name(Bytes& b, std::size_t record, std::string_view name_field) {
    for (std::size_t i = 0; i < wire::kNameFieldSize; ++i)
        b[record + i] = i < name_field.size() ? static_cast<std::byte>(name_field[i]) : std::byte{0};
    reseal_if_possible(b);
}

[[nodiscard]] std::uint64_t u64_at(const Bytes& b, std::size_t offset) { return *load_le<std::uint64_t>(b, offset); }

void PrintTo(const RecordCorruption& corruption, std::ostream* out) { *out << corruption.what; }

class BootBundleRecord : public ::testing::TestWithParam<RecordCorruption> {};

TEST_P(BootBundleRecord, FailsAloneWhileTheOtherVmsStillParse) {
    Bytes bytes = three_vm_bundle();
    GetParam().corrupt(bytes, record_at(1));
    const auto bundle = BootBundle::parse(bytes);
    ASSERT_TRUE(bundle) << bundle.error().message;
    ASSERT_EQ(bundle->vm_count(), 3u);
    EXPECT_TRUE(bundle->vm(0));
    EXPECT_TRUE(bundle->vm(2));
    const auto bad = bundle->vm(1);
    ASSERT_FALSE(bad) << "corrupted record was accepted";
    EXPECT_THAT(bad.error().message, HasSubstr(GetParam().expected_error));
}

constexpr std::uint64_t kNearTheTop = 0xFFFF'FFFF'FFFF'F000;

INSTANTIATE_TEST_SUITE_P(
    EachRule, BootBundleRecord,
    ::testing::Values(
        RecordCorruption{"name_without_nul",
                         [](Bytes& b, std::size_t r) { write_name(b, r, std::string(32, 'a')); }, "NUL-terminated"},
        RecordCorruption{"name_with_space", [](Bytes& b, std::size_t r) { write_name(b, r, "hello world"); },
                         "characters outside"},
        RecordCorruption{"name_with_slash", [](Bytes& b, std::size_t r) { write_name(b, r, "../etc"); },
                         "characters outside"},
        RecordCorruption{"name_with_high_byte", [](Bytes& b, std::size_t r) { write_name(b, r, "caf\xc3\xa9"); },
                         "characters outside"},
        RecordCorruption{"name_empty", [](Bytes& b, std::size_t r) { write_name(b, r, ""); }, "empty"},
        RecordCorruption{"name_garbage_after_nul",
                         [](Bytes& b, std::size_t r) { write_name(b, r, std::string_view{"ab\0c", 4}); },
                         "after its NUL"},
        RecordCorruption{"name_duplicate", [](Bytes& b, std::size_t r) { write_name(b, r, "hello"); }, "repeats"},
        RecordCorruption{"flags",
                         [](Bytes& b, std::size_t r) { patch<std::uint32_t>(b, r + wire::record::kFlags, 4); },
                         "flags"},
        RecordCorruption{"flags_high_bit",
                         [](Bytes& b, std::size_t r) {
                             patch<std::uint32_t>(b, r + wire::record::kFlags, 0x8000'0000 | wire::kVmFlagsKnown);
                         },
                         "flags"},
        RecordCorruption{"reserved",
                         [](Bytes& b, std::size_t r) { patch<std::uint8_t>(b, r + wire::record::kReserved + 15, 9); },
                         "reserved"},
        RecordCorruption{"kernel_size_zero",
                         [](Bytes& b, std::size_t r) { patch<std::uint64_t>(b, r + wire::record::kKernelSize, 0); },
                         "kernel_size is zero"},
        RecordCorruption{"kernel_absent",
                         [](Bytes& b, std::size_t r) {
                             patch<std::uint64_t>(b, r + wire::record::kKernelOffset, 0);
                             patch<std::uint64_t>(b, r + wire::record::kKernelSize, 0);
                         },
                         "kernel_size is zero"},
        RecordCorruption{"kernel_offset_overflows",
                         [](Bytes& b, std::size_t r) {
                             patch<std::uint64_t>(b, r + wire::record::kKernelOffset, kNearTheTop);
                             patch<std::uint64_t>(b, r + wire::record::kKernelSize, 0x2000);
                         },
                         "kernel lies outside"},
        RecordCorruption{"kernel_size_overflows",
                         [](Bytes& b, std::size_t r) {
                             patch<std::uint64_t>(b, r + wire::record::kKernelSize, ~std::uint64_t{0});
                         },
                         "kernel lies outside"},
        RecordCorruption{"kernel_one_byte_too_long",
                         [](Bytes& b, std::size_t r) {
                             const std::uint64_t offset = u64_at(b, r + wire::record::kKernelOffset);
                             patch<std::uint64_t>(b, r + wire::record::kKernelSize, b.size() - offset + 1);
                         },
                         "kernel lies outside"},
        RecordCorruption{"kernel_over_metadata",
                         [](Bytes& b, std::size_t r) { patch<std::uint64_t>(b, r + wire::record::kKernelOffset, 0); },
                         "kernel lies outside"},
        RecordCorruption{"kernel_over_device_table",  // the payload area starts after the device table
                         [](Bytes& b, std::size_t r) {
                             patch<std::uint64_t>(b, r + wire::record::kKernelOffset, device_at(kTinySlice));
                             patch<std::uint64_t>(b, r + wire::record::kKernelSize, wire::kDeviceRecordSize);
                         },
                         "kernel lies outside"},
        RecordCorruption{"kernel_misaligned",
                         [](Bytes& b, std::size_t r) {
                             const std::uint64_t offset = u64_at(b, r + wire::record::kKernelOffset);
                             patch<std::uint64_t>(b, r + wire::record::kKernelOffset, offset + 8);
                         },
                         "aligned"},
        RecordCorruption{"initrd_offset_overflows",
                         [](Bytes& b, std::size_t r) {
                             patch<std::uint64_t>(b, r + wire::record::kInitrdOffset, kNearTheTop);
                         },
                         "initrd lies outside"},
        RecordCorruption{"initrd_stray_offset",
                         [](Bytes& b, std::size_t r) { patch<std::uint64_t>(b, r + wire::record::kInitrdSize, 0); },
                         "initrd_size is zero"},
        RecordCorruption{"cmdline_too_long",
                         [](Bytes& b, std::size_t r) {
                             patch<std::uint64_t>(b, r + wire::record::kCmdlineSize, wire::kMaxCmdlineSize + 1);
                         },
                         "longer than 2048"},
        RecordCorruption{"cmdline_offset_overflows",
                         [](Bytes& b, std::size_t r) {
                             patch<std::uint64_t>(b, r + wire::record::kCmdlineOffset, kNearTheTop);
                         },
                         "cmdline lies outside"},
        RecordCorruption{"cmdline_with_nul",
                         [](Bytes& b, std::size_t r) {
                             // Payload bytes are not under the CRC: no reseal needed.
                             b[u64_at(b, r + wire::record::kCmdlineOffset) + 4] = std::byte{0};
                         },
                         "NUL byte"}),
    [](const ::testing::TestParamInfo<RecordCorruption>& info) { return std::string{info.param.what}; });

// ---------------------------------------------------------------- one bad device among good ones

struct DeviceCorruption {
    const char* what;
    std::function<void(Bytes&)> corrupt;  // damages a device of VM 1 ("worker-1.b_x")
    const char* expected_error;
};

void PrintTo(const DeviceCorruption& corruption, std::ostream* out) { *out << corruption.what; }

class BootBundleDevice : public ::testing::TestWithParam<DeviceCorruption> {};

TEST_P(BootBundleDevice, FailsItsVmAloneWhileTheOtherVmsStillParse) {
    Bytes bytes = three_vm_bundle();
    GetParam().corrupt(bytes);
    const auto bundle = BootBundle::parse(bytes);
    ASSERT_TRUE(bundle) << bundle.error().message;
    EXPECT_TRUE(bundle->vm(0)) << bundle->vm(0).error().message;
    EXPECT_TRUE(bundle->vm(2)) << bundle->vm(2).error().message;
    const auto bad = bundle->vm(1);
    ASSERT_FALSE(bad) << "corrupted device was accepted";
    EXPECT_THAT(bad.error().message, HasSubstr(GetParam().expected_error));
}

namespace device = wire::device_record;

template <typename T>
[[nodiscard]] std::function<void(Bytes&)> set_field(std::size_t device_index, std::size_t offset, T value) {
    return [=](Bytes& b) { patch<T>(b, device_at(device_index) + offset, value); };
}

INSTANTIATE_TEST_SUITE_P(
    EachRule, BootBundleDevice,
    ::testing::Values(
        DeviceCorruption{"type_zero", set_field<std::uint32_t>(kWorkerLanNic, device::kType, 0), "device type"},
        DeviceCorruption{"type_unknown", set_field<std::uint32_t>(kWorkerRamDisk, device::kType, 3), "device type"},
        // NICs
        DeviceCorruption{"nic_flags", set_field<std::uint32_t>(kWorkerLanNic, device::kFlags, 1), "NIC flags"},
        DeviceCorruption{"nic_network_past_the_table", set_field<std::uint32_t>(kWorkerWanNic, device::kNetwork, 2),
                         "network index"},
        DeviceCorruption{"nic_network_huge", set_field<std::uint32_t>(kWorkerWanNic, device::kNetwork, 0xFFFF'FFFF),
                         "network index"},
        DeviceCorruption{"nic_mac_multicast", set_field<std::uint8_t>(kWorkerLanNic, device::kMac, 0x03),
                         "multicast"},
        DeviceCorruption{"nic_mac_broadcast",
                         [](Bytes& b) { patch_mac(b, kWorkerLanNic, Mac{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}); },
                         "multicast"},
        DeviceCorruption{"nic_mac_zero", [](Bytes& b) { patch_mac(b, kWorkerLanNic, Mac{}); }, "all zero"},
        DeviceCorruption{"nic_mac_padding", set_field<std::uint8_t>(kWorkerLanNic, device::kMac + 7, 1),
                         "NIC record unused bytes"},
        DeviceCorruption{"nic_with_disk_size", set_field<std::uint64_t>(kWorkerLanNic, device::kSize, 512),
                         "NIC record unused bytes"},
        DeviceCorruption{"nic_reserved", set_field<std::uint8_t>(kWorkerWanNic, device::kReserved + 23, 1),
                         "NIC record unused bytes"},
        DeviceCorruption{"nic_same_network_twice", set_field<std::uint32_t>(kWorkerWanNic, device::kNetwork, kLan),
                         "same network"},
        DeviceCorruption{"nic_mac_twice_in_one_vm", [](Bytes& b) { patch_mac(b, kWorkerWanNic, mac(2)); },
                         "repeats another NIC of the VM"},
        DeviceCorruption{"nic_mac_of_an_earlier_vm", [](Bytes& b) { patch_mac(b, kWorkerWanNic, mac(1)); },
                         "repeats an earlier VM's NIC"},
        // disks
        DeviceCorruption{"disk_backing_zero", set_field<std::uint32_t>(kWorkerSlice, device::kBacking, 0), "backing"},
        DeviceCorruption{"disk_backing_unknown", set_field<std::uint32_t>(kWorkerRamDisk, device::kBacking, 3),
                         "backing"},
        DeviceCorruption{"disk_flags", set_field<std::uint32_t>(kWorkerSlice, device::kFlags, 3), "disk flags"},
        DeviceCorruption{"disk_size_zero", set_field<std::uint64_t>(kWorkerRamDisk, device::kSize, 0),
                         "non-zero multiple of 512"},
        DeviceCorruption{"disk_size_not_sectors", set_field<std::uint64_t>(kWorkerSecondSlice, device::kSize, 1000),
                         "non-zero multiple of 512"},
        DeviceCorruption{"disk_offset_not_sectors",
                         set_field<std::uint64_t>(kWorkerSecondSlice, device::kOffset, 80 * MiB + 100),
                         "offset is not a multiple of 512"},
        DeviceCorruption{"ram_disk_with_offset", set_field<std::uint64_t>(kWorkerRamDisk, device::kOffset, 512),
                         "RAM disk offset"},
        DeviceCorruption{"slice_end_overflows",
                         set_field<std::uint64_t>(kWorkerSecondSlice, device::kOffset, ~std::uint64_t{511}),
                         "overflows"},
        DeviceCorruption{"disk_bytes_after_backing", set_field<std::uint8_t>(kWorkerSlice, device::kBacking + 4, 1),
                         "disk record unused bytes"},
        DeviceCorruption{"disk_bytes_before_offset", set_field<std::uint8_t>(kWorkerSlice, device::kOffset - 1, 1),
                         "disk record unused bytes"},
        DeviceCorruption{"disk_reserved", set_field<std::uint8_t>(kWorkerRamDisk, device::kReserved, 1),
                         "disk record unused bytes"},
        DeviceCorruption{"slices_of_one_vm_overlap",
                         set_field<std::uint64_t>(kWorkerSecondSlice, device::kOffset, 32 * MiB),
                         "overlaps another disk slice of the VM"},
        DeviceCorruption{"slice_overlaps_an_earlier_vm",
                         set_field<std::uint64_t>(kWorkerSlice, device::kOffset, 8 * MiB),
                         "overlaps an earlier VM's disk slice"},
        DeviceCorruption{"slice_equals_an_earlier_vms",
                         [](Bytes& b) {
                             patch<std::uint64_t>(b, device_at(kWorkerSecondSlice) + device::kOffset, 0);
                             patch<std::uint64_t>(b, device_at(kWorkerSecondSlice) + device::kSize, 16 * MiB);
                         },
                         "overlaps an earlier VM's disk slice"}),
    [](const ::testing::TestParamInfo<DeviceCorruption>& info) { return std::string{info.param.what}; });

TEST(BootBundleDevices, AFifthNicOrDiskFailsOnlyItsVm) {
    // VM 1 has the most it may have; VM 2's NIC or disk is then handed to it.
    std::vector<VmEntry> vms = three_vms();
    vms[1].nics.push_back({.network = 2, .mac = mac(5)});
    vms[1].nics.push_back({.network = 3, .mac = mac(6)});
    vms[1].disks.push_back(ram_disk(4096));
    const std::vector<std::string> networks{"lan", "wan", "dmz", "lab"};
    const Bytes full = encode_bundle(vms, networks, kWan);
    // Devices: hello 0-1, worker 2-9 (NICs 2-5, disks 6-9), tiny 10 (NIC) and 11 (disk).
    constexpr std::size_t kTinysNic = 10;
    constexpr std::size_t kTinysDisk = 11;
    const std::size_t device_table = wire::kHeaderSize + 3 * wire::kVmRecordSize + 4 * wire::kNetworkRecordSize;
    for (const auto& [moved, error] :
         {std::pair{kTinysNic, "more than 4 NICs"}, std::pair{kTinysDisk, "more than 4 disks"}}) {
        SCOPED_TRACE(error);
        Bytes bytes = full;
        patch<std::uint32_t>(bytes, device_table + moved * wire::kDeviceRecordSize + device::kVmIndex, 1);
        const auto bundle = BootBundle::parse(bytes);
        ASSERT_TRUE(bundle) << bundle.error().message;
        EXPECT_TRUE(bundle->vm(0));
        EXPECT_TRUE(bundle->vm(2)) << bundle->vm(2).error().message;
        EXPECT_THAT(bundle->vm(1).error().message, HasSubstr(error));
    }
    const auto untouched = BootBundle::parse(full);
    ASSERT_TRUE(untouched);
    const auto worker = untouched->vm(1);
    ASSERT_TRUE(worker) << worker.error().message;
    EXPECT_EQ(worker->nic_count, kMaxNicsPerVm);
    EXPECT_EQ(worker->disk_count, kMaxDisksPerVm);
}

TEST(BootBundleDevices, ConflictsAreBlamedOnTheLaterVmWhateverTheTableOrder) {
    Bytes bytes = three_vm_bundle();
    patch_mac(bytes, kHelloNic, mac(4));  // VM 0 takes VM 2's MAC...
    patch<std::uint64_t>(bytes, device_at(kTinySlice) + device::kOffset, 0);  // ...and VM 2 overlaps VM 0's slice
    swap_devices(bytes, kHelloNic, kTinyNic);  // VM 2's NIC now comes first in the table
    const auto bundle = BootBundle::parse(bytes);
    ASSERT_TRUE(bundle) << bundle.error().message;
    EXPECT_TRUE(bundle->vm(0)) << bundle->vm(0).error().message;
    EXPECT_TRUE(bundle->vm(1)) << bundle->vm(1).error().message;
    ASSERT_FALSE(bundle->vm(2));
    EXPECT_THAT(bundle->vm(2).error().message, HasSubstr("repeats an earlier VM's NIC"));

    patch_mac(bytes, kHelloNic, mac(9));  // (VM 2's NIC, after the swap)
    ASSERT_FALSE(bundle->vm(2));
    EXPECT_THAT(bundle->vm(2).error().message, HasSubstr("overlaps an earlier VM's disk slice"));
}

TEST(BootBundleDevices, ConflictsIgnoreDevicesThatAreInvalidThemselves) {
    Bytes bytes = three_vm_bundle();
    patch<std::uint32_t>(bytes, device_at(kHelloNic) + device::kNetwork, 7);  // VM 0's NIC is invalid...
    patch_mac(bytes, kHelloNic, mac(2));                                       // ...so its MAC claims nothing
    patch<std::uint32_t>(bytes, device_at(kHelloSlice) + device::kFlags, 4);  // nor does its broken slice
    patch<std::uint64_t>(bytes, device_at(kTinySlice) + device::kOffset, 0);
    const auto bundle = BootBundle::parse(bytes);
    ASSERT_TRUE(bundle) << bundle.error().message;
    EXPECT_FALSE(bundle->vm(0));
    EXPECT_TRUE(bundle->vm(1)) << bundle->vm(1).error().message;
    EXPECT_TRUE(bundle->vm(2)) << bundle->vm(2).error().message;
}

TEST(BootBundleDevices, KeepsEachVmsDevicesInTableOrderWhenInterleaved) {
    Bytes bytes = three_vm_bundle();
    swap_devices(bytes, kWorkerSlice, kWorkerRamDisk);  // worker: ram disk, second slice, first slice
    swap_devices(bytes, kWorkerWanNic, kTinyNic);       // tiny's NIC now sits among worker's devices
    swap_devices(bytes, kHelloNic, kTinySlice);         // and tiny's slice comes first of all
    const auto bundle = BootBundle::parse(bytes);
    ASSERT_TRUE(bundle) << bundle.error().message;
    VmEntry expected = three_vms()[1];
    std::swap(expected.disks[0], expected.disks[2]);
    const auto worker = bundle->vm(1);
    ASSERT_TRUE(worker) << worker.error().message;
    expect_same_devices(*worker, expected);
    for (const std::uint32_t other : {0u, 2u}) {
        const auto vm = bundle->vm(other);
        ASSERT_TRUE(vm) << vm.error().message;
        expect_same_devices(*vm, three_vms()[other]);
    }
}

TEST(BootBundleDevices, ReadOnlySlicesMayNotOverlapEither) {
    Bytes bytes = three_vm_bundle();
    // tiny's slice moves into worker's read-only one: still refused, for tiny.
    patch<std::uint64_t>(bytes, device_at(kTinySlice) + device::kOffset, 20 * MiB);
    patch<std::uint32_t>(bytes, device_at(kTinySlice) + device::kFlags, wire::kDiskFlagReadOnly);
    const auto bundle = BootBundle::parse(bytes);
    ASSERT_TRUE(bundle) << bundle.error().message;
    EXPECT_TRUE(bundle->vm(1));
    EXPECT_THAT(bundle->vm(2).error().message, HasSubstr("overlaps an earlier VM's disk slice"));
}

TEST(BootBundleDevices, RamDisksNeverOverlapAnything) {
    std::vector<VmEntry> vms = three_vms();
    vms[0].disks = {ram_disk(16 * MiB)};
    vms[2].disks = {ram_disk(16 * MiB), board_slice(0, 16 * MiB)};
    const Bytes bytes = encode_bundle(vms, kNetworks, kWan);
    const auto bundle = BootBundle::parse(bytes);
    ASSERT_TRUE(bundle) << bundle.error().message;
    for (std::uint32_t i = 0; i < 3; ++i) EXPECT_TRUE(bundle->vm(i)) << bundle->vm(i).error().message;
}

TEST(BootBundle, AcceptsAMaximalCmdlineAndSharedPayloads) {
    std::vector<VmEntry> vms = three_vms();
    vms[0].cmdline = std::string(wire::kMaxCmdlineSize, 'c');
    Bytes bytes = encode_bundle(vms, kNetworks, kWan);
    // Point VM 2 at VM 0's kernel: VMs may share a payload.
    patch<std::uint64_t>(bytes, record_at(2) + wire::record::kKernelOffset,
                         u64_at(bytes, record_at(0) + wire::record::kKernelOffset));
    patch<std::uint64_t>(bytes, record_at(2) + wire::record::kKernelSize,
                         u64_at(bytes, record_at(0) + wire::record::kKernelSize));
    const auto bundle = BootBundle::parse(bytes);
    ASSERT_TRUE(bundle) << bundle.error().message;
    EXPECT_EQ(bundle->vm(0)->cmdline.size(), wire::kMaxCmdlineSize);
    EXPECT_EQ(bundle->vm(2)->kernel.data(), bundle->vm(0)->kernel.data());
}

// Random damage to a valid bundle: whatever the parser accepts must point
// inside the input. ASan catches any read outside it.
TEST(BootBundle, SurvivesRandomCorruptionWithoutStrayReads) {
    const Bytes good = three_vm_bundle();
    std::mt19937_64 random{20240611};
    for (int round = 0; round < 3000; ++round) {
        Bytes damaged = good;
        const int edits = 1 + static_cast<int>(random() % 4);
        for (int edit = 0; edit < edits; ++edit) {
            const std::size_t at = random() % kMetadataEnd;
            damaged[at] = static_cast<std::byte>(random());
        }
        if (random() % 2 == 0) reseal_if_possible(damaged);
        damaged.resize(random() % 4 == 0 ? random() % good.size() : good.size());
        damaged.shrink_to_fit();

        const auto bundle = BootBundle::parse(damaged);
        if (!bundle) continue;
        for (std::uint32_t i = 0; i < bundle->vm_count(); ++i) {
            const auto vm = bundle->vm(i);
            if (!vm) continue;
            ASSERT_TRUE(lies_within(vm->kernel, damaged) && !vm->kernel.empty());
            ASSERT_TRUE(lies_within(vm->initrd, damaged));
            ASSERT_TRUE(lies_within(std::as_bytes(std::span{vm->cmdline}), damaged));
            ASSERT_TRUE(wire::is_valid_name(vm->name));
            ASSERT_LE(vm->nic_count, kMaxNicsPerVm);
            ASSERT_LE(vm->disk_count, kMaxDisksPerVm);
            for (std::uint32_t n = 0; n < vm->nic_count; ++n) {
                ASSERT_LT(vm->nics[n].network, bundle->network_count());
                ASSERT_EQ(vm->nics[n].mac[0] & 1u, 0u);
            }
            for (std::uint32_t d = 0; d < vm->disk_count; ++d) {
                ASSERT_TRUE(vm->disks[d].size_bytes != 0 && vm->disks[d].size_bytes % 512 == 0);
            }
        }
        for (std::uint32_t n = 0; n < bundle->network_count(); ++n) {
            ASSERT_TRUE(bundle_tool::is_valid_network_name(bundle->network_name(n)));
        }
        if (const auto uplink = bundle->uplink_network()) {
            ASSERT_LT(*uplink, bundle->network_count());
        }
    }
}

// ---------------------------------------------------------------- the encoder the tool ships

TEST(BundleEncoder, PacksTheTablesAndLaysPayloadsOutOnPageBoundariesAfterThem) {
    const Bytes bytes = three_vm_bundle();
    const auto u32_at = [&](std::size_t offset) { return *load_le<std::uint32_t>(bytes, offset); };
    EXPECT_EQ(u32_at(wire::header::kVersion), 2u);
    EXPECT_EQ(u64_at(bytes, wire::header::kVmTableOffset), wire::kHeaderSize);
    EXPECT_EQ(u32_at(wire::header::kNetworkCount), 2u);
    EXPECT_EQ(u32_at(wire::header::kDeviceCount), 9u);
    EXPECT_EQ(u32_at(wire::header::kUplinkNetwork), 2u);  // 1 + the index of "wan"
    EXPECT_EQ(text_of(ByteSpan{bytes}.subspan(network_at(1), 4)), std::string_view("wan\0", 4));
    // Each VM's NICs, then its disks, in VM order.
    constexpr std::array<std::pair<std::uint32_t, wire::DeviceType>, 9> kOrder{{
        {0, wire::DeviceType::nic},
        {0, wire::DeviceType::disk},
        {1, wire::DeviceType::nic},
        {1, wire::DeviceType::nic},
        {1, wire::DeviceType::disk},
        {1, wire::DeviceType::disk},
        {1, wire::DeviceType::disk},
        {2, wire::DeviceType::nic},
        {2, wire::DeviceType::disk},
    }};
    for (std::size_t i = 0; i < kOrder.size(); ++i) {
        EXPECT_EQ(u32_at(device_at(i) + device::kVmIndex), kOrder[i].first) << "device " << i;
        EXPECT_EQ(u32_at(device_at(i) + device::kType), static_cast<std::uint32_t>(kOrder[i].second)) << i;
    }
    EXPECT_EQ(u32_at(device_at(kWorkerSlice) + device::kFlags), wire::kDiskFlagReadOnly);
    EXPECT_EQ(u32_at(device_at(kWorkerSlice) + device::kBacking), 2u);
    EXPECT_EQ(u64_at(bytes, device_at(kWorkerSlice) + device::kOffset), 16 * MiB);
    EXPECT_EQ(u64_at(bytes, device_at(kWorkerSlice) + device::kSize), 64 * MiB);
    EXPECT_EQ(u32_at(device_at(kWorkerRamDisk) + device::kBacking), 1u);
    for (std::size_t i = 0; i < 3; ++i) {
        const std::uint64_t kernel = u64_at(bytes, record_at(i) + wire::record::kKernelOffset);
        EXPECT_GE(kernel, align_up(kMetadataEnd, wire::kPayloadAlignment));
        EXPECT_TRUE(is_aligned(kernel, wire::kPayloadAlignment));
    }
    EXPECT_EQ(u64_at(bytes, record_at(0) + wire::record::kInitrdOffset), 0u);  // absent payloads are all zero
    EXPECT_EQ(u64_at(bytes, record_at(2) + wire::record::kCmdlineOffset), 0u);
    EXPECT_EQ(text_of(ByteSpan{bytes}.first(8)), "LAMINABN");
}

TEST(BundleEncoder, RefusesStructurallyInvalidEntries) {
    const auto error_for = [](const std::function<void(std::vector<VmEntry>&)>& change) -> std::string {
        std::vector<VmEntry> vms = three_vms();
        change(vms);
        try {
            (void)encode_bundle(vms, kNetworks, kWan);
        } catch (const std::invalid_argument& error) {
            return error.what();
        }
        return "(encoded)";
    };
    EXPECT_THAT(error_for([](auto& vms) { vms[1].name = std::string(32, 'n'); }), HasSubstr("longer than 31"));
    EXPECT_THAT(error_for([](auto& vms) { vms[1].name = "a b"; }), HasSubstr("characters outside"));
    EXPECT_THAT(error_for([](auto& vms) { vms[1].name = ""; }), HasSubstr("empty"));
    EXPECT_THAT(error_for([](auto& vms) { vms[1].kernel.clear(); }), HasSubstr("kernel is empty"));
    EXPECT_THAT(error_for([](auto& vms) { vms[1].cmdline = std::string(2049, 'x'); }), HasSubstr("limit is 2048"));
    EXPECT_THAT(error_for([](auto& vms) { vms[1].cmdline = std::string{"a\0b", 3}; }), HasSubstr("NUL"));
    EXPECT_THAT(error_for([](auto& vms) { vms[2].name = "hello"; }), HasSubstr("already used"));
    EXPECT_THAT(error_for([](auto& vms) { vms.resize(65, vms[0]); }), HasSubstr("at most 64"));
    EXPECT_EQ(error_for([](auto& vms) { vms[1].name = std::string(31, 'n'); }), "(encoded)");
}

// What encode_bundle() says about three_vms() after `change`, or "(encoded)".
[[nodiscard]] std::string encoding_error(const std::function<void(std::vector<VmEntry>&)>& change,
                                         std::vector<std::string> networks = kNetworks,
                                         std::optional<std::uint32_t> uplink = kWan) {
    std::vector<VmEntry> vms = three_vms();
    change(vms);
    try {
        (void)encode_bundle(vms, networks, uplink);
    } catch (const std::invalid_argument& error) {
        return error.what();
    }
    return "(encoded)";
}

TEST(BundleEncoder, RefusesDevicesTheParserWouldRefuse) {
    EXPECT_THAT(encoding_error([](auto& vms) { vms[1].nics[1].network = 2; }),
                HasSubstr("vms[1]: nics[1]: network index 2 is not one of the bundle's 2 networks"));
    EXPECT_THAT(encoding_error([](auto& vms) { vms[1].nics[0].mac[0] = 0x01; }), HasSubstr("multicast"));
    EXPECT_THAT(encoding_error([](auto& vms) { vms[1].nics[0].mac = Mac{}; }), HasSubstr("all zero"));
    EXPECT_THAT(encoding_error([](auto& vms) { vms[1].nics[1].network = kLan; }),
                HasSubstr("nics[1]: on the same network as nics[0]"));
    EXPECT_THAT(encoding_error([](auto& vms) { vms[1].nics[1].mac = mac(2); }),
                HasSubstr("nics[1]: MAC 02:00:00:00:00:02 is already used by nics[0]"));
    EXPECT_THAT(encoding_error([](auto& vms) { vms[2].nics[0].mac = mac(1); }),
                HasSubstr("vms[2]: nics[0]: MAC 02:00:00:00:00:01 is already used by vms[0].nics[0]"));
    EXPECT_THAT(encoding_error([](auto& vms) { vms[1].nics.resize(5); }, {"a", "b", "c", "d", "e"}),
                HasSubstr("5 NICs; the limit is 4"));
    EXPECT_THAT(encoding_error([](auto& vms) { vms[1].disks.resize(5, ram_disk(512)); }),
                HasSubstr("5 disks; the limit is 4"));
    EXPECT_THAT(encoding_error([](auto& vms) { vms[1].disks[2].size_bytes = 0; }),
                HasSubstr("disks[2]: size 0 is not a non-zero multiple of 512"));
    EXPECT_THAT(encoding_error([](auto& vms) { vms[1].disks[2].size_bytes = 1000; }), HasSubstr("multiple of 512"));
    EXPECT_THAT(encoding_error([](auto& vms) { vms[1].disks[1].offset_bytes += 100; }),
                HasSubstr("is not a multiple of 512"));
    EXPECT_THAT(encoding_error([](auto& vms) { vms[1].disks[2].offset_bytes = 512; }),
                HasSubstr("RAM disk has no offset"));
    EXPECT_THAT(encoding_error([](auto& vms) { vms[1].disks[1].offset_bytes = ~std::uint64_t{511}; }),
                HasSubstr("overflows"));
    EXPECT_THAT(encoding_error([](auto& vms) { vms[1].disks[0].backing = static_cast<DiskBacking>(7); }),
                HasSubstr("backing 7"));
    EXPECT_THAT(encoding_error([](auto& vms) { vms[1].disks[1].offset_bytes = 32 * MiB; }),
                HasSubstr("vms[1]: disks[1]: board disk slice overlaps disks[0]"));
    EXPECT_THAT(encoding_error([](auto& vms) { vms[2].disks[0].offset_bytes = 16 * MiB; }),
                HasSubstr("vms[2]: disks[0]: board disk slice overlaps vms[1].disks[0]"));
    EXPECT_EQ(encoding_error([](auto& vms) { vms[2].disks[0].offset_bytes = 128 * MiB; }), "(encoded)");
}

TEST(BundleEncoder, RefusesBadNetworksAndUplinks) {
    const auto keep = [](std::vector<VmEntry>&) {};
    std::vector<std::string> seventeen;
    for (int i = 0; i < 17; ++i) seventeen.push_back("n" + std::to_string(i));
    EXPECT_THAT(encoding_error(keep, seventeen), HasSubstr("at most 16 networks"));
    EXPECT_THAT(encoding_error(keep, {"lan", "w n"}), HasSubstr("networks[1]: name \"w n\" is not 1-15 characters"));
    EXPECT_THAT(encoding_error(keep, {"lan", std::string(16, 'w')}), HasSubstr("is not 1-15 characters"));
    EXPECT_THAT(encoding_error(keep, {"lan", ""}), HasSubstr("is not 1-15 characters"));
    EXPECT_THAT(encoding_error(keep, {"lan", "lan"}), HasSubstr("is already used by networks[0]"));
    EXPECT_THAT(encoding_error(keep, kNetworks, 2), HasSubstr("uplink network index 2"));
    EXPECT_EQ(encoding_error(keep, {"lan", std::string(15, 'w')}), "(encoded)");
    EXPECT_EQ(encoding_error(keep, kNetworks, std::nullopt), "(encoded)");
}

TEST(BundleEncoder, RefusesMoreThan256Devices) {
    std::vector<VmEntry> vms(64);
    for (std::size_t i = 0; i < vms.size(); ++i) {
        vms[i].name = "vm" + std::to_string(i);
        vms[i].kernel = pattern(1, 5);
        vms[i].disks.assign(4, ram_disk(512));
    }
    EXPECT_NO_THROW((void)encode_bundle(vms));
    vms[63].nics.push_back({.network = 0, .mac = mac(1)});
    try {
        (void)encode_bundle(vms, kNetworks);
        ADD_FAILURE() << "257 devices were encoded";
    } catch (const std::invalid_argument& error) {
        EXPECT_THAT(error.what(), HasSubstr("at most 256 devices"));
    }
}

TEST(BundleEncoder, DerivesStableLocallyAdministeredUnicastMacs) {
    // 02:4c, then FNV-1a of "web/0": documented, so it must never change.
    EXPECT_EQ(format_mac(default_mac("web", 0)), "02:4c:01:bd:0f:1e");
    EXPECT_EQ(default_mac("web", 0), default_mac("web", 0));
    EXPECT_NE(default_mac("web", 0), default_mac("web", 1));
    EXPECT_NE(default_mac("web", 0), default_mac("db", 0));
    for (std::size_t i = 0; i < 4; ++i) {
        const Mac derived = default_mac("linux1", i);
        EXPECT_EQ(derived[0] & 0x01, 0) << "unicast";
        EXPECT_EQ(derived[0] & 0x02, 0x02) << "locally administered";
    }
    EXPECT_EQ(format_mac(Mac{0x0a, 0xbc, 0x00, 0x01, 0xff, 0x10}), "0a:bc:00:01:ff:10");
}


// ---------------------------------------------------------------- best-effort VMs

TEST(BootBundle, CarriesTheBestEffortFlagAloneAndWithTemplateOnly) {
    std::vector<VmEntry> vms = three_vms();
    vms[1].best_effort = true;
    vms[2].best_effort = true;
    vms[2].start_at_boot = false;
    const Bytes bytes = encode_bundle(vms, kNetworks, kWan);
    const auto flags_of = [&](std::size_t vm) {
        return *load_le<std::uint32_t>(bytes, record_at(vm) + wire::record::kFlags);
    };
    EXPECT_EQ(flags_of(0), 0u);
    EXPECT_EQ(flags_of(1), wire::kVmFlagBestEffort);
    EXPECT_EQ(flags_of(2), wire::kVmFlagBestEffort | wire::kVmFlagTemplateOnly);
    const auto bundle = BootBundle::parse(bytes);
    ASSERT_TRUE(bundle) << bundle.error().message;
    for (std::uint32_t i = 0; i < 3; ++i) ASSERT_TRUE(bundle->vm(i)) << i << ": " << bundle->vm(i).error().message;
    EXPECT_FALSE(bundle->vm(0)->best_effort);
    EXPECT_TRUE(bundle->vm(0)->start_at_boot);
    EXPECT_TRUE(bundle->vm(1)->best_effort);
    EXPECT_TRUE(bundle->vm(1)->start_at_boot);
    EXPECT_TRUE(bundle->vm(2)->best_effort);
    EXPECT_FALSE(bundle->vm(2)->start_at_boot);
}

// ---------------------------------------------------------------- services

[[nodiscard]] constexpr std::uint32_t ipv4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
    return std::uint32_t{a} << 24 | std::uint32_t{b} << 16 | std::uint32_t{c} << 8 | d;
}

// Two services over three_vms(): "web" built from hello (its one NIC is on
// lan) and "db.primary_1" from tiny (its one NIC is on wan).
[[nodiscard]] std::vector<ServiceEntry> two_services() {
    const ServiceEntry web{.name = "web",
                           .template_vm = 0,
                           .network = kLan,
                           .address = ipv4(10, 0, 2, 50),
                           .port = 80,
                           .first_replica_address = ipv4(10, 0, 2, 100),
                           .replica_prefix = 24,
                           .percentile = 95,
                           .objective_us = 50'000,
                           .window_s = 5,
                           .min_replicas = 1,
                           .max_replicas = 4};
    // 192.168.1.32/27: replicas .33 to .40, network .32, broadcast .63.
    const ServiceEntry db{.name = "db.primary_1",
                          .template_vm = 2,
                          .network = kWan,
                          .address = ipv4(192, 168, 1, 10),
                          .port = 5432,
                          .first_replica_address = ipv4(192, 168, 1, 33),
                          .replica_prefix = 27,
                          .percentile = 99,
                          .objective_us = 1'500,
                          .window_s = 15,
                          .min_replicas = 0,
                          .max_replicas = 8,
                          .scale_up_window_ms = 1'000,
                          .scale_down_window_ms = 600'000,
                          .drain_grace_ms = 2'500};
    return {web, db};
}

[[nodiscard]] Bytes service_bundle() { return encode_bundle(three_vms(), kNetworks, kWan, two_services()); }

// The service table of service_bundle() follows its device table.
[[nodiscard]] constexpr std::size_t service_at(std::size_t index) {
    return kMetadataEnd + index * wire::kServiceRecordSize;
}
constexpr std::size_t kServiceMetadataEnd = service_at(2);

void expect_same_service(const ServiceSpec& service, const ServiceEntry& expected) {
    EXPECT_EQ(service.name, expected.name);
    EXPECT_EQ(service.template_vm, expected.template_vm);
    EXPECT_EQ(service.network, expected.network);
    EXPECT_EQ(service.address, expected.address);
    EXPECT_EQ(service.port, expected.port);
    EXPECT_EQ(service.first_replica_address, expected.first_replica_address);
    EXPECT_EQ(service.replica_prefix, expected.replica_prefix);
    EXPECT_EQ(service.percentile, expected.percentile);
    EXPECT_EQ(service.objective_us, expected.objective_us);
    EXPECT_EQ(service.window_s, expected.window_s);
    EXPECT_EQ(service.min_replicas, expected.min_replicas);
    EXPECT_EQ(service.max_replicas, expected.max_replicas);
    EXPECT_EQ(service.scale_up_window_ms, expected.scale_up_window_ms);
    EXPECT_EQ(service.scale_down_window_ms, expected.scale_down_window_ms);
    EXPECT_EQ(service.drain_grace_ms, expected.drain_grace_ms);
}

TEST(BootBundleServices, ParsesServicesWithExactFields) {
    const Bytes bytes = service_bundle();
    const auto bundle = BootBundle::parse(bytes);
    ASSERT_TRUE(bundle) << bundle.error().message;
    ASSERT_EQ(bundle->service_count(), 2u);
    const std::vector<ServiceEntry> expected = two_services();
    for (std::uint32_t i = 0; i < 2; ++i) {
        SCOPED_TRACE(expected[i].name);
        const auto service = bundle->service(i);
        ASSERT_TRUE(service) << service.error().message;
        expect_same_service(*service, expected[i]);
        EXPECT_TRUE(lies_within(std::as_bytes(std::span{service->name}), bytes));  // a view, not a copy
    }
    // Defaults of an entry that does not set the windows: the config's.
    EXPECT_EQ(bundle->service(0)->scale_up_window_ms, 2'000u);
    EXPECT_EQ(bundle->service(0)->scale_down_window_ms, 15'000u);
    EXPECT_EQ(bundle->service(0)->drain_grace_ms, 10'000u);
    // The VMs are untouched, and their payloads start after the service table.
    for (std::uint32_t i = 0; i < 3; ++i) {
        const auto vm = bundle->vm(i);
        ASSERT_TRUE(vm) << i << ": " << vm.error().message;
        expect_same_devices(*vm, three_vms()[i]);
        EXPECT_GE(static_cast<std::size_t>(vm->kernel.data() - bytes.data()),
                  align_up(kServiceMetadataEnd, wire::kPayloadAlignment));
    }
}

TEST(BootBundleServices, RefusesAnIndexPastTheLastService) {
    const Bytes bytes = service_bundle();
    const auto bundle = BootBundle::parse(bytes);
    ASSERT_TRUE(bundle);
    EXPECT_THAT(bundle->service(2).error().message, HasSubstr("out of range"));
    EXPECT_FALSE(bundle->service(0xFFFF'FFFF));
    const BootBundle empty{};
    EXPECT_EQ(empty.service_count(), 0u);
    EXPECT_FALSE(empty.service(0));
    const Bytes without = three_vm_bundle();
    const auto serviceless = BootBundle::parse(without);
    ASSERT_TRUE(serviceless);
    EXPECT_EQ(serviceless->service_count(), 0u);
    EXPECT_FALSE(serviceless->service(0));
}

TEST(BootBundleServices, AcceptsEveryLimitAndFourServices) {
    // All built from hello, whose one NIC is on lan.
    const ServiceEntry lowest{.name = "a",
                              .template_vm = 0,
                              .network = kLan,
                              .address = ipv4(10, 0, 0, 8),
                              .port = 1,
                              .first_replica_address = ipv4(10, 0, 0, 7),
                              .replica_prefix = 32,  // one host: no network or broadcast address
                              .percentile = 50,
                              .objective_us = 1'000,
                              .window_s = 1,
                              .min_replicas = 1,
                              .max_replicas = 1,
                              .scale_up_window_ms = 1'000,
                              .scale_down_window_ms = 1'000,
                              .drain_grace_ms = 1'000};
    ServiceEntry highest = lowest;
    highest.name = "abcdefghijklm-5";  // 15 characters
    highest.port = 65535;
    highest.first_replica_address = ipv4(10, 0, 0, 10);
    highest.replica_prefix = 31;  // both addresses of a /31 are hosts
    highest.address = ipv4(10, 0, 0, 9);
    highest.percentile = 99;
    highest.objective_us = 60'000'000;
    highest.window_s = 15;
    highest.min_replicas = 2;
    highest.max_replicas = 2;
    highest.scale_up_window_ms = 60'000;
    highest.scale_down_window_ms = 600'000;
    highest.drain_grace_ms = 600'000;
    ServiceEntry wide = lowest;
    wide.name = "wide";
    wide.replica_prefix = 1;  // 0.0.0.0/1: replicas 0.0.0.1 to 0.0.0.8
    wide.first_replica_address = ipv4(0, 0, 0, 1);
    wide.address = ipv4(127, 255, 255, 254);
    wide.min_replicas = 0;
    wide.max_replicas = 8;
    ServiceEntry edge = lowest;
    edge.name = "edge";
    edge.replica_prefix = 30;  // 10.0.1.0/30: exactly its two hosts
    edge.first_replica_address = ipv4(10, 0, 1, 1);
    edge.address = ipv4(10, 0, 1, 7);
    edge.min_replicas = 0;
    edge.max_replicas = 2;
    const std::vector<ServiceEntry> services{lowest, highest, wide, edge};
    const Bytes bytes = encode_bundle(three_vms(), kNetworks, kWan, services);
    const auto bundle = BootBundle::parse(bytes);
    ASSERT_TRUE(bundle) << bundle.error().message;
    ASSERT_EQ(bundle->service_count(), wire::kMaxServiceCount);
    for (std::uint32_t i = 0; i < services.size(); ++i) {
        SCOPED_TRACE(services[i].name);
        const auto service = bundle->service(i);
        ASSERT_TRUE(service) << service.error().message;
        expect_same_service(*service, services[i]);
    }
}

TEST(BundleEncoder, WritesTheServiceTableAfterTheDeviceTable) {
    const Bytes bytes = service_bundle();
    namespace field = wire::service_record;
    const auto u32_at = [&](std::size_t offset) { return *load_le<std::uint32_t>(bytes, offset); };
    const auto byte_at = [&](std::size_t offset) { return static_cast<std::uint8_t>(bytes[offset]); };
    EXPECT_EQ(u32_at(wire::header::kServiceCount), 2u);
    EXPECT_EQ(u32_at(wire::header::kReserved), 0u);
    const std::size_t web = service_at(0);
    EXPECT_EQ(text_of(ByteSpan{bytes}.subspan(web, wire::kServiceNameFieldSize)),
              std::string_view("web\0\0\0\0\0\0\0\0\0\0\0\0\0", 16));
    EXPECT_EQ(u32_at(web + field::kTemplateVm), 0u);
    EXPECT_EQ(u32_at(web + field::kNetwork), kLan);
    // 10.0.2.50 is the value 0x0a000232, stored little-endian like every field.
    EXPECT_EQ(byte_at(web + field::kAddress), 0x32);
    EXPECT_EQ(byte_at(web + field::kAddress + 1), 0x02);
    EXPECT_EQ(byte_at(web + field::kAddress + 2), 0x00);
    EXPECT_EQ(byte_at(web + field::kAddress + 3), 0x0a);
    EXPECT_EQ(*load_le<std::uint16_t>(bytes, web + field::kPort), 80u);
    EXPECT_EQ(byte_at(web + field::kReplicaPrefix), 24);
    EXPECT_EQ(byte_at(web + field::kPercentile), 95);
    EXPECT_EQ(u32_at(web + field::kFirstReplicaAddress), 0x0a00'0264u);
    EXPECT_EQ(u32_at(web + field::kObjectiveUs), 50'000u);
    EXPECT_EQ(*load_le<std::uint16_t>(bytes, web + field::kWindowS), 5u);
    EXPECT_EQ(byte_at(web + field::kMinReplicas), 1);
    EXPECT_EQ(byte_at(web + field::kMaxReplicas), 4);
    EXPECT_EQ(u32_at(web + field::kScaleUpWindowMs), 2'000u);
    EXPECT_EQ(u32_at(web + field::kScaleDownWindowMs), 15'000u);
    EXPECT_EQ(u32_at(web + field::kDrainGraceMs), 10'000u);
    const ByteSpan reserved = ByteSpan{bytes}.subspan(web + field::kReserved, field::kReservedSize);
    EXPECT_TRUE(std::all_of(reserved.begin(), reserved.end(), [](std::byte b) { return b == std::byte{0}; }));
    EXPECT_EQ(text_of(ByteSpan{bytes}.subspan(service_at(1), 13)), std::string_view("db.primary_1\0", 13));
    const std::uint64_t first_kernel = u64_at(bytes, record_at(0) + wire::record::kKernelOffset);
    EXPECT_EQ(first_kernel, align_up(kServiceMetadataEnd, wire::kPayloadAlignment));
}

TEST(BundleEncoder, BundlesWithoutServicesAreByteIdenticalToBeforeServicesExisted) {
    // Pinned from the encoder before the service table existed: bundles
    // built then stay valid and rebuild to the same bytes.
    const Bytes bytes = three_vm_bundle();
    EXPECT_EQ(bytes.size(), 36'865u);
    EXPECT_EQ(crc32(ByteSpan{bytes}), 0x0510'6DACu);
    EXPECT_EQ(crc32(ByteSpan{encode_bundle({})}), 0xA934'88CFu);
    EXPECT_EQ(encode_bundle(three_vms(), kNetworks, kWan, {}), bytes);
    EXPECT_EQ(*load_le<std::uint32_t>(bytes, wire::header::kServiceCount), 0u);
}

TEST(BootBundleServices, TheCrcCoversEveryBitOfTheServiceTable) {
    const Bytes good = service_bundle();
    for (std::size_t byte = kMetadataEnd; byte < kServiceMetadataEnd; ++byte) {
        for (int bit = 0; bit < 8; ++bit) {
            Bytes flipped = good;
            flipped[byte] ^= static_cast<std::byte>(1u << bit);
            ASSERT_THAT(parse_error(flipped), HasSubstr("CRC")) << "flip of byte " << byte << " bit " << bit;
        }
    }
    // The service count is in the header, which the CRC covers as well.
    Bytes fewer = good;
    store_le<std::uint32_t>(fewer, wire::header::kServiceCount, 1);
    EXPECT_THAT(parse_error(fewer), HasSubstr("CRC"));
}

TEST(BootBundleServices, TheTableMustEndWithinTotalSizeAndBeforeThePayloads) {
    Bytes cut = service_bundle();
    patch<std::uint64_t>(cut, wire::header::kTotalSize, kServiceMetadataEnd - 1);
    EXPECT_THAT(parse_error(cut), HasSubstr("service table extends past total_size"));

    // A payload may not start inside the service table.
    Bytes overlapping = service_bundle();
    patch<std::uint64_t>(overlapping, record_at(1) + wire::record::kKernelOffset, service_at(0));
    patch<std::uint64_t>(overlapping, record_at(1) + wire::record::kKernelSize, wire::kServiceRecordSize);
    const auto bundle = BootBundle::parse(overlapping);
    ASSERT_TRUE(bundle) << bundle.error().message;
    EXPECT_THAT(bundle->vm(1).error().message, HasSubstr("kernel lies outside"));
    EXPECT_TRUE(bundle->vm(0));
}

// One bad service among good ones: it fails alone.
struct ServiceCorruption {
    const char* what;
    std::function<void(Bytes&)> corrupt;  // damages service 1 ("db.primary_1", from VM 2 on wan)
    const char* expected_error;
};

void PrintTo(const ServiceCorruption& corruption, std::ostream* out) { *out << corruption.what; }

class BootBundleService : public ::testing::TestWithParam<ServiceCorruption> {};

TEST_P(BootBundleService, FailsAloneWhileTheVmsAndTheOtherServiceStillParse) {
    Bytes bytes = service_bundle();
    GetParam().corrupt(bytes);
    const auto bundle = BootBundle::parse(bytes);
    ASSERT_TRUE(bundle) << bundle.error().message;
    ASSERT_EQ(bundle->service_count(), 2u);
    EXPECT_TRUE(bundle->vm(0)) << bundle->vm(0).error().message;
    EXPECT_TRUE(bundle->vm(1)) << bundle->vm(1).error().message;
    const auto good = bundle->service(0);
    EXPECT_TRUE(good) << good.error().message;
    const auto bad = bundle->service(1);
    ASSERT_FALSE(bad) << "corrupted service was accepted";
    EXPECT_THAT(bad.error().message, HasSubstr(GetParam().expected_error));
}

template <typename T>
[[nodiscard]] std::function<void(Bytes&)> set_service(std::size_t offset, T value) {
    return [=](Bytes& b) { patch<T>(b, service_at(1) + offset, value); };
}

// Several fields of service 1 at once.
[[nodiscard]] std::function<void(Bytes&)> set_services(std::vector<std::function<void(Bytes&)>> changes) {
    return [changes = std::move(changes)](Bytes& b) {
        for (const auto& change : changes) change(b);
    };
}

[[nodiscard]] std::function<void(Bytes&)> set_service_name(std::string_view name_field) {
    return [name = std::string{name_field}](Bytes& b) {
        for (std::size_t i = 0; i < wire::kServiceNameFieldSize; ++i)
            b[service_at(1) + i] = i < name.size() ? static_cast<std::byte>(name[i]) : std::byte{0};
        reseal_if_possible(b);
    };
}

namespace service_field = wire::service_record;

INSTANTIATE_TEST_SUITE_P(
    EachRule, BootBundleService,
    ::testing::Values(
        ServiceCorruption{"name_empty", set_service_name(""), "service name is empty"},
        ServiceCorruption{"name_without_nul", set_service_name(std::string(16, 's')), "not NUL-terminated"},
        ServiceCorruption{"name_with_space", set_service_name("d b"), "characters outside"},
        ServiceCorruption{"name_with_slash", set_service_name("d/b"), "characters outside"},
        ServiceCorruption{"name_garbage_after_nul", set_service_name(std::string{"db\0x", 4}), "after its NUL"},
        ServiceCorruption{"name_duplicate", set_service_name("web"), "repeats an earlier service's name"},
        ServiceCorruption{"reserved_first_byte", set_service<std::uint8_t>(service_field::kReserved, 1),
                          "reserved bytes"},
        ServiceCorruption{"reserved_last_byte",
                          set_service<std::uint8_t>(service_field::kReserved + service_field::kReservedSize - 1, 1),
                          "reserved bytes"},
        ServiceCorruption{"template_past_vm_count", set_service<std::uint32_t>(service_field::kTemplateVm, 3),
                          "template VM index is not below vm_count"},
        ServiceCorruption{"template_huge", set_service<std::uint32_t>(service_field::kTemplateVm, 0xFFFF'FFFF),
                          "template VM index is not below vm_count"},
        ServiceCorruption{"network_past_network_count", set_service<std::uint32_t>(service_field::kNetwork, 2),
                          "network index is not below network_count"},
        ServiceCorruption{"port_zero", set_service<std::uint16_t>(service_field::kPort, 0), "port is 0"},
        ServiceCorruption{"prefix_zero", set_service<std::uint8_t>(service_field::kReplicaPrefix, 0),
                          "replica prefix is not 1-32"},
        ServiceCorruption{"prefix_33", set_service<std::uint8_t>(service_field::kReplicaPrefix, 33),
                          "replica prefix is not 1-32"},
        ServiceCorruption{"percentile_49", set_service<std::uint8_t>(service_field::kPercentile, 49),
                          "percentile is not 50-99"},
        ServiceCorruption{"percentile_100", set_service<std::uint8_t>(service_field::kPercentile, 100),
                          "percentile is not 50-99"},
        ServiceCorruption{"objective_too_small", set_service<std::uint32_t>(service_field::kObjectiveUs, 999),
                          "objective latency"},
        ServiceCorruption{"objective_too_large",
                          set_service<std::uint32_t>(service_field::kObjectiveUs, 60'000'001), "objective latency"},
        ServiceCorruption{"window_zero", set_service<std::uint16_t>(service_field::kWindowS, 0),
                          "objective window is not 1-15 s"},
        ServiceCorruption{"window_16", set_service<std::uint16_t>(service_field::kWindowS, 16),
                          "objective window is not 1-15 s"},
        ServiceCorruption{"max_replicas_zero", set_service<std::uint8_t>(service_field::kMaxReplicas, 0),
                          "max_replicas is not 1-8"},
        ServiceCorruption{"max_replicas_9", set_service<std::uint8_t>(service_field::kMaxReplicas, 9),
                          "max_replicas is not 1-8"},
        ServiceCorruption{"min_above_max",
                          set_services({set_service<std::uint8_t>(service_field::kMinReplicas, 3),
                                        set_service<std::uint8_t>(service_field::kMaxReplicas, 2)}),
                          "min_replicas exceeds max_replicas"},
        ServiceCorruption{"scale_up_too_short", set_service<std::uint32_t>(service_field::kScaleUpWindowMs, 999),
                          "scale-up window"},
        ServiceCorruption{"scale_up_too_long", set_service<std::uint32_t>(service_field::kScaleUpWindowMs, 60'001),
                          "scale-up window"},
        ServiceCorruption{"scale_down_too_short",
                          set_service<std::uint32_t>(service_field::kScaleDownWindowMs, 999), "scale-down window"},
        ServiceCorruption{"scale_down_too_long",
                          set_service<std::uint32_t>(service_field::kScaleDownWindowMs, 600'001), "scale-down window"},
        ServiceCorruption{"drain_grace_too_short", set_service<std::uint32_t>(service_field::kDrainGraceMs, 999),
                          "drain grace"},
        ServiceCorruption{"drain_grace_too_long", set_service<std::uint32_t>(service_field::kDrainGraceMs, 600'001),
                          "drain grace"},
        // Addresses: 192.168.1.32/27, replicas from .33, eight of them.
        ServiceCorruption{"replicas_start_at_the_network_address",
                          set_service<std::uint32_t>(service_field::kFirstReplicaAddress, ipv4(192, 168, 1, 32)),
                          "replica addresses include the network or broadcast address"},
        ServiceCorruption{"replicas_reach_the_broadcast_address",
                          set_service<std::uint32_t>(service_field::kFirstReplicaAddress, ipv4(192, 168, 1, 56)),
                          "replica addresses include the network or broadcast address"},
        ServiceCorruption{"replicas_cross_into_the_next_prefix",
                          set_service<std::uint32_t>(service_field::kFirstReplicaAddress, ipv4(192, 168, 1, 60)),
                          "replica addresses include the network or broadcast address"},
        ServiceCorruption{"replicas_past_a_slash_31",
                          set_service<std::uint8_t>(service_field::kReplicaPrefix, 31),
                          "replica addresses run past the end of their prefix"},
        ServiceCorruption{"replicas_past_the_top",
                          set_services({set_service<std::uint8_t>(service_field::kReplicaPrefix, 32),
                                        set_service<std::uint32_t>(service_field::kFirstReplicaAddress,
                                                                   ipv4(255, 255, 255, 255))}),
                          "replica addresses run past the end of their prefix"},
        ServiceCorruption{"address_is_the_network_address",
                          set_service<std::uint32_t>(service_field::kAddress, ipv4(192, 168, 1, 32)),
                          "service address is the network or broadcast address"},
        ServiceCorruption{"address_is_the_broadcast_address",
                          set_service<std::uint32_t>(service_field::kAddress, ipv4(192, 168, 1, 63)),
                          "service address is the network or broadcast address"},
        ServiceCorruption{"address_is_the_first_replica",
                          set_service<std::uint32_t>(service_field::kAddress, ipv4(192, 168, 1, 33)),
                          "service address is one of the replica addresses"},
        ServiceCorruption{"address_is_the_last_replica",
                          set_service<std::uint32_t>(service_field::kAddress, ipv4(192, 168, 1, 40)),
                          "service address is one of the replica addresses"},
        // The template: valid, one NIC, on the service's network.
        ServiceCorruption{"template_with_two_nics", set_service<std::uint32_t>(service_field::kTemplateVm, 1),
                          "template VM does not have exactly one NIC"},
        ServiceCorruption{"template_on_another_network", set_service<std::uint32_t>(service_field::kNetwork, kLan),
                          "template VM's NIC is not on the service's network"},
        ServiceCorruption{"template_invalid",
                          [](Bytes& b) {
                              // VM 2 (the template) loses its kernel; services stay behind it.
                              patch<std::uint64_t>(b, record_at(2) + wire::record::kKernelOffset, 0);
                              patch<std::uint64_t>(b, record_at(2) + wire::record::kKernelSize, 0);
                          },
                          "service template VM is invalid"}),
    [](const ::testing::TestParamInfo<ServiceCorruption>& info) { return std::string{info.param.what}; });

TEST(BootBundleServices, ATemplateWithoutNicsIsRefused) {
    std::vector<VmEntry> vms = three_vms();
    const Bytes good = encode_bundle(vms, kNetworks, kWan, two_services());
    // Move tiny's NIC to hello (which then has two): tiny, db's template, has none.
    Bytes bytes = good;
    patch<std::uint32_t>(bytes, device_at(kTinyNic) + device::kVmIndex, 0);
    const auto bundle = BootBundle::parse(bytes);
    ASSERT_TRUE(bundle) << bundle.error().message;
    ASSERT_TRUE(bundle->vm(2));
    EXPECT_EQ(bundle->vm(2)->nic_count, 0u);
    EXPECT_THAT(bundle->service(1).error().message, HasSubstr("exactly one NIC"));
    EXPECT_THAT(bundle->service(0).error().message, HasSubstr("exactly one NIC"));  // hello now has two
}

// Random damage to a bundle with services: whatever the parser accepts obeys
// every rule, and ASan catches any read outside the input.
TEST(BootBundleServices, SurvivesRandomCorruptionWithoutStrayReads) {
    namespace limit = wire::service_limits;
    const Bytes good = service_bundle();
    std::mt19937_64 random{20250101};
    for (int round = 0; round < 3000; ++round) {
        Bytes damaged = good;
        const int edits = 1 + static_cast<int>(random() % 3);
        for (int edit = 0; edit < edits; ++edit) {
            // Mostly the service table, sometimes the header's counts.
            const std::size_t at = random() % 8 == 0 ? wire::header::kServiceCount + random() % 8
                                                     : kMetadataEnd + random() % (kServiceMetadataEnd - kMetadataEnd);
            damaged[at] = static_cast<std::byte>(random());
        }
        reseal_if_possible(damaged);
        damaged.shrink_to_fit();
        const auto bundle = BootBundle::parse(damaged);
        if (!bundle) continue;
        ASSERT_LE(bundle->service_count(), wire::kMaxServiceCount);
        for (std::uint32_t i = 0; i < bundle->service_count(); ++i) {
            const auto service = bundle->service(i);
            if (!service) continue;
            ASSERT_TRUE(bundle_tool::is_valid_service_name(service->name));
            ASSERT_TRUE(lies_within(std::as_bytes(std::span{service->name}), damaged));
            ASSERT_LT(service->template_vm, bundle->vm_count());
            ASSERT_LT(service->network, bundle->network_count());
            ASSERT_NE(service->port, 0);
            ASSERT_TRUE(service->percentile >= limit::kMinPercentile && service->percentile <= limit::kMaxPercentile);
            ASSERT_TRUE(service->max_replicas >= 1 && service->max_replicas <= limit::kMaxReplicas);
            ASSERT_LE(service->min_replicas, service->max_replicas);
            const auto vm = bundle->vm(service->template_vm);
            ASSERT_TRUE(vm && vm->nic_count == 1 && vm->nics[0].network == service->network);
        }
    }
}

// What encode_bundle() says about two_services() after `change`, or "(encoded)".
[[nodiscard]] std::string service_encoding_error(const std::function<void(std::vector<ServiceEntry>&)>& change) {
    std::vector<ServiceEntry> services = two_services();
    change(services);
    try {
        (void)encode_bundle(three_vms(), kNetworks, kWan, services);
    } catch (const std::invalid_argument& error) {
        return error.what();
    }
    return "(encoded)";
}

TEST(BundleEncoder, RefusesServicesTheParserWouldRefuse) {
    const auto error = service_encoding_error;
    EXPECT_EQ(error([](auto&) {}), "(encoded)");
    EXPECT_THAT(error([](auto& s) { s[1].name = ""; }), HasSubstr("services[1]: name \"\" is not 1-15 characters"));
    EXPECT_THAT(error([](auto& s) { s[1].name = std::string(16, 's'); }), HasSubstr("is not 1-15 characters"));
    EXPECT_THAT(error([](auto& s) { s[1].name = "web"; }),
                HasSubstr("services[1]: name \"web\" is already used by services[0]"));
    EXPECT_THAT(error([](auto& s) { s.resize(5, s[0]); }), HasSubstr("at most 4 services"));
    EXPECT_THAT(error([](auto& s) { s[1].template_vm = 3; }),
                HasSubstr("template VM index 3 is not one of the bundle's 3 VMs"));
    EXPECT_THAT(error([](auto& s) { s[1].network = 2; }),
                HasSubstr("network index 2 is not one of the bundle's 2 networks"));
    EXPECT_THAT(error([](auto& s) { s[1].port = 0; }), HasSubstr("port is 0"));
    EXPECT_THAT(error([](auto& s) { s[1].replica_prefix = 0; }), HasSubstr("replica prefix is 0; it must be 1-32"));
    EXPECT_THAT(error([](auto& s) { s[1].percentile = 100; }), HasSubstr("percentile is 100; it must be 50-99"));
    EXPECT_THAT(error([](auto& s) { s[1].objective_us = 999; }),
                HasSubstr("objective latency is 999 us; it must be 1000-60000000 us"));
    EXPECT_THAT(error([](auto& s) { s[1].window_s = 16; }), HasSubstr("objective window is 16 s"));
    EXPECT_THAT(error([](auto& s) { s[1].max_replicas = 9; }), HasSubstr("max_replicas is 9; it must be 1-8"));
    EXPECT_THAT(error([](auto& s) { s[1].max_replicas = 0; }), HasSubstr("max_replicas is 0"));
    EXPECT_THAT(error([](auto& s) { s[0].min_replicas = 5; }), HasSubstr("min_replicas 5 is more than max_replicas 4"));
    EXPECT_THAT(error([](auto& s) { s[1].scale_up_window_ms = 60'001; }), HasSubstr("scale-up window is 60001 ms"));
    EXPECT_THAT(error([](auto& s) { s[1].scale_down_window_ms = 999; }), HasSubstr("scale-down window is 999 ms"));
    EXPECT_THAT(error([](auto& s) { s[1].drain_grace_ms = 600'001; }), HasSubstr("drain grace is 600001 ms"));
    EXPECT_THAT(error([](auto& s) { s[1].first_replica_address = ipv4(192, 168, 1, 32); }),
                HasSubstr("replica addresses 192.168.1.32-192.168.1.39 include the network address 192.168.1.32/27"));
    EXPECT_THAT(error([](auto& s) { s[1].first_replica_address = ipv4(192, 168, 1, 60); }),
                HasSubstr("include the broadcast address 192.168.1.63/27"));
    EXPECT_THAT(error([](auto& s) { s[1].replica_prefix = 31; }), HasSubstr("run past the end of 192.168.1.32/31"));
    EXPECT_THAT(error([](auto& s) { s[1].address = ipv4(192, 168, 1, 63); }),
                HasSubstr("address 192.168.1.63 is the broadcast address of 192.168.1.32/27"));
    EXPECT_THAT(error([](auto& s) { s[1].address = ipv4(192, 168, 1, 35); }),
                HasSubstr("address 192.168.1.35 is one of the replica addresses"));
    EXPECT_THAT(error([](auto& s) { s[1].template_vm = 1; }),
                HasSubstr("template \"worker-1.b_x\" must have exactly one NIC, not 2"));
    EXPECT_THAT(error([](auto& s) { s[1].network = kLan; }),
                HasSubstr("template \"t\"'s NIC is on network index 1, not the service's network index 0"));
}

}  // namespace
}  // namespace lamina
