// How VMs, the board and statistics appear in management replies
// (docs/management-api.md, "Objects" and "Statistics").
#pragma once

#include "core/json.hpp"
#include "core/vm.hpp"

namespace lamina::management {

[[nodiscard]] const char* state_name(const Vm& vm);
// MiB the guest has handed back through its balloon.
[[nodiscard]] std::uint64_t ballooned_mib(const Vm& vm);
void write_vm(json::JsonWriter& out, const Vm& vm);
void write_board(json::JsonWriter& out);
void write_vm_statistics(json::JsonWriter& out, Vm& vm);

}  // namespace lamina::management
