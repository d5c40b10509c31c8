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

protected:
    ~MmioDevice() = default;
};

struct MmioRegion final {
    GuestPhysRange range{};
    MmioDevice* device{nullptr};
    // The device reports interrupt state (the virtual GIC): list registers
    // must be synced into it before the access is emulated.
    bool reads_interrupt_state{false};
};

}  // namespace lamina
