#include "protocol.hpp"

#include <stdexcept>

#include <gtest/gtest.h>

#include "json_fields.hpp"
#include "requests.hpp"

namespace lamina::cli {
namespace {

TEST(Protocol, RequestLinesCarryIdAndOp) {
    EXPECT_EQ(make_request_line(1, "hello", {{"version", 1}}), R"({"id":1,"op":"hello","version":1})");
    EXPECT_EQ(make_request_line(7, "list", json::object()), R"({"id":7,"op":"list"})");
}

TEST(Protocol, RequestLinesSurviveInvalidUtf8) {
    EXPECT_EQ(make_request_line(2, "console_input", {{"data", "a\xff"}}),
              "{\"id\":2,\"op\":\"console_input\",\"data\":\"a\xef\xbf\xbd\"}");
}

TEST(Protocol, ClassifiesRepliesEventsAndOthers) {
    EXPECT_EQ(classify_line(R"({"id": 4, "ok": true, "result": {}})", 4).kind, LineKind::kAwaitedReply);
    EXPECT_EQ(classify_line(R"({"id": 3, "ok": true, "result": {}})", 4).kind, LineKind::kOther);
    EXPECT_EQ(classify_line(R"({"event": "console", "vm": "web", "data": "x"})", 4).kind, LineKind::kEvent);
    EXPECT_EQ(classify_line(R"({"id": "4", "ok": true, "result": {}})", 4).kind, LineKind::kOther);
    EXPECT_EQ(classify_line(R"({"id": null, "ok": true, "result": {}})", 4).kind, LineKind::kOther);
}

TEST(Protocol, AFailureWithoutIdAnswersTheOutstandingRequest) {
    const IncomingLine line =
        classify_line(R"({"id": null, "ok": false, "error": {"code": "line_too_long", "message": "too long"}})", 9);
    EXPECT_EQ(line.kind, LineKind::kAwaitedReply);
    try {
        (void)result_of(line.message);
        FAIL();
    } catch (const LaminaError& error) {
        EXPECT_EQ(error.code(), "line_too_long");
        EXPECT_EQ(error.message(), "too long");
    }
}

TEST(Protocol, RejectsLinesThatAreNotJsonObjects) {
    for (const char* line : {"not json", "[1, 2]", "42", "{\"id\": 1", "\"text\""})
        EXPECT_THROW((void)classify_line(line, 1), MalformedReply) << line;
}

TEST(Protocol, ExtractsTheResultOrTheError) {
    EXPECT_EQ(result_of(json::parse(R"({"id": 1, "ok": true, "result": {"a": 1}})"))["a"], 1);
    EXPECT_THROW((void)result_of(json::parse(R"({"id": 1, "ok": false, "error": {"code": "unknown_vm"}})")),
                 LaminaError);
    for (const char* reply : {R"({"id": 1})", R"({"id": 1, "ok": "yes"})", R"({"id": 1, "ok": true})",
                              R"({"id": 1, "ok": true, "result": []})", R"({"id": 1, "ok": false, "error": 5})"})
        EXPECT_THROW((void)result_of(json::parse(reply)), MalformedReply) << reply;
}

TEST(Requests, CreateSendsOnlyWhatWasGiven) {
    CreateOptions options;
    options.template_name = "web";
    EXPECT_EQ(create_arguments(options), json::parse(R"({"template": "web"})"));
    options.memory_mib = 128;
    options.paused = true;
    options.pinned_cpus = std::vector<unsigned>{};
    EXPECT_EQ(create_arguments(options),
              json::parse(R"({"template": "web", "memory_mib": 128, "pinned_cpus": [], "start": false})"));
}

TEST(Requests, SetSendsTheChangedSettings) {
    SetOptions options;
    options.vm = "db";
    EXPECT_FALSE(options.changes_anything());
    options.pinned_cpus = std::vector<unsigned>{};
    options.cap_percent = 0;
    EXPECT_TRUE(options.changes_anything());
    EXPECT_EQ(set_arguments(options), json::parse(R"({"vm": "db", "cap_percent": 0, "pinned_cpus": []})"));
}

TEST(Requests, CreateAndSetPassBestEffort) {
    CreateOptions create;
    create.template_name = "batch";
    create.best_effort = true;
    EXPECT_EQ(create_arguments(create), json::parse(R"({"template": "batch", "best_effort": true})"));
    SetOptions set;
    set.vm = "batch";
    set.best_effort = false;
    EXPECT_TRUE(set.changes_anything());
    EXPECT_EQ(set_arguments(set), json::parse(R"({"vm": "batch", "best_effort": false})"));
}

TEST(Requests, ServiceCreateNestsTheObjective) {
    ServiceCreateOptions options;
    options.name = "web";
    options.template_name = "web-replica";
    options.network = "lan";
    options.address = "10.0.2.50:80";
    options.replica_addresses = "10.0.2.100/24";
    options.percentile = 95;
    options.latency_ms = 50;
    options.window_s = 5;
    options.min_replicas = 1;
    options.max_replicas = 4;
    EXPECT_EQ(service_create_arguments(options), json::parse(R"({"name": "web", "template": "web-replica",
        "network": "lan", "address": "10.0.2.50:80", "replica_addresses": "10.0.2.100/24",
        "objective": {"percentile": 95, "latency_ms": 50, "window_s": 5}, "min_replicas": 1, "max_replicas": 4})"));
    options.scale_up_window_s = 3;
    options.scale_down_window_s = 30;
    options.drain_grace_s = 5;
    const json arguments = service_create_arguments(options);
    EXPECT_EQ(arguments["scale_up_window_s"], 3);
    EXPECT_EQ(arguments["scale_down_window_s"], 30);
    EXPECT_EQ(arguments["drain_grace_s"], 5);
}

TEST(Requests, ServiceSetSendsWhatChangedAndTheObjectiveWhole) {
    ServiceSetOptions options;
    options.name = "web";
    EXPECT_FALSE(options.changes_anything());
    options.max_replicas = 6;
    options.drain_grace_s = 20;
    EXPECT_TRUE(options.changes_anything());
    EXPECT_FALSE(options.changes_objective());
    EXPECT_EQ(service_set_arguments(options),
              json::parse(R"({"service": "web", "max_replicas": 6, "drain_grace_s": 20})"));

    options = {};
    options.name = "web";
    options.latency_ms = 80;
    EXPECT_TRUE(options.changes_objective());
    EXPECT_FALSE(options.objective_complete());
    EXPECT_THROW((void)service_set_arguments(options), std::invalid_argument);
    const Objective current{.percentile = 95, .latency_ms = 50, .window_s = 5};
    EXPECT_EQ(service_set_arguments(options, current),
              json::parse(R"({"service": "web", "objective": {"percentile": 95, "latency_ms": 80, "window_s": 5}})"));

    options.percentile = 99;
    options.window_s = 10;
    EXPECT_TRUE(options.objective_complete());
    EXPECT_EQ(service_set_arguments(options),
              json::parse(R"({"service": "web", "objective": {"percentile": 99, "latency_ms": 80, "window_s": 10}})"));
}

TEST(Requests, ScalingLogAsksForOneServiceAndNewerEntries) {
    EXPECT_EQ(scaling_log_arguments({}, {}), json::object());
    EXPECT_EQ(scaling_log_arguments("web", {}), json::parse(R"({"service": "web"})"));
    EXPECT_EQ(scaling_log_arguments({}, 7), json::parse(R"({"since": 7})"));
    EXPECT_EQ(scaling_log_arguments("api", 0), json::parse(R"({"service": "api", "since": 0})"));
}

}  // namespace
}  // namespace lamina::cli
