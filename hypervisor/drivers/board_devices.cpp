#include "drivers/board_devices.hpp"

#include <array>
#include <string_view>

#include "core/console.hpp"

namespace lamina::drivers {
namespace {

VirtioNetUplink g_nic;
VirtioBlockDisk g_disk;
VirtioConsoleChannel g_management;
bool g_have_nic = false;
bool g_have_disk = false;
bool g_have_management = false;

// "52:54:00:12:34:56"
class MacText final {
public:
    explicit MacText(const MacAddress& mac) {
        constexpr std::string_view kDigits{"0123456789abcdef"};
        for (std::size_t i = 0; i < mac.bytes.size(); ++i) {
            text_[3 * i] = kDigits[mac.bytes[i] >> 4];
            text_[3 * i + 1] = kDigits[mac.bytes[i] & 0xf];
            if (i + 1 < mac.bytes.size()) text_[3 * i + 2] = ':';
        }
    }
    [[nodiscard]] std::string_view view() const { return {text_.data(), text_.size()}; }

private:
    std::array<char, 17> text_{};
};

void start_nic(const VirtioMmioSlot& slot) {
    if (const Status status = g_nic.start(slot); !status) {
        log::error("board: virtio-net at {}: {}", slot.registers.base, status.error().message);
        return;
    }
    g_have_nic = true;
    const MacText mac{g_nic.mac()};
    log::info("board: uplink virtio-net at {}, MAC {}, link {}", slot.registers.base, mac.view(),
              g_nic.link_up() ? "up" : "down");
}

void start_disk(const VirtioMmioSlot& slot) {
    if (const Status status = g_disk.start(slot); !status) {
        log::error("board: virtio-blk at {}: {}", slot.registers.base, status.error().message);
        return;
    }
    g_have_disk = true;
    const std::uint64_t bytes = g_disk.sector_count() * kSectorSize;
    const bool in_mib = bytes >= MiB;
    log::info("board: disk virtio-blk at {}, {} {}{}{}", slot.registers.base, in_mib ? bytes / MiB : bytes / KiB,
              in_mib ? "MiB" : "KiB", g_disk.is_read_only() ? ", read-only" : "",
              g_disk.has_flush() ? ", write cache (flushed on request)" : "");
}

void start_management_channel(const VirtioMmioSlot& slot) {
    if (const Status status = g_management.start(slot); !status) {
        log::error("board: virtio-console at {}: {}", slot.registers.base, status.error().message);
        return;
    }
    g_have_management = true;
    log::info("board: management channel on virtio-console at {}", slot.registers.base);
}

[[nodiscard]] std::string_view type_name(std::uint32_t device_id) {
    switch (static_cast<VirtioDeviceId>(device_id)) {
        case VirtioDeviceId::network: return "virtio-net";
        case VirtioDeviceId::block: return "virtio-blk";
        case VirtioDeviceId::console: return "virtio-console";
        default: return "virtio";
    }
}

void probe_slot(const VirtioMmioSlot& slot) {
    const VirtioSlotIdentity identity = VirtioMmioDevice{slot}.identify();
    if (!identity.is_virtio()) {
        log::debug("board: {} is not a virtio-mmio transport (magic {})", slot.registers.base, Hex{identity.magic});
        return;
    }
    if (identity.device_id == static_cast<std::uint32_t>(VirtioDeviceId::none)) return;  // an empty slot
    if (identity.version == kVirtioMmioLegacyVersion) {
        log::warning("board: {} (device type {}) at {} is a legacy virtio-mmio device (version 1): skipped; "
                     "Lamina drives modern ones (QEMU: -global virtio-mmio.force-legacy=false)",
                     type_name(identity.device_id), identity.device_id, slot.registers.base);
        return;
    }
    if (identity.version != kVirtioMmioModernVersion) {
        log::warning("board: {} at {} has unknown virtio-mmio version {}: skipped", type_name(identity.device_id),
                     slot.registers.base, identity.version);
        return;
    }
    switch (static_cast<VirtioDeviceId>(identity.device_id)) {
        case VirtioDeviceId::network:
            if (g_have_nic) {
                log::info("board: another virtio-net at {}: not used", slot.registers.base);
            } else {
                start_nic(slot);
            }
            break;
        case VirtioDeviceId::block:
            if (g_have_disk) {
                log::info("board: another virtio-blk at {}: not used", slot.registers.base);
            } else {
                start_disk(slot);
            }
            break;
        case VirtioDeviceId::console:
            if (g_have_management) {
                log::info("board: another virtio-console at {}: not used", slot.registers.base);
            } else {
                start_management_channel(slot);
            }
            break;
        default:
            log::debug("board: virtio device type {} at {}: not used", identity.device_id, slot.registers.base);
            break;
    }
}

}  // namespace

void probe_board_devices(const Platform& platform) {
    for (std::size_t i = 0; i < platform.virtio_mmio_count; ++i) probe_slot(platform.virtio_mmio[i]);
    if (!g_have_nic) log::info("board: no network card: the virtual switch has no uplink");
    if (!g_have_disk) log::info("board: no disk");
    if (!g_have_management) log::info("board: no virtio console: no management channel");
}

VirtioNetUplink* board_nic() { return g_have_nic ? &g_nic : nullptr; }

VirtioBlockDisk* board_disk() { return g_have_disk ? &g_disk : nullptr; }

VirtioConsoleChannel* board_management_channel() { return g_have_management ? &g_management : nullptr; }

}  // namespace lamina::drivers
