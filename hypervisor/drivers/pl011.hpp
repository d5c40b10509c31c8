// The board's ARM PL011 UART: Lamina's console, output and input.
#pragma once

#include <cstdint>
#include <optional>

#include "core/console.hpp"
#include "core/types.hpp"

namespace lamina::drivers {

class Pl011 final : public ConsoleDevice {
public:
    constexpr explicit Pl011(HostPhysAddr base) : base_{base} {}
    void write(std::string_view text) override;
    // Raises the UART's interrupt whenever input arrives.
    void enable_receive_interrupt();
    // The next received character, if any (clears the interrupt once drained).
    [[nodiscard]] std::optional<char> receive();

private:
    void put(char c);
    HostPhysAddr base_;
};

}  // namespace lamina::drivers
