#include "virtual_devices/virtual_pl011.hpp"

#include <array>

namespace lamina {
namespace {

enum Register : std::uint64_t {
    data = 0x000,
    receive_status = 0x004,
    flags = 0x018,
    integer_baud = 0x024,
    fractional_baud = 0x028,
    line_control = 0x02c,
    control = 0x030,
    fifo_level_select = 0x034,
    interrupt_mask = 0x038,
    raw_interrupt_status = 0x03c,
    masked_interrupt_status = 0x040,
    interrupt_clear = 0x044,
    dma_control = 0x048,
    identification = 0xfe0,
};

constexpr std::uint32_t kFlagReceiveFifoEmpty = 1u << 4;
constexpr std::uint32_t kFlagTransmitFifoEmpty = 1u << 7;
constexpr std::uint32_t kRawTransmitInterrupt = 1u << 5;
constexpr std::uint32_t kRawReceiveInterrupts = (1u << 4) | (1u << 6);  // RX level and RX timeout

// PrimeCell peripheral and cell IDs at 0xfe0..0xffc: a PL011 revision 3.
constexpr std::array<std::uint8_t, 8> kIdentification{0x11, 0x10, 0x34, 0x00, 0x0d, 0xf0, 0x05, 0xb1};

}  // namespace

void VirtualPl011::reset(std::string_view vm_name) {
    output_.set_owner(vm_name);
    integer_baud_ = 0;
    fractional_baud_ = 0;
    line_control_ = 0;
    control_ = 0x300;  // TXE and RXE set, as after reset
    interrupt_mask_ = 0;
    receive_head_ = 0;
    receive_count_ = 0;
    fifo_level_select_ = 0x12;
    dma_control_ = 0;
}

void VirtualPl011::connect_interrupt(VirtualGic& gic, std::uint32_t interrupt_id) {
    gic_ = &gic;
    interrupt_id_ = interrupt_id;
}

// Output is consumed at once, so the transmit interrupt (FIFO below its
// level) is always raised; receive interrupts while input waits.
std::uint32_t VirtualPl011::pending_interrupts() const {
    return kRawTransmitInterrupt | (receive_count_ != 0 ? kRawReceiveInterrupts : 0);
}

bool VirtualPl011::receive(char c) {
    const LockGuard guard{lock_};
    if (receive_count_ == receive_fifo_.size()) return false;
    receive_fifo_[(receive_head_ + receive_count_) % receive_fifo_.size()] = c;
    ++receive_count_;
    update_interrupt_line();
    return true;
}

void VirtualPl011::update_interrupt_line() {
    if (gic_ != nullptr) gic_->set_level(interrupt_id_, (pending_interrupts() & interrupt_mask_) != 0);
}

bool VirtualPl011::access(MmioAccess& access) {
    // Registers are 32 bits wide; byte writes to the data register are common.
    if (access.size > 4 || (access.offset & 3) != 0) return false;
    const LockGuard guard{lock_};
    if (!access.is_write) {
        const bool handled = read(access);
        if (access.offset == data) update_interrupt_line();
        return handled;
    }
    const bool handled = write(access);
    if (access.offset == interrupt_mask) update_interrupt_line();
    return handled;
}

bool VirtualPl011::read(MmioAccess& access) {
    const std::uint64_t offset = access.offset;
    if (offset >= identification && offset < identification + 4 * kIdentification.size()) {
        access.value = kIdentification[(offset - identification) / 4];
        return true;
    }
    switch (offset) {
        case data:
            access.value = 0;
            if (receive_count_ != 0) {
                access.value = static_cast<std::uint8_t>(receive_fifo_[receive_head_]);
                receive_head_ = (receive_head_ + 1) % receive_fifo_.size();
                --receive_count_;
            }
            return true;
        case receive_status: access.value = 0; return true;
        case flags:
            access.value = kFlagTransmitFifoEmpty | (receive_count_ == 0 ? kFlagReceiveFifoEmpty : 0);
            return true;
        case integer_baud: access.value = integer_baud_; return true;
        case fractional_baud: access.value = fractional_baud_; return true;
        case line_control: access.value = line_control_; return true;
        case control: access.value = control_; return true;
        case fifo_level_select: access.value = fifo_level_select_; return true;
        case interrupt_mask: access.value = interrupt_mask_; return true;
        case raw_interrupt_status: access.value = pending_interrupts(); return true;
        case masked_interrupt_status: access.value = pending_interrupts() & interrupt_mask_; return true;
        case dma_control: access.value = dma_control_; return true;
        default: access.value = 0; return true;  // reserved registers read as zero
    }
}

bool VirtualPl011::write(const MmioAccess& access) {
    const auto value = static_cast<std::uint32_t>(access.value);
    switch (access.offset) {
        case data: output_.put(static_cast<char>(value & 0xff)); return true;
        case integer_baud: integer_baud_ = value & 0xffff; return true;
        case fractional_baud: fractional_baud_ = value & 0x3f; return true;
        case line_control: line_control_ = value & 0xff; return true;
        case control: control_ = value & 0xff87; return true;
        case fifo_level_select: fifo_level_select_ = value & 0x3f; return true;
        case interrupt_mask:
            // A driver that stops asking for transmit interrupts has nothing
            // more to send: show a partial line (a shell prompt) now.
            if ((interrupt_mask_ & kRawTransmitInterrupt) != 0 && (value & kRawTransmitInterrupt) == 0)
                output_.flush();
            interrupt_mask_ = value & 0x7ff;
            return true;
        case dma_control: dma_control_ = value & 0x7; return true;
        default: return true;  // status clears and reserved registers ignore writes
    }
}

void VirtualPl011::flush() {
    const LockGuard guard{lock_};
    output_.flush();
}

}  // namespace lamina
