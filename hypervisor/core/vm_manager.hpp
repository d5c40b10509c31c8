// The one internal API through which VMs are created, started and destroyed:
// the boot configuration calls it now, the management plane will later.
#pragma once

#include <cstdint>
#include <span>

#include "core/bundle.hpp"
#include "core/result.hpp"
#include "core/spinlock.hpp"
#include "core/vm.hpp"

namespace lamina::vm_manager {

// Prepares the empty VM slots (once, at boot).
void init();

// Builds a VM from its images (memory, stage 2, kernel, initramfs, device
// tree, vCPUs) without running it. Every failure leaves nothing behind.
[[nodiscard]] Result<Vm*> create(const VmImageSpec& spec);
// Powers on the boot vCPU.
void start(Vm& vm);
// Stops the VM's vCPUs and gives every frame back (asynchronously if some
// vCPU is on another CPU right now).
void destroy(Vm& vm, std::string_view reason);
// Stops the VM and boots it again from the same images.
void restart(Vm& vm, std::string_view reason);

// Called by the scheduler once a stopping VM has no vCPU on any CPU.
void finish_stop(Vm& vm);

[[nodiscard]] std::size_t running_vm_count();
// Every VM slot (check each one's state), for the console and management.
[[nodiscard]] std::span<Vm> slots();
// Guards slot states and names: hold it to look a VM up and use it briefly
// (a VM found under it is not torn down until it is released). Never hold
// it across destroy() or create(), which take it.
[[nodiscard]] SpinLock& lifecycle_lock();
// The VM with this name (any state but free), or null. Caller holds lifecycle_lock().
[[nodiscard]] Vm* find(std::string_view name);
[[nodiscard]] std::size_t free_slot_count();

}  // namespace lamina::vm_manager
