// Lamina's console: its own levelled log and the line-buffered output of the
// VMs, written to one physical device. Every line is written whole under a
// lock, so lines from different CPUs and VMs never interleave.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/format.hpp"

namespace lamina {

// The physical device the console writes to (e.g. the board's PL011).
class ConsoleDevice {
public:
    virtual void write(std::string_view text) = 0;

protected:
    ~ConsoleDevice() = default;
};

enum class LogLevel { error = 0, warning = 1, info = 2, debug = 3 };

namespace console {

void attach(ConsoleDevice& device);
// Before the MMU is on, exclusive accesses are not reliable and only one CPU
// runs: the console does without its lock until this is called.
void enable_locking();
// Writes "<prefix><text>\n" as one unit.
void write_line(std::string_view prefix, std::string_view text);
// Also gets every line a VM prints (its name, the line), e.g. to stream a
// VM's console to the management channel; called after the line is written,
// on the CPU that printed it, without the console's lock.
using GuestLineObserver = void (*)(std::string_view vm_name, std::string_view line);
void observe_guest_lines(GuestLineObserver observer);

}  // namespace console

namespace log {

void set_level(LogLevel level);
[[nodiscard]] LogLevel level();
void emit(LogLevel level, std::string_view text);

template <typename... Args>
void write(LogLevel at, std::string_view fmt, const Args&... args) {
    if (at > level()) return;
    FormatBuffer line;
    format_to(line, fmt, args...);
    emit(at, line.view());
}
template <typename... Args>
void error(std::string_view fmt, const Args&... args) { write(LogLevel::error, fmt, args...); }
template <typename... Args>
void warning(std::string_view fmt, const Args&... args) { write(LogLevel::warning, fmt, args...); }
template <typename... Args>
void info(std::string_view fmt, const Args&... args) { write(LogLevel::info, fmt, args...); }
template <typename... Args>
void debug(std::string_view fmt, const Args&... args) { write(LogLevel::debug, fmt, args...); }

}  // namespace log

// Collects a guest's output bytes into lines, printed with the VM's name.
class GuestLineBuffer final {
public:
    void set_owner(std::string_view vm_name);
    void put(char c);
    void flush();

private:
    static constexpr std::size_t kLineCapacity = 400;
    char prefix_[40]{};
    std::size_t prefix_length_{0};
    std::size_t name_length_{0};  // the VM's name is prefix_[1, 1 + name_length_)
    char line_[kLineCapacity]{};
    std::size_t length_{0};
    // Terminal escape sequences from a guest (cursor queries, colours) are
    // dropped: they must not drive the physical terminal.
    enum class Escape : std::uint8_t { none, started, in_sequence } escape_{Escape::none};
};

}  // namespace lamina
