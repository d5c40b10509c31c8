// Services as docs/services.md describes them, shared by the unit tests of
// parsing, tables, `top` and the Prometheus text.
#pragma once

#include "json_fields.hpp"

namespace lamina::cli::samples {

// web: four replicas, one in each state (ready, booting, draining, stopping);
// api: cannot meet its objective, at its maximum; idle: no replica and no
// request in its window.
inline json sample_services_result() {
    return json::parse(R"({"services": [
        {"name": "web", "template": "web-replica", "network": "lan", "address": "10.0.2.50:80",
         "replica_addresses": "10.0.2.100/24",
         "objective": {"percentile": 95, "latency_ms": 50, "window_s": 5},
         "min_replicas": 1, "max_replicas": 4,
         "scale_up_window_s": 2, "scale_down_window_s": 15, "drain_grace_s": 10,
         "status": "scaling_up", "reason": "",
         "window": {"requests": 120, "rate_per_s": 24.0, "p50_ms": 12.1, "p95_ms": 40.2, "p99_ms": 55.0,
                    "resets": 1, "timeouts": 2},
         "totals": {"requests": 1234, "connections": 1200, "held": 1, "resets": 3, "timeouts": 4},
         "replicas": [
           {"vm": "web-1", "address": "10.0.2.100", "state": "ready", "connections": 2, "outstanding": 1,
            "window": {"requests": 100, "rate_per_s": 20.0, "p50_ms": 11.5, "p95_ms": 38.25, "p99_ms": 52.5,
                       "resets": 1, "timeouts": 0},
            "totals": {"requests": 1000, "connections": 990}},
           {"vm": "web-2", "address": "10.0.2.101", "state": "booting", "connections": 0, "outstanding": 0,
            "window": {"requests": 0}, "totals": {}},
           {"vm": "web-3", "address": "10.0.2.102", "state": "draining", "connections": 3, "outstanding": 2,
            "window": {"requests": 20, "rate_per_s": 4.0, "p50_ms": 14.0, "p95_ms": 60.0, "p99_ms": 70.125},
            "totals": {"requests": 234}},
           {"vm": "web-4", "address": "10.0.2.103", "state": "stopping", "connections": 0, "outstanding": 0}]},
        {"name": "api", "template": "api-replica", "network": "lan", "address": "10.0.2.60:8080",
         "replica_addresses": "10.0.2.120/24",
         "objective": {"percentile": 99, "latency_ms": 20, "window_s": 10},
         "min_replicas": 0, "max_replicas": 1,
         "scale_up_window_s": 2, "scale_down_window_s": 15, "drain_grace_s": 10,
         "status": "cannot_meet_objective", "reason": "at_max_replicas",
         "window": {"requests": 300, "rate_per_s": 30.0, "p50_ms": 8.2, "p95_ms": 18.9, "p99_ms": 35.5},
         "totals": {"requests": 5000, "connections": 4800},
         "replicas": [
           {"vm": "api-1", "address": "10.0.2.120", "state": "ready", "connections": 4, "outstanding": 2,
            "window": {"requests": 300, "rate_per_s": 30.0, "p50_ms": 8.2, "p95_ms": 18.9, "p99_ms": 35.5},
            "totals": {"requests": 5000}}]},
        {"name": "idle", "template": "web-replica", "network": "lan", "address": "10.0.2.70:80",
         "replica_addresses": "10.0.2.140/24",
         "objective": {"percentile": 90, "latency_ms": 100, "window_s": 15},
         "min_replicas": 0, "max_replicas": 2, "status": "ok", "reason": "",
         "window": {"requests": 0}, "totals": {}, "replicas": []}]})");
}

inline json sample_scaling_log_result() {
    return json::parse(R"({"entries": [
        {"seq": 7, "time_ms": 81234, "service": "web", "action": "scale_up", "vm": "web-2",
         "detail": "p95 82.130 ms > 50 ms for 2.0 s at 31.2 req/s: 1 -> 2 replicas"},
        {"seq": 8, "time_ms": 90000, "service": "api", "action": "cannot_meet_objective", "vm": "",
         "detail": "at_max_replicas"}]})");
}

}  // namespace lamina::cli::samples
