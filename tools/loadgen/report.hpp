// How lamina-load prints: a line per second and a summary, for people or as
// JSON lines (null for a percentile with no completions).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "stats.hpp"

namespace lamina::load {

// "  t=  3s sent   20 done   19 ok   19 err 0  p50   12.3 ms  p95   40.1 ms  p99   41.0 ms  inflight 2"
[[nodiscard]] std::string format_second(const SecondReport& report);

// {"second":3,"sent":20,"completed":19,"ok":19,"errors":0,"p50_ms":12.3,...,"in_flight":2}
[[nodiscard]] nlohmann::ordered_json second_json(const SecondReport& report);

// Two lines: the counts by outcome, then the latencies and the run's length.
[[nodiscard]] std::string format_summary(const Summary& summary);

// {"summary":{"sent":..,"ok":..,"errors":..,"connect_errors":..,...,"duration_s":..}}
[[nodiscard]] nlohmann::ordered_json summary_json(const Summary& summary);

}  // namespace lamina::load
