#include "core/boot_vms.hpp"

#include "core/bundle.hpp"
#include "core/console.hpp"
#include "core/vm_manager.hpp"

namespace lamina {

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
    std::size_t started = 0;
    for (std::uint32_t index = 0; index < bundle->vm_count(); ++index) {
        const auto spec = bundle->vm(index);
        if (!spec) {
            log::error("boot bundle: VM record {} skipped: {}", index, spec.error().message);
            continue;
        }
        if (auto vm = vm_manager::create(*spec)) {
            vm_manager::start(**vm);
            ++started;
        }
    }
    return started;
}

}  // namespace lamina
