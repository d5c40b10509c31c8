#include "terminal.hpp"

#include <array>
#include <cerrno>
#include <csignal>
#include <system_error>

namespace lamina::cli {

namespace {

volatile std::sig_atomic_t stop_signal_received = 0;

constexpr std::array<int, 3> kStopSignals{SIGINT, SIGTERM, SIGHUP};
std::array<struct sigaction, kStopSignals.size()> saved_actions{};

extern "C" void note_stop_signal(int) { stop_signal_received = 1; }

}  // namespace

RawTerminal::RawTerminal(int fd) : fd_(fd) {
    if (::tcgetattr(fd_, &saved_) != 0) throw std::system_error(errno, std::generic_category(), "tcgetattr");
    termios raw = saved_;
    ::cfmakeraw(&raw);
    // Keep output processing: a guest (or Lamina) that ends lines with a bare
    // "\n" would otherwise draw a staircase.
    raw.c_oflag |= OPOST | ONLCR;
    if (::tcsetattr(fd_, TCSANOW, &raw) != 0) throw std::system_error(errno, std::generic_category(), "tcsetattr");
}

RawTerminal::~RawTerminal() { ::tcsetattr(fd_, TCSADRAIN, &saved_); }

StopSignals::StopSignals() {
    stop_signal_received = 0;
    struct sigaction action {};
    action.sa_handler = note_stop_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;  // no SA_RESTART: poll() returns EINTR and the loop sees the flag
    for (std::size_t i = 0; i < kStopSignals.size(); ++i) ::sigaction(kStopSignals[i], &action, &saved_actions[i]);
}

StopSignals::~StopSignals() {
    for (std::size_t i = 0; i < kStopSignals.size(); ++i) ::sigaction(kStopSignals[i], &saved_actions[i], nullptr);
}

bool StopSignals::received() { return stop_signal_received != 0; }

}  // namespace lamina::cli
