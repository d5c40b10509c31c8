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

#include "bundle_encoder.hpp"
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

// A VM's disks appear in the guest as vda, vdb, ... in this order.
[[nodiscard]] std::string disk_name(std::size_t index) { return fmt::format("vd{}", static_cast<char>('a' + index)); }

[[nodiscard]] std::string_view backing_name(DiskBacking backing) {
    return backing == DiskBacking::ram ? "ram" : "board_disk";
}

[[nodiscard]] std::vector<std::string> network_names(const BootBundle& bundle) {
    std::vector<std::string> names;
    for (std::uint32_t i = 0; i < bundle.network_count(); ++i) names.emplace_back(bundle.network_name(i));
    return names;
}

// Network names were validated by the parser: no escaping needed.
[[nodiscard]] std::string networks_line(const BootBundle& bundle) {
    if (bundle.network_count() == 0) return "networks: none";
    std::string line = fmt::format("networks: {}", fmt::join(network_names(bundle), ", "));
    if (const auto uplink = bundle.uplink_network())
        line += fmt::format(" (uplink: {})", bundle.network_name(*uplink));
    return line;
}

void print_devices(const BootBundle& bundle, const VmImageSpec& vm, std::ostream& out) {
    for (std::uint32_t i = 0; i < vm.nic_count; ++i)
        fmt::print(out, "      nic{}  network {}  mac {}\n", i, bundle.network_name(vm.nics[i].network),
                   format_mac(vm.nics[i].mac));
    for (std::uint32_t i = 0; i < vm.disk_count; ++i) {
        const DiskSpec& disk = vm.disks[i];
        const std::string where = disk.backing == DiskBacking::ram
                                      ? std::string{}
                                      : fmt::format(" at offset {}", human_size(disk.offset_bytes));
        fmt::print(out, "      {}   {} {}{}{}\n", disk_name(i), backing_name(disk.backing), human_size(disk.size_bytes),
                   where, disk.read_only ? ", read-only" : "");
    }
}

struct Described {
    std::uint32_t index;
    Result<VmImageSpec> vm;
};

struct DescribedService {
    std::uint32_t index;
    Result<ServiceSpec> service;
};

[[nodiscard]] std::vector<DescribedService> describe_services(const BootBundle& bundle) {
    std::vector<DescribedService> services;
    for (std::uint32_t i = 0; i < bundle.service_count(); ++i) services.push_back({i, bundle.service(i)});
    return services;
}

// Milliseconds as seconds: "2 s", "2.5 s".
[[nodiscard]] std::string seconds(std::uint32_t ms) {
    return ms % 1000 == 0 ? fmt::format("{} s", ms / 1000) : fmt::format("{:.3f} s", ms / 1000.0);
}

// Microseconds as milliseconds: "50 ms", "12.345 ms".
[[nodiscard]] std::string milliseconds(std::uint32_t us) {
    return us % 1000 == 0 ? fmt::format("{} ms", us / 1000) : fmt::format("{:.3f} ms", us / 1000.0);
}

// A service's template VM by name (the parser proved it is a valid VM).
[[nodiscard]] std::string template_name(const BootBundle& bundle, const ServiceSpec& service) {
    const auto vm = bundle.vm(service.template_vm);
    return vm ? std::string{vm->name} : fmt::format("#{}", service.template_vm);
}

void print_services(const BootBundle& bundle, const std::vector<DescribedService>& services, std::ostream& out) {
    if (services.empty()) return;
    fmt::print(out, "services:\n");
    for (const auto& [index, service] : services) {
        if (!service) {
            fmt::print(out, "{:>2}  invalid service: {}\n", index, service.error().message);
            continue;
        }
        const std::uint32_t last = service->first_replica_address + service->max_replicas - 1;
        fmt::print(out, "{:>2}  {}  template {}  network {}  address {}:{}  replicas {}-{}/{}  min {}  max {}\n",
                   index, service->name, template_name(bundle, *service), bundle.network_name(service->network),
                   format_ipv4(service->address), service->port, format_ipv4(service->first_replica_address),
                   format_ipv4(last), service->replica_prefix, service->min_replicas, service->max_replicas);
        fmt::print(out, "      objective p{} <= {} over {} s  scale up after {}  down after {}  drain grace {}\n",
                   service->percentile, milliseconds(service->objective_us), service->window_s,
                   seconds(service->scale_up_window_ms), seconds(service->scale_down_window_ms),
                   seconds(service->drain_grace_ms));
    }
}

[[nodiscard]] std::vector<Described> describe_records(const BootBundle& bundle) {
    std::vector<Described> records;
    for (std::uint32_t i = 0; i < bundle.vm_count(); ++i) records.push_back({i, bundle.vm(i)});
    return records;
}

void print_vms(const BootBundle& bundle, const std::vector<Described>& records, std::ostream& out) {
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
        if (!vm->start_at_boot) fmt::print(out, "    template only: not started at boot\n");
        if (vm->best_effort)
            fmt::print(out, "    best effort: its cap may be lowered to make room for service replicas\n");
        print_devices(bundle, *vm, out);
    }
}

void print_table(const BootBundle& bundle, std::uint64_t file_size, const std::vector<Described>& records,
                 const std::vector<DescribedService>& services, std::ostream& out) {
    fmt::print(out, "boot bundle v{}: {} VM(s), {} network(s), ", bundle_format::kVersion, bundle.vm_count(),
               bundle.network_count());
    if (bundle.service_count() != 0) fmt::print(out, "{} service(s), ", bundle.service_count());
    fmt::print(out, "{} bytes", bundle.total_size());
    if (file_size != bundle.total_size())
        fmt::print(out, " (file has {} more bytes, ignored)", file_size - bundle.total_size());
    fmt::print(out, "\n{}\n", networks_line(bundle));
    print_vms(bundle, records, out);
    print_services(bundle, services, out);
}

void add_devices_json(const BootBundle& bundle, const VmImageSpec& vm, json& record) {
    json nics = json::array();
    for (std::uint32_t i = 0; i < vm.nic_count; ++i)
        nics.push_back({{"network", std::string{bundle.network_name(vm.nics[i].network)}},
                        {"network_index", vm.nics[i].network},
                        {"mac", format_mac(vm.nics[i].mac)}});
    json disks = json::array();
    for (std::uint32_t i = 0; i < vm.disk_count; ++i)
        disks.push_back({{"name", disk_name(i)},
                         {"backing", backing_name(vm.disks[i].backing)},
                         {"offset_bytes", vm.disks[i].offset_bytes},
                         {"size_bytes", vm.disks[i].size_bytes},
                         {"read_only", vm.disks[i].read_only}});
    record["nics"] = std::move(nics);
    record["disks"] = std::move(disks);
}

[[nodiscard]] json record_json(const BootBundle& bundle, std::uint32_t index, const Result<VmImageSpec>& vm) {
    if (!vm) return {{"index", index}, {"valid", false}, {"error", vm.error().message}};
    json record = {{"index", index},
            {"valid", true},
            {"name", std::string{vm->name}},
            {"memory_bytes", vm->memory_bytes},
            {"vcpus", vm->vcpu_count},
            {"weight", vm->weight},
            {"cap_percent", vm->cap_percent},
            {"start_at_boot", vm->start_at_boot},
            {"best_effort", vm->best_effort},
            {"pinned_cpu_mask", vm->pinned_cpu_mask},
            {"pinned_cpus", cpus_in_mask(vm->pinned_cpu_mask)},
            {"kernel_size", vm->kernel.size()},
            {"initrd_size", vm->initrd.size()},
            {"cmdline", std::string{vm->cmdline}}};
    add_devices_json(bundle, *vm, record);
    return record;
}

[[nodiscard]] json service_json(const BootBundle& bundle, std::uint32_t index, const Result<ServiceSpec>& service) {
    if (!service) return {{"index", index}, {"valid", false}, {"error", service.error().message}};
    return {{"index", index},
            {"valid", true},
            {"name", std::string{service->name}},
            {"template", template_name(bundle, *service)},
            {"template_index", service->template_vm},
            {"network", std::string{bundle.network_name(service->network)}},
            {"network_index", service->network},
            {"address", format_ipv4(service->address)},
            {"port", service->port},
            {"first_replica_address", format_ipv4(service->first_replica_address)},
            {"replica_prefix", service->replica_prefix},
            {"objective", {{"percentile", service->percentile},
                           {"latency_us", service->objective_us},
                           {"window_s", service->window_s}}},
            {"min_replicas", service->min_replicas},
            {"max_replicas", service->max_replicas},
            {"scale_up_window_ms", service->scale_up_window_ms},
            {"scale_down_window_ms", service->scale_down_window_ms},
            {"drain_grace_ms", service->drain_grace_ms}};
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
    const std::vector<DescribedService> services = describe_services(*bundle);
    bool all_valid = true;
    for (const auto& record : records) all_valid = all_valid && record.vm.ok();
    for (const auto& described : services) all_valid = all_valid && described.service.ok();

    if (format == DescribeFormat::kTable) {
        print_table(*bundle, bytes.size(), records, services, out);
        return all_valid;
    }
    json vms = json::array();
    for (const auto& [index, vm] : records) vms.push_back(record_json(*bundle, index, vm));
    json service_list = json::array();
    for (const auto& [index, service] : services) service_list.push_back(service_json(*bundle, index, service));
    const auto uplink = bundle->uplink_network();
    print_json({{"valid", all_valid},
                {"version", bundle_format::kVersion},
                {"total_size", bundle->total_size()},
                {"file_size", bytes.size()},
                {"vm_count", bundle->vm_count()},
                {"networks", network_names(*bundle)},
                {"uplink", uplink ? json(std::string{bundle->network_name(*uplink)}) : json(nullptr)},
                {"vms", std::move(vms)},
                {"service_count", bundle->service_count()},
                {"services", std::move(service_list)}},
               out);
    return all_valid;
}

}  // namespace lamina::bundle_tool
