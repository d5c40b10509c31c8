// An emulated device a guest reaches through trapped loads and stores.
#pragma once

#include <cstdint>

#include "core/types.hpp"

namespace lamina {

struct MmioAccess final {
    std::uint64_t offset;  // from the device's base
    unsigned size;         // 1, 2, 4 or 8 bytes
    bool is_write;
    std::uint64_t value;   // written value, or where a read's result goes
};

class MmioDevice {
public:
    // False when the device does not implement the access: the VM is faulted.
    [[nodiscard]] virtual bool access(MmioAccess& access) = 0;
    // True when the register at `offset` shows or changes interrupt state
    // that the CPU's list registers may hold (so they are synced first).
    [[nodiscard]] virtual bool shows_list_register_state(std::uint64_t /*offset*/) const { return false; }

protected:
    ~MmioDevice() = default;
};

struct MmioRegion final {
    GuestPhysRange range{};
    MmioDevice* device{nullptr};
};

}  // namespace lamina
