#include "core/console.hpp"

#include "core/spinlock.hpp"

namespace lamina {
namespace {

ConsoleDevice* g_device = nullptr;
SpinLock g_lock;
bool g_locking = false;
LogLevel g_level = LogLevel::info;
console::GuestLineObserver g_guest_line_observer = nullptr;

class ConsoleSection final {
public:
    ConsoleSection() {
        if (g_locking) g_lock.lock();
    }
    ~ConsoleSection() {
        if (g_locking) g_lock.unlock();
    }
    ConsoleSection(const ConsoleSection&) = delete;
    ConsoleSection& operator=(const ConsoleSection&) = delete;
};

constexpr std::string_view level_prefix(LogLevel level) {
    switch (level) {
        case LogLevel::error: return "lamina: error: ";
        case LogLevel::warning: return "lamina: warning: ";
        case LogLevel::info: return "lamina: ";
        case LogLevel::debug: return "lamina: debug: ";
    }
    return "lamina: ";
}

}  // namespace

namespace console {

void attach(ConsoleDevice& device) { g_device = &device; }
void enable_locking() { g_locking = true; }

void write_line(std::string_view prefix, std::string_view text) {
    if (g_device == nullptr) return;
    const ConsoleSection section;
    g_device->write(prefix);
    g_device->write(text);
    g_device->write("\n");
}

void observe_guest_lines(GuestLineObserver observer) { g_guest_line_observer = observer; }

}  // namespace console

namespace log {

void set_level(LogLevel level) { g_level = level; }
LogLevel level() { return g_level; }
void emit(LogLevel at, std::string_view text) { console::write_line(level_prefix(at), text); }

}  // namespace log

void GuestLineBuffer::set_owner(std::string_view vm_name) {
    prefix_length_ = 0;
    length_ = 0;
    const auto add = [this](char c) {
        if (prefix_length_ < sizeof(prefix_)) prefix_[prefix_length_++] = c;
    };
    add('[');
    for (std::size_t i = 0; i < vm_name.size() && prefix_length_ < sizeof(prefix_) - 2; ++i) add(vm_name[i]);
    name_length_ = prefix_length_ - 1;
    add(']');
    add(' ');
}

void GuestLineBuffer::put(char c) {
    constexpr char kEscape = 0x1b;
    if (escape_ == Escape::started) {
        escape_ = c == '[' ? Escape::in_sequence : Escape::none;
        return;
    }
    if (escape_ == Escape::in_sequence) {
        if (c >= 0x40 && c <= 0x7e) escape_ = Escape::none;  // the final byte of a CSI sequence
        return;
    }
    if (c == kEscape) {
        escape_ = Escape::started;
        return;
    }
    if (c == '\n') {
        flush();
        return;
    }
    if (c == '\r') return;
    // Control characters from a guest must not drive the physical terminal.
    const bool printable = (c >= ' ' && c < 0x7f) || c == '\t';
    line_[length_++] = printable ? c : '?';
    if (length_ == kLineCapacity) flush();
}

void GuestLineBuffer::flush() {
    if (length_ == 0) return;
    console::write_line({prefix_, prefix_length_}, {line_, length_});
    if (g_guest_line_observer != nullptr) g_guest_line_observer({prefix_ + 1, name_length_}, {line_, length_});
    length_ = 0;
}

}  // namespace lamina
