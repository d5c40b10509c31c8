// Management requests (docs/management-api.md): what decode_request accepts
// and the error code of every refusal.
#include "management/request.hpp"

#include <gtest/gtest.h>

#include <string>

namespace lamina::management {
namespace {

// Parses and decodes `text`; the document lives as long as the test.
class RequestTest : public ::testing::Test {
protected:
    DecodedRequest decode(std::string text) {
        text_ = std::move(text);
        const json::ParseResult parsed = document_.parse({text_.data(), text_.size()});
        EXPECT_TRUE(parsed.ok()) << parsed.error().message;
        return decode_request(*parsed);
    }
    void expect_error(std::string text, std::string_view code) {
        const DecodedRequest decoded = decode(std::move(text));
        EXPECT_FALSE(decoded.request.has_value());
        EXPECT_EQ(std::string_view{decoded.error.code}, code) << decoded.error.message;
    }

private:
    std::string text_;
    json::JsonDocument<128> document_;
};

TEST_F(RequestTest, HelloWithIdAndVersion) {
    const DecodedRequest decoded = decode(R"({"id": 7, "op": "hello", "version": 1})");
    ASSERT_TRUE(decoded.request);
    EXPECT_EQ(decoded.request->operation, Operation::hello);
    EXPECT_EQ(decoded.id, 7);
}

TEST_F(RequestTest, IdIsOptional) {
    const DecodedRequest decoded = decode(R"({"op": "list"})");
    ASSERT_TRUE(decoded.request);
    EXPECT_FALSE(decoded.id);
}

TEST_F(RequestTest, CreateTakesEveryOverride) {
    const DecodedRequest decoded = decode(
        R"({"op": "create", "template": "web", "name": "web-2", "memory_mib": 128, "vcpus": 2, "cmdline": "quiet",
            "weight": 512, "cap_percent": 50, "pinned_cpus": [0, 3], "start": false})");
    ASSERT_TRUE(decoded.request) << decoded.error.message;
    const Request& request = *decoded.request;
    EXPECT_EQ(request.vm, "web");
    EXPECT_EQ(request.new_name, "web-2");
    EXPECT_EQ(request.memory_mib, 128u);
    EXPECT_EQ(request.vcpus, 2u);
    EXPECT_EQ(request.cmdline, "quiet");
    EXPECT_EQ(request.scheduling.weight, 512u);
    EXPECT_EQ(request.scheduling.cap_percent, 50u);
    EXPECT_EQ(request.scheduling.pinned_cpu_mask, 0b1001u);
    EXPECT_FALSE(request.start);
}

TEST_F(RequestTest, EmptyPinListMeansAnyCpu) {
    const DecodedRequest decoded = decode(R"({"op": "set", "vm": "web", "pinned_cpus": []})");
    ASSERT_TRUE(decoded.request);
    EXPECT_EQ(decoded.request->scheduling.pinned_cpu_mask, 0u);
}

TEST_F(RequestTest, BalloonAndConsoleInput) {
    DecodedRequest decoded = decode(R"({"op": "balloon", "vm": "db", "target_mib": 64})");
    ASSERT_TRUE(decoded.request);
    EXPECT_EQ(decoded.request->target_mib, 64u);
    decoded = decode(R"({"op": "console_input", "vm": "db", "data": "ls\n"})");
    ASSERT_TRUE(decoded.request);
    EXPECT_EQ(decoded.request->data, "ls\n");
}

TEST_F(RequestTest, MalformedShapes) {
    expect_error(R"([1, 2])", code::kMalformed);
    expect_error(R"({"id": "seven", "op": "list"})", code::kMalformed);
    expect_error(R"({"id": 1})", code::kMalformed);
    expect_error(R"({"op": 3})", code::kMalformed);
    expect_error(R"({"op": "list", "vm": "x"})", code::kMalformed);  // a field list does not take
    expect_error(R"({"op": "pause"})", code::kMalformed);            // the VM is missing
    expect_error(R"({"op": "pause", "vm": 5})", code::kMalformed);
    expect_error(R"({"op": "create", "template": "a", "memory_mib": 1.5})", code::kMalformed);
    expect_error(R"({"op": "create", "template": "a", "start": "yes"})", code::kMalformed);
    expect_error(R"({"op": "set", "vm": "a"})", code::kMalformed);  // nothing to change
    expect_error(R"({"op": "set", "vm": "a", "pinned_cpus": 3})", code::kMalformed);
    expect_error(R"({"op": "balloon", "vm": "a"})", code::kMalformed);
    expect_error(R"({"op": "console_input", "vm": "a", "data": 3})", code::kMalformed);
}

TEST_F(RequestTest, UnknownOperationAndVersion) {
    expect_error(R"({"op": "reboot_everything"})", code::kUnknownOp);
    expect_error(R"({"op": "hello", "version": 2})", code::kUnsupportedVersion);
}

TEST_F(RequestTest, ValuesOutOfRange) {
    expect_error(R"({"op": "pause", "vm": "has space"})", code::kInvalidArgument);
    expect_error(R"({"op": "pause", "vm": ""})", code::kInvalidArgument);
    expect_error(R"({"op": "pause", "vm": "a-name-that-is-much-too-long-for-lamina"})", code::kInvalidArgument);
    expect_error(R"({"op": "create", "template": "a", "memory_mib": 0})", code::kInvalidArgument);
    expect_error(R"({"op": "create", "template": "a", "memory_mib": 3})", code::kInvalidArgument);
    expect_error(R"({"op": "create", "template": "a", "memory_mib": -2})", code::kInvalidArgument);
    expect_error(R"({"op": "create", "template": "a", "memory_mib": 99999999999})", code::kInvalidArgument);
    expect_error(R"({"op": "create", "template": "a", "vcpus": 0})", code::kInvalidArgument);
    expect_error(R"({"op": "create", "template": "a", "vcpus": 9})", code::kInvalidArgument);
    expect_error(R"({"op": "set", "vm": "a", "weight": 0})", code::kInvalidArgument);
    expect_error(R"({"op": "set", "vm": "a", "weight": 70000})", code::kInvalidArgument);
    expect_error(R"({"op": "set", "vm": "a", "pinned_cpus": [64]})", code::kInvalidArgument);
    expect_error(R"({"op": "set", "vm": "a", "pinned_cpus": [-1]})", code::kInvalidArgument);
    expect_error(R"({"op": "balloon", "vm": "a", "target_mib": -1})", code::kInvalidArgument);
}

TEST_F(RequestTest, ErrorsKeepTheIdWhenItWasReadable) {
    const DecodedRequest decoded = decode(R"({"id": 42, "op": "nope"})");
    EXPECT_EQ(decoded.id, 42);
    EXPECT_EQ(std::string_view{decoded.error.code}, code::kUnknownOp);
}

}  // namespace
}  // namespace lamina::management
