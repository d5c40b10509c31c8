#include "drivers/pl011.hpp"

#include "drivers/mmio.hpp"

namespace lamina::drivers {
namespace {

constexpr std::uint64_t kDataRegister = 0x00;
constexpr std::uint64_t kFlagRegister = 0x18;
constexpr std::uint64_t kInterruptMaskRegister = 0x38;
constexpr std::uint64_t kInterruptClearRegister = 0x44;
constexpr std::uint32_t kTransmitFifoFull = 1u << 5;
constexpr std::uint32_t kReceiveFifoEmpty = 1u << 4;
constexpr std::uint32_t kReceiveInterrupts = (1u << 4) | (1u << 6);  // RX and RX timeout

}  // namespace

void Pl011::put(char c) {
    while ((mmio_read32(base_ + kFlagRegister) & kTransmitFifoFull) != 0) {
    }
    mmio_write32(base_ + kDataRegister, static_cast<std::uint8_t>(c));
}

void Pl011::enable_receive_interrupt() {
    mmio_write32(base_ + kInterruptClearRegister, kReceiveInterrupts);
    mmio_write32(base_ + kInterruptMaskRegister, kReceiveInterrupts);
}

std::optional<char> Pl011::receive() {
    if ((mmio_read32(base_ + kFlagRegister) & kReceiveFifoEmpty) != 0) return std::nullopt;
    return static_cast<char>(mmio_read32(base_ + kDataRegister) & 0xff);
}

void Pl011::write(std::string_view text) {
    for (char c : text) {
        if (c == '\n') put('\r');
        put(c);
    }
}

}  // namespace lamina::drivers
