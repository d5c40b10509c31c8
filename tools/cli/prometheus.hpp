// Lamina's statistics in the Prometheus text exposition format, version
// 0.0.4: per family a "# HELP" and a "# TYPE" line, then its samples.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "model.hpp"

namespace lamina::cli {

inline constexpr std::string_view kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

struct Label {
    std::string name;
    std::string value;
};

struct Sample {
    std::vector<Label> labels;
    std::string value;  // already formatted, e.g. "1.2" or "42"
};

enum class MetricType { kCounter, kGauge };

struct MetricFamily {
    std::string name;
    std::string help;
    MetricType type{MetricType::kGauge};
    std::vector<Sample> samples;
};

// Label values escape backslash, double quote and line feed.
[[nodiscard]] std::string escape_label_value(std::string_view value);

// HELP text escapes backslash and line feed (quotes stay as they are).
[[nodiscard]] std::string escape_help(std::string_view help);

[[nodiscard]] std::string render_family(const MetricFamily& family);

// Every family for one scrape: vCPU, VM, NIC, disk and board metrics, and
// service and replica metrics when the statistics have services.
[[nodiscard]] std::vector<MetricFamily> collect_metrics(const StatsSnapshot& stats, const BoardInfo& board);

[[nodiscard]] std::string render_prometheus(const StatsSnapshot& stats, const BoardInfo& board);

}  // namespace lamina::cli
