// The terminal and signal handling `console` needs.
#pragma once

#include <termios.h>

namespace lamina::cli {

// Puts a terminal in raw mode (keys reach the guest as typed: Ctrl-C, arrows,
// no local echo) and restores the saved settings when destroyed.
class RawTerminal {
public:
    explicit RawTerminal(int fd);  // throws std::system_error
    ~RawTerminal();
    RawTerminal(const RawTerminal&) = delete;
    RawTerminal& operator=(const RawTerminal&) = delete;

private:
    int fd_;
    termios saved_{};
};

// While alive, SIGINT, SIGTERM and SIGHUP set a flag instead of killing the
// process (and interrupt poll()), so the session still detaches and restores
// the terminal.
class StopSignals {
public:
    StopSignals();
    ~StopSignals();
    StopSignals(const StopSignals&) = delete;
    StopSignals& operator=(const StopSignals&) = delete;

    [[nodiscard]] static bool received();
};

}  // namespace lamina::cli
