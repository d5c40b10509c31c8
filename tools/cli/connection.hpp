// One short connection to Lamina's management socket: connect (retrying
// while another client is served), say hello, then requests one at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "json_fields.hpp"

namespace lamina::cli {

struct ConnectionOptions {
    std::string socket_path;
    double connect_timeout_s{10};
    double reply_timeout_s{30};
};

// Could not reach Lamina, it did not answer in time, or it hung up.
class ConnectionError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

using EventHandler = std::function<void(const json& event)>;

class Connection {
public:
    using Clock = std::chrono::steady_clock;

    // Connects and says hello. Throws ConnectionError, LaminaError (e.g.
    // unsupported_version) or MalformedReply.
    [[nodiscard]] static Connection open(const ConnectionOptions& options);

    Connection(Connection&& other) noexcept;
    Connection& operator=(Connection&&) = delete;
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;
    ~Connection();

    // Sends a request and returns the result of its reply. Events that arrive
    // meanwhile go to `on_event` (or are dropped); replies to other ids are
    // skipped. `timeout_s` overrides the reply timeout.
    json call(std::string_view op, json arguments = json::object(), const EventHandler& on_event = {},
              std::optional<double> timeout_s = {});

    // For a caller that polls the socket itself (console): reads what has
    // arrived and passes complete event lines to `on_event`.
    void receive_events(const EventHandler& on_event);
    // Passes event lines already buffered (they may come with a reply).
    void dispatch_buffered_events(const EventHandler& on_event);

    [[nodiscard]] int fd() const { return fd_; }

private:
    Connection(int fd, ConnectionOptions options);

    void send_line(const std::string& line, std::string_view op, Clock::time_point deadline);
    // The next complete line, or nullopt at the deadline. Throws
    // ConnectionError when Lamina hangs up.
    std::optional<std::string> next_line(Clock::time_point deadline, std::string_view waiting_for);
    std::optional<std::string> take_buffered_line();
    // Reads once from the socket into the buffer; false at end of stream.
    bool read_some();
    void check_hello(const json& result);

    int fd_{-1};
    ConnectionOptions options_;
    std::uint64_t next_id_{1};
    std::string buffer_;
};

}  // namespace lamina::cli
