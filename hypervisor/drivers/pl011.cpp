#include "drivers/pl011.hpp"

#include "drivers/mmio.hpp"

namespace lamina::drivers {
namespace {

constexpr std::uint64_t kDataRegister = 0x00;
constexpr std::uint64_t kFlagRegister = 0x18;
constexpr std::uint32_t kTransmitFifoFull = 1u << 5;

}  // namespace

void Pl011::put(char c) {
    while ((mmio_read32(base_ + kFlagRegister) & kTransmitFifoFull) != 0) {
    }
    mmio_write32(base_ + kDataRegister, static_cast<std::uint8_t>(c));
}

void Pl011::write(std::string_view text) {
    for (char c : text) {
        if (c == '\n') put('\r');
        put(c);
    }
}

}  // namespace lamina::drivers
