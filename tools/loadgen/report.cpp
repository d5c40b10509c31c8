#include "report.hpp"

#include <cmath>
#include <optional>

#include <fmt/format.h>

namespace lamina::load {

namespace {

// Dividing the rounded integer (rather than multiplying by 0.1) gives the
// double nearest the decimal, which JSON then prints as "12.3".
[[nodiscard]] double round_to(double value, double scale) { return std::round(value * scale) / scale; }

// Milliseconds with one decimal, right-aligned; "-" when there is nothing to measure.
[[nodiscard]] std::string milliseconds(const std::optional<double>& value) {
    return value ? fmt::format("{:6.1f}", *value) : fmt::format("{:>6}", "-");
}

[[nodiscard]] std::string milliseconds_unpadded(const std::optional<double>& value) {
    return value ? fmt::format("{:.1f}", *value) : "-";
}

[[nodiscard]] nlohmann::ordered_json milliseconds_json(const std::optional<double>& value) {
    return value ? nlohmann::ordered_json(round_to(*value, 10)) : nlohmann::ordered_json(nullptr);
}

}  // namespace

std::string format_second(const SecondReport& report) {
    return fmt::format("  t={:>3}s sent {:>4} done {:>4} ok {:>4} err {}  p50 {} ms  p95 {} ms  p99 {} ms  inflight {}",
                       report.second, report.sent, report.completed, report.ok, report.errors,
                       milliseconds(report.latency_ms.p50), milliseconds(report.latency_ms.p95),
                       milliseconds(report.latency_ms.p99), report.in_flight);
}

nlohmann::ordered_json second_json(const SecondReport& report) {
    nlohmann::ordered_json line;  // ordered: fields in reading order, not sorted
    line["second"] = report.second;
    line["sent"] = report.sent;
    line["completed"] = report.completed;
    line["ok"] = report.ok;
    line["errors"] = report.errors;
    line["p50_ms"] = milliseconds_json(report.latency_ms.p50);
    line["p95_ms"] = milliseconds_json(report.latency_ms.p95);
    line["p99_ms"] = milliseconds_json(report.latency_ms.p99);
    line["in_flight"] = report.in_flight;
    return line;
}

std::string format_summary(const Summary& summary) {
    return fmt::format(
        "summary: sent {}  ok {}  errors {} (connect {}, reset {}, timeout {}, http {})\n"
        "latency: p50 {} ms  p95 {} ms  p99 {} ms  max {} ms  over {:.2f} s",
        summary.sent, summary.ok, summary.errors(), summary.connect_errors, summary.resets, summary.timeouts,
        summary.http_errors, milliseconds_unpadded(summary.latency_ms.p50),
        milliseconds_unpadded(summary.latency_ms.p95), milliseconds_unpadded(summary.latency_ms.p99),
        milliseconds_unpadded(summary.max_ms), summary.duration_s);
}

nlohmann::ordered_json summary_json(const Summary& summary) {
    nlohmann::ordered_json fields;
    fields["sent"] = summary.sent;
    fields["ok"] = summary.ok;
    fields["errors"] = summary.errors();
    fields["connect_errors"] = summary.connect_errors;
    fields["resets"] = summary.resets;
    fields["timeouts"] = summary.timeouts;
    fields["http_errors"] = summary.http_errors;
    fields["p50_ms"] = milliseconds_json(summary.latency_ms.p50);
    fields["p95_ms"] = milliseconds_json(summary.latency_ms.p95);
    fields["p99_ms"] = milliseconds_json(summary.latency_ms.p99);
    fields["max_ms"] = milliseconds_json(summary.max_ms);
    fields["duration_s"] = round_to(summary.duration_s, 1000);
    nlohmann::ordered_json line;
    line["summary"] = fields;
    return line;
}

}  // namespace lamina::load
