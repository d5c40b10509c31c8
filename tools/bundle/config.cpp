#include "config.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <fstream>
#include <limits>
#include <optional>
#include <string_view>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <fmt/std.h>
#include <nlohmann/json.hpp>

#include "file_io.hpp"

namespace lamina::bundle_tool {

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr std::array<std::string_view, 4> kTopLevelKeys{"vms", "networks", "uplink", "services"};
constexpr std::array<std::string_view, 13> kVmKeys{"name",        "memory_mib", "vcpus",  "kernel",
                                                   "initrd",      "cmdline",    "weight", "cap_percent",
                                                   "pinned_cpus", "nics",       "disks",  "start",
                                                   "best_effort"};
constexpr std::array<std::string_view, 11> kServiceKeys{
    "name",         "template",     "network",           "address",             "replica_addresses", "objective",
    "min_replicas", "max_replicas", "scale_up_window_s", "scale_down_window_s", "drain_grace_s"};
constexpr std::array<std::string_view, 3> kObjectiveKeys{"percentile", "latency_ms", "window_s"};
constexpr std::array<std::string_view, 1> kUplinkKeys{"network"};
constexpr std::array<std::string_view, 2> kNicKeys{"network", "mac"};
constexpr std::array<std::string_view, 3> kDiskKeys{"ram_mib", "board_disk", "read_only"};
constexpr std::array<std::string_view, 2> kBoardDiskKeys{"offset_mib", "size_mib"};

// Above this, a VM is bigger than any machine Lamina is normally run on.
constexpr std::uint64_t kLargeMemoryMib = std::uint64_t{64} * 1024;
constexpr unsigned kMaxPhysicalCpus = 64;  // pinned_cpu_mask has 64 bits

// Unknown keys are errors: a typo ("kernal") must not silently drop a setting.
template <std::size_t N>
void reject_unknown_keys(const json& object, const std::array<std::string_view, N>& allowed, std::string_view where) {
    for (const auto& [key, value] : object.items()) {
        if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
            throw ToolError{fmt::format("{}: unknown key \"{}\" (allowed: {})", where, key, fmt::join(allowed, ", "))};
    }
}

// Reads an optional non-negative integer no larger than `max`.
[[nodiscard]] std::optional<std::uint64_t> unsigned_field(const json& vm, std::string_view key, std::uint64_t max,
                                                          std::string_view where) {
    const auto found = vm.find(key);
    if (found == vm.end()) return std::nullopt;
    if (!found->is_number_unsigned())
        throw ToolError{fmt::format("{}: \"{}\" must be a non-negative integer, not {}", where, key, found->dump())};
    const auto value = found->get<std::uint64_t>();
    if (value > max) throw ToolError{fmt::format("{}: \"{}\" is {}; the maximum is {}", where, key, value, max)};
    return value;
}

[[nodiscard]] std::optional<std::string> string_field(const json& vm, std::string_view key, std::string_view where) {
    const auto found = vm.find(key);
    if (found == vm.end()) return std::nullopt;
    if (!found->is_string())
        throw ToolError{fmt::format("{}: \"{}\" must be a string, not {}", where, key, found->dump())};
    return found->get<std::string>();
}

[[nodiscard]] std::optional<bool> bool_field(const json& object, std::string_view key, std::string_view where) {
    const auto found = object.find(key);
    if (found == object.end()) return std::nullopt;
    if (!found->is_boolean())
        throw ToolError{fmt::format("{}: \"{}\" must be true or false, not {}", where, key, found->dump())};
    return found->get<bool>();
}

template <typename T>
[[nodiscard]] T required(std::optional<T> value, std::string_view key, std::string_view where) {
    if (!value) throw ToolError{fmt::format("{}: \"{}\" is required", where, key)};
    return *std::move(value);
}

[[nodiscard]] std::uint64_t pinned_cpu_mask(const json& vm, std::string_view where) {
    const auto found = vm.find("pinned_cpus");
    if (found == vm.end()) return 0;
    if (!found->is_array())
        throw ToolError{
            fmt::format("{}: \"pinned_cpus\" must be an array of CPU numbers, not {}", where, found->dump())};
    // The format uses mask 0 for "any CPU", so "no CPU at all" cannot be said.
    if (found->empty()) throw ToolError{fmt::format("{}: \"pinned_cpus\" is empty; omit it to allow any CPU", where)};
    std::uint64_t mask = 0;
    for (const json& cpu : *found) {
        if (!cpu.is_number_unsigned() || cpu.get<std::uint64_t>() >= kMaxPhysicalCpus)
            throw ToolError{fmt::format("{}: \"pinned_cpus\" entry {} is not a CPU number 0..{}", where, cpu.dump(),
                                        kMaxPhysicalCpus - 1)};
        mask |= std::uint64_t{1} << cpu.get<std::uint64_t>();
    }
    return mask;
}

// The key's value, which must be an array (of anything: the caller checks
// the elements); an empty array when the key is absent.
[[nodiscard]] const json& array_field(const json& object, std::string_view key, std::string_view where) {
    static const json kEmpty = json::array();
    const auto found = object.find(key);
    if (found == object.end()) return kEmpty;
    if (!found->is_array())
        throw ToolError{fmt::format("{}: \"{}\" must be an array, not {}", where, key, found->dump())};
    return *found;
}

void require_object(const json& value, std::string_view where) {
    if (!value.is_object()) throw ToolError{fmt::format("{}: must be an object, not {}", where, value.dump())};
}

// ---------------------------------------------------------------- networks

[[nodiscard]] std::vector<std::string> load_networks(const json& root) {
    const json& list = array_field(root, "networks", "config");
    if (list.size() > bundle_format::kMaxNetworkCount)
        throw ToolError{fmt::format("config: {} networks; a bundle holds at most {}", list.size(),
                                    bundle_format::kMaxNetworkCount)};
    std::vector<std::string> networks;
    for (std::size_t i = 0; i < list.size(); ++i) {
        const std::string where = fmt::format("networks[{}]", i);
        if (!list[i].is_string())
            throw ToolError{fmt::format("{}: must be a network name (a string), not {}", where, list[i].dump())};
        const auto name = list[i].get<std::string>();
        if (!is_valid_network_name(name))
            throw ToolError{
                fmt::format("{}: \"{}\" is not 1-15 characters from [A-Za-z0-9._-]", where, name)};
        const auto earlier = std::find(networks.begin(), networks.end(), name);
        if (earlier != networks.end())
            throw ToolError{fmt::format("{}: network \"{}\" is already declared by networks[{}]", where, name,
                                        earlier - networks.begin())};
        networks.push_back(name);
    }
    return networks;
}

// A network named in the config, as its index in "networks".
[[nodiscard]] std::uint32_t network_index(const std::vector<std::string>& networks, const std::string& name,
                                          std::string_view where) {
    const auto found = std::find(networks.begin(), networks.end(), name);
    if (found == networks.end()) {
        const std::string declared = networks.empty() ? std::string{"none are declared"}
                                                      : fmt::format("declared: {}", fmt::join(networks, ", "));
        throw ToolError{fmt::format("{}: network \"{}\" is not in \"networks\" ({})", where, name, declared)};
    }
    return static_cast<std::uint32_t>(found - networks.begin());
}

[[nodiscard]] std::optional<std::uint32_t> load_uplink(const json& root, const std::vector<std::string>& networks) {
    const auto found = root.find("uplink");
    if (found == root.end()) return std::nullopt;
    if (!found->is_object())
        throw ToolError{
            fmt::format("uplink: must be an object such as {{\"network\": \"lan\"}}, not {}", found->dump())};
    reject_unknown_keys(*found, kUplinkKeys, "uplink");
    const std::string name = required(string_field(*found, "network", "uplink"), "network", "uplink");
    return network_index(networks, name, "uplink");
}

// ---------------------------------------------------------------- NICs and disks

[[nodiscard]] std::optional<Mac> parse_mac(std::string_view text) {
    constexpr std::size_t kLength = 17;  // "02:00:00:00:00:01"
    if (text.size() != kLength) return std::nullopt;
    const auto digit = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    Mac mac{};
    for (std::size_t i = 0; i < mac.size(); ++i) {
        const int high = digit(text[3 * i]);
        const int low = digit(text[3 * i + 1]);
        if (high < 0 || low < 0 || (i + 1 < mac.size() && text[3 * i + 2] != ':')) return std::nullopt;
        mac[i] = static_cast<std::uint8_t>(high * 16 + low);
    }
    return mac;
}

[[nodiscard]] NicSpec load_nic(const json& object, const VmEntry& vm, std::size_t index,
                               const std::vector<std::string>& networks, std::string_view vm_where) {
    const std::string where = fmt::format("{}: nics[{}]", vm_where, index);
    require_object(object, where);
    reject_unknown_keys(object, kNicKeys, where);
    NicSpec nic{};
    nic.network = network_index(networks, required(string_field(object, "network", where), "network", where), where);
    if (const auto text = string_field(object, "mac", where)) {
        const auto mac = parse_mac(*text);
        if (!mac)
            throw ToolError{
                fmt::format("{}: \"mac\" \"{}\" is not six hex bytes like \"02:00:00:00:00:01\"", where, *text)};
        nic.mac = *mac;
    } else {
        nic.mac = default_mac(vm.name, index);
    }
    return nic;
}

[[nodiscard]] std::uint64_t mib_field(const json& object, std::string_view key, std::string_view where) {
    return required(unsigned_field(object, key, std::numeric_limits<std::uint64_t>::max() / MiB, where), key, where) *
           MiB;
}

[[nodiscard]] DiskSpec load_disk(const json& object, std::size_t index, std::string_view vm_where,
                                 std::vector<std::string>& warnings) {
    const std::string where = fmt::format("{}: disks[{}]", vm_where, index);
    require_object(object, where);
    reject_unknown_keys(object, kDiskKeys, where);
    const bool ram = object.contains("ram_mib");
    if (ram == object.contains("board_disk"))
        throw ToolError{fmt::format("{}: give exactly one of \"ram_mib\" and \"board_disk\"", where)};
    DiskSpec disk{.read_only = bool_field(object, "read_only", where).value_or(false)};
    if (ram) {
        disk.backing = DiskBacking::ram;
        disk.size_bytes = mib_field(object, "ram_mib", where);
        if (disk.read_only)
            warnings.push_back(fmt::format("{}: a read-only RAM disk can only ever read zeros", where));
    } else {
        const std::string slice_where = where + ": board_disk";
        const json& slice = object.at("board_disk");
        require_object(slice, slice_where);
        reject_unknown_keys(slice, kBoardDiskKeys, slice_where);
        disk.backing = DiskBacking::board_disk;
        disk.offset_bytes = mib_field(slice, "offset_mib", slice_where);
        disk.size_bytes = mib_field(slice, "size_mib", slice_where);
    }
    // Zero sizes and slices past 2^64 are refused by structural_problem().
    return disk;
}

class PayloadLocator final {
public:
    explicit PayloadLocator(const ConfigSource& source) {
        if (!source.search_dirs.empty()) {
            directories_ = source.search_dirs;
        } else {
            const fs::path parent = source.config_file.parent_path();
            directories_.push_back(parent.empty() ? fs::path{"."} : parent);
        }
    }

    [[nodiscard]] fs::path locate(const std::string& name, std::string_view key, std::string_view where) const {
        fs::path path{name};
        if (name.empty()) throw ToolError{fmt::format("{}: \"{}\" is an empty path", where, key)};
        if (path.is_absolute()) {
            if (!fs::is_regular_file(path)) throw ToolError{fmt::format("{}: {} file {} not found", where, key, path)};
            return path;
        }
        for (const fs::path& directory : directories_) {
            fs::path candidate = directory / path;
            if (fs::is_regular_file(candidate)) return candidate;
        }
        throw ToolError{
            fmt::format("{}: {} file {} not found (looked in: {})", where, key, path, fmt::join(directories_, ", "))};
    }

private:
    std::vector<fs::path> directories_;
};

void collect_warnings(const VmEntry& vm, std::uint64_t memory_mib, std::string_view where,
                      std::vector<std::string>& warnings) {
    if (vm.vcpu_count == 0) warnings.push_back(fmt::format("{}: vcpus is 0; Lamina will refuse this VM", where));
    if (vm.vcpu_count > kMaxPhysicalCpus)
        warnings.push_back(
            fmt::format("{}: vcpus is {}, more than Lamina supports ({})", where, vm.vcpu_count, kMaxPhysicalCpus));
    if (memory_mib == 0) warnings.push_back(fmt::format("{}: memory_mib is 0; Lamina will refuse this VM", where));
    if (memory_mib > kLargeMemoryMib)
        warnings.push_back(fmt::format("{}: memory_mib is {} ({} GiB); the machine probably has less", where,
                                       memory_mib, memory_mib / 1024));
    if (vm.memory_bytes != 0 && vm.kernel.size() + vm.initrd.size() > vm.memory_bytes)
        warnings.push_back(fmt::format("{}: kernel and initrd ({} bytes) do not fit in memory_mib {}", where,
                                       vm.kernel.size() + vm.initrd.size(), memory_mib));
    if (vm.cap_percent > std::uint64_t{100} * std::max<std::uint32_t>(vm.vcpu_count, 1))
        warnings.push_back(
            fmt::format("{}: cap_percent {} is more than {} vCPU(s) can use", where, vm.cap_percent, vm.vcpu_count));
}

[[nodiscard]] VmEntry load_vm(const json& object, std::size_t index, const PayloadLocator& locator,
                              const std::vector<std::string>& networks, std::vector<std::string>& warnings) {
    std::string where = fmt::format("vms[{}]", index);
    if (!object.is_object()) throw ToolError{fmt::format("{}: must be an object, not {}", where, object.dump())};
    reject_unknown_keys(object, kVmKeys, where);

    VmEntry vm;
    vm.name = required(string_field(object, "name", where), "name", where);
    where = fmt::format("vms[{}] (\"{}\")", index, vm.name);
    constexpr std::uint32_t kU32Max = std::numeric_limits<std::uint32_t>::max();
    // memory_mib must still fit in 64 bits once converted to bytes.
    const std::uint64_t memory_mib =
        required(unsigned_field(object, "memory_mib", std::numeric_limits<std::uint64_t>::max() / MiB, where),
                 "memory_mib", where);
    vm.memory_bytes = memory_mib * MiB;
    vm.vcpu_count = static_cast<std::uint32_t>(unsigned_field(object, "vcpus", kU32Max, where).value_or(1));
    vm.weight = static_cast<std::uint32_t>(unsigned_field(object, "weight", kU32Max, where).value_or(0));
    vm.cap_percent = static_cast<std::uint32_t>(unsigned_field(object, "cap_percent", kU32Max, where).value_or(0));
    vm.start_at_boot = bool_field(object, "start", where).value_or(true);
    vm.best_effort = bool_field(object, "best_effort", where).value_or(false);
    vm.pinned_cpu_mask = pinned_cpu_mask(object, where);
    vm.cmdline = string_field(object, "cmdline", where).value_or("");

    const std::string kernel = required(string_field(object, "kernel", where), "kernel", where);
    vm.kernel = read_file(locator.locate(kernel, "kernel", where));
    if (vm.kernel.empty()) throw ToolError{fmt::format("{}: kernel file {} is empty", where, kernel)};
    if (const auto initrd = string_field(object, "initrd", where)) {
        vm.initrd = read_file(locator.locate(*initrd, "initrd", where));
        // An empty initrd would silently mean "no initramfs": say so instead.
        if (vm.initrd.empty()) throw ToolError{fmt::format("{}: initrd file {} is empty", where, *initrd)};
    }
    const json& nics = array_field(object, "nics", where);
    for (std::size_t i = 0; i < nics.size(); ++i) vm.nics.push_back(load_nic(nics[i], vm, i, networks, where));
    const json& disks = array_field(object, "disks", where);
    for (std::size_t i = 0; i < disks.size(); ++i) vm.disks.push_back(load_disk(disks[i], i, where, warnings));
    if (const auto problem = structural_problem(vm, networks.size()))
        throw ToolError{fmt::format("{}: {}", where, *problem)};
    collect_warnings(vm, memory_mib, where, warnings);
    return vm;
}

// ---------------------------------------------------------------- services

// An optional integer in [min, max].
[[nodiscard]] std::optional<std::uint64_t> ranged_field(const json& object, std::string_view key, std::uint64_t min,
                                                        std::uint64_t max, std::string_view where) {
    const auto found = object.find(key);
    if (found == object.end()) return std::nullopt;
    if (!found->is_number_unsigned())
        throw ToolError{fmt::format("{}: \"{}\" must be an integer from {} to {}, not {}", where, key, min, max,
                                    found->dump())};
    const auto value = found->get<std::uint64_t>();
    if (value < min || value > max)
        throw ToolError{fmt::format("{}: \"{}\" is {}; it must be {} to {}", where, key, value, min, max)};
    return value;
}

// A decimal number of 1 to `max_digits` digits, without sign or leading zeros.
[[nodiscard]] std::optional<std::uint32_t> parse_decimal(std::string_view text, std::size_t max_digits) {
    if (text.empty() || text.size() > max_digits || (text.size() > 1 && text[0] == '0')) return std::nullopt;
    std::uint32_t value = 0;
    for (const char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        value = value * 10 + static_cast<std::uint32_t>(c - '0');
    }
    return value;
}

// "10.0.2.50" as 0x0a000232.
[[nodiscard]] std::optional<std::uint32_t> parse_ipv4(std::string_view text) {
    std::uint32_t address = 0;
    for (int octet = 0; octet < 4; ++octet) {
        const std::size_t dot = octet < 3 ? text.find('.') : text.size();
        if (dot == std::string_view::npos) return std::nullopt;
        const auto value = parse_decimal(text.substr(0, dot), 3);
        if (!value || *value > 255) return std::nullopt;
        address = address << 8 | *value;
        text.remove_prefix(dot == text.size() ? dot : dot + 1);
    }
    return address;
}

// "A.B.C.D" then `separator` then a decimal number of at most `max_digits` digits.
[[nodiscard]] std::optional<std::pair<std::uint32_t, std::uint32_t>> parse_ipv4_and_number(std::string_view text,
                                                                                          char separator,
                                                                                          std::size_t max_digits) {
    const std::size_t at = text.find(separator);
    if (at == std::string_view::npos) return std::nullopt;
    const auto address = parse_ipv4(text.substr(0, at));
    const auto number = parse_decimal(text.substr(at + 1), max_digits);
    if (!address || !number) return std::nullopt;
    return std::pair{*address, *number};
}

// The index of the VM named `name`.
[[nodiscard]] std::uint32_t template_index(const std::vector<VmEntry>& vms, const std::string& name,
                                           std::string_view where) {
    const auto found = std::find_if(vms.begin(), vms.end(), [&](const VmEntry& vm) { return vm.name == name; });
    if (found == vms.end()) throw ToolError{fmt::format("{}: template \"{}\" is not a VM in \"vms\"", where, name)};
    return static_cast<std::uint32_t>(found - vms.begin());
}

void load_objective(const json& object, ServiceEntry& service, std::string_view service_where) {
    namespace limit = bundle_format::service_limits;
    const std::string where = fmt::format("{}: objective", service_where);
    const auto found = object.find("objective");
    if (found == object.end()) throw ToolError{fmt::format("{}: \"objective\" is required", service_where)};
    if (!found->is_object())
        throw ToolError{fmt::format(
            "{}: must be an object such as {{\"percentile\": 95, \"latency_ms\": 50, \"window_s\": 5}}, not {}",
            where, found->dump())};
    reject_unknown_keys(*found, kObjectiveKeys, where);
    service.percentile = static_cast<std::uint8_t>(required(
        ranged_field(*found, "percentile", limit::kMinPercentile, limit::kMaxPercentile, where), "percentile", where));
    service.objective_us =
        static_cast<std::uint32_t>(required(ranged_field(*found, "latency_ms", limit::kMinObjectiveUs / 1000,
                                                         limit::kMaxObjectiveUs / 1000, where),
                                            "latency_ms", where) *
                                   1000);
    service.window_s = static_cast<std::uint16_t>(
        required(ranged_field(*found, "window_s", limit::kMinWindowS, limit::kMaxWindowS, where), "window_s", where));
}

// A whole number of seconds, stored in milliseconds.
[[nodiscard]] std::uint32_t seconds_field(const json& object, std::string_view key, std::uint32_t min_ms,
                                          std::uint32_t max_ms, std::uint32_t default_ms, std::string_view where) {
    const auto seconds = ranged_field(object, key, min_ms / 1000, max_ms / 1000, where);
    return seconds ? static_cast<std::uint32_t>(*seconds * 1000) : default_ms;
}

[[nodiscard]] ServiceEntry load_service(const json& object, std::size_t index, const std::vector<VmEntry>& vms,
                                        const std::vector<std::string>& networks,
                                        const std::vector<ServiceEntry>& earlier_services) {
    namespace limit = bundle_format::service_limits;
    std::string where = fmt::format("services[{}]", index);
    require_object(object, where);
    ServiceEntry service;
    service.name = required(string_field(object, "name", where), "name", where);
    where = fmt::format("services[{}] (\"{}\")", index, service.name);
    reject_unknown_keys(object, kServiceKeys, where);
    if (!is_valid_service_name(service.name))
        throw ToolError{fmt::format("{}: name \"{}\" is not 1-15 characters from [A-Za-z0-9._-]", where, service.name)};
    for (std::size_t earlier = 0; earlier < earlier_services.size(); ++earlier)
        if (earlier_services[earlier].name == service.name)
            throw ToolError{
                fmt::format("{}: name \"{}\" is already used by services[{}]", where, service.name, earlier)};

    const std::string template_name = required(string_field(object, "template", where), "template", where);
    service.template_vm = template_index(vms, template_name, where);
    const std::string network_name = required(string_field(object, "network", where), "network", where);
    service.network = network_index(networks, network_name, where);
    const VmEntry& template_vm = vms[service.template_vm];
    if (template_vm.nics.size() != 1)
        throw ToolError{fmt::format("{}: template \"{}\" must have exactly one NIC (on network \"{}\"), not {}", where,
                                    template_name, network_name, template_vm.nics.size())};
    if (template_vm.nics[0].network != service.network)
        throw ToolError{
            fmt::format("{}: template \"{}\" has its NIC on network \"{}\", not on the service's network \"{}\"",
                        where, template_name, networks[template_vm.nics[0].network], network_name)};

    const std::string address = required(string_field(object, "address", where), "address", where);
    const auto service_address = parse_ipv4_and_number(address, ':', 5);
    if (!service_address || service_address->second > 65535)
        throw ToolError{fmt::format(
            "{}: \"address\" \"{}\" is not an IPv4 address and TCP port like \"10.0.2.50:80\"", where, address)};
    if (service_address->second == 0) throw ToolError{fmt::format("{}: \"address\" \"{}\" has port 0", where, address)};
    service.address = service_address->first;
    service.port = static_cast<std::uint16_t>(service_address->second);

    const std::string replicas =
        required(string_field(object, "replica_addresses", where), "replica_addresses", where);
    const auto replica_addresses = parse_ipv4_and_number(replicas, '/', 2);
    if (!replica_addresses)
        throw ToolError{fmt::format(
            "{}: \"replica_addresses\" \"{}\" is not an IPv4 address and prefix like \"10.0.2.100/24\"", where,
            replicas)};
    if (replica_addresses->second < limit::kMinReplicaPrefix || replica_addresses->second > limit::kMaxReplicaPrefix)
        throw ToolError{fmt::format("{}: \"replica_addresses\" \"{}\" has prefix /{}; it must be /{} to /{}", where,
                                    replicas, replica_addresses->second, limit::kMinReplicaPrefix,
                                    limit::kMaxReplicaPrefix)};
    service.first_replica_address = replica_addresses->first;
    service.replica_prefix = static_cast<std::uint8_t>(replica_addresses->second);

    load_objective(object, service, where);
    service.max_replicas = static_cast<std::uint8_t>(
        required(ranged_field(object, "max_replicas", limit::kMinMaxReplicas, limit::kMaxReplicas, where),
                 "max_replicas", where));
    service.min_replicas = static_cast<std::uint8_t>(
        required(ranged_field(object, "min_replicas", 0, limit::kMaxReplicas, where), "min_replicas", where));
    if (service.min_replicas > service.max_replicas)
        throw ToolError{fmt::format("{}: \"min_replicas\" {} is more than \"max_replicas\" {}", where,
                                    service.min_replicas, service.max_replicas)};
    service.scale_up_window_ms = seconds_field(object, "scale_up_window_s", limit::kMinScaleUpWindowMs,
                                               limit::kMaxScaleUpWindowMs, limit::kDefaultScaleUpWindowMs, where);
    service.scale_down_window_ms =
        seconds_field(object, "scale_down_window_s", limit::kMinScaleDownWindowMs, limit::kMaxScaleDownWindowMs,
                      limit::kDefaultScaleDownWindowMs, where);
    service.drain_grace_ms = seconds_field(object, "drain_grace_s", limit::kMinDrainGraceMs, limit::kMaxDrainGraceMs,
                                           limit::kDefaultDrainGraceMs, where);

    // What is left: the addresses against the replicas' prefix.
    if (const auto problem = service_problem(service, vms, networks.size()))
        throw ToolError{fmt::format("{}: {}", where, *problem)};
    return service;
}

[[nodiscard]] std::vector<ServiceEntry> load_services(const json& root, const std::vector<VmEntry>& vms,
                                                      const std::vector<std::string>& networks) {
    const json& list = array_field(root, "services", "config");
    if (list.size() > bundle_format::kMaxServiceCount)
        throw ToolError{fmt::format("config: {} services; a bundle holds at most {}", list.size(),
                                    bundle_format::kMaxServiceCount)};
    std::vector<ServiceEntry> services;
    for (std::size_t i = 0; i < list.size(); ++i) services.push_back(load_service(list[i], i, vms, networks, services));
    return services;
}

[[nodiscard]] json parse_json(const fs::path& file) {
    std::ifstream in{file};
    if (!in) throw ToolError{fmt::format("cannot open config {}", file)};
    try {
        return json::parse(in);
    } catch (const json::parse_error& error) {
        throw ToolError{fmt::format("{} is not valid JSON: {}", file, error.what())};
    }
}

}  // namespace

LoadedConfig load_config(const ConfigSource& source) {
    const json root = parse_json(source.config_file);
    if (!root.is_object()) throw ToolError{"config: the top level must be an object with a \"vms\" array"};
    reject_unknown_keys(root, kTopLevelKeys, "config");
    const auto vms = root.find("vms");
    if (vms == root.end() || !vms->is_array()) throw ToolError{"config: \"vms\" must be an array of VM objects"};
    if (vms->size() > bundle_format::kMaxVmCount)
        throw ToolError{
            fmt::format("config: {} VMs; a bundle holds at most {}", vms->size(), bundle_format::kMaxVmCount)};

    const PayloadLocator locator{source};
    LoadedConfig config;
    config.networks = load_networks(root);
    config.uplink_network = load_uplink(root, config.networks);
    // Conflicts between VMs (names, MACs, disk slices) are left to
    // encode_bundle(), which refuses them.
    for (std::size_t i = 0; i < vms->size(); ++i)
        config.vms.push_back(load_vm((*vms)[i], i, locator, config.networks, config.warnings));
    config.services = load_services(root, config.vms, config.networks);
    if (config.vms.empty()) config.warnings.emplace_back("config: \"vms\" is empty; Lamina will have nothing to start");
    return config;
}

}  // namespace lamina::bundle_tool
