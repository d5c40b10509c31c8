// hello: proves a VM boots the way Lamina promises (EL1, device tree in x0,
// UART output), then gives its core away for good.
#include "arch.hpp"
#include "console.hpp"
#include "runtime.hpp"
#include "timer.hpp"

const char guest::role[] = "hello";

void guest::run() {
    const auto& facts = boot_facts();
    const auto el = arch::current_el();
    Line{} << "Hello from a Lamina guest at EL" << el;
    if (el != 1) Line{} << "FAIL running at EL" << el << ", expected EL1";
    Line{} << "device_tree " << Hex{facts.device_tree_address};
    Line{} << "ram_base " << Hex{facts.ram_base};
    Line{} << "ram_size " << Hex{facts.ram_size};
    Line{} << "cpus " << facts.cpu_count;
    Line{} << "bootargs \"" << facts.bootargs << "\"";
    Line{} << "done";
    idle_forever();
}
