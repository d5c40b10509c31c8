// Arguments of the requests whose options the user assembles on the command
// line, built apart from I/O so tests can check what is sent.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "json_fields.hpp"

namespace lamina::cli {

struct CreateOptions {
    std::string template_name;
    std::optional<std::string> name;
    std::optional<std::uint64_t> memory_mib;
    std::optional<std::uint64_t> vcpus;
    std::optional<std::string> cmdline;
    std::optional<std::uint64_t> weight;
    std::optional<std::uint64_t> cap_percent;
    std::optional<std::vector<unsigned>> pinned_cpus;
    bool paused{false};
};

struct SetOptions {
    std::string vm;
    std::optional<std::uint64_t> weight;
    std::optional<std::uint64_t> cap_percent;
    std::optional<std::vector<unsigned>> pinned_cpus;  // empty: any CPU

    [[nodiscard]] bool changes_anything() const { return weight || cap_percent || pinned_cpus; }
};

// Only what the user gave: Lamina applies the template's values otherwise.
[[nodiscard]] json create_arguments(const CreateOptions& options);
[[nodiscard]] json set_arguments(const SetOptions& options);

}  // namespace lamina::cli
