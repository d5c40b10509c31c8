#include "prometheus.hpp"

#include <set>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "json_fields.hpp"
#include "service_samples.hpp"

namespace lamina::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(Prometheus, EscapesLabelValues) {
    EXPECT_EQ(escape_label_value("web"), "web");
    EXPECT_EQ(escape_label_value("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
    EXPECT_EQ(escape_label_value("caf\xc3\xa9"), "caf\xc3\xa9");  // UTF-8 stays as it is
}

TEST(Prometheus, EscapesHelpButNotQuotes) { EXPECT_EQ(escape_help("a \"b\"\\\nc"), "a \"b\"\\\\\\nc"); }

TEST(Prometheus, RendersAFamily) {
    const MetricFamily family{"lamina_x_total",
                              "Things.\nMore",
                              MetricType::kCounter,
                              {{{{"vm", "we\"b"}, {"vcpu", "0"}}, "1.5"}, {{}, "2"}}};
    EXPECT_EQ(render_family(family),
              "# HELP lamina_x_total Things.\\nMore\n"
              "# TYPE lamina_x_total counter\n"
              "lamina_x_total{vm=\"we\\\"b\",vcpu=\"0\"} 1.5\n"
              "lamina_x_total 2\n");
}

[[nodiscard]] StatsSnapshot sample_stats() {
    return parse_stats(json::parse(R"({
        "board": {"cpus": 2, "free_mib": 512},
        "vms": [{"name": "web", "state": "running", "uptime_ns": 1200000000,
                 "memory": {"assigned_mib": 256, "balloon_target_mib": 192, "ballooned_mib": 64},
                 "vcpus": [{"index": 0, "run_ns": 1500000000, "steal_ns": 2, "interrupts_injected": 7,
                            "exits": {"hypercall": 3, "mmio": 4}}],
                 "net": [{"rx_packets": 3, "rx_bytes": 300, "tx_packets": 2, "tx_bytes": 200, "drops": 1}],
                 "block": [{"reads": 5, "writes": 6, "read_bytes": 2560, "write_bytes": 3072}]},
                {"name": "db\\x", "state": "suspended"}]})"));
}

[[nodiscard]] BoardInfo sample_board() {
    return {.cpus = 2, .free_mib = 512, .free_frames = 131072, .vmids_free = 254, .vm_slots_free = 6};
}

TEST(Prometheus, ExportsVcpuCounters) {
    const std::string text = render_prometheus(sample_stats(), sample_board());
    EXPECT_THAT(text, HasSubstr("lamina_vcpu_run_seconds_total{vm=\"web\",vcpu=\"0\"} 1.5\n"));
    EXPECT_THAT(text, HasSubstr("lamina_vcpu_steal_seconds_total{vm=\"web\",vcpu=\"0\"} 0.000000002\n"));
    EXPECT_THAT(text, HasSubstr("lamina_vcpu_exits_total{vm=\"web\",vcpu=\"0\",reason=\"hypercall\"} 3\n"));
    EXPECT_THAT(text, HasSubstr("lamina_vcpu_exits_total{vm=\"web\",vcpu=\"0\",reason=\"mmio\"} 4\n"));
    EXPECT_THAT(text, HasSubstr("lamina_vcpu_interrupts_injected_total{vm=\"web\",vcpu=\"0\"} 7\n"));
}

TEST(Prometheus, ExportsVmMemoryAndState) {
    const std::string text = render_prometheus(sample_stats(), sample_board());
    EXPECT_THAT(text, HasSubstr("lamina_vm_memory_assigned_bytes{vm=\"web\"} 268435456\n"));
    EXPECT_THAT(text, HasSubstr("lamina_vm_memory_ballooned_bytes{vm=\"web\"} 67108864\n"));
    EXPECT_THAT(text, HasSubstr("lamina_vm_memory_balloon_target_bytes{vm=\"web\"} 201326592\n"));
    EXPECT_THAT(text, HasSubstr("lamina_vm_uptime_seconds{vm=\"web\"} 1.2\n"));
    EXPECT_THAT(text, HasSubstr("lamina_vm_state{vm=\"web\",state=\"running\"} 1\n"));
    EXPECT_THAT(text, HasSubstr("lamina_vm_state{vm=\"web\",state=\"paused\"} 0\n"));
    // A state this CLI does not know is still exported, and names are escaped.
    EXPECT_THAT(text, HasSubstr("lamina_vm_state{vm=\"db\\\\x\",state=\"suspended\"} 1\n"));
    EXPECT_THAT(text, HasSubstr("lamina_vm_state{vm=\"db\\\\x\",state=\"running\"} 0\n"));
}

TEST(Prometheus, ExportsNetworkAndBlockCounters) {
    const std::string text = render_prometheus(sample_stats(), sample_board());
    EXPECT_THAT(text, HasSubstr("lamina_vm_net_rx_bytes_total{vm=\"web\",nic=\"nic0\"} 300\n"));
    EXPECT_THAT(text, HasSubstr("lamina_vm_net_tx_bytes_total{vm=\"web\",nic=\"nic0\"} 200\n"));
    EXPECT_THAT(text, HasSubstr("lamina_vm_net_rx_packets_total{vm=\"web\",nic=\"nic0\"} 3\n"));
    EXPECT_THAT(text, HasSubstr("lamina_vm_net_tx_packets_total{vm=\"web\",nic=\"nic0\"} 2\n"));
    EXPECT_THAT(text, HasSubstr("lamina_vm_block_read_bytes_total{vm=\"web\",disk=\"vda\"} 2560\n"));
    EXPECT_THAT(text, HasSubstr("lamina_vm_block_write_bytes_total{vm=\"web\",disk=\"vda\"} 3072\n"));
}

TEST(Prometheus, ExportsTheBoard) {
    const std::string text = render_prometheus(sample_stats(), sample_board());
    EXPECT_THAT(text, HasSubstr("\nlamina_board_free_memory_bytes 536870912\n"));
    EXPECT_THAT(text, HasSubstr("\nlamina_board_vm_slots_free 6\n"));
    EXPECT_THAT(text, HasSubstr("\nlamina_board_cpus 2\n"));
    EXPECT_THAT(text, HasSubstr("\nlamina_board_vmids_free 254\n"));
}

// Format 0.0.4: each family once, HELP and TYPE before its samples, and
// every sample line belongs to the family announced last. Returns the
// families seen.
std::set<std::string> check_families_grouped(const std::string& text) {
    std::istringstream lines(text);
    std::set<std::string> seen;
    std::string line;
    std::string current;
    while (std::getline(lines, line)) {
        if (line.rfind("# HELP ", 0) == 0) {
            current = line.substr(7, line.find(' ', 7) - 7);
            EXPECT_TRUE(seen.insert(current).second) << "family twice: " << current;
            if (!std::getline(lines, line)) {
                ADD_FAILURE() << "no TYPE after the HELP of " << current;
                break;
            }
            EXPECT_EQ(line.rfind("# TYPE " + current + " ", 0), 0u) << line;
            continue;
        }
        EXPECT_FALSE(current.empty()) << "a sample before any family: " << line;
        EXPECT_EQ(line.substr(0, line.find_first_of("{ ")), current) << line;
    }
    return seen;
}

TEST(Prometheus, GroupsSamplesUnderTheirFamily) {
    EXPECT_GE(check_families_grouped(render_prometheus(sample_stats(), sample_board())).size(), 20u);
}

TEST(Prometheus, TypesCountersAndGauges) {
    const std::string text = render_prometheus(sample_stats(), sample_board());
    EXPECT_THAT(text, HasSubstr("# TYPE lamina_vcpu_run_seconds_total counter\n"));
    EXPECT_THAT(text, HasSubstr("# TYPE lamina_vm_state gauge\n"));
    EXPECT_THAT(text, HasSubstr("# TYPE lamina_board_free_memory_bytes gauge\n"));
    EXPECT_THAT(text, Not(HasSubstr("# TYPE lamina_vm_memory_assigned_bytes counter")));
}

[[nodiscard]] StatsSnapshot stats_with_services() {
    StatsSnapshot stats = sample_stats();
    stats.services = parse_services(samples::sample_services_result());
    return stats;
}

TEST(Prometheus, ALaminaWithoutServicesGetsNoServiceFamilies) {
    const std::string text = render_prometheus(sample_stats(), sample_board());
    EXPECT_THAT(text, Not(HasSubstr("lamina_service_")));
    EXPECT_THAT(text, Not(HasSubstr("lamina_replica_")));
    StatsSnapshot none = sample_stats();
    none.services.emplace();  // services, but none declared: the families, without samples
    EXPECT_THAT(render_prometheus(none, sample_board()), HasSubstr("# TYPE lamina_service_objective_met gauge\n"));
}

TEST(Prometheus, ExportsServiceLatenciesOverTheWindow) {
    const std::string text = render_prometheus(stats_with_services(), sample_board());
    EXPECT_THAT(text, HasSubstr("# TYPE lamina_service_latency_seconds gauge\n"));
    EXPECT_THAT(text, HasSubstr("lamina_service_latency_seconds{service=\"web\",quantile=\"0.5\"} 0.0121\n"));
    EXPECT_THAT(text, HasSubstr("lamina_service_latency_seconds{service=\"web\",quantile=\"0.95\"} 0.0402\n"));
    EXPECT_THAT(text, HasSubstr("lamina_service_latency_seconds{service=\"web\",quantile=\"0.99\"} 0.055\n"));
    // No request in the window: no latency to tell.
    EXPECT_THAT(text, HasSubstr("lamina_service_latency_seconds{service=\"idle\",quantile=\"0.95\"} NaN\n"));
}

TEST(Prometheus, ExportsServiceCountersRatesAndReplicas) {
    const std::string text = render_prometheus(stats_with_services(), sample_board());
    EXPECT_THAT(text, HasSubstr("# TYPE lamina_service_requests_total counter\n"));
    EXPECT_THAT(text, HasSubstr("lamina_service_requests_total{service=\"web\"} 1234\n"));
    EXPECT_THAT(text, HasSubstr("# TYPE lamina_service_errors_total counter\n"));
    EXPECT_THAT(text, HasSubstr("lamina_service_errors_total{service=\"web\",kind=\"reset\"} 3\n"));
    EXPECT_THAT(text, HasSubstr("lamina_service_errors_total{service=\"web\",kind=\"timeout\"} 4\n"));
    EXPECT_THAT(text, HasSubstr("lamina_service_request_rate{service=\"web\"} 24\n"));
    EXPECT_THAT(text, HasSubstr("lamina_service_replicas{service=\"web\",state=\"ready\"} 1\n"));
    EXPECT_THAT(text, HasSubstr("lamina_service_replicas{service=\"web\",state=\"booting\"} 1\n"));
    EXPECT_THAT(text, HasSubstr("lamina_service_replicas{service=\"web\",state=\"draining\"} 2\n"));
    EXPECT_THAT(text, HasSubstr("lamina_service_replicas{service=\"idle\",state=\"ready\"} 0\n"));
    EXPECT_THAT(text, HasSubstr("lamina_service_objective_seconds{service=\"web\"} 0.05\n"));
    EXPECT_THAT(text, HasSubstr("lamina_service_objective_seconds{service=\"idle\"} 0.1\n"));
}

TEST(Prometheus, SaysWhetherEachServiceMeetsItsObjective) {
    const std::string text = render_prometheus(stats_with_services(), sample_board());
    EXPECT_THAT(text, HasSubstr("lamina_service_objective_met{service=\"web\"} 1\n"));  // p95 40.2 <= 50
    EXPECT_THAT(text, HasSubstr("lamina_service_objective_met{service=\"api\"} 0\n"));  // cannot_meet_objective
    EXPECT_THAT(text, HasSubstr("lamina_service_objective_met{service=\"idle\"} 1\n"));  // nothing to judge
    StatsSnapshot slow = stats_with_services();
    (*slow.services)[0].window.p95_ms = 50.5;  // above the objective, while Lamina still scales up
    EXPECT_THAT(render_prometheus(slow, sample_board()),
                HasSubstr("lamina_service_objective_met{service=\"web\"} 0\n"));
}

TEST(Prometheus, ExportsReplicaFigures) {
    const std::string text = render_prometheus(stats_with_services(), sample_board());
    EXPECT_THAT(text,
                HasSubstr("lamina_replica_latency_seconds{service=\"web\",vm=\"web-1\",quantile=\"0.95\"} 0.03825\n"));
    EXPECT_THAT(text,
                HasSubstr("lamina_replica_latency_seconds{service=\"web\",vm=\"web-3\",quantile=\"0.99\"} 0.070125\n"));
    EXPECT_THAT(text,
                HasSubstr("lamina_replica_latency_seconds{service=\"web\",vm=\"web-2\",quantile=\"0.5\"} NaN\n"));
    EXPECT_THAT(text, HasSubstr("# TYPE lamina_replica_requests_total counter\n"));
    EXPECT_THAT(text, HasSubstr("lamina_replica_requests_total{service=\"web\",vm=\"web-1\"} 1000\n"));
    EXPECT_THAT(text, HasSubstr("lamina_replica_requests_total{service=\"api\",vm=\"api-1\"} 5000\n"));
    EXPECT_THAT(text, HasSubstr("# TYPE lamina_replica_outstanding gauge\n"));
    EXPECT_THAT(text, HasSubstr("lamina_replica_outstanding{service=\"web\",vm=\"web-3\"} 2\n"));
}

// The service families keep the format's rules too (and the VM ones stay).
TEST(Prometheus, GroupsServiceSamplesUnderTheirFamily) {
    const std::set<std::string> seen = check_families_grouped(render_prometheus(stats_with_services(), sample_board()));
    for (const char* name :
         {"lamina_vcpu_run_seconds_total", "lamina_service_latency_seconds", "lamina_service_requests_total",
          "lamina_service_errors_total", "lamina_service_request_rate", "lamina_service_replicas",
          "lamina_service_objective_seconds", "lamina_service_objective_met", "lamina_replica_latency_seconds",
          "lamina_replica_requests_total", "lamina_replica_outstanding"})
        EXPECT_EQ(seen.count(name), 1u) << name;
}

}  // namespace
}  // namespace lamina::cli
