// `lamina console VM`: attach to a VM's console until Ctrl-] (terminal), or
// until stdin ends plus --linger seconds (pipe or file; at most --timeout).
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "commands.hpp"
#include "json_fields.hpp"
#include "protocol.hpp"
#include "terminal.hpp"
#include "utf8.hpp"

namespace lamina::cli {

namespace {

using Clock = std::chrono::steady_clock;

constexpr char kDetachKey = 0x1d;  // Ctrl-], as telnet and virsh use
// Read at most this much at a time: even if every byte needs a six-byte JSON
// escape (\u0001), the console_input line stays under Lamina's limit.
constexpr std::size_t kInputChunkBytes = 512;
constexpr std::size_t kLongestJsonEscape = 6;
constexpr std::size_t kRequestOverhead = 128;  // id, op, vm name and quotes
static_assert((kInputChunkBytes + 3) * kLongestJsonEscape + kRequestOverhead < kMaxRequestLineBytes,
              "console_input lines must stay under Lamina's limit (+3: a carried-over partial character)");
// Detaching is best effort on the way out; do not hang there for long.
constexpr double kDetachTimeoutSeconds = 2;

[[nodiscard]] Clock::time_point after_seconds(double seconds) {
    return Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

// Writes the VM's console output as it comes; other events are ignored.
[[nodiscard]] EventHandler console_printer(const std::string& vm, bool as_json) {
    return [vm, as_json](const json& event) {
        const auto data = event.find("data");
        if (event.value("event", json()) != "console" || event.value("vm", json()) != vm || data == event.end() ||
            !data->is_string())
            return;
        if (as_json) {
            fmt::print("{}\n", dump_json(event));
        } else {
            const std::string& text = data->get_ref<const std::string&>();
            std::fwrite(text.data(), 1, text.size(), stdout);
        }
        std::fflush(stdout);
    };
}

class ConsoleSession {
public:
    ConsoleSession(Connection& connection, const ConsoleOptions& options, double session_timeout_s, bool as_json)
        : connection_(connection),
          options_(options),
          session_timeout_s_(session_timeout_s),
          print_(console_printer(options.vm, as_json)),
          interactive_(::isatty(STDIN_FILENO) == 1) {}

    void attach() { connection_.call("console_attach", {{"vm", options_.vm}}, print_); }

    // Prints any output that arrives until the detach reply.
    void detach() { connection_.call("console_detach", {{"vm", options_.vm}}, print_, kDetachTimeoutSeconds); }

    void run() {
        std::optional<RawTerminal> raw_terminal;
        if (interactive_) {
            raw_terminal.emplace(STDIN_FILENO);
            fmt::print(stderr, "lamina: attached to {}'s console; Ctrl-] detaches\r\n", options_.vm);
        }
        const StopSignals stop_signals;
        end_ = interactive_ ? Clock::time_point::max() : after_seconds(session_timeout_s_);
        while (!StopSignals::received() && !finished_ && Clock::now() < end_) wait_and_handle();
        if (interactive_) fmt::print(stderr, "\r\nlamina: detached from {}'s console\r\n", options_.vm);
    }

private:
    void wait_and_handle() {
        connection_.dispatch_buffered_events(print_);
        std::array<pollfd, 2> watched{{{connection_.fd(), POLLIN, 0}, {stdin_open_ ? STDIN_FILENO : -1, POLLIN, 0}}};
        if (::poll(watched.data(), watched.size(), poll_timeout_ms()) <= 0) return;  // timeout or signal
        constexpr short kReadable = POLLIN | POLLHUP | POLLERR;
        if (watched[0].revents & kReadable) connection_.receive_events(print_);
        if (watched[1].revents & kReadable) forward_stdin();
    }

    [[nodiscard]] int poll_timeout_ms() const {
        if (end_ == Clock::time_point::max()) return -1;
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(end_ - Clock::now()).count();
        return static_cast<int>(std::clamp<long long>(left, 0, 60'000));
    }

    void forward_stdin() {
        char chunk[kInputChunkBytes];
        const ssize_t length = ::read(STDIN_FILENO, chunk, sizeof(chunk));
        if (length < 0 && (errno == EINTR || errno == EAGAIN)) return;
        if (length <= 0) {
            stdin_ended();
            return;
        }
        std::string_view input(chunk, static_cast<std::size_t>(length));
        if (interactive_) {
            const std::size_t detach_key = input.find(kDetachKey);
            if (detach_key != std::string_view::npos) {
                input = input.substr(0, detach_key);
                finished_ = true;
            }
        }
        send_input(input);
    }

    void stdin_ended() {
        stdin_open_ = false;
        send_pending_input();
        if (interactive_) {
            finished_ = true;
        } else {
            end_ = std::min(end_, after_seconds(options_.linger_s));
        }
    }

    // Sends the complete UTF-8 characters; a split one waits for its rest.
    void send_input(std::string_view bytes) {
        pending_input_.append(bytes);
        const std::size_t complete = complete_utf8_prefix(pending_input_);
        if (complete == 0) return;
        const std::string data = pending_input_.substr(0, complete);
        pending_input_.erase(0, complete);
        connection_.call("console_input", {{"vm", options_.vm}, {"data", data}}, print_);
    }

    void send_pending_input() {
        if (pending_input_.empty()) return;
        connection_.call("console_input", {{"vm", options_.vm}, {"data", pending_input_}}, print_);
        pending_input_.clear();
    }

    Connection& connection_;
    const ConsoleOptions& options_;
    double session_timeout_s_;
    EventHandler print_;
    bool interactive_;
    bool stdin_open_{true};
    bool finished_{false};
    Clock::time_point end_{};
    std::string pending_input_;
};

}  // namespace

int run_console(const GlobalOptions& global, const ConsoleOptions& options) {
    Connection connection = Connection::open(global.connection);
    ConsoleSession session(connection, options, global.connection.reply_timeout_s, global.json);
    session.attach();
    try {
        session.run();
    } catch (...) {
        try {
            session.detach();
        } catch (...) {  // the original failure is the one to report
        }
        throw;
    }
    session.detach();
    return 0;
}

}  // namespace lamina::cli
