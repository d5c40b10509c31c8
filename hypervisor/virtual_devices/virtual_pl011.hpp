// The PL011 UART each VM sees. Output goes to Lamina's console line by line,
// prefixed with the VM's name; input comes from Lamina's console when this
// VM has the console's focus.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "core/console.hpp"
#include "core/mmio_device.hpp"
#include "core/spinlock.hpp"
#include "virtual_devices/virtual_gic.hpp"

namespace lamina {

class VirtualPl011 final : public MmioDevice {
public:
    static constexpr std::uint64_t kRegisterWindow = 0x1000;

    void reset(std::string_view vm_name);
    // The UART's interrupt line (level, active high) into the VM's GIC.
    void connect_interrupt(VirtualGic& gic, std::uint32_t interrupt_id);
    [[nodiscard]] bool access(MmioAccess& access) override;
    // Prints any partial line (the VM is going away).
    void flush();
    // A character typed for this VM; false if its receive FIFO is full.
    bool receive(char c);

private:
    [[nodiscard]] bool read(MmioAccess& access);
    [[nodiscard]] bool write(const MmioAccess& access);
    [[nodiscard]] std::uint32_t pending_interrupts() const;
    void update_interrupt_line();

    VirtualGic* gic_{nullptr};
    std::uint32_t interrupt_id_{0};
    static constexpr std::size_t kReceiveFifoSize = 32;

    GuestLineBuffer output_{};
    std::array<char, kReceiveFifoSize> receive_fifo_{};
    std::size_t receive_head_{0};
    std::size_t receive_count_{0};
    SpinLock lock_{};  // several vCPUs of one VM may print at once
    std::uint32_t integer_baud_{0};
    std::uint32_t fractional_baud_{0};
    std::uint32_t line_control_{0};
    std::uint32_t control_{0};
    std::uint32_t interrupt_mask_{0};
    std::uint32_t fifo_level_select_{0};
    std::uint32_t dma_control_{0};
};

}  // namespace lamina
