// A traditional virtio memory balloon (device id 5, virtio 1.2 section 5.5):
// the owner sets a target number of 4 KiB pages the guest should give up,
// and the guest's driver lists the pages it hands over (inflateq, queue 0)
// or takes back (deflateq, queue 1) as arrays of le32 page frame numbers in
// 4096-byte units, whatever the guest's own page size.
//
// The device only reports: each page goes to the owner's hooks, which
// decide whether it is guest RAM the owner accepts (reclaiming or returning
// its memory is theirs to do). A refused page is counted, nothing more: the
// guest is not told. A list that is not whole PFNs, that comes with
// device-writable buffers, or that is longer than kMaxPagesPerBuffer fails
// the device (DEVICE_NEEDS_RESET).
//
// Offered: MUST_TELL_HOST, and it is required: the guest must deflate
// pages, and see the device acknowledge it, before it uses them again, so
// the deflate hook can return their memory first. Not offered: STATS_VQ
// (no timer to poll the statistics with), DEFLATE_ON_OOM, FREE_PAGE_HINT,
// PAGE_POISON, PAGE_REPORTING.
//
// The device owns its transport: map transport() as the VM's MMIO device.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "core/guest_memory.hpp"
#include "core/result.hpp"
#include "core/types.hpp"
#include "virtual_devices/virtio_mmio.hpp"
#include "virtual_devices/virtqueue.hpp"

namespace lamina {

// How the balloon reaches the owner's memory management. Called with the
// transport's lock held.
struct VirtioBalloonHooks final {
    // The guest gives up the 4 KiB page at `page`; false refuses it (not
    // guest RAM, already in the balloon, ...).
    bool (*inflate)(void* context, GuestPhysAddr page){nullptr};
    // The guest takes the page back: it will use it as soon as the device
    // acknowledges. False refuses it (not in the balloon, ...).
    bool (*deflate)(void* context, GuestPhysAddr page){nullptr};
    // Optional: the device was reset (the driver restarted, the VM is
    // restarting, or connect()): the guest owns all its RAM again, every
    // page still in the balloon included.
    void (*reset)(void* context){nullptr};
    void* context{nullptr};
};

// What the balloon has done since connect(), for statistics.
struct VirtioBalloonStatistics final {
    std::uint64_t pages_inflated{0};  // accepted by the inflate hook
    std::uint64_t pages_deflated{0};  // accepted by the deflate hook
    std::uint64_t pages_refused{0};   // refused by either hook
};

class VirtioBalloon final : public VirtioDeviceModel {
public:
    static constexpr std::uint32_t kDeviceId = 5;
    static constexpr std::uint32_t kInflateQueue = 0;
    static constexpr std::uint32_t kDeflateQueue = 1;
    // Linux has one buffer in flight per queue and waits for it.
    static constexpr std::uint16_t kQueueSize = 16;
    // Linux lists at most 256 PFNs per buffer; the bound keeps a hostile
    // guest from holding the device lock for long.
    static constexpr std::size_t kMaxPagesPerBuffer = 4096;
    static constexpr unsigned kPfnShift = 12;  // PFNs count 4096-byte units

    // Feature bits (5.5.3).
    static constexpr std::uint64_t kFeatureMustTellHost = std::uint64_t{1} << 0;

    VirtioBalloon() = default;
    VirtioBalloon(const VirtioBalloon&) = delete;
    VirtioBalloon& operator=(const VirtioBalloon&) = delete;

    // Before the guest runs; resets the device and its statistics.
    void connect(GuestMemory& memory, VirtioTransportHooks hooks, VirtioBalloonHooks memory_hooks);
    [[nodiscard]] VirtioMmioTransport& transport() { return transport_; }
    // How many 4 KiB pages the guest should have in the balloon (0 at
    // first); the driver learns it through a configuration change interrupt.
    // The target outlives device resets: a restarted driver inflates to it
    // again. Takes the lock.
    void set_target_pages(std::uint32_t pages);
    // How many pages the driver says are in the balloon (its `actual`).
    [[nodiscard]] std::uint32_t actual_pages();
    // A consistent copy of the counters, taken under the device's lock (so
    // not from inside the hooks, which run with it held).
    [[nodiscard]] VirtioBalloonStatistics statistics();

    // VirtioDeviceModel.
    [[nodiscard]] std::uint32_t device_id() const override { return kDeviceId; }
    [[nodiscard]] std::uint64_t device_features() const override { return kFeatureMustTellHost; }
    [[nodiscard]] bool accept_features(std::uint64_t features) override;
    [[nodiscard]] std::uint32_t queue_count() const override { return 2; }
    [[nodiscard]] std::uint16_t queue_max_size(std::uint32_t /*queue*/) const override { return kQueueSize; }
    [[nodiscard]] std::size_t config_size() const override { return kConfigSize; }
    void read_config(std::size_t offset, std::span<std::byte> bytes) override;
    void write_config(std::size_t offset, std::span<const std::byte> bytes) override;
    void on_notify(std::uint32_t queue) override;
    void reset() override;

private:
    // struct virtio_balloon_config up to and including actual; the fields
    // after it belong to features that are not offered.
    static constexpr std::size_t kConfigSize = 8;
    static constexpr std::size_t kPfnSize = 4;       // le32
    static constexpr std::size_t kPfnsPerChunk = 64;  // copied from the guest at a time

    void serve(std::uint32_t queue_index);
    [[nodiscard]] Status check_page_list(const DescriptorChain& chain) const;
    [[nodiscard]] Status hand_over_pages(const DescriptorChain& chain, bool inflate);
    void hand_over_page(std::uint32_t pfn, bool inflate);

    VirtioMmioTransport transport_{*this};
    VirtioBalloonHooks memory_hooks_{};
    DescriptorChain chain_{};  // scratch for pop(): too big for the stack
    std::uint32_t target_pages_{0};  // num_pages
    std::uint32_t actual_pages_{0};  // actual
    VirtioBalloonStatistics statistics_{};
};

}  // namespace lamina
