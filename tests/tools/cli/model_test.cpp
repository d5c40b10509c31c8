#include "model.hpp"

#include <gtest/gtest.h>

#include "json_fields.hpp"

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

}  // namespace
}  // namespace lamina::cli
