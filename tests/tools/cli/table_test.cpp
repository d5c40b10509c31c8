#include "table.hpp"

#include <stdexcept>

#include <gtest/gtest.h>

#include "model.hpp"
#include "service_samples.hpp"
#include "views.hpp"

namespace lamina::cli {
namespace {

TEST(Table, AlignsColumnsWithoutTrailingBlanks) {
    Table table({{"NAME"}, {"COUNT", Align::kRight}, {"NOTE"}});
    table.add_row({"web", "7", "x"});
    table.add_row({"database", "1234", ""});
    EXPECT_EQ(table.render(),
              "NAME      COUNT  NOTE\n"
              "web           7  x\n"
              "database   1234\n");
}

TEST(Table, FillsMissingCellsAndRefusesExtraOnes) {
    Table table({{"A"}, {"B"}});
    table.add_row({"1"});
    EXPECT_EQ(table.render(), "A  B\n1\n");
    EXPECT_THROW(table.add_row({"1", "2", "3"}), std::invalid_argument);
}

TEST(Table, CountsUtf8CharactersNotBytes) {
    Table table({{"N"}, {"X"}});
    table.add_row({"é", "1"});
    EXPECT_EQ(table.render(), "N  X\né  1\n");
}

TEST(Table, EscapesControlCharacters) {
    Table table({{"NAME"}});
    table.add_row({"evil\x1b[2J"});
    EXPECT_EQ(table.render(), "NAME\nevil\\x1b[2J\n");
}

[[nodiscard]] VmInfo vm(std::string name, std::uint64_t id, std::string state) {
    VmInfo info;
    info.name = std::move(name);
    info.id = id;
    info.state = std::move(state);
    info.vcpus = 2;
    info.memory_mib = 256;
    info.weight = 256;
    return info;
}

TEST(Views, ListsVmsAndTemplates) {
    VmList list;
    list.vms.push_back(vm("web", 1, "running"));
    VmInfo db = vm("db", 12, "paused");
    db.cap_percent = 50;
    db.pinned_cpus = {0, 1};
    db.balloon_mib = 64;
    list.vms.push_back(db);
    list.templates = {"web", "db"};
    EXPECT_EQ(render_vm_list(list),
              "NAME  ID  STATE    VCPUS  MEMORY(MiB)  WEIGHT  CAP  PINNED  BALLOON  SERVICE  BE\n"
              "web    1  running      2          256     256    -  any           0\n"
              "db    12  paused       2          256     256  50%  0,1          64\n"
              "templates: web, db\n");
}

TEST(Views, ListsReplicasWithTheirServiceAndMarksBestEffortVms) {
    VmList list;
    VmInfo replica = vm("web-1", 3, "running");
    replica.service = "web";
    list.vms.push_back(replica);
    VmInfo batch = vm("batch", 4, "running");
    batch.best_effort = true;
    list.vms.push_back(batch);
    list.vms.push_back(vm("db", 5, "paused"));
    EXPECT_EQ(render_vm_list(list),
              "NAME   ID  STATE    VCPUS  MEMORY(MiB)  WEIGHT  CAP  PINNED  BALLOON  SERVICE  BE\n"
              "web-1   3  running      2          256     256    -  any           0  web\n"
              "batch   4  running      2          256     256    -  any           0           yes\n"
              "db      5  paused       2          256     256    -  any           0\n"
              "templates: none\n");
}

TEST(Views, ListsAnEmptyBoard) {
    EXPECT_EQ(render_vm_list({}),
              "NAME  ID  STATE  VCPUS  MEMORY(MiB)  WEIGHT  CAP  PINNED  BALLOON  SERVICE  BE\n"
              "templates: none\n");
}

TEST(Views, DescribesAVmInOneLine) {
    VmInfo one = vm("web", 3, "created");
    one.vcpus = 1;
    one.cap_percent = 150;
    one.pinned_cpus = {1};
    EXPECT_EQ(describe_vm(one), "web (id 3): created, 1 vCPU, 256 MiB, weight 256, cap 150%, pinned 1\n");
    one.balloon_mib = 64;
    EXPECT_EQ(describe_vm(one),
              "web (id 3): created, 1 vCPU, 256 MiB, weight 256, cap 150%, pinned 1, balloon 64 MiB\n");
    EXPECT_EQ(
        describe_vm(one, 12'345'678),
        "web (id 3): created, 1 vCPU, 256 MiB, weight 256, cap 150%, pinned 1, balloon 64 MiB; built in 12.3 ms\n");
}

TEST(Views, DescribesReplicasAndBestEffortVms) {
    VmInfo replica = vm("web-1", 3, "running");
    replica.service = "web";
    replica.best_effort = true;
    EXPECT_EQ(describe_vm(replica),
              "web-1 (id 3): running, 2 vCPUs, 256 MiB, weight 256, cap -, pinned any, best effort, replica of web\n");
}

TEST(Views, RendersTheBoard) {
    EXPECT_EQ(render_board({.cpus = 2, .free_mib = 512, .free_frames = 131072, .vmids_free = 253, .vm_slots_free = 5}),
              "cpus:          2\n"
              "free memory:   512 MiB (131072 frames)\n"
              "VMIDs free:    253\n"
              "VM slots free: 5\n");
}

TEST(Views, RendersStatisticsPerVmVcpuNicAndDisk) {
    const StatsSnapshot stats = parse_stats(json::parse(R"({
        "board": {"cpus": 2, "free_mib": 512, "vm_slots_free": 5},
        "vms": [{"name": "web", "state": "running", "uptime_ns": 1200000000,
                 "memory": {"assigned_mib": 256, "balloon_target_mib": 192, "ballooned_mib": 64},
                 "vcpus": [{"index": 0, "state": "running", "run_ns": 1000000000, "steal_ns": 250000000,
                            "exits": {"hypercall": 1, "wfi": 0, "mmio": 4}, "interrupts_injected": 9}],
                 "net": [{"rx_packets": 3, "rx_bytes": 300, "tx_packets": 2, "tx_bytes": 200, "drops": 1}],
                 "block": [{"reads": 5, "writes": 6, "read_bytes": 2560, "write_bytes": 3072, "flushes": 1,
                            "errors": 0}]}]})"));
    EXPECT_EQ(render_stats(stats),
              "board: 2 CPUs, 512 MiB free, 5 VM slots free\n"
              "\n"
              "VM   STATE    UPTIME(s)  RUN(s)  STEAL(s)  EXITS  MEMORY(MiB)  BALLOON TARGET(MiB)  BALLOONED(MiB)\n"
              "web  running      1.200   1.000     0.250      5          256                  192              64\n"
              "\n"
              "VM   VCPU  STATE    RUN(s)  STEAL(s)  EXITS  IRQS  EXITS BY REASON\n"
              "web     0  running   1.000     0.250      5     9  hypercall=1 mmio=4\n"
              "\n"
              "VM   NIC   RX PACKETS  RX BYTES  TX PACKETS  TX BYTES  DROPS\n"
              "web  nic0           3       300           2       200      1\n"
              "\n"
              "VM   DISK  READS  WRITES  READ BYTES  WRITE BYTES  FLUSHES  ERRORS\n"
              "web  vda       5       6        2560         3072        1       0\n");
}

TEST(Views, SaysSoWhenThereAreNoVms) {
    EXPECT_EQ(render_stats(parse_stats(json::parse(R"({"board": {"cpus": 4}, "vms": []})"))),
              "board: 4 CPUs, 0 MiB free, 0 VM slots free\nno VMs\n");
}

TEST(Table, PadsToMinimumWidthsAndRendersRowsAlone) {
    Table table({{"T", Align::kRight, 4}, {"NAME", Align::kLeft, 6}, {"X"}});
    table.add_row({"1.5", "web", "a"});
    EXPECT_EQ(table.render(),
              "   T  NAME    X\n"
              " 1.5  web     a\n");
    EXPECT_EQ(table.render_rows(), " 1.5  web     a\n");
    table.add_row({"12345.0", "long-name", "b"});  // wider cells still widen the column
    EXPECT_EQ(table.render_rows(),
              "    1.5  web        a\n"
              "12345.0  long-name  b\n");
}

TEST(Views, FormatsServiceCells) {
    const std::vector<ServiceInfo> services = parse_services(samples::sample_services_result());
    EXPECT_EQ(replicas_text(services[0]), "1/1..4 +1 booting -2 draining");
    EXPECT_EQ(replicas_text(services[1]), "1/0..1");
    EXPECT_EQ(replicas_text(services[2]), "0/0..2");
    EXPECT_EQ(objective_text(services[0].objective), "p95<=50ms/5s");
    EXPECT_EQ(objective_text({.percentile = 99, .latency_ms = 2.5, .window_s = 15}), "p99<=2.5ms/15s");
    EXPECT_EQ(status_text(services[0]), "scaling_up");
    EXPECT_EQ(status_text(services[1]), "cannot_meet_objective (at_max_replicas)");
    EXPECT_EQ(latency_text(services[0].window, &LatencyWindow::p95_ms), "40.2");
    EXPECT_EQ(latency_text(services[2].window, &LatencyWindow::p95_ms), "-");  // no request in the window
    EXPECT_EQ(rate_text(24), "24.0");
}

TEST(Views, RendersTheServicesTable) {
    EXPECT_EQ(render_services(parse_services(samples::sample_services_result())),
              "SERVICE  ADDRESS         REPLICAS                       P50(ms)  P95(ms)  P99(ms)  OBJECTIVE       "
              "RATE(req/s)  ERRORS  STATUS\n"
              "web      10.0.2.50:80    1/1..4 +1 booting -2 draining     12.1     40.2     55.0  p95<=50ms/5s    "
              "       24.0       3  scaling_up\n"
              "api      10.0.2.60:8080  1/0..1                             8.2     18.9     35.5  p99<=20ms/10s   "
              "       30.0       0  cannot_meet_objective (at_max_replicas)\n"
              "idle     10.0.2.70:80    0/0..2                               -        -        -  p90<=100ms/15s  "
              "        0.0       0  ok\n");
    EXPECT_EQ(render_services({}), "no services\n");
}

TEST(Views, RendersTheReplicasOfEachService) {
    EXPECT_EQ(render_replicas(parse_services(samples::sample_services_result())),
              "SERVICE  VM     ADDRESS     STATE     CONNECTIONS  OUTSTANDING  P50(ms)  P95(ms)  P99(ms)  "
              "RATE(req/s)\n"
              "web      web-1  10.0.2.100  ready               2            1     11.5     38.2     52.5         20.0\n"
              "web      web-2  10.0.2.101  booting             0            0        -        -        -          0.0\n"
              "web      web-3  10.0.2.102  draining            3            2     14.0     60.0     70.1          4.0\n"
              "web      web-4  10.0.2.103  stopping            0            0        -        -        -          0.0\n"
              "api      api-1  10.0.2.120  ready               4            2      8.2     18.9     35.5         30.0\n");
    EXPECT_EQ(render_replicas({}), "no replicas\n");
}

TEST(Views, ShowsOneServiceInDetail) {
    const std::vector<ServiceInfo> services = parse_services(samples::sample_services_result());
    EXPECT_EQ(render_service_details(services[1]),
              "service:   api\n"
              "address:   10.0.2.60:8080 on network lan\n"
              "replicas:  1 ready, 0 booting, 0 draining (min 0, max 1) from template api-replica, addresses from "
              "10.0.2.120/24\n"
              "objective: p99<=20ms/10s: 99 % of the requests of the last 10 s within 20 ms\n"
              "scaling:   up after 2 s over the objective, down after 15 s under half of it; drain grace 10 s\n"
              "status:    cannot_meet_objective (at_max_replicas)\n"
              "window:    300 requests, 30.0 req/s, p50 8.2 ms, p95 18.9 ms, p99 35.5 ms, 0 resets, 0 timeouts\n"
              "totals:    5000 requests, 4800 connections, 0 held, 0 resets, 0 timeouts\n"
              "\n"
              "SERVICE  VM     ADDRESS     STATE  CONNECTIONS  OUTSTANDING  P50(ms)  P95(ms)  P99(ms)  RATE(req/s)\n"
              "api      api-1  10.0.2.120  ready            4            2      8.2     18.9     35.5         30.0\n");
}

TEST(Views, DescribesAServiceInOneLine) {
    const std::vector<ServiceInfo> services = parse_services(samples::sample_services_result());
    EXPECT_EQ(describe_service(services[0]),
              "web: 10.0.2.50:80 on lan from template web-replica, replicas 1/1..4 +1 booting -2 draining, "
              "objective p95<=50ms/5s, scaling_up\n");
}

TEST(Views, RendersTheScalingLog) {
    const std::vector<ScalingLogEntry> entries = parse_scaling_log(samples::sample_scaling_log_result());
    EXPECT_EQ(render_scaling_log(entries),
              "TIME(s)  SERVICE  ACTION                 VM     DETAIL\n"
              "   81.2  web      scale_up               web-2  p95 82.130 ms > 50 ms for 2.0 s at 31.2 req/s: "
              "1 -> 2 replicas\n"
              "   90.0  api      cannot_meet_objective         at_max_replicas\n");
    EXPECT_EQ(render_scaling_log({}), "no scaling-log entries\n");
}

TEST(Views, FollowedScalingLogRowsLineUpFromOnePollToTheNext) {
    const std::vector<ScalingLogEntry> entries = parse_scaling_log(samples::sample_scaling_log_result());
    const std::string first = render_scaling_log_rows({entries[0]}, true);
    const std::string later = render_scaling_log_rows({entries[1]}, false);
    EXPECT_EQ(first,
              "  TIME(s)  SERVICE          ACTION                 VM                 DETAIL\n"
              "     81.2  web              scale_up               web-2              p95 82.130 ms > 50 ms for 2.0 s "
              "at 31.2 req/s: 1 -> 2 replicas\n");
    EXPECT_EQ(later, "     90.0  api              cannot_meet_objective                     at_max_replicas\n");
    EXPECT_EQ(render_scaling_log_rows({}, true),
              "  TIME(s)  SERVICE          ACTION                 VM                 DETAIL\n");
    EXPECT_EQ(render_scaling_log_rows({}, false), "");
}

TEST(Views, EscapesControlCharactersInServiceText) {
    ServiceInfo service;
    service.name = "w\x1b[2J";
    service.status = "ok";
    EXPECT_EQ(describe_service(service).find('\x1b'), std::string::npos);
    EXPECT_EQ(render_service_details(service).find('\x1b'), std::string::npos);
    ScalingLogEntry entry;
    entry.detail = "evil\x1b]0;title\x07";
    EXPECT_EQ(render_scaling_log({entry}).find('\x1b'), std::string::npos);
}

}  // namespace
}  // namespace lamina::cli
