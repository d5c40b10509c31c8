// spinner: a vCPU that never traps. With interrupts masked and no device
// access it only ever leaves the CPU when Lamina preempts it, so other VMs
// making progress proves Lamina's scheduler does not depend on the guest.
#include "arch.hpp"
#include "console.hpp"
#include "runtime.hpp"

const char guest::role[] = "spinner";

void guest::run() {
    arch::mask_all_interrupts();
    Line{} << "spinning with interrupts masked";
    // The barrier gives the loop a side effect, so the compiler keeps it.
    for (;;) arch::compiler_barrier();
}
