// `lamina top`: rates between two statistics snapshots, and the frame that
// shows them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model.hpp"

namespace lamina::cli {

struct VmRates {
    std::string name;
    std::string state;
    double cpu_percent{0};  // 100 per busy vCPU, as top shows threads
    double steal_percent{0};
    double exits_per_second{0};
    std::uint64_t memory_mib{0};
    double rx_bytes_per_second{0};
    double tx_bytes_per_second{0};
    double read_bytes_per_second{0};
    double write_bytes_per_second{0};
};

// Rates per VM in `current`, over the time between the VM's two uptimes
// (Lamina's clock, the one its counters use: no error from our own latency).
// A VM missing from `previous` (or restarted since, its uptime lower) gets its
// averages since it started; `previous` may be null for the first frame.
[[nodiscard]] std::vector<VmRates> compute_rates(const StatsSnapshot* previous, const StatsSnapshot& current);

// How many scaling-log entries `top` shows.
inline constexpr std::size_t kTopScalingLogEntries = 5;

// Appends to `kept` (oldest first) the entries of `fresh` it does not hold
// yet (by seq), then drops the oldest beyond `count`.
void keep_latest_entries(std::vector<ScalingLogEntry>& kept, const std::vector<ScalingLogEntry>& fresh,
                         std::size_t count = kTopScalingLogEntries);

// A summary line about the board, then one row per VM. With services (a
// Lamina that has them): one row per service, an indented row per replica,
// then `recent_log`, the latest scaling decisions.
[[nodiscard]] std::string render_top_frame(const StatsSnapshot& current, const std::vector<VmRates>& rates,
                                           const std::vector<ScalingLogEntry>& recent_log = {});

}  // namespace lamina::cli
