#include "top_view.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "json_fields.hpp"

namespace lamina::cli {
namespace {

using ::testing::HasSubstr;

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

}  // namespace
}  // namespace lamina::cli
