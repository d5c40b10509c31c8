#include "model.hpp"

#include <gtest/gtest.h>

#include "json_fields.hpp"
#include "service_samples.hpp"

namespace lamina::cli {
namespace {

TEST(Model, ParsesTheDocumentedVmObject) {
    const VmInfo vm = parse_vm(json::parse(R"({"name": "web", "id": 3, "state": "running",
        "vcpus": 2, "memory_mib": 256, "weight": 256, "cap_percent": 0, "pinned_cpus": [0, 1], "balloon_mib": 0})"));
    EXPECT_EQ(vm.name, "web");
    EXPECT_EQ(vm.id, 3u);
    EXPECT_EQ(vm.state, "running");
    EXPECT_EQ(vm.vcpus, 2u);
    EXPECT_EQ(vm.memory_mib, 256u);
    EXPECT_EQ(vm.pinned_cpus, (std::vector<unsigned>{0, 1}));
}

TEST(Model, ReadsMissingCountersAsZero) {
    const StatsSnapshot stats = parse_stats(json::parse(R"({"vms": [{"name": "web", "vcpus": [{}], "net": [{}]}]})"));
    ASSERT_EQ(stats.vms.size(), 1u);
    EXPECT_EQ(stats.vms[0].state, "unknown");
    EXPECT_EQ(stats.vms[0].vcpus[0].run_ns, 0u);
    EXPECT_EQ(stats.vms[0].vcpus[0].index, 0u);
    EXPECT_EQ(stats.vms[0].nics[0].name, "nic0");
    EXPECT_EQ(stats.board.cpus, 0u);
}

TEST(Model, NamesDevicesLikeTheGuestDoes) {
    const StatsSnapshot stats = parse_stats(json::parse(R"({"vms": [{"name": "web",
        "net": [{}, {}], "block": [{}, {}, {"name": "scratch"}]}]})"));
    EXPECT_EQ(stats.vms[0].nics[1].name, "nic1");
    EXPECT_EQ(stats.vms[0].disks[0].name, "vda");
    EXPECT_EQ(stats.vms[0].disks[1].name, "vdb");
    EXPECT_EQ(stats.vms[0].disks[2].name, "scratch");
}

TEST(Model, SumsAVmsCounters) {
    const StatsSnapshot stats = parse_stats(json::parse(R"({"vms": [{"name": "web",
        "vcpus": [{"run_ns": 5, "steal_ns": 1, "exits": {"wfi": 2, "mmio": 3}},
                  {"run_ns": 7, "steal_ns": 2, "exits": {"wfi": 1}}],
        "net": [{"rx_bytes": 10, "tx_bytes": 20}, {"rx_bytes": 1, "tx_bytes": 2}],
        "block": [{"read_bytes": 512, "write_bytes": 1024}]}]})"));
    const VmTotals totals = totals_of(stats.vms[0]);
    EXPECT_EQ(totals.run_ns, 12u);
    EXPECT_EQ(totals.steal_ns, 3u);
    EXPECT_EQ(totals.exits, 6u);
    EXPECT_EQ(totals.rx_bytes, 11u);
    EXPECT_EQ(totals.tx_bytes, 22u);
    EXPECT_EQ(totals.read_bytes, 512u);
    EXPECT_EQ(totals.write_bytes, 1024u);
}

// Each of these is a reply Lamina should never send: the CLI must say so
// (MalformedReply) rather than crash or print nonsense.
TEST(Model, RejectsFieldsOfTheWrongType) {
    for (const char* list :
         {R"({"vms": 5})", R"({"vms": [5]})", R"({"vms": [{"id": 1}]})",
          R"({"vms": [{"name": "web", "vcpus": "two"}]})", R"({"vms": [{"name": "web", "id": -1}]})",
          R"({"vms": [{"name": "web", "pinned_cpus": ["0"]}]})", R"({"vms": [], "templates": [1]})", R"([])"})
        EXPECT_THROW((void)parse_vm_list(json::parse(list)), MalformedReply) << list;
    for (const char* stats : {R"({"board": 1})", R"({"vms": [{"name": "web", "memory": 256}]})",
                              R"({"vms": [{"name": "web", "vcpus": [{"exits": {"wfi": 1.5}}]}]})",
                              R"({"vms": [{"name": "web", "vcpus": [{"run_ns": "1"}]}]})",
                              R"({"vms": [{"name": "web", "net": {}}]})", R"({"vms": [{"name": 7}]})"})
        EXPECT_THROW((void)parse_stats(json::parse(stats)), MalformedReply) << stats;
}

TEST(Model, NamesTheFieldThatWasWrong) {
    try {
        (void)parse_vm(json::parse(R"({"name": "web", "memory_mib": "lots"})"));
        FAIL();
    } catch (const MalformedReply& error) {
        EXPECT_STREQ(error.what(), R"("memory_mib" is "lots", not a non-negative integer)");
    }
}

TEST(Model, ReadsWhetherAVmIsAReplicaOrBestEffort) {
    const VmInfo replica = parse_vm(json::parse(R"({"name": "web-1", "service": "web", "best_effort": false})"));
    EXPECT_EQ(replica.service, "web");
    EXPECT_FALSE(replica.best_effort);
    const VmInfo batch = parse_vm(json::parse(R"({"name": "batch", "best_effort": true})"));
    EXPECT_EQ(batch.service, "");
    EXPECT_TRUE(batch.best_effort);
    const VmInfo older = parse_vm(json::parse(R"({"name": "web"})"));  // a Lamina without services
    EXPECT_EQ(older.service, "");
    EXPECT_FALSE(older.best_effort);
    EXPECT_THROW((void)parse_vm(json::parse(R"({"name": "web", "best_effort": 1})")), MalformedReply);
    EXPECT_THROW((void)parse_vm(json::parse(R"({"name": "web", "service": 7})")), MalformedReply);
}

TEST(Model, ParsesTheDocumentedServiceObject) {
    const std::vector<ServiceInfo> services = parse_services(samples::sample_services_result());
    ASSERT_EQ(services.size(), 3u);
    const ServiceInfo& web = services[0];
    EXPECT_EQ(web.name, "web");
    EXPECT_EQ(web.template_name, "web-replica");
    EXPECT_EQ(web.network, "lan");
    EXPECT_EQ(web.address, "10.0.2.50:80");
    EXPECT_EQ(web.replica_addresses, "10.0.2.100/24");
    EXPECT_EQ(web.objective.percentile, 95u);
    EXPECT_DOUBLE_EQ(web.objective.latency_ms, 50.0);
    EXPECT_EQ(web.objective.window_s, 5u);
    EXPECT_EQ(web.min_replicas, 1u);
    EXPECT_EQ(web.max_replicas, 4u);
    EXPECT_EQ(web.scale_up_window_s, 2u);
    EXPECT_EQ(web.scale_down_window_s, 15u);
    EXPECT_EQ(web.drain_grace_s, 10u);
    EXPECT_EQ(web.status, "scaling_up");
    EXPECT_EQ(web.reason, "");
    EXPECT_EQ(web.window.requests, 120u);
    EXPECT_DOUBLE_EQ(web.window.rate_per_s, 24.0);
    EXPECT_DOUBLE_EQ(web.window.p50_ms, 12.1);
    EXPECT_DOUBLE_EQ(web.window.p95_ms, 40.2);
    EXPECT_DOUBLE_EQ(web.window.p99_ms, 55.0);
    EXPECT_EQ(web.window.errors(), 3u);
    EXPECT_EQ(web.totals.requests, 1234u);
    EXPECT_EQ(web.totals.connections, 1200u);
    EXPECT_EQ(web.totals.held, 1u);
    EXPECT_EQ(web.totals.resets, 3u);
    EXPECT_EQ(web.totals.timeouts, 4u);
    ASSERT_EQ(web.replicas.size(), 4u);
    EXPECT_EQ(web.replicas[0].vm, "web-1");
    EXPECT_EQ(web.replicas[0].address, "10.0.2.100");
    EXPECT_EQ(web.replicas[0].state, "ready");
    EXPECT_EQ(web.replicas[0].connections, 2u);
    EXPECT_EQ(web.replicas[0].outstanding, 1u);
    EXPECT_DOUBLE_EQ(web.replicas[0].window.p95_ms, 38.25);
    EXPECT_EQ(web.replicas[0].totals.requests, 1000u);
    EXPECT_EQ(web.replicas[3].window.requests, 0u);  // absent figures read as 0
    EXPECT_EQ(services[1].reason, "at_max_replicas");
}

TEST(Model, CountsReplicasByStateWithStoppingAsDraining) {
    const std::vector<ServiceInfo> services = parse_services(samples::sample_services_result());
    const ReplicaCounts web = services[0].replica_counts();
    EXPECT_EQ(web.ready, 1u);
    EXPECT_EQ(web.booting, 1u);
    EXPECT_EQ(web.draining, 2u);
    const ReplicaCounts idle = services[2].replica_counts();
    EXPECT_EQ(idle.ready + idle.booting + idle.draining, 0u);
}

TEST(Model, JudgesTheObjectiveAtItsPercentile) {
    ServiceInfo service;
    service.status = "ok";
    service.objective = {.percentile = 95, .latency_ms = 50, .window_s = 5};
    service.window = {.requests = 10, .p50_ms = 10, .p95_ms = 50, .p99_ms = 80};
    EXPECT_TRUE(service.objective_met());  // at most the objective
    service.window.p95_ms = 50.001;
    EXPECT_FALSE(service.objective_met());
    service.objective.percentile = 99;
    service.objective.latency_ms = 100;
    EXPECT_DOUBLE_EQ(service.window_latency_at_objective_ms(), 80.0);
    EXPECT_TRUE(service.objective_met());
    service.objective.percentile = 90;  // judged by p95, the next one Lamina reports
    EXPECT_DOUBLE_EQ(service.window_latency_at_objective_ms(), 50.001);
    service.objective.percentile = 50;
    EXPECT_DOUBLE_EQ(service.window_latency_at_objective_ms(), 10.0);
    service.status = "cannot_meet_objective";
    EXPECT_FALSE(service.objective_met());
    service.status = "ok";
    service.window = {.requests = 0};  // nothing to judge
    service.objective.latency_ms = 1;
    EXPECT_TRUE(service.objective_met());
}

TEST(Model, StatsHaveServicesOnlyWhenLaminaSendsThem) {
    EXPECT_FALSE(parse_stats(json::parse(R"({"vms": []})")).services.has_value());
    const StatsSnapshot none = parse_stats(json::parse(R"({"vms": [], "services": []})"));
    ASSERT_TRUE(none.services.has_value());
    EXPECT_TRUE(none.services->empty());
    json stats = samples::sample_services_result();
    stats["vms"] = json::array();
    const StatsSnapshot some = parse_stats(stats);
    ASSERT_TRUE(some.services.has_value());
    EXPECT_EQ(some.services->size(), 3u);
}

TEST(Model, ParsesTheScalingLog) {
    const std::vector<ScalingLogEntry> entries = parse_scaling_log(samples::sample_scaling_log_result());
    ASSERT_EQ(entries.size(), 2u);
    EXPECT_EQ(entries[0].seq, 7u);
    EXPECT_EQ(entries[0].time_ms, 81234u);
    EXPECT_EQ(entries[0].service, "web");
    EXPECT_EQ(entries[0].action, "scale_up");
    EXPECT_EQ(entries[0].vm, "web-2");
    EXPECT_EQ(entries[0].detail, "p95 82.130 ms > 50 ms for 2.0 s at 31.2 req/s: 1 -> 2 replicas");
    EXPECT_EQ(entries[1].vm, "");
    EXPECT_TRUE(parse_scaling_log(json::parse(R"({"entries": []})")).empty());
}

TEST(Model, RejectsServicesAndLogEntriesOfTheWrongShape) {
    for (const char* services :
         {R"({"services": 5})", R"({"services": [5]})", R"({"services": [{"address": "x"}]})",
          R"({"services": [{"name": "web", "objective": {"latency_ms": "fast"}}]})",
          R"({"services": [{"name": "web", "window": {"p95_ms": "40"}}]})",
          R"({"services": [{"name": "web", "replicas": [{"state": "ready"}]}]})",
          R"({"services": [{"name": "web", "replicas": [{"vm": "web-1", "connections": -1}]}]})", R"([])"})
        EXPECT_THROW((void)parse_services(json::parse(services)), MalformedReply) << services;
    EXPECT_THROW((void)parse_stats(json::parse(R"({"vms": [], "services": {}})")), MalformedReply);
    for (const char* log : {R"({"entries": 1})", R"({"entries": [{"time_ms": 1}]})",
                            R"({"entries": [{"seq": "1"}]})", R"({"entries": [{"seq": 1, "detail": 2}]})"})
        EXPECT_THROW((void)parse_scaling_log(json::parse(log)), MalformedReply) << log;
}

}  // namespace
}  // namespace lamina::cli
