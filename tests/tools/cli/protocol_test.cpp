#include "protocol.hpp"

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

}  // namespace
}  // namespace lamina::cli
