// Data and instruction cache maintenance by virtual address (Lamina runs
// identity mapped, so these are also physical addresses).
#pragma once

#include <cstdint>

namespace lamina::arch::cache {

// Writes dirty lines of [address, address + size) back to the point of coherency,
// so that observers with caches off (a guest before its MMU is on, a CPU
// being brought up) see the data.
void clean_to_poc(std::uintptr_t address, std::uint64_t size);
// Discards lines of the range without writing them back.
void invalidate_to_poc(std::uintptr_t address, std::uint64_t size);
// Zeroes [address, address + size) and writes the zeros back to the point of
// coherency; a block at a time with DC ZVA where the CPU allows it.
void zero_to_poc(std::uintptr_t address, std::uint64_t size);
// Makes newly written code visible to instruction fetch on every CPU.
void invalidate_instruction_cache_all();

}  // namespace lamina::arch::cache
