#include "runtime.hpp"

#include "arch.hpp"
#include "board.hpp"
#include "console.hpp"
#include "psci.hpp"
#include "timer.hpp"

namespace guest {
namespace {

BootFacts the_boot_facts;

[[noreturn]] void fail_boot(std::string_view why, std::uintptr_t device_tree) {
    Line{} << "FAIL " << why << " (device tree at " << Hex{device_tree} << ")";
    power_off();
}

[[nodiscard]] bool blob_inside_ram(const BootFacts& facts) {
    const auto ram_end = facts.ram_base + facts.ram_size;
    return facts.device_tree_address >= facts.ram_base && facts.device_tree_address < ram_end &&
           ram_end - facts.device_tree_address >= facts.blob_size;
}

// The Linux boot protocol promises an 8-byte aligned blob in RAM; checking
// the address first keeps a broken x0 from faulting before we can report it.
void read_boot_facts(std::uintptr_t device_tree) {
    if (device_tree < board::kRamBase || device_tree % 8 != 0)
        fail_boot("x0 does not point at a device tree in RAM", device_tree);
    const auto result = read_device_tree(reinterpret_cast<const unsigned char*>(device_tree));
    if (!result.error.empty()) {
        Line{} << "FAIL unreadable device tree at " << Hex{device_tree} << ": " << result.error;
        power_off();
    }
    static_cast<DeviceTreeFacts&>(the_boot_facts) = result.facts;
    the_boot_facts.device_tree_address = device_tree;
    if (the_boot_facts.ram_size == 0) fail_boot("no /memory node with a reg", device_tree);
    if (the_boot_facts.cpu_count == 0) fail_boot("no /cpus/cpu@N node", device_tree);
    if (!blob_inside_ram(the_boot_facts)) fail_boot("device tree outside /memory", device_tree);
}

// VBAR_EL1 layout: four groups (by source) of four kinds of exception.
[[nodiscard]] std::string_view vector_name(std::uint64_t index) {
    constexpr std::string_view kKinds[] = {"synchronous", "IRQ", "FIQ", "SError"};
    return kKinds[index % 4];
}

[[nodiscard]] std::string_view vector_source(std::uint64_t index) {
    constexpr std::string_view kSources[] = {"EL1t", "EL1h", "EL0 AArch64", "EL0 AArch32"};
    return kSources[(index / 4) % 4];
}

}  // namespace

const BootFacts& boot_facts() { return the_boot_facts; }

void power_off() {
    const auto status = psci::system_off();
    Line{} << "FAIL SYSTEM_OFF returned " << status;
    idle_forever();
}

[[gnu::weak]] void run_secondary(std::uint64_t /*context_id*/) { psci::cpu_off(); }

}  // namespace guest

// Called from start.S; C linkage keeps the assembly free of mangled names.
extern "C" {

[[noreturn]] void guest_primary_main(std::uintptr_t device_tree) {
    guest::read_boot_facts(device_tree);
    guest::run();
    guest::power_off();
}

[[noreturn]] void guest_secondary_main(std::uint64_t context_id) {
    guest::run_secondary(context_id);
    guest::idle_forever();
}

// Nothing in a guest expects an exception: say which one and where, and stop.
[[noreturn]] void guest_unexpected_exception(std::uint64_t vector_index) {
    using guest::Hex;
    guest::Line{} << "FATAL unexpected " << guest::vector_name(vector_index) << " exception from "
                  << guest::vector_source(vector_index) << ", esr " << Hex{guest::arch::esr()}
                  << ", elr " << Hex{guest::arch::elr()} << ", far " << Hex{guest::arch::far()};
    guest::power_off();
}

}
