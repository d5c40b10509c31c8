#include "connection.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>
#include <utility>

#include <fmt/format.h>

#include "json_fields.hpp"
#include "protocol.hpp"

namespace lamina::cli {

namespace {

using namespace std::chrono_literals;
using Clock = Connection::Clock;

// Lamina's replies fit in 64 KiB; a much longer line means something else
// is talking on the socket.
constexpr std::size_t kMaxIncomingLineBytes = 1024 * 1024;
constexpr auto kConnectRetryPause = 50ms;

[[nodiscard]] Clock::time_point deadline_after(double seconds) {
    return Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

[[nodiscard]] int milliseconds_until(Clock::time_point deadline) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return static_cast<int>(std::clamp<long long>(left, 0, 60'000));
}

[[nodiscard]] std::string system_error_text(int error) { return std::strerror(error); }

// Worth retrying: the socket does not exist yet, nobody listens yet, or
// Lamina's backlog is full while it serves another client.
[[nodiscard]] bool is_transient_connect_error(int error) {
    return error == ENOENT || error == ECONNREFUSED || error == EAGAIN;
}

[[nodiscard]] sockaddr_un socket_address(const std::string& path) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof(address.sun_path))
        throw ConnectionError(fmt::format("cannot connect to Lamina at '{}': a socket path must be 1 to {} bytes long",
                                          path, sizeof(address.sun_path) - 1));
    std::memcpy(address.sun_path, path.data(), path.size());
    return address;
}

// One attempt: the connected socket, or -1 with errno set.
[[nodiscard]] int try_connect(const sockaddr_un& address) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0) return fd;
    const int error = errno;
    ::close(fd);
    errno = error;
    return -1;
}

[[nodiscard]] int connect_with_retries(const ConnectionOptions& options) {
    const sockaddr_un address = socket_address(options.socket_path);
    const auto deadline = deadline_after(options.connect_timeout_s);
    while (true) {
        const int fd = try_connect(address);
        if (fd >= 0) return fd;
        const int error = errno;
        if (!is_transient_connect_error(error) || Clock::now() >= deadline)
            throw ConnectionError(fmt::format(
                "cannot connect to Lamina at '{}': {} (tried for {:g} s; is Lamina running with this socket?)",
                options.socket_path, system_error_text(error), options.connect_timeout_s));
        std::this_thread::sleep_for(std::min<Clock::duration>(kConnectRetryPause, deadline - Clock::now()));
    }
}

}  // namespace

Connection Connection::open(const ConnectionOptions& options) {
    Connection connection(connect_with_retries(options), options);
    connection.check_hello(connection.call("hello", {{"version", kProtocolVersion}}));
    return connection;
}

Connection::Connection(int fd, ConnectionOptions options) : fd_(fd), options_(std::move(options)) {}

Connection::Connection(Connection&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      options_(std::move(other.options_)),
      next_id_(other.next_id_),
      buffer_(std::move(other.buffer_)) {}

Connection::~Connection() {
    if (fd_ >= 0) ::close(fd_);
}

void Connection::check_hello(const json& result) {
    const std::uint64_t protocol = required_count_field(result, "protocol");
    if (protocol != kProtocolVersion)
        throw std::runtime_error(fmt::format("Lamina at '{}' speaks protocol {}; this lamina speaks {}",
                                             options_.socket_path, protocol, kProtocolVersion));
}

json Connection::call(std::string_view op, json arguments, const EventHandler& on_event,
                      std::optional<double> timeout_s) {
    const std::uint64_t id = next_id_++;
    const double timeout = timeout_s.value_or(options_.reply_timeout_s);
    const auto deadline = deadline_after(timeout);
    send_line(make_request_line(id, op, std::move(arguments)) + '\n', op, deadline);
    const std::string waiting_for = fmt::format("the reply to '{}'", op);
    while (true) {
        const std::optional<std::string> line = next_line(deadline, waiting_for);
        if (!line)
            throw ConnectionError(fmt::format("no reply from Lamina at '{}' to '{}' within {:g} s{}",
                                              options_.socket_path, op, timeout,
                                              op == "hello" ? " (is another client connected?)" : ""));
        IncomingLine incoming = classify_line(*line, id);
        if (incoming.kind == LineKind::kAwaitedReply) return result_of(incoming.message);
        if (incoming.kind == LineKind::kEvent && on_event) on_event(incoming.message);
    }
}

void Connection::receive_events(const EventHandler& on_event) {
    if (!read_some()) throw ConnectionError(fmt::format("Lamina at '{}' closed the connection", options_.socket_path));
    dispatch_buffered_events(on_event);
}

void Connection::dispatch_buffered_events(const EventHandler& on_event) {
    while (const std::optional<std::string> line = take_buffered_line()) {
        // No request is outstanding: id 0 is never used, so replies are skipped.
        IncomingLine incoming = classify_line(*line, 0);
        if (incoming.kind == LineKind::kEvent && on_event) on_event(incoming.message);
    }
}

void Connection::send_line(const std::string& line, std::string_view op, Clock::time_point deadline) {
    std::size_t sent = 0;
    while (sent < line.size()) {
        const ssize_t written = ::send(fd_, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
        if (written >= 0) {
            sent += static_cast<std::size_t>(written);
            continue;
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN)
            throw ConnectionError(fmt::format("cannot send '{}' to Lamina at '{}': {}", op, options_.socket_path,
                                              system_error_text(errno)));
        pollfd writable{fd_, POLLOUT, 0};
        if (::poll(&writable, 1, milliseconds_until(deadline)) == 0)
            throw ConnectionError(
                fmt::format("Lamina at '{}' did not take the request '{}' in time", options_.socket_path, op));
    }
}

std::optional<std::string> Connection::next_line(Clock::time_point deadline, std::string_view waiting_for) {
    while (true) {
        if (std::optional<std::string> line = take_buffered_line()) return line;
        if (Clock::now() >= deadline) return std::nullopt;
        pollfd readable{fd_, POLLIN, 0};
        const int ready = ::poll(&readable, 1, milliseconds_until(deadline));
        if (ready <= 0) continue;  // timeout (checked above) or a signal
        if (!read_some())
            throw ConnectionError(fmt::format("Lamina at '{}' closed the connection while we waited for {}",
                                              options_.socket_path, waiting_for));
    }
}

std::optional<std::string> Connection::take_buffered_line() {
    while (true) {
        const std::size_t newline = buffer_.find('\n');
        if (newline == std::string::npos) {
            if (buffer_.size() > kMaxIncomingLineBytes)
                throw MalformedReply(fmt::format("a line of more than {} bytes", kMaxIncomingLineBytes));
            return std::nullopt;
        }
        std::string line = buffer_.substr(0, newline);
        buffer_.erase(0, newline + 1);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (!line.empty()) return line;  // blank lines carry nothing
    }
}

bool Connection::read_some() {
    char chunk[16 * 1024];
    while (true) {
        const ssize_t received = ::recv(fd_, chunk, sizeof(chunk), 0);
        if (received > 0) {
            buffer_.append(chunk, static_cast<std::size_t>(received));
            return true;
        }
        if (received == 0) return false;
        if (errno == EINTR) continue;
        if (errno == EAGAIN) return true;
        if (errno == ECONNRESET) return false;
        throw ConnectionError(
            fmt::format("cannot read from Lamina at '{}': {}", options_.socket_path, system_error_text(errno)));
    }
}

}  // namespace lamina::cli
