#include "core/memory_balloon.hpp"

#include "arch/arch.hpp"
#include "core/console.hpp"
#include "core/memory.hpp"
#include "core/vm.hpp"
#include "core/vm_devices.hpp"

namespace lamina::memory_balloon {
namespace {

constexpr std::uint64_t kChunkFrames = GuestRamMap::kChunkSize / kPageSize;

// The chunk goes back to the pool. Called under the balloon's lock.
void return_chunk(Vm& vm, std::size_t chunk) {
    const auto host = vm.ram_map.chunk_host(chunk);
    if (!host) return;
    const GuestPhysRange range{vm.ram_map.chunk_base(chunk), GuestRamMap::kChunkSize};
    if (const Status status = vm.address_space.unmap(range); !status) {
        log::error("vm {}: balloon: cannot unmap {}: {}", vm.name(), range.base, status.error().message);
        return;
    }
    vm.ram_map.unback(chunk);
    // A device on another CPU may have looked the chunk up just before: its
    // work ends under its lock, so once every lock was free, nobody uses it.
    vm_devices::wait_for_device_work(vm, vm.balloon.transport());
    if (const Status status = frame_allocator().free(*host, kChunkFrames); !status) {
        log::error("vm {}: balloon: {}", vm.name(), status.error().message);
        return;
    }
    vm.reclaimed_bytes += GuestRamMap::kChunkSize;
}

// The chunk is RAM again, with fresh zeroed frames.
bool back_chunk(Vm& vm, std::size_t chunk) {
    if (vm.ram_map.chunk_host(chunk)) return true;
    const auto host = frame_allocator().allocate(kChunkFrames, GuestRamMap::kChunkSize);
    if (!host) {
        log::error("vm {}: balloon: no free memory to give back the guest's pages; it faults if it uses them",
                   vm.name());
        return false;
    }
    arch::zero_guest_memory(host->value(), GuestRamMap::kChunkSize);
    const GuestPhysRange range{vm.ram_map.chunk_base(chunk), GuestRamMap::kChunkSize};
    if (const Status status = vm.address_space.map(range, *host, arch::GuestMappingKind::ram); !status) {
        (void)frame_allocator().free(*host, kChunkFrames);
        log::error("vm {}: balloon: cannot map {}: {}", vm.name(), range.base, status.error().message);
        return false;
    }
    vm.ram_map.back(chunk, *host);
    vm.reclaimed_bytes -= GuestRamMap::kChunkSize;
    return true;
}

bool inflate(void* context, GuestPhysAddr page) {
    Vm& vm = *static_cast<Vm*>(context);
    if (!vm.ram_map.add_to_balloon(page)) return false;  // not RAM, or in the balloon already
    const std::size_t chunk = *vm.ram_map.chunk_of(page);
    if (vm.ram_map.chunk_fully_ballooned(chunk)) return_chunk(vm, chunk);
    return true;
}

bool deflate(void* context, GuestPhysAddr page) {
    Vm& vm = *static_cast<Vm*>(context);
    if (!vm.ram_map.remove_from_balloon(page)) return false;
    return back_chunk(vm, *vm.ram_map.chunk_of(page));
}

// The driver restarted (or the VM did): all of RAM is the guest's again.
void reset(void* context) {
    Vm& vm = *static_cast<Vm*>(context);
    if (vm.ram_map.chunk_count() == 0) return;  // not built yet
    vm.ram_map.empty_balloon();
    for (std::size_t chunk = 0; chunk < vm.ram_map.chunk_count(); ++chunk) (void)back_chunk(vm, chunk);
}

}  // namespace

VirtioBalloonHooks hooks_for(Vm& vm) { return VirtioBalloonHooks{inflate, deflate, reset, &vm}; }

}  // namespace lamina::memory_balloon
