#include "core/boot_vms.hpp"

#include "core/bundle.hpp"
#include "core/console.hpp"
#include "core/vm_manager.hpp"
#include "drivers/board_devices.hpp"
#include "virtual_devices/virtual_switch.hpp"

namespace lamina {
namespace {

SwitchPortId g_uplink_port{};
// The bundle stays in memory for Lamina's lifetime: templates point into it.
BootBundle g_bundle{};

// Frames from the outside, on whatever CPU took the NIC's interrupt.
void uplink_received(void* /*context*/, std::span<const std::byte> frame) { virtual_switch().send(g_uplink_port, frame); }

// The board's NIC becomes one more port of the network the bundle names.
void connect_uplink(const BootBundle& bundle) {
    const auto network = bundle.uplink_network();
    if (!network) return;
    const std::string_view name = bundle.network_name(*network);
    drivers::VirtioNetUplink* nic = drivers::board_nic();
    if (nic == nullptr) {
        log::warning("switch: network {} should have the uplink, but the board has no network card", name);
        return;
    }
    const auto port = virtual_switch().attach(*nic, static_cast<NetworkId>(*network));
    if (!port) {
        log::error("switch: cannot attach the uplink: {}", port.error().message);
        return;
    }
    g_uplink_port = *port;
    nic->set_receive_handler(uplink_received, nullptr);
    log::info("switch: network {} is bridged to the board's network card", name);
}

}  // namespace

std::size_t start_boot_vms(std::optional<HostPhysRange> bundle_range) {
    if (!bundle_range) {
        log::warning("no boot bundle was loaded (on QEMU: -initrd bundle.bin); no VMs to start");
        return 0;
    }
    const ByteSpan bytes{reinterpret_cast<const std::byte*>(bundle_range->base.value()), bundle_range->size};
    const auto bundle = BootBundle::parse(bytes);
    if (!bundle) {
        log::error("boot bundle rejected: {}", bundle.error().message);
        return 0;
    }
    log::info("boot bundle: {} bytes, {} VMs", bundle->total_size(), bundle->vm_count());
    g_bundle = *bundle;
    connect_uplink(*bundle);
    std::size_t started = 0;
    for (std::uint32_t index = 0; index < bundle->vm_count(); ++index) {
        const auto spec = bundle->vm(index);
        if (!spec) {
            log::error("boot bundle: VM record {} skipped: {}", index, spec.error().message);
            continue;
        }
        if (!spec->start_at_boot) {
            log::info("boot bundle: {} is a template, not started", spec->name);
            continue;
        }
        if (auto vm = vm_manager::create(*spec)) {
            vm_manager::start(**vm);
            ++started;
        }
    }
    return started;
}

namespace boot_bundle {

std::uint32_t template_count() { return g_bundle.vm_count(); }

std::optional<VmImageSpec> template_at(std::uint32_t index) {
    auto spec = g_bundle.vm(index);
    if (!spec) return std::nullopt;
    return *spec;
}

std::optional<VmImageSpec> find_template(std::string_view name) {
    for (std::uint32_t index = 0; index < g_bundle.vm_count(); ++index) {
        auto spec = template_at(index);
        if (spec && spec->name == name) return spec;
    }
    return std::nullopt;
}

std::uint32_t network_count() { return g_bundle.network_count(); }

std::string_view network_name(std::uint32_t index) { return g_bundle.network_name(index); }

std::uint32_t service_count() { return g_bundle.service_count(); }

Result<ServiceSpec> service_at(std::uint32_t index) { return g_bundle.service(index); }

}  // namespace boot_bundle

}  // namespace lamina
