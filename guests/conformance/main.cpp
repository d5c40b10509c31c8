// conformance: checks the virtual hardware of a Lamina VM against the Arm
// architecture the way a third-party conformance suite of bare-metal guests
// would: the GICv3 (distributor, redistributors, system-register CPU
// interface), the EL1 virtual and physical timers, PSCI 1.0, SMCCC 1.1 and
// the SMCCC guest services Lamina offers (PV stolen time, TRNG).
// Interrupts are taken through this guest's own EL1 vectors (vectors.S).
//
// Every check prints "conformance: PASS <name>" or one or more
// "conformance: FAIL <name>: <what was read, what was expected>" lines;
// measurements print as "conformance: note <name>: ...". Last comes
// "conformance: <n> passed, <m> failed", then the VM powers off.
//
// Needs 2 vCPUs (the checks that involve vCPU 1 fail otherwise). No bootargs.
#include "conformance.hpp"
#include "runtime.hpp"
#include "timer.hpp"

const char guest::role[] = "conformance";

void guest::run() {
    using namespace conformance;
    install_vectors();
    publish_counter_frequency();
    reset_irq_log();
    Line{} << "starting: " << boot_facts().cpu_count << " vCPUs, counter " << counter_hz() << " Hz";
    gic::init_distributor();
    gic::init_this_cpu();

    check_gic_discovery();
    check_gic_registers();
    check_gic_delivery();
    check_smccc_and_psci_queries();
    check_cpu_lifecycle_start();
    check_multi_cpu_interrupts();
    check_guest_services();
    check_virtual_timer();
    check_physical_timer_registers();
    check_cpu_suspend();
    check_cpu_off_and_on_again();
    // The emulated physical timer's interrupt last: should delivering it
    // hang vCPU 0, vCPU 1's watchdog reports it after everything else ran.
    check_physical_timer_delivery();
    check_final_cpu_off();

    Line{} << passed_count() << " passed, " << failed_count() << " failed";
}
