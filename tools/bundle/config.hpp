// The JSON configuration `lamina-bundle build` reads (keys documented in
// docs/boot-bundle.md), turned into VM entries ready to encode.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "bundle_encoder.hpp"

namespace lamina::bundle_tool {

struct ConfigSource {
    std::filesystem::path config_file;
    // Where relative kernel/initrd paths are looked up, in order. Empty:
    // relative to the config file's directory.
    std::vector<std::filesystem::path> search_dirs;
};

struct LoadedConfig {
    std::vector<VmEntry> vms;
    std::vector<std::string> networks;            // the switch networks, by index
    std::optional<std::uint32_t> uplink_network;  // index into networks
    std::vector<ServiceEntry> services;           // templates and networks indexed as above
    // Values Lamina will probably refuse (0 vCPUs, huge RAM): allowed so tests
    // can exercise Lamina's own checks, but worth telling the user about.
    std::vector<std::string> warnings;
};

// Reads the config and every file it names. Throws ToolError on anything
// that makes the bundle unbuildable (bad JSON, unknown key, wrong type,
// missing file, invalid name, over-long command line, undeclared network,
// malformed MAC, bad disk size, a service setting out of range or a template
// without exactly one NIC on the service's network, ...). Conflicts between VMs (repeated names
// or MACs, overlapping disk slices) are left to encode_bundle().
[[nodiscard]] LoadedConfig load_config(const ConfigSource& source);

}  // namespace lamina::bundle_tool
