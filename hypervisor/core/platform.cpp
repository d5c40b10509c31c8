#include "platform.hpp"

#include <algorithm>

namespace lamina {

namespace {

using fdt::DeviceTree;
using fdt::Node;

// GIC interrupt specifier: (type, number, flags).
constexpr std::uint32_t kGicTypeSpi = 0;
constexpr std::uint32_t kGicTypePpi = 1;
constexpr std::uint32_t kFirstSpiId = 32;
constexpr std::uint32_t kFirstPpiId = 16;
constexpr std::uint32_t kSpiCount = 988;  // INTIDs 32..1019
constexpr std::uint32_t kPpiCount = 16;
constexpr std::uint32_t kMinGicInterruptCells = 3;

// Architected timer "interrupts" order.
constexpr std::size_t kTimerNonSecurePhysical = 1;
constexpr std::size_t kTimerVirtual = 2;
constexpr std::size_t kTimerHypervisor = 3;

struct Gic final {
    Node node{};
    std::uint32_t interrupt_cells{0};
};

template <typename T, std::size_t N>
[[nodiscard]] bool append(std::array<T, N>& items, std::size_t& count, const T& item) {
    if (count == N) return false;
    items[count++] = item;
    return true;
}

// Every node in document order, for whole-tree scans.
template <typename Visit>
[[nodiscard]] Status for_each_node(const DeviceTree& tree, Visit visit) {
    for (std::optional<Node> node{tree.root()}; node; node = tree.next_node(*node)) {
        const Status status = visit(*node);
        if (!status) return status;
    }
    return {};
}

[[nodiscard]] bool has_device_type(const DeviceTree& tree, Node node, std::string_view type) {
    return tree.property_string(node, "device_type") == type;
}

[[nodiscard]] Status collect_memory(const DeviceTree& tree, Platform& platform) {
    const Status status = for_each_node(tree, [&](Node node) -> Status {
        if (!has_device_type(tree, node, "memory") || !tree.is_available(node)) return {};
        const std::size_t count = tree.reg_count(node);
        if (count == 0) return Error{"device tree: memory node without a usable reg"};
        for (std::size_t index = 0; index < count; ++index) {
            const auto range = tree.reg_entry(node, index);
            if (!range) return Error{"device tree: memory node reg is not a CPU physical range"};
            if (range->size == 0) continue;
            if (!append(platform.memory, platform.memory_count, *range))
                return Error{"device tree: too many memory ranges"};
        }
        return {};
    });
    if (!status) return status;
    if (platform.memory_count == 0) return Error{"device tree: no memory node"};
    return {};
}

[[nodiscard]] Status collect_reserved(const DeviceTree& tree, Platform& platform) {
    constexpr Error kTooMany{"device tree: too many reserved memory regions"};
    for (const HostPhysRange range : tree.memory_reservations()) {
        if (range.size == 0) continue;
        if (!append(platform.reserved, platform.reserved_count, range)) return kTooMany;
    }
    const auto reserved_memory = tree.find_node("/reserved-memory");
    if (!reserved_memory) return {};
    // Children without reg are dynamically placed pools: nothing fixed to avoid.
    for (const Node child : tree.children(*reserved_memory)) {
        if (!tree.is_available(child)) continue;
        for (std::size_t index = 0; index < tree.reg_count(child); ++index) {
            const auto range = tree.reg_entry(child, index);
            if (!range) return Error{"device tree: reserved-memory reg is not a CPU physical range"};
            if (range->size == 0) continue;
            if (!append(platform.reserved, platform.reserved_count, *range)) return kTooMany;
        }
    }
    return {};
}

[[nodiscard]] Status collect_cpus(const DeviceTree& tree, Platform& platform) {
    const auto cpus = tree.find_node("/cpus");
    if (!cpus) return Error{"device tree: no /cpus node"};
    for (const Node cpu : tree.children(*cpus)) {
        if (!has_device_type(tree, cpu, "cpu") || !tree.is_available(cpu)) continue;
        const auto reg = tree.raw_reg(cpu, 0);
        if (!reg) return Error{"device tree: cpu node without a valid reg"};
        if (!append(platform.cpu_mpidr, platform.cpu_count, reg->address)) return Error{"device tree: too many CPUs"};
    }
    if (platform.cpu_count == 0) return Error{"device tree: no cpu nodes"};
    return {};
}

[[nodiscard]] bool is_psci_node(const DeviceTree& tree, Node node) {
    constexpr std::string_view kPsciPrefix{"arm,psci"};
    for (std::size_t index = 0;; ++index) {
        const auto compatible = tree.property_string_at(node, "compatible", index);
        if (!compatible) return false;
        if (compatible->substr(0, kPsciPrefix.size()) == kPsciPrefix) return true;
    }
}

[[nodiscard]] Result<PsciConduit> find_psci_conduit(const DeviceTree& tree) {
    std::optional<Node> psci;
    for (std::optional<Node> node{tree.root()}; node && !psci; node = tree.next_node(*node))
        if (is_psci_node(tree, *node) && tree.is_available(*node)) psci = node;
    if (!psci) return PsciConduit::none;
    const auto method = tree.property_string(*psci, "method");
    if (method == "smc") return PsciConduit::smc;
    if (method == "hvc") return PsciConduit::hvc;
    return Error{"device tree: psci node method is neither \"smc\" nor \"hvc\""};
}

// The INTID of a device's index-th interrupt, which must reach the GIC.
[[nodiscard]] Result<std::uint32_t> interrupt_id(const DeviceTree& tree, const Gic& gic, Node device,
                                                 std::size_t index) {
    if (tree.interrupt_parent(device) != gic.node) return Error{"device tree: interrupt not routed to the GICv3"};
    const auto interrupts = tree.property(device, "interrupts");
    const std::size_t specifier_size = 4 * std::size_t{gic.interrupt_cells};
    if (!interrupts || interrupts->size() / specifier_size <= index)
        return Error{"device tree: interrupts property missing or too short"};
    const std::size_t offset = index * specifier_size;
    const auto type = load_be<std::uint32_t>(*interrupts, offset).value_or(~0u);
    const auto number = load_be<std::uint32_t>(*interrupts, offset + 4).value_or(~0u);
    if (type == kGicTypeSpi && number < kSpiCount) return number + kFirstSpiId;
    if (type == kGicTypePpi && number < kPpiCount) return number + kFirstPpiId;
    return Error{"device tree: GIC interrupt specifier out of range or of unknown type"};
}

[[nodiscard]] Result<Gic> find_gic(const DeviceTree& tree, Platform& platform) {
    std::optional<Node> found = tree.find_compatible("arm,gic-v3");
    while (found && !tree.is_available(*found)) found = tree.find_compatible("arm,gic-v3", found);
    if (!found) return Error{"device tree: no GICv3 (\"arm,gic-v3\") node"};
    const auto distributor = tree.reg_entry(*found, 0);
    const auto redistributors = tree.reg_entry(*found, 1);
    if (!distributor || !redistributors) return Error{"device tree: GICv3 lacks distributor or redistributor reg"};
    const auto cells = tree.property_u32(*found, "#interrupt-cells");
    if (!cells || *cells < kMinGicInterruptCells) return Error{"device tree: GICv3 #interrupt-cells is not 3 or more"};

    const Gic gic{*found, *cells};
    const auto maintenance = interrupt_id(tree, gic, gic.node, 0);
    if (!maintenance) return maintenance.error();
    platform.gic_distributor = *distributor;
    platform.gic_redistributors = *redistributors;
    platform.gic_maintenance_interrupt_id = *maintenance;
    return gic;
}

[[nodiscard]] Status collect_timer(const DeviceTree& tree, const Gic& gic, Platform& platform) {
    std::optional<Node> timer = tree.find_compatible("arm,armv8-timer");
    while (timer && !tree.is_available(*timer)) timer = tree.find_compatible("arm,armv8-timer", timer);
    if (!timer) return Error{"device tree: no architected timer (\"arm,armv8-timer\") node"};
    const auto physical = interrupt_id(tree, gic, *timer, kTimerNonSecurePhysical);
    const auto virtual_timer = interrupt_id(tree, gic, *timer, kTimerVirtual);
    const auto hypervisor = interrupt_id(tree, gic, *timer, kTimerHypervisor);
    if (!physical) return physical.error();
    if (!virtual_timer) return virtual_timer.error();
    if (!hypervisor) return hypervisor.error();
    platform.timer_physical_interrupt_id = *physical;
    platform.timer_virtual_interrupt_id = *virtual_timer;
    platform.timer_hyp_interrupt_id = *hypervisor;
    return {};
}

[[nodiscard]] bool is_usable_pl011(const DeviceTree& tree, Node node) {
    return tree.is_compatible(node, "arm,pl011") && tree.is_available(node);
}

[[nodiscard]] Status collect_uart(const DeviceTree& tree, const Gic& gic, Platform& platform) {
    std::optional<Node> uart = tree.stdout_node();
    if (!uart || !is_usable_pl011(tree, *uart)) {
        uart = tree.find_compatible("arm,pl011");
        while (uart && !tree.is_available(*uart)) uart = tree.find_compatible("arm,pl011", uart);
    }
    if (!uart) return Error{"device tree: no PL011 UART (\"arm,pl011\")"};
    const auto registers = tree.reg_entry(*uart, 0);
    if (!registers) return Error{"device tree: PL011 without a valid reg"};
    const auto interrupt = interrupt_id(tree, gic, *uart, 0);
    if (!interrupt) return interrupt.error();
    platform.uart = *registers;
    platform.uart_interrupt_id = *interrupt;
    return {};
}

// Devices inherit "dma-coherent" from the buses they sit on.
[[nodiscard]] bool is_dma_coherent(const DeviceTree& tree, Node node) {
    for (std::optional<Node> at{node}; at; at = tree.parent(*at))
        if (tree.has_property(*at, "dma-coherent")) return true;
    return false;
}

[[nodiscard]] Status collect_virtio_mmio(const DeviceTree& tree, const Gic& gic, Platform& platform) {
    for (auto node = tree.find_compatible("virtio,mmio"); node; node = tree.find_compatible("virtio,mmio", node)) {
        if (!tree.is_available(*node)) continue;
        const auto registers = tree.reg_entry(*node, 0);
        if (!registers) return Error{"device tree: virtio-mmio node without a valid reg"};
        const auto interrupt = interrupt_id(tree, gic, *node, 0);
        if (!interrupt) return interrupt.error();
        const VirtioMmioSlot slot{*registers, *interrupt, is_dma_coherent(tree, *node)};
        if (!append(platform.virtio_mmio, platform.virtio_mmio_count, slot))
            return Error{"device tree: too many virtio-mmio devices"};
    }
    const auto slots = std::span{platform.virtio_mmio}.first(platform.virtio_mmio_count);
    std::sort(slots.begin(), slots.end(), [](const VirtioMmioSlot& left, const VirtioMmioSlot& right) {
        return left.registers.base < right.registers.base;
    });
    return {};
}

[[nodiscard]] Status collect_chosen(const DeviceTree& tree, Platform& platform) {
    const auto chosen = tree.find_node("/chosen");
    if (!chosen) return {};
    platform.bootargs = tree.property_string(*chosen, "bootargs").value_or(std::string_view{});
    const bool has_start = tree.has_property(*chosen, "linux,initrd-start");
    const bool has_end = tree.has_property(*chosen, "linux,initrd-end");
    if (!has_start && !has_end) return {};
    const auto start = tree.property_u64(*chosen, "linux,initrd-start");
    const auto end = tree.property_u64(*chosen, "linux,initrd-end");
    if (!start || !end) return Error{"device tree: initrd start or end missing or not 32/64-bit"};
    if (*end < *start) return Error{"device tree: initrd ends before it starts"};
    platform.initrd = HostPhysRange{HostPhysAddr{*start}, *end - *start};
    return {};
}

}  // namespace

Result<Platform> discover_platform(const DeviceTree& tree) {
    Platform platform{};
    if (Status status = collect_memory(tree, platform); !status) return status.error();
    if (Status status = collect_reserved(tree, platform); !status) return status.error();
    if (Status status = collect_cpus(tree, platform); !status) return status.error();
    const auto conduit = find_psci_conduit(tree);
    if (!conduit) return conduit.error();
    platform.psci_conduit = *conduit;
    const auto gic = find_gic(tree, platform);
    if (!gic) return gic.error();
    if (Status status = collect_timer(tree, *gic, platform); !status) return status.error();
    if (Status status = collect_uart(tree, *gic, platform); !status) return status.error();
    if (Status status = collect_virtio_mmio(tree, *gic, platform); !status) return status.error();
    if (Status status = collect_chosen(tree, platform); !status) return status.error();
    return platform;
}

}  // namespace lamina
