#include "core/guest_device_tree.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/fdt.hpp"
#include "core/guest_layout.hpp"

namespace lamina {
namespace {

using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsSupersetOf;
using ::testing::Not;

using Blob = std::vector<std::byte>;

constexpr std::string_view kUartPath = "/pl011@9000000";
constexpr std::uint64_t kUartBase = 0x0900'0000;
constexpr std::uint64_t kRamBase = 0x4000'0000;

[[nodiscard]] GuestDeviceTreeSpec make_spec(std::uint32_t vcpus = 1, std::string_view bootargs = "console=ttyAMA0",
                                            GuestPhysRange initrd = {}, std::uint64_t ram_size = 64 * MiB) {
    return GuestDeviceTreeSpec{GuestPhysRange{guest_layout::kRamBase, ram_size}, vcpus, bootargs, initrd};
}

// Builds into a buffer as large as a guest device tree may be; the blob is trimmed to its size.
[[nodiscard]] Blob build(const GuestDeviceTreeSpec& spec, std::byte fill = std::byte{0}) {
    Blob buffer(guest_layout::kMaxDeviceTreeSize, fill);
    const auto size = build_guest_device_tree(spec, buffer);
    EXPECT_TRUE(size.ok()) << (size.ok() ? "" : size.error().message);
    if (!size.ok()) return {};
    EXPECT_LE(*size, buffer.size());
    buffer.resize(*size);
    return buffer;
}

[[nodiscard]] fdt::DeviceTree parse(const Blob& blob) {
    const auto tree = fdt::DeviceTree::parse(blob);
    EXPECT_TRUE(tree.ok()) << (tree.ok() ? "" : tree.error().message);
    return tree.ok() ? *tree : fdt::DeviceTree{};
}

[[nodiscard]] fdt::Node node(const fdt::DeviceTree& tree, std::string_view path) {
    const auto found = tree.find_node(path);
    EXPECT_TRUE(found.has_value()) << "no node " << path;
    return found.value_or(tree.root());
}

[[nodiscard]] std::vector<std::string> child_names(const fdt::DeviceTree& tree, fdt::Node parent) {
    std::vector<std::string> names;
    for (const fdt::Node child : tree.children(parent)) names.emplace_back(tree.node_name(child));
    return names;
}

[[nodiscard]] std::vector<std::string> string_list(const fdt::DeviceTree& tree, fdt::Node at, std::string_view name) {
    std::vector<std::string> values;
    for (std::size_t i = 0;; ++i) {
        const auto value = tree.property_string_at(at, name, i);
        if (!value) break;
        values.emplace_back(*value);
    }
    return values;
}

// --- The project's reader ---------------------------------------------------

TEST(GuestDeviceTreeReader, HeaderAndRoot) {
    const Blob blob = build(make_spec());
    ASSERT_FALSE(blob.empty());
    EXPECT_EQ(load_be<std::uint32_t>(blob, fdt::header::kMagic), fdt::kMagic);
    EXPECT_EQ(load_be<std::uint32_t>(blob, fdt::header::kTotalSize), blob.size());
    EXPECT_EQ(load_be<std::uint32_t>(blob, fdt::header::kVersion), fdt::kVersion);

    const fdt::DeviceTree tree = parse(blob);
    EXPECT_EQ(tree.total_size(), blob.size());
    EXPECT_EQ(tree.boot_cpu_id(), 0u);
    EXPECT_EQ(tree.memory_reservation_count(), 0u);
    EXPECT_EQ(tree.property_u32(tree.root(), "#address-cells"), 2u);
    EXPECT_EQ(tree.property_u32(tree.root(), "#size-cells"), 2u);
    EXPECT_TRUE(tree.is_compatible(tree.root(), "linux,dummy-virt"));
    // Other devices (interrupt controller, timer, ...) may join these.
    EXPECT_THAT(child_names(tree, tree.root()),
                IsSupersetOf({"chosen", "memory@40000000", "cpus", "psci", "apb-pclk", "pl011@9000000"}));
}

TEST(GuestDeviceTreeReader, Memory) {
    for (const std::uint64_t ram_size : {4 * MiB, 64 * MiB, 3 * GiB, 16 * GiB}) {
        const Blob blob = build(make_spec(1, "", {}, ram_size));
        const fdt::DeviceTree tree = parse(blob);
        const fdt::Node memory = node(tree, "/memory@40000000");
        EXPECT_EQ(tree.property_string(memory, "device_type"), "memory");
        ASSERT_EQ(tree.reg_count(memory), 1u);
        const auto reg = tree.raw_reg(memory, 0);
        ASSERT_TRUE(reg.has_value());
        EXPECT_EQ(reg->address, kRamBase);
        EXPECT_EQ(reg->size, ram_size);
        const auto translated = tree.reg_entry(memory, 0);
        ASSERT_TRUE(translated.has_value());
        EXPECT_EQ(translated->base.value(), kRamBase);
        EXPECT_EQ(translated->size, ram_size);
    }
}

TEST(GuestDeviceTreeReader, Cpus) {
    for (const std::uint32_t count : {1u, 2u, 4u, 8u}) {
        SCOPED_TRACE(testing::Message() << count << " vCPUs");
        const Blob blob = build(make_spec(count));
        const fdt::DeviceTree tree = parse(blob);
        const fdt::Node cpus = node(tree, "/cpus");
        EXPECT_EQ(tree.address_cells(cpus), 1u);
        EXPECT_EQ(tree.size_cells(cpus), 0u);

        std::vector<std::string> expected_names;
        for (std::uint32_t i = 0; i < count; ++i) expected_names.push_back("cpu@" + std::to_string(i));
        EXPECT_THAT(child_names(tree, cpus), ElementsAreArray(expected_names));

        for (std::uint32_t i = 0; i < count; ++i) {
            const fdt::Node cpu = node(tree, "/cpus/" + expected_names[i]);
            EXPECT_EQ(tree.property_u32(cpu, "reg"), i);
            const auto reg = tree.raw_reg(cpu, 0);
            ASSERT_TRUE(reg.has_value());
            EXPECT_EQ(reg->address, i);
            EXPECT_EQ(tree.property_string(cpu, "device_type"), "cpu");
            EXPECT_EQ(tree.property_string(cpu, "enable-method"), "psci");
            EXPECT_TRUE(tree.is_compatible(cpu, "arm,armv8"));
        }
        EXPECT_FALSE(tree.find_node("/cpus/cpu@" + std::to_string(count)).has_value());
    }
}

TEST(GuestDeviceTreeReader, Psci) {
    const Blob blob = build(make_spec(2));
    const fdt::DeviceTree tree = parse(blob);
    const fdt::Node psci = node(tree, "/psci");
    EXPECT_EQ(tree.property_string(psci, "method"), "hvc");
    EXPECT_THAT(string_list(tree, psci, "compatible"), ElementsAreArray({"arm,psci-1.0", "arm,psci-0.2"}));
    EXPECT_EQ(tree.find_compatible("arm,psci-0.2"), psci);
}

TEST(GuestDeviceTreeReader, ConsoleAndStdoutPath) {
    const Blob blob = build(make_spec());
    const fdt::DeviceTree tree = parse(blob);
    const fdt::Node chosen = node(tree, "/chosen");
    EXPECT_EQ(tree.property_string(chosen, "stdout-path"), kUartPath);

    const fdt::Node uart = node(tree, kUartPath);
    EXPECT_EQ(tree.stdout_node(), uart);
    EXPECT_EQ(tree.find_compatible("arm,pl011"), uart);
    EXPECT_THAT(string_list(tree, uart, "compatible"), ElementsAreArray({"arm,pl011", "arm,primecell"}));
    const auto reg = tree.raw_reg(uart, 0);
    ASSERT_TRUE(reg.has_value());
    EXPECT_EQ(reg->address, kUartBase);
    EXPECT_EQ(reg->address, guest_layout::kUartBase.value());
    EXPECT_EQ(reg->size, 0x1000u);

    // Both clocks name a fixed clock that exists.
    const auto clocks = tree.property(uart, "clocks");
    ASSERT_TRUE(clocks.has_value());
    ASSERT_EQ(clocks->size(), 8u);
    for (std::size_t offset : {std::size_t{0}, std::size_t{4}}) {
        const auto phandle = load_be<std::uint32_t>(*clocks, offset);
        ASSERT_TRUE(phandle.has_value());
        const auto clock = tree.find_by_phandle(*phandle);
        ASSERT_TRUE(clock.has_value()) << "phandle " << *phandle;
        EXPECT_TRUE(tree.is_compatible(*clock, "fixed-clock"));
        EXPECT_EQ(tree.property_u32(*clock, "#clock-cells"), 0u);
        EXPECT_NE(tree.property_u32(*clock, "clock-frequency").value_or(0), 0u);
    }
    EXPECT_THAT(string_list(tree, uart, "clock-names"), ElementsAreArray({"uartclk", "apb_pclk"}));
}

TEST(GuestDeviceTreeReader, NoVirtioSlotsNoNodes) {
    const Blob blob = build(make_spec());
    const fdt::DeviceTree tree = parse(blob);
    EXPECT_FALSE(tree.find_compatible("virtio,mmio").has_value());
}

TEST(GuestDeviceTreeReader, VirtioSlots) {
    GuestDeviceTreeSpec spec = make_spec();
    spec.virtio_slots = 3;
    const Blob blob = build(spec);
    const fdt::DeviceTree tree = parse(blob);
    for (std::uint32_t slot = 0; slot < 3; ++slot) {
        const std::uint64_t base = 0x0a00'0000 + slot * 0x200;
        char path[40];
        std::snprintf(path, sizeof path, "/virtio_mmio@%llx", static_cast<unsigned long long>(base));
        const fdt::Node device = node(tree, path);
        EXPECT_TRUE(tree.is_compatible(device, "virtio,mmio"));
        const auto reg = tree.raw_reg(device, 0);
        ASSERT_TRUE(reg.has_value());
        EXPECT_EQ(reg->address, base);
        EXPECT_EQ(reg->size, 0x200u);
        const auto interrupts = tree.property(device, "interrupts");
        ASSERT_TRUE(interrupts.has_value());
        ASSERT_EQ(interrupts->size(), 12u);
        EXPECT_EQ(load_be<std::uint32_t>(*interrupts, 0), 0u);  // SPI
        EXPECT_EQ(load_be<std::uint32_t>(*interrupts, 4), 16u + slot);
        EXPECT_EQ(load_be<std::uint32_t>(*interrupts, 8), 4u);  // level, active high
        EXPECT_TRUE(tree.property(device, "dma-coherent").has_value());
    }
    EXPECT_FALSE(tree.find_node("/virtio_mmio@a000600").has_value());
}

TEST(GuestDeviceTreeReader, TooManyVirtioSlotsRefused) {
    GuestDeviceTreeSpec spec = make_spec();
    spec.virtio_slots = guest_layout::kMaxVirtioSlots + 1;
    Blob buffer(guest_layout::kMaxDeviceTreeSize);
    EXPECT_FALSE(build_guest_device_tree(spec, buffer).ok());
}

TEST(GuestDeviceTreeReader, Bootargs) {
    const std::string_view bootargs = "console=ttyAMA0 earlycon=pl011,0x9000000 rdinit=/init quiet";
    const Blob blob = build(make_spec(1, bootargs));
    const fdt::DeviceTree tree = parse(blob);
    EXPECT_EQ(tree.property_string(node(tree, "/chosen"), "bootargs"), bootargs);
}

TEST(GuestDeviceTreeReader, EmptyBootargs) {
    const Blob blob = build(make_spec(1, ""));
    const fdt::DeviceTree tree = parse(blob);
    const fdt::Node chosen = node(tree, "/chosen");
    const auto raw = tree.property(chosen, "bootargs");
    ASSERT_TRUE(raw.has_value());
    EXPECT_EQ(raw->size(), 1u);  // just the terminating NUL
    EXPECT_EQ(tree.property_string(chosen, "bootargs"), "");
    EXPECT_EQ(tree.stdout_node(), tree.find_node(kUartPath));
}

TEST(GuestDeviceTreeReader, LongBootargs) {
    std::string bootargs;
    while (bootargs.size() < 2 * KiB) bootargs += "opt" + std::to_string(bootargs.size()) + "=x ";
    bootargs.resize(2 * KiB);
    const Blob blob = build(make_spec(8, bootargs));
    EXPECT_GT(blob.size(), 2 * KiB);
    const fdt::DeviceTree tree = parse(blob);
    EXPECT_EQ(tree.property_string(node(tree, "/chosen"), "bootargs"), bootargs);
    EXPECT_EQ(tree.stdout_node(), tree.find_node(kUartPath));
}

TEST(GuestDeviceTreeReader, NoInitrdNoInitrdProperties) {
    const Blob blob = build(make_spec(1, "x", GuestPhysRange{GuestPhysAddr{0x4800'0000}, 0}));
    const fdt::DeviceTree tree = parse(blob);
    const fdt::Node chosen = node(tree, "/chosen");
    EXPECT_FALSE(tree.has_property(chosen, "linux,initrd-start"));
    EXPECT_FALSE(tree.has_property(chosen, "linux,initrd-end"));
}

TEST(GuestDeviceTreeReader, InitrdProperties) {
    for (const GuestPhysRange initrd : {GuestPhysRange{GuestPhysAddr{0x4380'0000}, 0x12'3456},
                                        GuestPhysRange{GuestPhysAddr{0x1'2000'0000}, 1},
                                        GuestPhysRange{GuestPhysAddr{0x4000'0000}, 0x1'0000'0000}}) {
        const Blob blob = build(make_spec(2, "rdinit=/init", initrd, 8 * GiB));
        const fdt::DeviceTree tree = parse(blob);
        const fdt::Node chosen = node(tree, "/chosen");
        // Two cells each, so addresses above 4 GiB survive.
        EXPECT_EQ(tree.property(chosen, "linux,initrd-start").value_or(ByteSpan{}).size(), 8u);
        EXPECT_EQ(tree.property(chosen, "linux,initrd-end").value_or(ByteSpan{}).size(), 8u);
        EXPECT_EQ(tree.property_u64(chosen, "linux,initrd-start"), initrd.base.value());
        EXPECT_EQ(tree.property_u64(chosen, "linux,initrd-end"), initrd.end().value());
    }
}

TEST(GuestDeviceTreeReader, Deterministic) {
    // The same spec gives the same bytes, whatever the buffer held before.
    const auto spec = make_spec(4, "console=ttyAMA0", GuestPhysRange{GuestPhysAddr{0x4400'0000}, 0x1000});
    const Blob zeroed = build(spec, std::byte{0});
    const Blob dirty = build(spec, std::byte{0xff});
    EXPECT_EQ(zeroed, dirty);
}

// --- Output buffer bounds -------------------------------------------------------

constexpr std::size_t kGuard = 64;
constexpr std::byte kGuardByte{0xa5};

// Builds into exactly `capacity` bytes surrounded by guard bytes; checks the guards.
[[nodiscard]] Result<std::size_t> build_guarded(const GuestDeviceTreeSpec& spec, std::size_t capacity, Blob& out) {
    Blob arena(kGuard + capacity + kGuard, kGuardByte);
    const auto result = build_guest_device_tree(spec, std::span<std::byte>{arena.data() + kGuard, capacity});
    for (std::size_t i = 0; i < kGuard; ++i) {
        EXPECT_EQ(arena[i], kGuardByte) << "wrote " << (kGuard - i) << " bytes before a buffer of " << capacity;
        EXPECT_EQ(arena[kGuard + capacity + i], kGuardByte)
            << "wrote at offset " << (capacity + i) << " of a buffer of " << capacity;
    }
    out.assign(arena.begin() + kGuard, arena.begin() + static_cast<std::ptrdiff_t>(kGuard + capacity));
    return result;
}

void check_every_capacity(const GuestDeviceTreeSpec& spec) {
    const Blob reference = build(spec);
    ASSERT_FALSE(reference.empty());

    Blob exact;
    const auto fits = build_guarded(spec, reference.size(), exact);
    ASSERT_TRUE(fits.ok()) << fits.error().message;
    EXPECT_EQ(*fits, reference.size());
    EXPECT_EQ(exact, reference);

    for (std::size_t capacity = 0; capacity < reference.size(); ++capacity) {
        Blob partial;
        const auto result = build_guarded(spec, capacity, partial);
        EXPECT_FALSE(result.ok()) << "a buffer of " << capacity << " bytes cannot hold " << reference.size();
        if (::testing::Test::HasFailure()) return;  // one report is enough
    }
}

TEST(GuestDeviceTreeBuffer, TooSmallFailsWithinBounds) { check_every_capacity(make_spec()); }

TEST(GuestDeviceTreeBuffer, TooSmallFailsWithinBoundsLargeTree) {
    const std::string bootargs(2 * KiB, 'b');
    check_every_capacity(make_spec(8, bootargs, GuestPhysRange{GuestPhysAddr{0x4400'0000}, 0x1000}));
}

TEST(GuestDeviceTreeBuffer, EmptyBuffer) {
    const auto result = build_guest_device_tree(make_spec(), std::span<std::byte>{});
    EXPECT_FALSE(result.ok());
}

TEST(GuestDeviceTreeBuffer, LargestTreeFitsTheGuestLimit) {
    const std::string bootargs(2 * KiB, 'b');
    GuestDeviceTreeSpec spec = make_spec(8, bootargs, GuestPhysRange{GuestPhysAddr{0x4400'0000}, 0x1000}, 16 * GiB);
    spec.virtio_slots = guest_layout::kMaxVirtioSlots;
    const Blob blob = build(spec);
    EXPECT_LT(blob.size(), guest_layout::kMaxDeviceTreeSize);
}

// --- dtc, as an independent reader -------------------------------------------

struct Decompiled final {
    int exit_status{-1};
    std::string text;  // stdout and stderr
};

[[nodiscard]] bool dtc_available() {
    static const bool available = std::system("dtc --version >/dev/null 2>&1") == 0;
    return available;
}

[[nodiscard]] Decompiled decompile(const Blob& blob) {
    static int serial = 0;
    const std::string path = ::testing::TempDir() + "lamina-guest-dt-" + std::to_string(::getpid()) + "-" +
                             std::to_string(serial++) + ".dtb";
    {
        std::ofstream file{path, std::ios::binary};
        file.write(reinterpret_cast<const char*>(blob.data()), static_cast<std::streamsize>(blob.size()));
        EXPECT_TRUE(file.good()) << "cannot write " << path;
    }
    Decompiled result;
    const std::string command = "dtc -I dtb -O dts -o - '" + path + "' 2>&1";
    FILE* pipe = ::popen(command.c_str(), "r");
    EXPECT_NE(pipe, nullptr);
    if (pipe != nullptr) {
        char chunk[4096];
        std::size_t got = 0;
        while ((got = std::fread(chunk, 1, sizeof(chunk), pipe)) != 0) result.text.append(chunk, got);
        const int status = ::pclose(pipe);
        result.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    std::remove(path.c_str());
    return result;
}

[[nodiscard]] std::size_t count(std::string_view text, std::string_view needle) {
    std::size_t found = 0;
    for (auto at = text.find(needle); at != std::string_view::npos; at = text.find(needle, at + needle.size())) ++found;
    return found;
}

// dtc prints every cell as 0x%02x.
[[nodiscard]] std::string cell(std::uint64_t value) {
    char text[24];
    std::snprintf(text, sizeof(text), "0x%02llx", static_cast<unsigned long long>(value));
    return text;
}

[[nodiscard]] Decompiled decompile_checked(const GuestDeviceTreeSpec& spec) {
    const Blob blob = build(spec);
    Decompiled result = decompile(blob);
    EXPECT_EQ(result.exit_status, 0) << result.text;
    // dtc checks the tree as it reads it: no warnings allowed.
    EXPECT_THAT(result.text, Not(HasSubstr("Warning")));
    EXPECT_THAT(result.text, Not(HasSubstr("ERROR")));
    return result;
}

#define SKIP_WITHOUT_DTC() \
    if (!dtc_available()) GTEST_SKIP() << "dtc is not installed"

void expect_common(const std::string& dts, std::uint32_t vcpus, std::uint64_t ram_size, std::string_view bootargs) {
    EXPECT_THAT(dts, HasSubstr("\tmemory@40000000 {\n\t\tdevice_type = \"memory\";\n\t\treg = <0x00 0x40000000 " +
                               cell(ram_size >> 32) + " " + cell(ram_size & 0xffff'ffff) + ">;\n"));
    EXPECT_THAT(dts, HasSubstr("\tcpus {\n\t\t#address-cells = <0x01>;\n\t\t#size-cells = <0x00>;\n"));
    EXPECT_EQ(count(dts, "\t\tcpu@"), vcpus);
    for (std::uint32_t i = 0; i < vcpus; ++i) {
        EXPECT_THAT(dts, HasSubstr("\t\tcpu@" + std::to_string(i) + " {\n\t\t\tdevice_type = \"cpu\";\n"
                                   "\t\t\tcompatible = \"arm,armv8\";\n\t\t\treg = <" + cell(i) +
                                   ">;\n\t\t\tenable-method = \"psci\";\n"));
    }
    EXPECT_EQ(count(dts, "enable-method = \"psci\";"), vcpus);
    EXPECT_THAT(dts, HasSubstr("\tpsci {\n\t\tcompatible = \"arm,psci-1.0\\0arm,psci-0.2\";\n"
                               "\t\tmethod = \"hvc\";\n"));
    // dtc prints a value that is just a NUL (the empty string) as bytes.
    const std::string bootargs_value = bootargs.empty() ? "[00]" : "\"" + std::string{bootargs} + "\"";
    EXPECT_THAT(dts, HasSubstr("\t\tbootargs = " + bootargs_value + ";\n"));
    EXPECT_THAT(dts, HasSubstr("\t\tstdout-path = \"/pl011@9000000\";\n"));
    // The node stdout-path names exists, directly under the root.
    EXPECT_THAT(dts, HasSubstr("\n\tpl011@9000000 {\n"));
    EXPECT_THAT(dts, HasSubstr("\t\tcompatible = \"arm,pl011\\0arm,primecell\";\n"
                               "\t\treg = <0x00 0x9000000 0x00 0x1000>;\n"));
}

TEST(GuestDeviceTreeDtc, OneCpuNoInitrd) {
    SKIP_WITHOUT_DTC();
    const auto dts = decompile_checked(make_spec(1, "console=ttyAMA0 earlycon")).text;
    expect_common(dts, 1, 64 * MiB, "console=ttyAMA0 earlycon");
    EXPECT_THAT(dts, Not(HasSubstr("linux,initrd-start")));
    EXPECT_THAT(dts, Not(HasSubstr("linux,initrd-end")));
}

TEST(GuestDeviceTreeDtc, EightCpusWithInitrd) {
    SKIP_WITHOUT_DTC();
    const GuestPhysRange initrd{GuestPhysAddr{0x4380'0000}, 0x12'3456};
    const auto dts = decompile_checked(make_spec(8, "rdinit=/init", initrd, 3 * GiB)).text;
    expect_common(dts, 8, 3 * GiB, "rdinit=/init");
    EXPECT_THAT(dts, HasSubstr("\t\tlinux,initrd-start = <0x00 0x43800000>;\n"));
    EXPECT_THAT(dts, HasSubstr("\t\tlinux,initrd-end = <0x00 0x43923456>;\n"));
}

TEST(GuestDeviceTreeDtc, LargeRamAndHighInitrd) {
    SKIP_WITHOUT_DTC();
    const GuestPhysRange initrd{GuestPhysAddr{0x4'3fe0'0000}, 0x40'0000};
    const auto dts = decompile_checked(make_spec(2, "quiet", initrd, 16 * GiB)).text;
    expect_common(dts, 2, 16 * GiB, "quiet");
    EXPECT_THAT(dts, HasSubstr("\t\tlinux,initrd-start = <0x04 0x3fe00000>;\n"));
    EXPECT_THAT(dts, HasSubstr("\t\tlinux,initrd-end = <0x04 0x40200000>;\n"));
}

TEST(GuestDeviceTreeDtc, EmptyBootargs) {
    SKIP_WITHOUT_DTC();
    const auto dts = decompile_checked(make_spec(1, "")).text;
    expect_common(dts, 1, 64 * MiB, "");
}

TEST(GuestDeviceTreeDtc, LongBootargs) {
    SKIP_WITHOUT_DTC();
    std::string bootargs;
    while (bootargs.size() < 2 * KiB) bootargs += "opt" + std::to_string(bootargs.size()) + "=x ";
    bootargs.resize(2 * KiB);
    const auto dts = decompile_checked(make_spec(4, bootargs)).text;
    expect_common(dts, 4, 64 * MiB, bootargs);
}

}  // namespace
}  // namespace lamina
