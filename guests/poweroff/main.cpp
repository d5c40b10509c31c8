// poweroff: exercises PSCI SYSTEM_OFF (or, with action=reset, SYSTEM_RESET);
// Lamina should end (or restart) the VM right away.
//
// bootargs: action=off|reset (default off)
#include <string_view>

#include "arch.hpp"
#include "bootargs.hpp"
#include "console.hpp"
#include "psci.hpp"
#include "runtime.hpp"

const char guest::role[] = "poweroff";

void guest::run() {
    const auto action = bootarg("action").value_or("off");
    std::uint32_t function = 0;
    std::string_view name;
    if (action == "off") {
        function = psci::kSystemOff;
        name = "SYSTEM_OFF";
    } else if (action == "reset") {
        function = psci::kSystemReset;
        name = "SYSTEM_RESET";
    } else {
        Line{} << "FAIL bad bootarg action=" << action << " (expected off or reset)";
        return;  // the runtime powers the VM off
    }
    Line{} << "calling " << name;
    const auto status = psci::call(function);
    Line{} << "FAILED, " << name << " returned " << status;
    for (;;) arch::compiler_barrier();
}
