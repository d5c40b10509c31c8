// Arm's paravirtualized stolen time (DEN0057A). Each VM gets one page of
// records, one per vCPU, mapped into its address space outside RAM; a guest
// finds its vCPU's record with HV_PV_TIME_ST and reads from it how long that
// vCPU was ready to run while Lamina ran something else (the scheduler's
// runnable time), in nanoseconds.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/guest_layout.hpp"
#include "core/result.hpp"
#include "core/types.hpp"

namespace lamina {
class Vcpu;
class Vm;
}  // namespace lamina

namespace lamina::stolen_time {

// One vCPU's record, little endian, as DEN0057A lays it out.
struct Record final {
    std::uint32_t revision;    // 0
    std::uint32_t attributes;  // 0
    std::uint64_t stolen_ns;   // written with one 64-bit store
    std::uint8_t padding[48];
};
static_assert(sizeof(Record) == guest_layout::kStolenTimeRecordSize);
static_assert(offsetof(Record, stolen_ns) == 8);

// How many records one page holds: the most vCPUs a VM may have.
inline constexpr std::size_t kRecordsPerPage = kPageSize / sizeof(Record);

// Where vCPU `vcpu_index`'s record is in the guest's address space.
[[nodiscard]] constexpr GuestPhysAddr record_address(std::uint32_t vcpu_index) {
    return guest_layout::kStolenTimeBase + std::uint64_t{vcpu_index} * sizeof(Record);
}

// floor(ticks * 10^9 / frequency), exactly and without overflow for any
// counter slower than 18 GHz (the plain product overflows after about 5
// minutes of a 62.5 MHz counter). Monotonic in `ticks`; frequency 0 gives 0.
[[nodiscard]] constexpr std::uint64_t ticks_to_ns(std::uint64_t ticks, std::uint64_t frequency) {
    constexpr std::uint64_t kNsPerSecond = 1'000'000'000;
    if (frequency == 0) return 0;
    return ticks / frequency * kNsPerSecond + ticks % frequency * kNsPerSecond / frequency;
}

// Gives `vm` its page of records, zeroed and mapped at kStolenTimeBase.
[[nodiscard]] Status create(Vm& vm);
// Gives the page back (after the VM's address space is gone).
void release(Vm& vm);
// Writes the vCPU's stolen time so far into its record. Called when the
// vCPU is put on a CPU: it does not grow while the vCPU runs.
void publish(Vcpu& vcpu);

}  // namespace lamina::stolen_time
