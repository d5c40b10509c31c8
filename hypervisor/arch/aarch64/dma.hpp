// Ordering and cache maintenance for memory that the board's devices reach
// by DMA (Lamina's own drivers: rings and buffers of the NIC and the disk).
// Devices are observers in the outer shareable domain, so the barriers are
// the OSH forms; memory mapped registers are Device memory, ordered against
// normal memory only by a DSB.
#pragma once

#include <cstddef>
#include <cstdint>

#include "arch/aarch64/cache.hpp"

namespace lamina::arch::dma {

// Earlier writes to DMA memory reach the device before later ones (buffers
// and descriptors before the index that publishes them).
inline void write_barrier() { asm volatile("dmb oshst" ::: "memory"); }
// Later reads of DMA memory see at least what an earlier read announced
// (the used index, then the elements and buffers it covers).
inline void read_barrier() { asm volatile("dmb oshld" ::: "memory"); }
// Every earlier access before every later one (publish an index, then read
// the device's notification-suppression flag).
inline void full_barrier() { asm volatile("dmb osh" ::: "memory"); }
// Every earlier write has completed before a write to a device register
// that makes the device look at memory (a doorbell).
inline void before_doorbell() { asm volatile("dsb st" ::: "memory"); }

// For devices that do not snoop the CPU caches (no "dma-coherent" in the
// device tree): writes by Lamina go to RAM before the device reads them,
// and stale lines go away before Lamina reads what the device wrote.
inline void clean_for_device(const void* address, std::size_t size) {
    cache::clean_to_poc(reinterpret_cast<std::uintptr_t>(address), size);
}
inline void invalidate_for_cpu(const void* address, std::size_t size) {
    cache::invalidate_to_poc(reinterpret_cast<std::uintptr_t>(address), size);
}

}  // namespace lamina::arch::dma
