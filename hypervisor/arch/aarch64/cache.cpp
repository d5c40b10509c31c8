#include "arch/aarch64/cache.hpp"

#include "arch/aarch64/sysreg.hpp"

namespace lamina::arch::cache {
namespace {

std::uint64_t data_cache_line_size() {
    // CTR_EL0.DminLine: log2 of the number of words in the smallest line.
    return std::uint64_t{4} << ((sysreg::ctr_el0::read() >> 16) & 0xf);
}

template <typename Operation>
void for_each_line(std::uintptr_t address, std::uint64_t size, Operation operation) {
    const std::uint64_t line = data_cache_line_size();
    const std::uintptr_t end = address + size;
    for (std::uintptr_t at = address & ~(line - 1); at < end; at += line) operation(at);
    data_sync_barrier();
}

}  // namespace

void clean_to_poc(std::uintptr_t address, std::uint64_t size) {
    for_each_line(address, size, [](std::uintptr_t at) { asm volatile("dc cvac, %0" ::"r"(at) : "memory"); });
}

void invalidate_to_poc(std::uintptr_t address, std::uint64_t size) {
    for_each_line(address, size, [](std::uintptr_t at) { asm volatile("dc ivac, %0" ::"r"(at) : "memory"); });
}

void zero_to_poc(std::uintptr_t address, std::uint64_t size) {
    const std::uint64_t dczid = sysreg::dczid_el0::read();
    const std::uint64_t block = std::uint64_t{4} << (dczid & 0xf);
    const bool zva_allowed = (dczid & (1u << 4)) == 0;
    if (!zva_allowed || (address & (block - 1)) != 0 || (size & (block - 1)) != 0) {
        __builtin_memset(reinterpret_cast<void*>(address), 0, size);
        clean_to_poc(address, size);
        return;
    }
    for (std::uintptr_t at = address; at < address + size; at += block)
        asm volatile("dc zva, %0" ::"r"(at) : "memory");
    clean_to_poc(address, size);
}

void invalidate_instruction_cache_all() {
    asm volatile("dsb ish\n ic ialluis\n dsb ish\n isb" ::: "memory");
}

}  // namespace lamina::arch::cache
