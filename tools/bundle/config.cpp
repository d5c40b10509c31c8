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

constexpr std::array<std::string_view, 3> kTopLevelKeys{"vms", "networks", "uplink"};
constexpr std::array<std::string_view, 12> kVmKeys{"name",        "memory_mib", "vcpus",  "kernel",
                                                   "initrd",      "cmdline",    "weight", "cap_percent",
                                                   "pinned_cpus", "nics",       "disks",  "start"};
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
    if (config.vms.empty()) config.warnings.emplace_back("config: \"vms\" is empty; Lamina will have nothing to start");
    return config;
}

}  // namespace lamina::bundle_tool
