#include "client.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>

#include <asio.hpp>
#include <fmt/format.h>

namespace lamina::load {

namespace {

using Clock = std::chrono::steady_clock;
using asio::ip::tcp;

// When the tool falls behind, it launches at most this many overdue requests
// before letting completions and the per-second line run.
constexpr int kLaunchBatch = 256;

[[nodiscard]] Clock::duration to_clock(std::chrono::duration<double> seconds) {
    return std::chrono::duration_cast<Clock::duration>(seconds);
}

// One request's connection. Handlers hold it by shared_ptr; whichever of the
// reply, an error or the deadline comes first completes it, and later
// handlers see `done` and do nothing.
struct Request {
    Request(asio::io_context& io, Clock::time_point due) : socket(io), deadline(io), due(due) {}

    tcp::socket socket;
    asio::steady_timer deadline;
    Clock::time_point due;            // the scheduled send time: latency counts from here
    std::string head;                 // the reply's first bytes, up to kReplyHeadLimit
    std::array<char, 4096> buffer{};  // the rest of the reply is read into here and dropped
    bool done{false};
};

class LoadRun {
public:
    LoadRun(const RunOptions& options, const RunObserver& observer)
        : request_text_(make_request(options.url)),
          timeout_(to_clock(options.timeout)),
          schedule_length_(to_clock(std::chrono::duration<double>(total_seconds(options.phases)))),
          due_times_(options.phases),
          observer_(observer) {
        // Resolve once, up front: a name lookup per request would be load on
        // the resolver rather than on the server.
        tcp::resolver resolver(io_);
        std::error_code error;
        endpoints_ =
            resolver.resolve(options.url.host, std::to_string(options.url.port), tcp::resolver::numeric_service, error);
        if (error)
            throw std::runtime_error(fmt::format("cannot resolve \"{}\": {}", options.url.host, error.message()));
    }

    Summary run() {
        if (observer_.on_start) observer_.on_start();
        start_ = Clock::now();
        next_due_ = due_times_.next();
        launch_due_requests();
        wait_for_tick();
        io_.run();
        return stats_.summary(std::chrono::duration<double>(finished_at_ - start_).count());
    }

private:
    [[nodiscard]] Clock::time_point at(double offset_seconds) const {
        return start_ + to_clock(std::chrono::duration<double>(offset_seconds));
    }

    [[nodiscard]] std::int64_t current_second() const { return second_of(Clock::now() - start_); }

    void launch_due_requests() {
        const Clock::time_point now = Clock::now();
        for (int launched = 0; next_due_ && at(*next_due_) <= now && launched < kLaunchBatch; ++launched) {
            launch(at(*next_due_));
            next_due_ = due_times_.next();
        }
        if (next_due_) {
            schedule_timer_.expires_at(at(*next_due_));
            schedule_timer_.async_wait([this](std::error_code error) {
                if (!error) launch_due_requests();
            });
        } else {
            // The last request is out; the schedule still runs to its end (it may end idle).
            schedule_timer_.expires_at(start_ + schedule_length_);
            schedule_timer_.async_wait([this](std::error_code error) {
                if (error) return;
                schedule_over_ = true;
                finish_if_done();
            });
        }
    }

    void launch(Clock::time_point due) {
        auto request = std::make_shared<Request>(io_, due);
        stats_.record_sent(current_second());
        ++in_flight_;
        // The deadline counts from the due time too, so a late launch gets less time.
        request->deadline.expires_at(due + timeout_);
        request->deadline.async_wait([this, request](std::error_code error) {
            if (!error) complete(*request, Outcome::timeout);
        });
        // async_connect opens the socket itself; when it cannot (out of file
        // descriptors) the handler gets that error: a connect_error.
        asio::async_connect(request->socket, endpoints_, [this, request](std::error_code error, const tcp::endpoint&) {
            if (request->done) return;
            if (error) return complete(*request, Outcome::connect_error);
            send(request);
        });
    }

    void send(const std::shared_ptr<Request>& request) {
        asio::async_write(request->socket, asio::buffer(request_text_),
                          [this, request](std::error_code error, std::size_t) {
                              if (request->done) return;
                              if (error) return complete(*request, Outcome::reset);
                              read(request);
                          });
    }

    void read(const std::shared_ptr<Request>& request) {
        request->socket.async_read_some(
            asio::buffer(request->buffer), [this, request](std::error_code error, std::size_t length) {
                if (request->done) return;
                const std::size_t keep = std::min(length, kReplyHeadLimit - request->head.size());
                request->head.append(request->buffer.data(), keep);
                if (error == asio::error::eof) return complete(*request, classify_reply(request->head));
                if (error) return complete(*request, Outcome::reset);
                read(request);
            });
    }

    void complete(Request& request, Outcome outcome) {
        if (request.done) return;
        request.done = true;
        request.deadline.cancel();
        std::error_code ignored;
        request.socket.close(ignored);  // also aborts its pending operations
        const Clock::time_point now = Clock::now();
        stats_.record_completion(second_of(now - start_), outcome,
                                 std::chrono::duration<double, std::milli>(now - request.due).count());
        --in_flight_;
        finish_if_done();
    }

    void wait_for_tick() {
        tick_timer_.expires_at(start_ + std::chrono::seconds(reported_ + 1));
        tick_timer_.async_wait([this](std::error_code error) {
            if (error || finished_) return;
            report_second(reported_ + 1);
            wait_for_tick();
        });
    }

    void report_second(std::int64_t second) {
        const SecondReport report = stats_.take_second(second, in_flight_);
        if (observer_.on_second) observer_.on_second(report);
        reported_ = second;
    }

    // The run ends when the schedule has run out and nothing is in flight:
    // report the seconds not yet reported, and a last partial one if it saw
    // anything, then let io_.run() return.
    void finish_if_done() {
        if (finished_ || !schedule_over_ || in_flight_ > 0) return;
        finished_ = true;
        finished_at_ = Clock::now();
        const std::int64_t last = second_of(finished_at_ - start_);
        while (reported_ + 1 < last) report_second(reported_ + 1);
        if (stats_.has_activity(last)) report_second(last);
        tick_timer_.cancel();
    }

    asio::io_context io_;
    tcp::resolver::results_type endpoints_;
    asio::steady_timer schedule_timer_{io_};
    asio::steady_timer tick_timer_{io_};
    const std::string request_text_;
    const Clock::duration timeout_;
    const Clock::duration schedule_length_;
    DueTimes due_times_;
    const RunObserver& observer_;

    Clock::time_point start_;
    Clock::time_point finished_at_;
    std::optional<double> next_due_;
    RunStats stats_;
    std::uint64_t in_flight_{0};
    std::int64_t reported_{0};  // the last second whose line was printed
    bool schedule_over_{false};
    bool finished_{false};
};

}  // namespace

Summary run_load(const RunOptions& options, const RunObserver& observer) {
    LoadRun run(options, observer);
    return run.run();
}

}  // namespace lamina::load
