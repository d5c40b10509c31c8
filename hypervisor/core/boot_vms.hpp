// Starts the VMs the boot bundle describes. A bad bundle or VM is reported on
// the console; the valid VMs still start.
#pragma once

#include <cstddef>
#include <optional>

#include <string_view>

#include "core/bundle.hpp"
#include "core/types.hpp"

namespace lamina {

// Returns how many VMs were started. Records marked template-only are not.
std::size_t start_boot_vms(std::optional<HostPhysRange> bundle);

namespace boot_bundle {
// The boot bundle's VM record named `name` (a template for new VMs), if any.
[[nodiscard]] std::optional<VmImageSpec> find_template(std::string_view name);
// Names of all its VM records, for listing.
[[nodiscard]] std::uint32_t template_count();
[[nodiscard]] std::optional<VmImageSpec> template_at(std::uint32_t index);
// Its switch networks, by index.
[[nodiscard]] std::uint32_t network_count();
[[nodiscard]] std::string_view network_name(std::uint32_t index);
// Its services (docs/services.md).
[[nodiscard]] std::uint32_t service_count();
[[nodiscard]] Result<ServiceSpec> service_at(std::uint32_t index);
}  // namespace boot_bundle

}  // namespace lamina
