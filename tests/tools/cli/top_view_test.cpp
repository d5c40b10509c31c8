#include "top_view.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "json_fields.hpp"
#include "service_samples.hpp"

namespace lamina::cli {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;

// One running VM with two vCPUs: `seconds` of uptime at the given load.
[[nodiscard]] StatsSnapshot snapshot(std::uint64_t seconds, std::uint64_t run_ms_per_second, std::string name = "web") {
    const std::uint64_t run_ns = seconds * run_ms_per_second * 1'000'000;
    return parse_stats(json{{"board", {{"cpus", 2}, {"free_mib", 512}, {"vm_slots_free", 6}}},
                            {"vms",
                             {{{"name", name},
                               {"state", "running"},
                               {"uptime_ns", seconds * 1'000'000'000},
                               {"memory", {{"assigned_mib", 256}}},
                               {"vcpus",
                                {{{"run_ns", run_ns}, {"steal_ns", run_ns / 5}, {"exits", {{"mmio", seconds * 100}}}},
                                 {{"run_ns", run_ns}, {"steal_ns", 0}, {"exits", {{"wfi", seconds * 50}}}}}},
                               {"net", {{{"rx_bytes", seconds * 2048}, {"tx_bytes", seconds * 1024}}}},
                               {"block", {{{"read_bytes", seconds * 4096}, {"write_bytes", 0}}}}}}}});
}

TEST(TopView, FirstFrameShowsAveragesSinceTheVmStarted) {
    const StatsSnapshot now = snapshot(10, 500);
    const std::vector<VmRates> rates = compute_rates(nullptr, now);
    ASSERT_EQ(rates.size(), 1u);
    EXPECT_DOUBLE_EQ(rates[0].cpu_percent, 100.0);  // two vCPUs at 50 %
    EXPECT_DOUBLE_EQ(rates[0].steal_percent, 10.0);
    EXPECT_DOUBLE_EQ(rates[0].exits_per_second, 150.0);
    EXPECT_DOUBLE_EQ(rates[0].rx_bytes_per_second, 2048.0);
    EXPECT_DOUBLE_EQ(rates[0].tx_bytes_per_second, 1024.0);
    EXPECT_DOUBLE_EQ(rates[0].read_bytes_per_second, 4096.0);
    EXPECT_EQ(rates[0].memory_mib, 256u);
}

TEST(TopView, LaterFramesUseTheDifferenceBetweenSamples) {
    const StatsSnapshot before = snapshot(10, 250);  // 2.5 s run per vCPU
    const StatsSnapshot after = snapshot(20, 500);   // 10 s per vCPU: 7.5 s of the last 10 s, 75 % each
    const std::vector<VmRates> rates = compute_rates(&before, after);
    EXPECT_DOUBLE_EQ(rates[0].cpu_percent, 150.0);
}

TEST(TopView, ARestartedVmStartsOverFromZero) {
    const StatsSnapshot before = snapshot(100, 500);
    const StatsSnapshot after = snapshot(4, 250);  // same name, lower uptime: a new VM
    EXPECT_DOUBLE_EQ(compute_rates(&before, after)[0].cpu_percent, 50.0);
}

TEST(TopView, ANewVmAndANotYetStartedOneHaveSensibleRates) {
    const StatsSnapshot before = snapshot(10, 500, "other");
    EXPECT_DOUBLE_EQ(compute_rates(&before, snapshot(10, 500))[0].cpu_percent, 100.0);
    EXPECT_DOUBLE_EQ(compute_rates(nullptr, snapshot(0, 0))[0].cpu_percent, 0.0);
    EXPECT_DOUBLE_EQ(compute_rates(&before, snapshot(10, 500, "other"))[0].cpu_percent, 0.0);  // no time passed
}

TEST(TopView, RendersAFrame) {
    const StatsSnapshot now = snapshot(10, 500);
    const std::string frame = render_top_frame(now, compute_rates(nullptr, now));
    EXPECT_THAT(frame, HasSubstr("lamina top: 2 CPUs, 512 MiB free, 6 VM slots free, 1 VMs\n\n"));
    EXPECT_THAT(frame, HasSubstr("NAME  STATE     CPU%  STEAL%  EXITS/s  MEM(MiB)     NET RX     NET TX  DISK READ  "
                                 "DISK WRITE\n"));
    EXPECT_THAT(frame, HasSubstr("web   running  100.0    10.0      150       256  2.0 KiB/s  1.0 KiB/s  4.0 KiB/s  "
                                 "     0 B/s\n"));
    EXPECT_EQ(frame.find('\x1b'), std::string::npos);  // clearing the screen is the caller's business
}

[[nodiscard]] ScalingLogEntry entry(std::uint64_t seq) {
    return {.seq = seq, .time_ms = seq * 1000, .service = "web", .action = "scale_up", .vm = "web-1", .detail = ""};
}

[[nodiscard]] std::vector<std::uint64_t> seqs(const std::vector<ScalingLogEntry>& entries) {
    std::vector<std::uint64_t> all;
    for (const ScalingLogEntry& kept : entries) all.push_back(kept.seq);
    return all;
}

TEST(TopView, KeepsTheLatestScalingLogEntries) {
    std::vector<ScalingLogEntry> kept;
    keep_latest_entries(kept, {entry(1), entry(2), entry(3), entry(4), entry(5), entry(6), entry(7)});
    EXPECT_EQ(seqs(kept), (std::vector<std::uint64_t>{3, 4, 5, 6, 7}));
    keep_latest_entries(kept, {});
    EXPECT_EQ(seqs(kept), (std::vector<std::uint64_t>{3, 4, 5, 6, 7}));
    keep_latest_entries(kept, {entry(7), entry(8)});  // one already kept
    EXPECT_EQ(seqs(kept), (std::vector<std::uint64_t>{4, 5, 6, 7, 8}));
    keep_latest_entries(kept, {entry(9)}, 2);
    EXPECT_EQ(seqs(kept), (std::vector<std::uint64_t>{8, 9}));
}

TEST(TopView, AFrameFromALaminaWithoutServicesHasNoServiceSection) {
    const StatsSnapshot now = snapshot(10, 500);
    ASSERT_FALSE(now.services.has_value());
    const std::string frame = render_top_frame(now, compute_rates(nullptr, now));
    EXPECT_THAT(frame, Not(HasSubstr("SERVICE")));
    EXPECT_THAT(frame, EndsWith("     0 B/s\n"));  // the VM table is last
    // Services present but none declared, and no decision yet: nothing either.
    StatsSnapshot none = now;
    none.services.emplace();
    EXPECT_EQ(render_top_frame(none, compute_rates(nullptr, none)), frame);
}

TEST(TopView, ShowsServicesTheirReplicasAndTheLatestDecisions) {
    StatsSnapshot now = snapshot(10, 500);
    now.services = parse_services(samples::sample_services_result());
    const std::string frame = render_top_frame(now, compute_rates(nullptr, now),
                                               parse_scaling_log(samples::sample_scaling_log_result()));
    const std::string vm_row =
        "web   running  100.0    10.0      150       256  2.0 KiB/s  1.0 KiB/s  4.0 KiB/s       0 B/s\n";
    EXPECT_THAT(frame, HasSubstr(vm_row +
                                 "\n"
                                 "SERVICE  READY  BOOT  DRAIN  CONN  OUT  P50(ms)  P95(ms)  P99(ms)  REQ/s  ERRORS  "
                                 "OBJECTIVE       STATUS\n"
                                 "web          1     1      2     5    3     12.1     40.2     55.0   24.0       3  "
                                 "p95<=50ms/5s    scaling_up\n"
                                 "  web-1                         2    1     11.5     38.2     52.5   20.0       1  "
                                 "                ready\n"
                                 "  web-2                         0    0        -        -        -    0.0       0  "
                                 "                booting\n"
                                 "  web-3                         3    2     14.0     60.0     70.1    4.0       0  "
                                 "                draining\n"
                                 "  web-4                         0    0        -        -        -    0.0       0  "
                                 "                stopping\n"
                                 "api          1     0      0     4    2      8.2     18.9     35.5   30.0       0  "
                                 "p99<=20ms/10s   cannot_meet_objective (at_max_replicas)\n"
                                 "  api-1                         4    2      8.2     18.9     35.5   30.0       0  "
                                 "                ready\n"
                                 "idle         0     0      0     0    0        -        -        -    0.0       0  "
                                 "p90<=100ms/15s  ok\n"
                                 "\n"
                                 "TIME(s)  SERVICE  ACTION                 VM     DETAIL\n"));
    EXPECT_THAT(frame, EndsWith("   90.0  api      cannot_meet_objective         at_max_replicas\n"));
}

TEST(TopView, ShowsTheLogEvenWithoutServices) {
    StatsSnapshot now = snapshot(10, 500);
    now.services.emplace();  // all destroyed; their decisions remain
    const std::string frame = render_top_frame(now, compute_rates(nullptr, now),
                                               parse_scaling_log(samples::sample_scaling_log_result()));
    EXPECT_THAT(frame, Not(HasSubstr("READY")));
    EXPECT_THAT(frame, HasSubstr("\n\nTIME(s)  SERVICE  ACTION"));
}

}  // namespace
}  // namespace lamina::cli
