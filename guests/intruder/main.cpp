// intruder: touches the addresses it is told to, to show that Lamina's stage-2
// tables confine a VM. An address outside the VM's RAM and devices must fault
// into Lamina, which stops the VM: the lines after that probe never appear.
//
// bootargs: probe=ADDR[,ADDR...] (hex)  access=read|write (default read)
#include "arch.hpp"
#include "bootargs.hpp"
#include "console.hpp"
#include "runtime.hpp"

const char guest::role[] = "intruder";

namespace {

using guest::Hex;
using guest::Line;

enum class Access { read, write };

constexpr std::uint32_t kPattern = 0x1a3f'5c7e;

[[nodiscard]] bool inside_my_ram(std::uintptr_t address) {
    const auto& facts = guest::boot_facts();
    return address >= facts.ram_base && address - facts.ram_base < facts.ram_size;
}

// Writes the pattern and reads it back. Inside our own RAM the word is saved
// first and restored after, so probing our image, stack or device tree does
// not corrupt the running program; anywhere else the first access is the
// write itself, so the fault Lamina reports is a write fault.
[[nodiscard]] bool write_and_read_back(std::uintptr_t address) {
    const bool restore = inside_my_ram(address);
    const auto original = restore ? guest::arch::read32(address) : 0;
    guest::arch::write32(address, kPattern);
    const auto read_back = guest::arch::read32(address);
    if (restore) guest::arch::write32(address, original);
    if (read_back == kPattern) return true;
    Line{} << "FAIL " << Hex{address} << " read back " << Hex{read_back} << " after writing "
           << Hex{kPattern};
    return false;
}

// True when the access went through as memory should.
[[nodiscard]] bool probe(std::uintptr_t address, Access access) {
    if (access == Access::write) return write_and_read_back(address);
    (void)guest::arch::read32(address);
    return true;
}

[[nodiscard]] Access parse_access() {
    const auto text = guest::bootarg("access").value_or("read");
    if (text == "read") return Access::read;
    if (text == "write") return Access::write;
    Line{} << "FAIL bad bootarg access=" << text << " (expected read or write)";
    guest::power_off();
}

// All addresses are checked before the first probe, so a typo cannot look
// like a fault.
[[nodiscard]] bool addresses_are_valid(std::string_view list) {
    bool valid = true;
    guest::for_each_piece(list, ',', [&valid](std::string_view text) {
        const auto address = guest::parse_hex(text);
        if (!address) {
            Line{} << "FAIL bad probe address '" << text << "'";
            valid = false;
        } else if (*address % 4 != 0) {
            Line{} << "FAIL probe address " << Hex{*address} << " is not 4-byte aligned";
            valid = false;
        }
    });
    return valid;
}

}  // namespace

void guest::run() {
    const auto list = bootarg("probe");
    if (!list || list->empty()) {
        Line{} << "FAIL no probe=ADDR[,ADDR...] bootarg";
        return;
    }
    const auto access = parse_access();
    if (!addresses_are_valid(*list)) return;

    const std::string_view access_name = access == Access::read ? "read" : "write";
    bool all_kept = true;
    for_each_piece(*list, ',', [&](std::string_view text) {
        const auto address = static_cast<std::uintptr_t>(*parse_hex(text));
        Line{} << "probing " << Hex{address} << " (" << access_name << ")";
        if (probe(address, access))
            Line{} << Hex{address} << " is my own memory";
        else
            all_kept = false;
    });
    if (all_kept) Line{} << "survived all probes";
}
