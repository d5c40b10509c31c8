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

// --- Services (docs/services.md) ---------------------------------------------------------------

constexpr const char* kServiceCreate =
    R"({"op": "service_create", "name": "web", "template": "web-replica", "network": "lan",)"
    R"( "address": "10.0.2.50:80", "replica_addresses": "10.0.2.100/24",)"
    R"( "objective": {"percentile": 95, "latency_ms": 50, "window_s": 5}, "min_replicas": 0, "max_replicas": 4})";

TEST_F(RequestTest, ServiceCreateDecodesAddressesAndObjective) {
    const DecodedRequest decoded = decode(kServiceCreate);
    ASSERT_TRUE(decoded.request) << decoded.error.message;
    const ServiceFields& fields = decoded.request->service;
    EXPECT_EQ(fields.name, "web");
    EXPECT_EQ(fields.template_name, "web-replica");
    EXPECT_EQ(fields.network, "lan");
    EXPECT_EQ(fields.address, 0x0a000232u);
    EXPECT_EQ(fields.port, 80);
    EXPECT_EQ(fields.first_replica_address, 0x0a000264u);
    EXPECT_EQ(fields.replica_prefix, 24);
    ASSERT_TRUE(fields.objective);
    EXPECT_EQ(fields.objective->percentile, 95u);
    EXPECT_EQ(fields.objective->latency_ms, 50u);
    EXPECT_EQ(fields.objective->window_s, 5u);
    EXPECT_EQ(fields.min_replicas, 0u);
    EXPECT_EQ(fields.max_replicas, 4u);
    EXPECT_FALSE(fields.scale_up_window_s);
}

TEST_F(RequestTest, ServiceCreateRefusesBadValues) {
    const std::string base = kServiceCreate;
    const auto with = [&base](std::string_view from, std::string_view to) {
        std::string text = base;
        text.replace(text.find(from), from.size(), to);
        return text;
    };
    expect_error(with("10.0.2.50:80", "10.0.2.50"), code::kInvalidArgument);
    expect_error(with("10.0.2.50:80", "10.0.2.500:80"), code::kInvalidArgument);
    expect_error(with("10.0.2.50:80", "10.0.2.50:0"), code::kInvalidArgument);
    expect_error(with("/24", "/31"), code::kInvalidArgument);
    expect_error(with("\"percentile\": 95", "\"percentile\": 100"), code::kInvalidArgument);
    expect_error(with("\"window_s\": 5", "\"window_s\": 16"), code::kInvalidArgument);
    expect_error(with("\"min_replicas\": 0", "\"min_replicas\": 5"), code::kInvalidArgument);
    expect_error(with("\"max_replicas\": 4", "\"max_replicas\": 9"), code::kInvalidArgument);
    expect_error(with("\"name\": \"web\"", "\"name\": \"a-name-of-16-chr\""), code::kInvalidArgument);
    expect_error(with(", \"window_s\": 5", ""), code::kMalformed);
    expect_error(with("\"max_replicas\": 4", "\"max_replicas\": 4, \"colour\": 1"), code::kMalformed);
}

TEST_F(RequestTest, ServiceSetNeedsAChange) {
    expect_error(R"({"op": "service_set", "service": "web"})", code::kMalformed);
    const DecodedRequest decoded = decode(R"({"op": "service_set", "service": "web", "max_replicas": 2})");
    ASSERT_TRUE(decoded.request);
    EXPECT_EQ(decoded.request->service.max_replicas, 2u);
}

TEST_F(RequestTest, ScalingLogTakesServiceAndSince) {
    const DecodedRequest decoded = decode(R"({"op": "scaling_log", "service": "web", "since": 12})");
    ASSERT_TRUE(decoded.request);
    EXPECT_EQ(decoded.request->operation, Operation::scaling_log);
    EXPECT_EQ(decoded.request->service.since, 12u);
    expect_error(R"({"op": "scaling_log", "since": -1})", code::kInvalidArgument);
}

TEST_F(RequestTest, BestEffortOnCreateAndSet) {
    const DecodedRequest decoded = decode(R"({"op": "set", "vm": "batch", "best_effort": true})");
    ASSERT_TRUE(decoded.request);
    EXPECT_EQ(decoded.request->best_effort, true);
    expect_error(R"({"op": "create", "template": "t", "best_effort": 1})", code::kMalformed);
}

}  // namespace
}  // namespace lamina::management
