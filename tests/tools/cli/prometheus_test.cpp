#include "prometheus.hpp"

#include <set>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "json_fields.hpp"

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
// every sample line belongs to the family announced last.
TEST(Prometheus, GroupsSamplesUnderTheirFamily) {
    std::istringstream lines(render_prometheus(sample_stats(), sample_board()));
    std::set<std::string> seen;
    std::string line;
    std::string current;
    while (std::getline(lines, line)) {
        if (line.rfind("# HELP ", 0) == 0) {
            current = line.substr(7, line.find(' ', 7) - 7);
            EXPECT_TRUE(seen.insert(current).second) << "family twice: " << current;
            ASSERT_TRUE(std::getline(lines, line));
            EXPECT_EQ(line.rfind("# TYPE " + current + " ", 0), 0u) << line;
            continue;
        }
        ASSERT_FALSE(current.empty());
        const std::string name = line.substr(0, line.find_first_of("{ "));
        EXPECT_EQ(name, current) << line;
    }
    EXPECT_GE(seen.size(), 20u);
}

TEST(Prometheus, TypesCountersAndGauges) {
    const std::string text = render_prometheus(sample_stats(), sample_board());
    EXPECT_THAT(text, HasSubstr("# TYPE lamina_vcpu_run_seconds_total counter\n"));
    EXPECT_THAT(text, HasSubstr("# TYPE lamina_vm_state gauge\n"));
    EXPECT_THAT(text, HasSubstr("# TYPE lamina_board_free_memory_bytes gauge\n"));
    EXPECT_THAT(text, Not(HasSubstr("# TYPE lamina_vm_memory_assigned_bytes counter")));
}

}  // namespace
}  // namespace lamina::cli
