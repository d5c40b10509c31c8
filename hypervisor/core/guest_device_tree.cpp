#include "core/guest_device_tree.hpp"

#include "core/fdt_writer.hpp"
#include "core/format.hpp"
#include "core/guest_layout.hpp"
#include "virtual_devices/virtual_gic.hpp"

namespace lamina {
namespace {

constexpr std::uint32_t kClockPhandle = 1;
constexpr std::uint32_t kGicPhandle = 2;
// GIC interrupt specifier cells: type, number, flags.
constexpr std::uint32_t kSpi = 0;
constexpr std::uint32_t kPpi = 1;
constexpr std::uint32_t kLevelHigh = 4;

constexpr std::uint32_t ppi_number(std::uint32_t interrupt_id) { return interrupt_id - 16; }
constexpr std::uint32_t spi_number(std::uint32_t interrupt_id) { return interrupt_id - 32; }
constexpr std::uint32_t kUartClockHz = 24'000'000;

std::uint32_t high(std::uint64_t value) { return static_cast<std::uint32_t>(value >> 32); }
std::uint32_t low(std::uint64_t value) { return static_cast<std::uint32_t>(value); }

// "name@unit-address", the address in hexadecimal without "0x".
FormatBuffer node_name(std::string_view name, std::uint64_t unit_address) {
    FormatBuffer text;
    text.append(name);
    text.append('@');
    text.append_unsigned(unit_address, 16);
    return text;
}

void write_reg(fdt::FdtWriter& writer, std::uint64_t base, std::uint64_t size) {
    writer.property_cells("reg", {high(base), low(base), high(size), low(size)});
}

void write_chosen(fdt::FdtWriter& writer, const GuestDeviceTreeSpec& spec) {
    writer.begin_node("chosen");
    writer.property_string("bootargs", spec.bootargs);
    FormatBuffer console_path;
    console_path.append('/');
    console_path.append(node_name("pl011", guest_layout::kUartBase.value()).view());
    writer.property_string("stdout-path", console_path.view());
    if (spec.initrd.size != 0) {
        writer.property_u64("linux,initrd-start", spec.initrd.base.value());
        writer.property_u64("linux,initrd-end", spec.initrd.end().value());
    }
    writer.end_node();
}

void write_memory(fdt::FdtWriter& writer, GuestPhysRange ram) {
    writer.begin_node(node_name("memory", ram.base.value()).view());
    writer.property_string("device_type", "memory");
    write_reg(writer, ram.base.value(), ram.size);
    writer.end_node();
}

void write_cpus(fdt::FdtWriter& writer, std::uint32_t vcpu_count) {
    writer.begin_node("cpus");
    writer.property_u32("#address-cells", 1);
    writer.property_u32("#size-cells", 0);
    for (std::uint32_t index = 0; index < vcpu_count; ++index) {
        FormatBuffer name;
        format_to(name, "cpu@{}", index);
        writer.begin_node(name.view());
        writer.property_string("device_type", "cpu");
        writer.property_string("compatible", "arm,armv8");
        writer.property_u32("reg", index);
        writer.property_string("enable-method", "psci");
        writer.end_node();
    }
    writer.end_node();
}

void write_psci(fdt::FdtWriter& writer) {
    writer.begin_node("psci");
    writer.property_string_list("compatible", {"arm,psci-1.0", "arm,psci-0.2"});
    writer.property_string("method", "hvc");
    writer.end_node();
}

void write_interrupt_controller(fdt::FdtWriter& writer, std::uint32_t vcpu_count) {
    writer.begin_node(node_name("intc", guest_layout::kGicDistributorBase.value()).view());
    writer.property_string("compatible", "arm,gic-v3");
    writer.property_u32("#interrupt-cells", 3);
    writer.property_u32("#address-cells", 2);
    writer.property_u32("#size-cells", 2);
    writer.property_empty("ranges");
    writer.property_empty("interrupt-controller");
    const std::uint64_t distributor = guest_layout::kGicDistributorBase.value();
    const std::uint64_t redistributors = guest_layout::kGicRedistributorBase.value();
    const std::uint64_t redistributor_size = vcpu_count * kRedistributorStride;
    writer.property_cells("reg", {high(distributor), low(distributor), high(kDistributorSize), low(kDistributorSize),
                                  high(redistributors), low(redistributors), high(redistributor_size),
                                  low(redistributor_size)});
    writer.property_cells("interrupts", {kPpi, ppi_number(guest_layout::kGicMaintenanceInterruptId), kLevelHigh});
    writer.property_u32("phandle", kGicPhandle);
    writer.end_node();
}

void write_timer(fdt::FdtWriter& writer) {
    writer.begin_node("timer");
    writer.property_string_list("compatible", {"arm,armv8-timer", "arm,armv7-timer"});
    writer.property_cells("interrupts", {kPpi, ppi_number(guest_layout::kSecurePhysicalTimerInterruptId), kLevelHigh,
                                         kPpi, ppi_number(guest_layout::kPhysicalTimerInterruptId), kLevelHigh,
                                         kPpi, ppi_number(guest_layout::kVirtualTimerInterruptId), kLevelHigh,
                                         kPpi, ppi_number(guest_layout::kHypervisorTimerInterruptId), kLevelHigh});
    writer.property_empty("always-on");
    writer.end_node();
}

void write_console(fdt::FdtWriter& writer) {
    writer.begin_node("apb-pclk");
    writer.property_string("compatible", "fixed-clock");
    writer.property_u32("#clock-cells", 0);
    writer.property_u32("clock-frequency", kUartClockHz);
    writer.property_string("clock-output-names", "clk24mhz");
    writer.property_u32("phandle", kClockPhandle);
    writer.end_node();

    writer.begin_node(node_name("pl011", guest_layout::kUartBase.value()).view());
    writer.property_string_list("compatible", {"arm,pl011", "arm,primecell"});
    write_reg(writer, guest_layout::kUartBase.value(), 0x1000);
    writer.property_cells("interrupts", {kSpi, spi_number(guest_layout::kUartInterruptId), kLevelHigh});
    writer.property_cells("clocks", {kClockPhandle, kClockPhandle});
    writer.property_string_list("clock-names", {"uartclk", "apb_pclk"});
    writer.end_node();
}

// Lamina's devices reach guest RAM through the same coherent mapping the
// guest uses, so drivers need no cache maintenance for their buffers.
void write_virtio_slots(fdt::FdtWriter& writer, std::uint32_t count) {
    for (std::uint32_t slot = 0; slot < count; ++slot) {
        const GuestPhysAddr base = guest_layout::virtio_slot_base(slot);
        writer.begin_node(node_name("virtio_mmio", base.value()).view());
        writer.property_string("compatible", "virtio,mmio");
        write_reg(writer, base.value(), guest_layout::kVirtioSlotSize);
        writer.property_cells("interrupts",
                              {kSpi, spi_number(guest_layout::virtio_slot_interrupt_id(slot)), kLevelHigh});
        writer.property_empty("dma-coherent");
        writer.end_node();
    }
}

}  // namespace

Result<std::size_t> build_guest_device_tree(const GuestDeviceTreeSpec& spec, std::span<std::byte> out) {
    fdt::FdtWriter writer{out};
    writer.begin_node("");
    writer.property_u32("#address-cells", 2);
    writer.property_u32("#size-cells", 2);
    writer.property_string_list("compatible", {"lamina,virt", "linux,dummy-virt"});
    writer.property_string("model", "Lamina virtual machine");
    writer.property_u32("interrupt-parent", kGicPhandle);
    write_chosen(writer, spec);
    write_memory(writer, spec.ram);
    write_cpus(writer, spec.vcpu_count);
    write_psci(writer);
    write_interrupt_controller(writer, spec.vcpu_count);
    write_timer(writer);
    write_console(writer);
    if (spec.virtio_slots > guest_layout::kMaxVirtioSlots) return Error{"too many virtio devices"};
    write_virtio_slots(writer, spec.virtio_slots);
    writer.end_node();
    return writer.finish();
}

}  // namespace lamina
