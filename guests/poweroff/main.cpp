// poweroff: exercises PSCI SYSTEM_OFF; Lamina should end the VM right away.
#include "arch.hpp"
#include "console.hpp"
#include "psci.hpp"
#include "runtime.hpp"

const char guest::role[] = "poweroff";

void guest::run() {
    Line{} << "calling SYSTEM_OFF";
    const auto status = psci::system_off();
    Line{} << "FAILED, SYSTEM_OFF returned " << status;
    for (;;) arch::compiler_barrier();
}
