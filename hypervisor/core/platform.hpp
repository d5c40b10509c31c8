// What Lamina needs to know about the board, discovered once from the device
// tree the firmware hands over, into a plain struct the rest of the
// hypervisor can use without touching the tree again.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "fdt.hpp"
#include "result.hpp"
#include "types.hpp"

namespace lamina {

enum class PsciConduit { none, smc, hvc };

// A virtio-mmio transport window and its interrupt.
struct VirtioMmioSlot final {
    HostPhysRange registers{};
    std::uint32_t interrupt_id{0};  // GIC INTID (SPI n is INTID n + 32)
    // "dma-coherent" on the node or an ancestor: the device snoops the CPU
    // caches, so its DMA buffers need no cache maintenance.
    bool dma_coherent{false};
};

struct Platform final {
    static constexpr std::size_t kMaxMemoryRanges = 8;
    static constexpr std::size_t kMaxReserved = 16;
    static constexpr std::size_t kMaxCpus = 8;
    static constexpr std::size_t kMaxVirtioSlots = 32;

    // Every reg entry of every node with device_type "memory", in tree order.
    std::array<HostPhysRange, kMaxMemoryRanges> memory{};
    std::size_t memory_count{0};

    // /memreserve/ entries, then /reserved-memory children with reg.
    std::array<HostPhysRange, kMaxReserved> reserved{};
    std::size_t reserved_count{0};

    // /cpus children with device_type "cpu": their reg, the MPIDR affinity.
    std::array<std::uint64_t, kMaxCpus> cpu_mpidr{};
    std::size_t cpu_count{0};

    PsciConduit psci_conduit{PsciConduit::none};

    // "arm,gic-v3": reg[0] and reg[1] (the first redistributor region).
    HostPhysRange gic_distributor{};
    HostPhysRange gic_redistributors{};
    std::uint32_t gic_maintenance_interrupt_id{0};

    // "arm,armv8-timer" INTIDs (the physical one is the non-secure timer).
    std::uint32_t timer_hyp_interrupt_id{0};
    std::uint32_t timer_virtual_interrupt_id{0};
    std::uint32_t timer_physical_interrupt_id{0};

    // The PL011 /chosen/stdout-path names, else the first one.
    HostPhysRange uart{};
    std::uint32_t uart_interrupt_id{0};

    // "virtio,mmio" devices, sorted by address.
    std::array<VirtioMmioSlot, kMaxVirtioSlots> virtio_mmio{};
    std::size_t virtio_mmio_count{0};

    // /chosen linux,initrd-start .. linux,initrd-end.
    std::optional<HostPhysRange> initrd{};
    // /chosen bootargs, pointing into the blob; empty if absent.
    std::string_view bootargs{};
};

// Disabled nodes (status other than "okay") are ignored. Interrupts must be
// routed to the GICv3 and use its 3-cell specifiers (type, number, flags).
[[nodiscard]] Result<Platform> discover_platform(const fdt::DeviceTree& tree);

}  // namespace lamina
