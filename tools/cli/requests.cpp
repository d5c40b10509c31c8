#include "requests.hpp"

namespace lamina::cli {

namespace {

template <typename Value>
void put_if_given(json& arguments, const char* key, const std::optional<Value>& value) {
    if (value) arguments[key] = *value;
}

}  // namespace

json create_arguments(const CreateOptions& options) {
    json arguments{{"template", options.template_name}};
    put_if_given(arguments, "name", options.name);
    put_if_given(arguments, "memory_mib", options.memory_mib);
    put_if_given(arguments, "vcpus", options.vcpus);
    put_if_given(arguments, "cmdline", options.cmdline);
    put_if_given(arguments, "weight", options.weight);
    put_if_given(arguments, "cap_percent", options.cap_percent);
    put_if_given(arguments, "pinned_cpus", options.pinned_cpus);
    if (options.paused) arguments["start"] = false;
    return arguments;
}

json set_arguments(const SetOptions& options) {
    json arguments{{"vm", options.vm}};
    put_if_given(arguments, "weight", options.weight);
    put_if_given(arguments, "cap_percent", options.cap_percent);
    put_if_given(arguments, "pinned_cpus", options.pinned_cpus);
    return arguments;
}

}  // namespace lamina::cli
