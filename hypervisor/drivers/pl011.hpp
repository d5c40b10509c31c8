// The board's ARM PL011 UART, used as Lamina's console (output only).
#pragma once

#include <cstdint>

#include "core/console.hpp"
#include "core/types.hpp"

namespace lamina::drivers {

class Pl011 final : public ConsoleDevice {
public:
    constexpr explicit Pl011(HostPhysAddr base) : base_{base} {}
    void write(std::string_view text) override;

private:
    void put(char c);
    HostPhysAddr base_;
};

}  // namespace lamina::drivers
