// A virtual machine: its identity, its memory, its vCPUs and its devices.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "arch/arch.hpp"
#include "core/bundle.hpp"
#include "core/console.hpp"
#include "core/guest_layout.hpp"
#include "core/guest_memory.hpp"
#include "core/guest_ram_map.hpp"
#include "core/mmio_device.hpp"
#include "core/vcpu.hpp"
#include "virtual_devices/disk_slice.hpp"
#include "virtual_devices/ram_disk.hpp"
#include "virtual_devices/virtio_balloon.hpp"
#include "virtual_devices/virtio_block.hpp"
#include "virtual_devices/virtio_console.hpp"
#include "virtual_devices/virtio_input.hpp"
#include "virtual_devices/virtio_net.hpp"
#include "virtual_devices/virtual_gic.hpp"
#include "virtual_devices/virtual_pl011.hpp"

namespace lamina {

inline constexpr std::size_t kMaxVms = 16;
inline constexpr std::size_t kMaxVcpusPerVm = 8;
inline constexpr std::size_t kMaxMmioRegions = 16;

enum class VmState : std::uint8_t {
    free,      // the slot holds no VM
    creating,  // being built; not schedulable yet
    running,   // vCPUs may be scheduled
    paused,    // held off the CPUs by the operator until resumed
    stopping,  // waiting for its vCPUs to leave every CPU, then torn down
};

// What happens once a stopping VM's vCPUs are all off the CPUs.
enum class AfterStop : std::uint8_t { destroy, restart };

// Adapters that put the virtual GIC's two register regions on the MMIO bus.
class GicDistributorWindow final : public MmioDevice {
public:
    explicit GicDistributorWindow(VirtualGic& gic) : gic_{gic} {}
    [[nodiscard]] bool access(MmioAccess& access) override { return gic_.distributor_access(access); }
    [[nodiscard]] bool shows_list_register_state(std::uint64_t offset) const override {
        return VirtualGic::is_pending_or_active_register(offset);
    }

private:
    VirtualGic& gic_;
};

class GicRedistributorWindow final : public MmioDevice {
public:
    explicit GicRedistributorWindow(VirtualGic& gic) : gic_{gic} {}
    [[nodiscard]] bool access(MmioAccess& access) override { return gic_.redistributor_access(access); }
    [[nodiscard]] bool shows_list_register_state(std::uint64_t offset) const override {
        const std::uint64_t in_frame = offset % kRedistributorStride;
        return in_frame >= kRedistributorSgiFrame &&
               VirtualGic::is_pending_or_active_register(in_frame - kRedistributorSgiFrame);
    }

private:
    VirtualGic& gic_;
};

class Vm;

// A VM's RAM as its emulated devices see it (virtqueues, buffers): host
// views through Lamina's identity map of the frames behind each chunk.
class VmGuestMemory final : public GuestMemory {
public:
    explicit VmGuestMemory(const Vm& vm) : vm_{vm} {}
    [[nodiscard]] std::optional<std::span<std::byte>> span(GuestPhysAddr address, std::size_t length) override;

private:
    const Vm& vm_;
};

// One virtual disk: the device and, depending on the spec, its RAM or its
// slice of the board's disk.
struct VmDisk final {
    VirtioBlock device{};
    RamDisk ram{};
    DiskSlice slice{};
    HostPhysRange ram_frames{};  // size 0: none allocated
};

// What a virtio device's interrupt hooks need: which VM, which line.
struct VirtioSlotBinding final {
    Vm* vm{nullptr};
    std::uint32_t slot{0};  // its window and interrupt (guest_layout.hpp)
    const char* device{""};  // "console", "net", "block": for reports
    std::uint32_t failures{0};  // DEVICE_NEEDS_RESET so far: only the first 16 are logged
};

class Vm final {
public:
    [[nodiscard]] std::string_view name() const { return {name_.data(), name_length_}; }
    // Copies the spec's name and command line into the VM (a spec made by a
    // management request points into the request) and points `spec` at them.
    void adopt_spec(const VmImageSpec& source);

    [[nodiscard]] std::optional<HostPhysAddr> host_address(GuestPhysAddr address) const {
        return ram_map.host_address(address);
    }
    // Copies into guest RAM; the whole range must be RAM of this VM.
    [[nodiscard]] Status copy_to_guest(GuestPhysAddr destination, ByteSpan bytes);
    [[nodiscard]] MmioRegion* find_mmio(GuestPhysAddr address);
    [[nodiscard]] Status add_mmio(GuestPhysRange range, MmioDevice& device);

    std::uint32_t id{0};
    VmState state{VmState::free};
    AfterStop after_stop{AfterStop::destroy};
    bool started{false};  // its boot vCPU was powered on (else: created, waiting for start)
    std::uint64_t created_at{0};  // physical counter value
    std::string_view service{};   // the service it is a replica of (management/services.cpp), if any
    VmImageSpec spec{};  // points into the boot bundle, which stays in memory
    GuestPhysRange ram{};
    GuestPhysAddr boot_entry{};        // where vCPU 0 starts
    GuestPhysAddr boot_device_tree{};  // x0 for vCPU 0
    GuestRamMap ram_map{};            // which host frames back each 2 MiB of RAM
    HostPhysRange ram_map_frames{};   // the map's own storage; size 0: none
    arch::GuestAddressSpace address_space{};
    HostPhysRange stolen_time_page{};  // its vCPUs' stolen-time records (core/stolen_time.hpp); size 0: none
    std::uint64_t counter_offset{0};  // guest virtual count = physical count - offset
    ShareGroup share_group{};         // its vCPUs' common CPU cap
    std::array<Vcpu, kMaxVcpusPerVm> vcpus{};
    std::uint32_t vcpu_count{0};
    std::uint32_t vcpus_on_cpus{0};   // vCPUs currently loaded on a physical CPU
    std::array<MmioRegion, kMaxMmioRegions> mmio{};
    std::size_t mmio_count{0};
    VirtualPl011 uart{};
    VirtualGic gic{};
    GicDistributorWindow gic_distributor{gic};
    GicRedistributorWindow gic_redistributors{gic};
    std::uint32_t virtual_timer_interrupt{0};  // INTID of the EL1 virtual timer, linked to hardware

    VmGuestMemory memory{*this};
    VirtioConsole virtio_console{};  // the guest's hvc0
    GuestLineBuffer hvc_output{};     // its output, under the console's lock
    // Console input goes to hvc0 rather than the PL011 (console=hvc0 last).
    bool console_input_to_virtio{false};
    std::array<VirtioNet, kMaxNicsPerVm> nics{};  // spec.nic_count of them in use
    std::array<VmDisk, kMaxDisksPerVm> disks{};  // spec.disk_count of them in use
    VirtioInput power_button{};  // pressed by the management API's shutdown
    VirtioBalloon balloon{};
    std::uint64_t balloon_target_bytes{0};  // what the operator asked the guest to give back
    std::uint64_t reclaimed_bytes{0};       // guest RAM whose frames went back to Lamina's pool
    std::array<VirtioSlotBinding, guest_layout::kMaxVirtioSlots> virtio_slots{};
    std::uint32_t virtio_slot_count{0};

private:
    std::array<char, 32> name_{};
    std::size_t name_length_{0};
    std::array<char, bundle_format::kMaxCmdlineSize> cmdline_{};
};

}  // namespace lamina
