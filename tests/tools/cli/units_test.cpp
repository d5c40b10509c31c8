#include "units.hpp"

#include <cstdint>
#include <limits>

#include <gtest/gtest.h>

#include "listen_address.hpp"
#include "utf8.hpp"

namespace lamina::cli {
namespace {

TEST(Units, ExactSecondsHasNoTrailingZeros) {
    EXPECT_EQ(exact_seconds(0), "0");
    EXPECT_EQ(exact_seconds(1'200'000'000), "1.2");
    EXPECT_EQ(exact_seconds(5), "0.000000005");
    EXPECT_EQ(exact_seconds(3'000'000'000), "3");
}

TEST(Units, ExactSecondsStaysExactForLargeCounters) {
    EXPECT_EQ(exact_seconds(std::numeric_limits<std::uint64_t>::max()), "18446744073.709551615");
}

TEST(Units, FixedSecondsRounds) {
    EXPECT_EQ(fixed_seconds(1'234'567'890, 3), "1.235");
    EXPECT_EQ(fixed_seconds(0, 1), "0.0");
}

TEST(Units, HumanBytesPicksTheUnit) {
    EXPECT_EQ(human_bytes(0), "0 B");
    EXPECT_EQ(human_bytes(512), "512 B");
    EXPECT_EQ(human_bytes(1536), "1.5 KiB");
    EXPECT_EQ(human_bytes(3.0 * 1024 * 1024), "3.0 MiB");
    EXPECT_EQ(human_bytes(2.0 * 1024 * 1024 * 1024), "2.0 GiB");
}

TEST(Utf8, KeepsBackAnIncompleteLastCharacter) {
    EXPECT_EQ(complete_utf8_prefix(""), 0u);
    EXPECT_EQ(complete_utf8_prefix("abc"), 3u);
    EXPECT_EQ(complete_utf8_prefix("h\xc3\xa9"), 3u);         // "hé" complete
    EXPECT_EQ(complete_utf8_prefix("h\xc3"), 1u);             // é cut after its lead byte
    EXPECT_EQ(complete_utf8_prefix("a\xe2\x82"), 1u);         // € missing its last byte
    EXPECT_EQ(complete_utf8_prefix("a\xe2\x82\xac"), 4u);     // € complete
    EXPECT_EQ(complete_utf8_prefix("\xf0\x9f\x98"), 0u);      // an emoji missing a byte
    EXPECT_EQ(complete_utf8_prefix("\xf0\x9f\x98\x80"), 4u);  // and complete
}

TEST(Utf8, PassesInvalidBytesOn) {
    EXPECT_EQ(complete_utf8_prefix("\x80\x80\x80"), 3u);  // stray continuation bytes
    EXPECT_EQ(complete_utf8_prefix("a\xff"), 2u);
}

TEST(ListenAddress, ParsesHostAndPort) {
    const ListenAddress address = parse_listen_address("127.0.0.1:9100");
    EXPECT_EQ(address.host, "127.0.0.1");
    EXPECT_EQ(address.port, 9100);
}

TEST(ListenAddress, AcceptsBracketedIpv6AndAnEmptyHost) {
    EXPECT_EQ(parse_listen_address("[::1]:0").host, "::1");
    EXPECT_EQ(parse_listen_address(":9100").host, "0.0.0.0");
}

TEST(ListenAddress, RejectsBadAddresses) {
    for (const char* text : {"9100", "host:", "host:http", "host:70000", "host:-1", "::1:9100", "[::1:9100", "[]:1"})
        EXPECT_THROW((void)parse_listen_address(text), std::invalid_argument) << text;
}

}  // namespace
}  // namespace lamina::cli
