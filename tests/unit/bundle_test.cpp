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
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "../../tools/bundle/bundle_encoder.hpp"
#include "core/crc32.hpp"

namespace lamina {
namespace {

using bundle_tool::encode_bundle;
using bundle_tool::seal;
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

[[nodiscard]] std::vector<VmEntry> three_vms() {
    VmEntry hello{.name = "hello",
                  .memory_bytes = 16 * MiB,
                  .vcpu_count = 1,
                  .weight = 0,
                  .cap_percent = 0,
                  .pinned_cpu_mask = 0,
                  .kernel = pattern(5000, 1),
                  .initrd = {},
                  .cmdline = "console=ttyAMA0"};
    VmEntry worker{.name = "worker-1.b_x",
                   .memory_bytes = 256 * MiB,
                   .vcpu_count = 4,
                   .weight = 512,
                   .cap_percent = 150,
                   .pinned_cpu_mask = 0b1010,
                   .kernel = pattern(9000, 2),
                   .initrd = pattern(300, 3),
                   .cmdline = "root=/dev/ram0 quiet"};
    VmEntry tiny{.name = "t",
                 .memory_bytes = 2 * MiB,
                 .vcpu_count = 1,
                 .weight = 1,
                 .cap_percent = 5,
                 .pinned_cpu_mask = ~std::uint64_t{0},
                 .kernel = pattern(1, 4),
                 .initrd = {},
                 .cmdline = {}};
    return {hello, worker, tiny};
}

[[nodiscard]] Bytes three_vm_bundle() { return encode_bundle(three_vms()); }

[[nodiscard]] constexpr std::size_t record_at(std::size_t index) {
    return wire::kHeaderSize + index * wire::kVmRecordSize;  // the encoder puts the table right after the header
}

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
        EXPECT_TRUE(lies_within(vm->kernel, bytes));  // views, not copies
        EXPECT_TRUE(is_aligned(static_cast<std::uint64_t>(vm->kernel.data() - bytes.data()), wire::kPayloadAlignment));
    }
    EXPECT_EQ(bundle->vm(0)->weight, wire::kDefaultWeight);  // stored 0 means the default share
    EXPECT_EQ(bundle->vm(1)->weight, 512u);
    EXPECT_EQ(bundle->vm(2)->weight, 1u);
}

TEST(BootBundle, ParsesABundleWithNoVms) {
    const Bytes bytes = encode_bundle({});
    const auto bundle = BootBundle::parse(bytes);
    ASSERT_TRUE(bundle) << bundle.error().message;
    EXPECT_EQ(bundle->vm_count(), 0u);
    EXPECT_EQ(bundle->total_size(), wire::kHeaderSize);
    EXPECT_FALSE(bundle->vm(0));
}

TEST(BootBundle, CarriesZeroVcpusAndAbsurdMemoryThroughUnchanged) {
    std::vector<VmEntry> vms = three_vms();
    vms[0].vcpu_count = 0;
    vms[1].memory_bytes = ~std::uint64_t{0};
    vms[2].vcpu_count = 0xFFFF'FFFF;
    vms[2].memory_bytes = 0;
    const Bytes bytes = encode_bundle(vms);
    const auto bundle = BootBundle::parse(bytes);
    ASSERT_TRUE(bundle) << bundle.error().message;
    EXPECT_EQ(bundle->vm(0)->vcpu_count, 0u);
    EXPECT_EQ(bundle->vm(1)->memory_bytes, ~std::uint64_t{0});
    EXPECT_EQ(bundle->vm(2)->vcpu_count, 0xFFFF'FFFFu);
    EXPECT_EQ(bundle->vm(2)->memory_bytes, 0u);
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
    for (std::size_t length = record_at(3); length < full.size(); length += 97) {
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
        HeaderCorruption{"version", [](Bytes& b) { patch<std::uint32_t>(b, wire::header::kVersion, 2); }, "version"},
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
            [](Bytes& b) { patch<std::uint64_t>(b, wire::header::kVmTableOffset, align_down(b.size() - 128, 8)); },
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
        HeaderCorruption{"reserved", [](Bytes& b) { patch<std::uint8_t>(b, wire::header::kReserved + 19, 1); },
                         "reserved"},
        HeaderCorruption{"crc_field", [](Bytes& b) { b[wire::header::kMetadataCrc32] ^= std::byte{1}; }, "CRC"},
        HeaderCorruption{"record_without_reseal",
                         [](Bytes& b) { b[record_at(1) + wire::record::kMemoryBytes] ^= std::byte{0x10}; }, "CRC"}),
    [](const ::testing::TestParamInfo<HeaderCorruption>& info) { return std::string{info.param.what}; });

TEST(BootBundle, DetectsEverySingleBitFlipInTheMetadata) {
    const Bytes good = three_vm_bundle();
    for (std::size_t byte = 0; byte < record_at(3); ++byte) {
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
                         [](Bytes& b, std::size_t r) { patch<std::uint32_t>(b, r + wire::record::kFlags, 1); },
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

TEST(BootBundle, AcceptsAMaximalCmdlineAndSharedPayloads) {
    std::vector<VmEntry> vms = three_vms();
    vms[0].cmdline = std::string(wire::kMaxCmdlineSize, 'c');
    Bytes bytes = encode_bundle(vms);
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
            const std::size_t at = random() % record_at(3);
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
        }
    }
}

// ---------------------------------------------------------------- the encoder the tool ships

TEST(BundleEncoder, LaysPayloadsOutOnPageBoundariesAfterTheTable) {
    const Bytes bytes = three_vm_bundle();
    EXPECT_EQ(u64_at(bytes, wire::header::kVmTableOffset), wire::kHeaderSize);
    for (std::size_t i = 0; i < 3; ++i) {
        const std::uint64_t kernel = u64_at(bytes, record_at(i) + wire::record::kKernelOffset);
        EXPECT_GE(kernel, align_up(record_at(3), wire::kPayloadAlignment));
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
            (void)encode_bundle(vms);
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

}  // namespace
}  // namespace lamina
