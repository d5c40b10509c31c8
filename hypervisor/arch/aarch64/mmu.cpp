#include "arch/aarch64/mmu.hpp"

#include <array>

#include "arch/aarch64/cache.hpp"
#include "arch/aarch64/sysreg.hpp"
#include "arch/aarch64/translation_table.hpp"

// Image boundaries from linker.ld.
extern "C" char __image_start[], __text_end[], __readonly_end[], __image_end[];

namespace lamina::arch::mmu {

// Consumed by enable_mmu in boot.S: keep the field order.
struct MmuConfig final {
    std::uint64_t mair;
    std::uint64_t tcr;
    std::uint64_t ttbr0;
    std::uint64_t sctlr;
};

}  // namespace lamina::arch::mmu

extern "C" {
lamina::arch::mmu::MmuConfig boot_mmu_config;
void enable_mmu(const lamina::arch::mmu::MmuConfig* config);
}

namespace lamina::arch::mmu {
namespace {

// Lamina's tables come from a fixed pool in bss: they are needed before the
// frame allocator may hand out memory with caches on.
class BootTablePool final {
public:
    static constexpr std::size_t kPages = 48;

    std::optional<HostPhysAddr> allocate_table() {
        if (used_ == kPages) return std::nullopt;
        auto& page = pages_[used_++];
        page.fill(0);
        return HostPhysAddr{reinterpret_cast<std::uintptr_t>(page.data())};
    }
    std::uint64_t* table_entries(HostPhysAddr table) { return reinterpret_cast<std::uint64_t*>(table.value()); }
    void free_table(HostPhysAddr) {}
    [[nodiscard]] std::uintptr_t base() const { return reinterpret_cast<std::uintptr_t>(pages_.data()); }
    [[nodiscard]] std::uint64_t size_in_bytes() const { return sizeof(pages_); }

private:
    alignas(4096) std::array<std::array<std::uint64_t, kEntriesPerTable>, kPages> pages_{};
    std::size_t used_{0};
};

constinit BootTablePool g_pool;
constinit TranslationTable<BootTablePool> g_table{g_pool, kEl2Geometry};

constexpr std::uint64_t kMairNormalWriteBack = 0xff;  // index 0
constexpr std::uint64_t kMairDeviceNgnre = 0x04;      // index 1

// TCR_EL2: 48-bit VA, 4K granule, inner-shareable write-back table walks.
constexpr std::uint64_t kTcrBase = 16 | (1u << 8) | (1u << 10) | (3u << 12) | (1u << 23) | (1ull << 31);
// SCTLR_EL2: the RES1 bits, then MMU, D-cache, SP alignment check, I-cache, WXN.
constexpr std::uint64_t kSctlrRes1 = 0x30c50830;
constexpr std::uint64_t kSctlrEnable = (1u << 0) | (1u << 2) | (1u << 3) | (1u << 12) | (1u << 19);

std::uint64_t physical_address_size_field() {
    const std::uint64_t parange = sysreg::id_aa64mmfr0_el1::read() & 0xf;
    return parange > 5 ? 5 : parange;  // more than 48 bits is not usable with a 48-bit map
}

Status map_identity(std::uint64_t start, std::uint64_t end, LeafAttributes attributes) {
    start = align_down(start, kPageSize);
    end = align_up(end, kPageSize);
    if (end <= start) return {};
    return g_table.map(start, HostPhysAddr{start}, end - start, attributes);
}

// Device ranges can share pages (virtio-mmio slots are 512 bytes): map each
// page at most once.
Status map_device(HostPhysRange range) {
    if (range.size == 0) return {};
    for (std::uint64_t page = align_down(range.base.value(), kPageSize); page < range.end().value(); page += kPageSize) {
        if (g_table.translate(page)) continue;
        if (const Status status = g_table.map(page, HostPhysAddr{page}, kPageSize, el2_attributes::kDevice); !status)
            return status;
    }
    return {};
}

Status map_ram(HostPhysRange ram) {
    const auto image_start = reinterpret_cast<std::uintptr_t>(__image_start);
    const auto image_end = reinterpret_cast<std::uintptr_t>(__image_end);
    const std::uint64_t start = ram.base.value();
    const std::uint64_t end = ram.end().value();
    if (image_end <= start || image_start >= end) return map_identity(start, end, el2_attributes::kData);
    if (const Status status = map_identity(start, image_start, el2_attributes::kData); !status) return status;
    return map_identity(image_end, end, el2_attributes::kData);
}

Status map_image() {
    const auto start = reinterpret_cast<std::uintptr_t>(__image_start);
    const auto text_end = reinterpret_cast<std::uintptr_t>(__text_end);
    const auto readonly_end = reinterpret_cast<std::uintptr_t>(__readonly_end);
    const auto end = reinterpret_cast<std::uintptr_t>(__image_end);
    if (const Status status = map_identity(start, text_end, el2_attributes::kCode); !status) return status;
    if (const Status status = map_identity(text_end, readonly_end, el2_attributes::kReadOnlyData); !status)
        return status;
    return map_identity(readonly_end, end, el2_attributes::kData);
}

Status map_devices(const Platform& platform) {
    if (const Status status = map_device(platform.uart); !status) return status;
    if (const Status status = map_device(platform.gic_distributor); !status) return status;
    if (const Status status = map_device(platform.gic_redistributors); !status) return status;
    for (std::size_t i = 0; i < platform.virtio_mmio_count; ++i) {
        if (const Status status = map_device(platform.virtio_mmio[i].registers); !status) return status;
    }
    return {};
}

}  // namespace

Status build_hypervisor_map(const Platform& platform) {
    if (const Status status = g_table.create(); !status) return status;
    if (const Status status = map_image(); !status) return status;
    for (std::size_t i = 0; i < platform.memory_count; ++i) {
        if (const Status status = map_ram(platform.memory[i]); !status) return status;
    }
    if (const Status status = map_devices(platform); !status) return status;

    boot_mmu_config.mair = kMairNormalWriteBack | (kMairDeviceNgnre << 8);
    boot_mmu_config.tcr = kTcrBase | (physical_address_size_field() << 16);
    boot_mmu_config.ttbr0 = g_table.root()->value();
    boot_mmu_config.sctlr = kSctlrRes1 | kSctlrEnable;
    return {};
}

void enable_on_boot_cpu() {
    // Nothing was cached while the MMU was off; drop any stale lines the boot
    // loader may have left over our image before we start using the cache.
    const auto image_start = reinterpret_cast<std::uintptr_t>(__image_start);
    const auto image_end = reinterpret_cast<std::uintptr_t>(__image_end);
    cache::invalidate_to_poc(image_start, image_end - image_start);
    enable_mmu(&boot_mmu_config);
}

void publish_for_secondary_cpus() {
    cache::clean_to_poc(reinterpret_cast<std::uintptr_t>(&boot_mmu_config), sizeof(boot_mmu_config));
    cache::clean_to_poc(g_pool.base(), g_pool.size_in_bytes());
}

}  // namespace lamina::arch::mmu
