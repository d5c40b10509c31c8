#include "table.hpp"

#include <stdexcept>

#include <gtest/gtest.h>

#include "model.hpp"
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
              "NAME  ID  STATE    VCPUS  MEMORY(MiB)  WEIGHT  CAP  PINNED  BALLOON\n"
              "web    1  running      2          256     256    -  any           0\n"
              "db    12  paused       2          256     256  50%  0,1          64\n"
              "templates: web, db\n");
}

TEST(Views, ListsAnEmptyBoard) {
    EXPECT_EQ(render_vm_list({}),
              "NAME  ID  STATE  VCPUS  MEMORY(MiB)  WEIGHT  CAP  PINNED  BALLOON\n"
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

}  // namespace
}  // namespace lamina::cli
