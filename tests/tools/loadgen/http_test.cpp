#include "http.hpp"

#include <stdexcept>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace lamina::load {
namespace {

using ::testing::HasSubstr;

std::string url_error(const std::string& text) {
    try {
        (void)parse_http_url(text);
        return "";
    } catch (const std::invalid_argument& error) {
        return error.what();
    }
}

TEST(Url, ParsesHostPortAndPath) {
    const HttpUrl url = parse_http_url("http://10.0.2.15:8080/status/ready");
    EXPECT_EQ(url.host, "10.0.2.15");
    EXPECT_EQ(url.port, 8080);
    EXPECT_EQ(url.target, "/status/ready");
    EXPECT_EQ(url.authority(), "10.0.2.15:8080");
}

TEST(Url, DefaultsToPort80AndTheRootPath) {
    const HttpUrl url = parse_http_url("HTTP://localhost");
    EXPECT_EQ(url.host, "localhost");
    EXPECT_EQ(url.port, 80);
    EXPECT_EQ(url.target, "/");
}

TEST(Url, KeepsTheQueryAndDropsTheFragment) {
    EXPECT_EQ(parse_http_url("http://web:81/a?b=1#top").target, "/a?b=1");
    EXPECT_EQ(parse_http_url("http://web?x").target, "/?x");
}

TEST(Url, AcceptsBracketedIpv6) {
    const HttpUrl url = parse_http_url("http://[::1]:9000/");
    EXPECT_EQ(url.host, "::1");
    EXPECT_EQ(url.port, 9000);
    EXPECT_EQ(url.authority(), "[::1]:9000");
}

TEST(Url, RejectsOtherSchemes) {
    EXPECT_THAT(url_error("https://host/"), HasSubstr("only http://"));
    EXPECT_THAT(url_error("ftp://host/"), HasSubstr("does not start with http://"));
    EXPECT_THAT(url_error("host:80/"), HasSubstr("does not start with http://"));
}

TEST(Url, RejectsBadHostsAndPorts) {
    EXPECT_THAT(url_error("http:///path"), HasSubstr("no host"));
    EXPECT_THAT(url_error("http://:80/"), HasSubstr("no host"));
    EXPECT_THAT(url_error("http://host:99999/"), HasSubstr("from 1 to 65535"));
    EXPECT_THAT(url_error("http://host:0/"), HasSubstr("from 1 to 65535"));
    EXPECT_THAT(url_error("http://host:/"), HasSubstr("from 1 to 65535"));
    EXPECT_THAT(url_error("http://host:http/"), HasSubstr("from 1 to 65535"));
    EXPECT_THAT(url_error("http://ho st/"), HasSubstr("not a host name"));
    EXPECT_THAT(url_error("http://user@host/"), HasSubstr("user names"));
    EXPECT_THAT(url_error("http://[::1/"), HasSubstr("[address]"));
    EXPECT_THAT(url_error("http://[zz]/"), HasSubstr("not an IPv6 address"));
}

TEST(Url, RejectsPathsThatWouldBreakTheRequestLine) {
    EXPECT_THAT(url_error("http://host/a b"), HasSubstr("percent-encode"));
    EXPECT_THAT(url_error("http://host/a\r\nX: y"), HasSubstr("percent-encode"));
}

TEST(Request, IsOneGetThatClosesTheConnection) {
    EXPECT_EQ(make_request(parse_http_url("http://127.0.0.1:8080/x?y")),
              "GET /x?y HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nConnection: close\r\nUser-Agent: lamina-load\r\n\r\n");
}

TEST(Reply, ParsesTheStatusLine) {
    EXPECT_EQ(parse_status_line("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), 200);
    EXPECT_EQ(parse_status_line("HTTP/1.0 503 Service Unavailable\r\n"), 503);
    EXPECT_EQ(parse_status_line("HTTP/1.1 204\r\n"), 204);
    EXPECT_EQ(parse_status_line("HTTP/1.1 404 Not Found\n"), 404);
    EXPECT_FALSE(parse_status_line("HTTP/1.1 200 OK"));  // not complete yet
    EXPECT_FALSE(parse_status_line("HTTP/1.1 20 OK\r\n"));
    EXPECT_FALSE(parse_status_line("HTTP/1.1 2000 OK\r\n"));
    EXPECT_FALSE(parse_status_line("HTTP/x.1 200 OK\r\n"));
    EXPECT_FALSE(parse_status_line("SSH-2.0-OpenSSH\r\n"));
    EXPECT_FALSE(parse_status_line(""));
}

TEST(Reply, ClassifiesByStatus) {
    EXPECT_EQ(classify_reply("HTTP/1.1 200 OK\r\n\r\nhello"), Outcome::ok);
    EXPECT_EQ(classify_reply("HTTP/1.1 299 Whatever\r\n"), Outcome::ok);
    EXPECT_EQ(classify_reply("HTTP/1.1 301 Moved\r\n"), Outcome::http_error);
    EXPECT_EQ(classify_reply("HTTP/1.1 500 Internal Server Error\r\n"), Outcome::http_error);
    EXPECT_EQ(classify_reply("hello there\r\n"), Outcome::http_error);
}

TEST(Reply, EndingBeforeAFullStatusLineIsAReset) {
    EXPECT_EQ(classify_reply(""), Outcome::reset);
    EXPECT_EQ(classify_reply("HTTP/1.1 2"), Outcome::reset);
    // ...unless so much arrived that it cannot be a status line.
    EXPECT_EQ(classify_reply(std::string(kReplyHeadLimit, 'x')), Outcome::http_error);
}

}  // namespace
}  // namespace lamina::load
