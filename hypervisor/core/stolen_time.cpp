#include "core/stolen_time.hpp"

#include "core/console.hpp"
#include "core/memory.hpp"
#include "core/vm.hpp"

namespace lamina::stolen_time {

static_assert(kMaxVcpusPerVm <= kRecordsPerPage, "every vCPU's record must fit in the VM's one page");

Status create(Vm& vm) {
    const auto page = frame_allocator().allocate();
    if (!page) return Error{"out of memory for the stolen-time page"};
    vm.stolen_time_page = HostPhysRange{*page, kPageSize};
    // Revision and attributes 0 for every record, down to RAM: a guest
    // reading with its caches off sees them too.
    arch::zero_guest_memory(page->value(), kPageSize);
    return vm.address_space.map(GuestPhysRange{guest_layout::kStolenTimeBase, kPageSize}, *page,
                                arch::GuestMappingKind::ram);
}

void release(Vm& vm) {
    if (vm.stolen_time_page.size == 0) return;
    if (const Status status = frame_allocator().free(vm.stolen_time_page.base); !status)
        log::error("vm {}: {}", vm.name(), status.error().message);
    vm.stolen_time_page = HostPhysRange{};
}

void publish(Vcpu& vcpu) {
    const Vm& vm = *vcpu.vm;
    if (vm.stolen_time_page.size == 0) return;
    auto* records = reinterpret_cast<Record*>(vm.stolen_time_page.base.value());  // identity map
    const std::uint64_t stolen = ticks_to_ns(vcpu.statistics.runnable_ticks, arch::counter_frequency());
    // One 64-bit store: the guest reads the field whole, never half old, half new.
    __atomic_store_n(&records[vcpu.index].stolen_ns, stolen, __ATOMIC_RELAXED);
}

}  // namespace lamina::stolen_time
