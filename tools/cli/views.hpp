// What the verbs print without --json: pure functions from reply objects to
// text, so they are tested without a socket.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "model.hpp"

namespace lamina::cli {

// `list`: one row per VM, then the templates. SERVICE names the service a
// replica belongs to; BE says "yes" for a best-effort VM (its cap may be
// lowered to make room for replicas).
[[nodiscard]] std::string render_vm_list(const VmList& list);

// `board`: one "label: value" line per figure.
[[nodiscard]] std::string render_board(const BoardInfo& board);

// One line about a VM after create/start/pause/resume/set/balloon; create
// also tells how long Lamina took to build the VM.
[[nodiscard]] std::string describe_vm(const VmInfo& vm, std::optional<std::uint64_t> build_ns = {});

// `stats`: the board, then tables per VM, per vCPU, per NIC and per disk.
[[nodiscard]] std::string render_stats(const StatsSnapshot& stats);

// Cells about a service, shared by `services` and `top`:
// "2/1..4 +1 booting -1 draining": ready replicas of min..max, then the
// replicas on their way in and out (when there are any).
[[nodiscard]] std::string replicas_text(const ServiceInfo& service);
// "p95<=50ms/5s": percentile, latency and window of the objective.
[[nodiscard]] std::string objective_text(const Objective& objective);
// The status, and the reason when Lamina gives one: "cannot_meet_objective (board_full)".
[[nodiscard]] std::string status_text(const ServiceInfo& service);
// A latency of the window in milliseconds with one decimal; "-" when the
// window holds no request.
[[nodiscard]] std::string latency_text(const LatencyWindow& window, double LatencyWindow::*percentile);
// Requests per second with one decimal.
[[nodiscard]] std::string rate_text(double per_second);

// `services`: one row per service; "no services" when there are none.
[[nodiscard]] std::string render_services(const std::vector<ServiceInfo>& services);
// `services --replicas`, `service show`: one row per replica of each service.
[[nodiscard]] std::string render_replicas(const std::vector<ServiceInfo>& services);
// `service show`: the service's configuration and figures, then its replicas.
[[nodiscard]] std::string render_service_details(const ServiceInfo& service);
// One line about a service after `service create` and `service set`.
[[nodiscard]] std::string describe_service(const ServiceInfo& service);

// `scaling-log`: TIME(s) (Lamina's uptime), SERVICE, ACTION, VM, DETAIL.
// "no scaling-log entries" when there are none.
[[nodiscard]] std::string render_scaling_log(const std::vector<ScalingLogEntry>& entries);
// `scaling-log --follow` prints the rows of each poll as they come, so its
// columns have fixed minimum widths to line up from one poll to the next;
// only the first poll prints the heading (even without entries).
[[nodiscard]] std::string render_scaling_log_rows(const std::vector<ScalingLogEntry>& entries, bool heading);

}  // namespace lamina::cli
