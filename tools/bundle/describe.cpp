#include "describe.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ostream.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "core/bundle.hpp"
#include "core/types.hpp"
#include "file_io.hpp"

namespace lamina::bundle_tool {

namespace {

using nlohmann::json;

[[nodiscard]] std::vector<unsigned> cpus_in_mask(std::uint64_t mask) {
    std::vector<unsigned> cpus;
    for (unsigned cpu = 0; cpu < 64; ++cpu)
        if ((mask >> cpu) & 1u) cpus.push_back(cpu);
    return cpus;
}

// Exact when the size is a whole number of units, one decimal otherwise.
[[nodiscard]] std::string human_size(std::uint64_t bytes) {
    constexpr std::array<std::pair<std::uint64_t, std::string_view>, 3> kUnits{
        {{GiB, "GiB"}, {MiB, "MiB"}, {KiB, "KiB"}}};
    for (const auto& [unit, suffix] : kUnits) {
        if (bytes < unit) continue;
        if (bytes % unit == 0) return fmt::format("{} {}", bytes / unit, suffix);
        return fmt::format("{:.1f} {}", static_cast<double>(bytes) / static_cast<double>(unit), suffix);
    }
    return fmt::format("{} B", bytes);
}

// The bundle is untrusted: escape control characters so a crafted command
// line cannot drive the user's terminal.
[[nodiscard]] std::string printable(std::string_view text) {
    std::string out;
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte == 0x7f) {
            out += fmt::format("\\x{:02x}", byte);
        } else {
            out += c;
        }
    }
    return out;
}

struct Described {
    std::uint32_t index;
    Result<VmImageSpec> vm;
};

[[nodiscard]] std::vector<Described> describe_records(const BootBundle& bundle) {
    std::vector<Described> records;
    for (std::uint32_t i = 0; i < bundle.vm_count(); ++i) records.push_back({i, bundle.vm(i)});
    return records;
}

void print_table(const BootBundle& bundle, std::uint64_t file_size, const std::vector<Described>& records,
                 std::ostream& out) {
    fmt::print(out, "boot bundle v{}: {} VM(s), {} bytes", bundle_format::kVersion, bundle.vm_count(),
               bundle.total_size());
    if (file_size != bundle.total_size())
        fmt::print(out, " (file has {} more bytes, ignored)", file_size - bundle.total_size());
    fmt::print(out, "\n");
    if (records.empty()) return;

    std::size_t name_width = 4;  // "NAME"
    for (const auto& record : records)
        if (record.vm) name_width = std::max(name_width, record.vm->name.size());

    fmt::print(out, "{:>2}  {:<{}}  {:>10}  {:>5}  {:>6}  {:>4}  {:<8}  {:>10}  {:>10}  {}\n", "#", "NAME", name_width,
               "MEMORY", "VCPUS", "WEIGHT", "CAP", "CPUS", "KERNEL", "INITRD", "CMDLINE");
    for (const auto& [index, vm] : records) {
        if (!vm) {
            fmt::print(out, "{:>2}  invalid record: {}\n", index, vm.error().message);
            continue;
        }
        const auto cpus = cpus_in_mask(vm->pinned_cpu_mask);
        fmt::print(out, "{:>2}  {:<{}}  {:>10}  {:>5}  {:>6}  {:>4}  {:<8}  {:>10}  {:>10}  {}\n", index, vm->name,
                   name_width, human_size(vm->memory_bytes), vm->vcpu_count, vm->weight,
                   vm->cap_percent == 0 ? std::string{"-"} : fmt::format("{}%", vm->cap_percent),
                   cpus.empty() ? std::string{"any"} : fmt::format("{}", fmt::join(cpus, ",")),
                   human_size(vm->kernel.size()), vm->initrd.empty() ? std::string{"-"} : human_size(vm->initrd.size()),
                   printable(vm->cmdline));
    }
}

[[nodiscard]] json record_json(std::uint32_t index, const Result<VmImageSpec>& vm) {
    if (!vm) return {{"index", index}, {"valid", false}, {"error", vm.error().message}};
    return {{"index", index},
            {"valid", true},
            {"name", std::string{vm->name}},
            {"memory_bytes", vm->memory_bytes},
            {"vcpus", vm->vcpu_count},
            {"weight", vm->weight},
            {"cap_percent", vm->cap_percent},
            {"pinned_cpu_mask", vm->pinned_cpu_mask},
            {"pinned_cpus", cpus_in_mask(vm->pinned_cpu_mask)},
            {"kernel_size", vm->kernel.size()},
            {"initrd_size", vm->initrd.size()},
            {"cmdline", std::string{vm->cmdline}}};
}

void print_json(const json& document, std::ostream& out) {
    // Invalid UTF-8 in a command line must not abort the dump.
    out << document.dump(2, ' ', false, json::error_handler_t::replace) << '\n';
}

}  // namespace

bool describe_bundle(const std::filesystem::path& file, DescribeFormat format, std::ostream& out) {
    const std::vector<std::byte> bytes = read_file(file);
    const auto bundle = BootBundle::parse(bytes);
    if (!bundle) {
        if (format == DescribeFormat::kJson) {
            print_json({{"valid", false}, {"file_size", bytes.size()}, {"error", bundle.error().message}}, out);
        } else {
            fmt::print(out, "invalid boot bundle: {}\n", bundle.error().message);
        }
        return false;
    }

    const std::vector<Described> records = describe_records(*bundle);
    bool all_valid = true;
    for (const auto& record : records) all_valid = all_valid && record.vm.ok();

    if (format == DescribeFormat::kTable) {
        print_table(*bundle, bytes.size(), records, out);
        return all_valid;
    }
    json vms = json::array();
    for (const auto& [index, vm] : records) vms.push_back(record_json(index, vm));
    print_json({{"valid", all_valid},
                {"version", bundle_format::kVersion},
                {"total_size", bundle->total_size()},
                {"file_size", bytes.size()},
                {"vm_count", bundle->vm_count()},
                {"vms", std::move(vms)}},
               out);
    return all_valid;
}

}  // namespace lamina::bundle_tool
