// The open-loop client: sends the schedule's requests at their due times on
// a single-threaded asio io_context, one new connection per request.
#pragma once

#include <chrono>
#include <functional>
#include <vector>

#include "http.hpp"
#include "schedule.hpp"
#include "stats.hpp"

namespace lamina::load {

struct RunOptions {
    HttpUrl url;
    std::vector<Phase> phases;
    std::chrono::duration<double> timeout{30};
};

struct RunObserver {
    // Once the host is resolved, just before the first request.
    std::function<void()> on_start;
    // Once per second of run time, plus once for a last partial second that
    // saw any activity.
    std::function<void(const SecondReport&)> on_second;
};

// Runs the whole schedule, then waits for every outstanding request (each
// bounded by the timeout). Throws std::runtime_error when the host cannot be
// resolved.
[[nodiscard]] Summary run_load(const RunOptions& options, const RunObserver& observer);

}  // namespace lamina::load
