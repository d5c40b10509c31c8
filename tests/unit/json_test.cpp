// The management API's JSON reader and writer. Runs under ASan/UBSan: each
// text is parsed in its own exactly-sized heap buffer, so a read past it is
// caught, and writer buffers carry a guard region that must stay untouched.
#include "core/json.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace lamina::json {
namespace {

using namespace std::string_literals;

// A text parsed in place: owns the buffer and the nodes every value points
// into, so it is neither copied nor moved.
template <std::size_t Capacity = 64>
class Parsed final {
public:
    explicit Parsed(std::string_view text) : buffer_(text.begin(), text.end()), result_{document_.parse(buffer_)} {}
    Parsed(const Parsed&) = delete;
    Parsed& operator=(const Parsed&) = delete;

    [[nodiscard]] bool ok() const { return result_.ok(); }
    [[nodiscard]] JsonValue root() const { return result_.value(); }
    [[nodiscard]] ParseError error() const { return result_.error(); }
    [[nodiscard]] const std::vector<char>& buffer() const { return buffer_; }

private:
    std::vector<char> buffer_;
    JsonDocument<Capacity> document_;
    ParseResult result_;
};

[[nodiscard]] std::vector<std::string_view> keys_of(JsonValue object) {
    std::vector<std::string_view> keys;
    for (const Member member : object.members()) keys.push_back(member.key);
    return keys;
}

[[nodiscard]] std::vector<std::int64_t> integers_of(JsonValue array) {
    std::vector<std::int64_t> integers;
    for (const JsonValue element : array.elements()) integers.push_back(element.as_int().value_or(-1));
    return integers;
}

[[nodiscard]] std::string nested(std::size_t depth, char open, char close, std::string_view inner) {
    std::string text;
    for (std::size_t i = 0; i < depth; ++i) text += open == '{' ? "{\"k\":"s : std::string(1, open);
    text += inner;
    text += std::string(depth, close);
    return text;
}

// ---------------------------------------------------------------------------
// Reading valid documents

TEST(JsonReader, ReadsLiterals) {
    const Parsed null_text{"null"};
    ASSERT_TRUE(null_text.ok());
    EXPECT_EQ(null_text.root().kind(), Kind::null);
    EXPECT_TRUE(null_text.root().is_null());
    EXPECT_FALSE(null_text.root().as_bool());

    const Parsed true_text{"true"};
    const Parsed false_text{"false"};
    ASSERT_TRUE(true_text.ok() && false_text.ok());
    EXPECT_EQ(true_text.root().kind(), Kind::boolean);
    EXPECT_EQ(true_text.root().as_bool(), true);
    EXPECT_EQ(false_text.root().as_bool(), false);
    EXPECT_FALSE(true_text.root().as_int());
    EXPECT_FALSE(true_text.root().is_null());
}

TEST(JsonReader, ReadsIntegersExactly) {
    const std::vector<std::pair<std::string, std::int64_t>> cases{
        {"0", 0},
        {"-0", 0},
        {"7", 7},
        {"-42", -42},
        {"1234567890123", 1234567890123},
        {"9223372036854775807", std::numeric_limits<std::int64_t>::max()},
        {"-9223372036854775808", std::numeric_limits<std::int64_t>::min()},
        {"-9223372036854775807", std::numeric_limits<std::int64_t>::min() + 1},
    };
    for (const auto& [text, expected] : cases) {
        SCOPED_TRACE(text);
        const Parsed parsed{text};
        ASSERT_TRUE(parsed.ok()) << parsed.error().message;
        EXPECT_EQ(parsed.root().kind(), Kind::integer);
        EXPECT_EQ(parsed.root().as_int(), expected);
        EXPECT_EQ(parsed.root().number_text(), text);
        EXPECT_FALSE(parsed.root().as_string());
    }
}

TEST(JsonReader, FlagsNumbersWithFractionOrExponentAsNotIntegers) {
    for (const std::string text : {"1.5", "-0.0", "1.0", "1e3", "1E+3", "2.5e-3", "0e0", "-1.25E10", "1e400"}) {
        SCOPED_TRACE(text);
        const Parsed parsed{text};
        ASSERT_TRUE(parsed.ok()) << parsed.error().message;
        EXPECT_EQ(parsed.root().kind(), Kind::number);
        EXPECT_FALSE(parsed.root().as_int());
        EXPECT_EQ(parsed.root().number_text(), text);
    }
}

TEST(JsonReader, ReadsArraysInOrder) {
    const Parsed empty{"[]"};
    ASSERT_TRUE(empty.ok());
    EXPECT_EQ(empty.root().kind(), Kind::array);
    EXPECT_EQ(empty.root().size(), 0u);
    EXPECT_EQ(empty.root().elements().begin(), empty.root().elements().end());

    const Parsed parsed{R"([1, [2, [3]], {"a": [4, 5]}, "six", null, 7])"};
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    const JsonValue root = parsed.root();
    ASSERT_EQ(root.size(), 6u);
    std::vector<Kind> kinds;
    for (const JsonValue element : root.elements()) kinds.push_back(element.kind());
    EXPECT_EQ(kinds, (std::vector{Kind::integer, Kind::array, Kind::object, Kind::string, Kind::null, Kind::integer}));

    auto element = root.elements().begin();
    EXPECT_EQ((*element).as_int(), 1);
    const JsonValue second = *++element;
    EXPECT_EQ(second.size(), 2u);
    EXPECT_EQ((*second.elements().begin()).as_int(), 2);
    const JsonValue third = *++element;
    EXPECT_EQ(integers_of(*third.find("a")), (std::vector<std::int64_t>{4, 5}));
    EXPECT_EQ((*++element).as_string(), "six");
    ++element;
    EXPECT_EQ((*++element).as_int(), 7);  // found after skipping the nested values
    EXPECT_EQ(++element, root.elements().end());
}

TEST(JsonReader, ReadsObjectsAndFindsMembers) {
    const Parsed empty{"{}"};
    ASSERT_TRUE(empty.ok());
    EXPECT_EQ(empty.root().kind(), Kind::object);
    EXPECT_EQ(empty.root().size(), 0u);
    EXPECT_FALSE(empty.root().find("a"));

    const Parsed parsed{R"({"id": 7, "op": "create", "args": {"vcpus": 2, "pinned_cpus": [0, 1]}, "start": false})"};
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    const JsonValue root = parsed.root();
    EXPECT_EQ(root.size(), 4u);
    EXPECT_EQ(keys_of(root), (std::vector<std::string_view>{"id", "op", "args", "start"}));
    EXPECT_EQ(root.find("id")->as_int(), 7);
    EXPECT_EQ(root.find("op")->as_string(), "create");
    EXPECT_EQ(root.find("start")->as_bool(), false);
    EXPECT_FALSE(root.find("vcpus"));  // only direct members
    EXPECT_FALSE(root.find("Id"));
    EXPECT_FALSE(root.find(""));
    const auto args = root.find("args");
    ASSERT_TRUE(args);
    EXPECT_EQ(args->find("vcpus")->as_int(), 2);
    EXPECT_EQ(integers_of(*args->find("pinned_cpus")), (std::vector<std::int64_t>{0, 1}));
}

TEST(JsonReader, AccessorsOfAnotherKindAnswerNothing) {
    const Parsed parsed{R"({"s": "text", "n": 1, "a": [1], "o": {"x": 1}})"};
    ASSERT_TRUE(parsed.ok());
    const JsonValue text = *parsed.root().find("s");
    const JsonValue array = *parsed.root().find("a");
    const JsonValue object = *parsed.root().find("o");
    EXPECT_FALSE(text.as_int());
    EXPECT_FALSE(text.as_bool());
    EXPECT_FALSE(text.number_text());
    EXPECT_EQ(text.size(), 0u);  // not its length
    EXPECT_FALSE(parsed.root().find("n")->as_string());
    EXPECT_FALSE(array.find("x"));
    EXPECT_EQ(array.members().begin(), array.members().end());
    EXPECT_EQ(object.elements().begin(), object.elements().end());
    EXPECT_EQ(text.elements().begin(), text.elements().end());
    EXPECT_FALSE(text.find("x"));
}

TEST(JsonReader, AllowsWhitespaceAroundTokens) {
    const Parsed parsed{" \t\r\n{ \"a\" :\n[ 1 ,\t2 ] , \"b\" : { } }\r\n "};
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    EXPECT_EQ(integers_of(*parsed.root().find("a")), (std::vector<std::int64_t>{1, 2}));
    EXPECT_EQ(parsed.root().find("b")->kind(), Kind::object);
}

TEST(JsonReader, DefaultValueIsNull) {
    const JsonValue value;
    EXPECT_TRUE(value.is_null());
    EXPECT_EQ(value.size(), 0u);
    EXPECT_FALSE(value.find("a"));
    EXPECT_EQ(value.elements().begin(), value.elements().end());
}

// ---------------------------------------------------------------------------
// Strings

TEST(JsonReader, DecodesEscapes) {
    const Parsed parsed{R"(["\"", "\\", "\/", "\b", "\f", "\n", "\r", "\t", "a\tb\\n\"c\"/"])"};
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    std::vector<std::string_view> strings;
    for (const JsonValue element : parsed.root().elements()) strings.push_back(element.as_string().value_or("?"));
    EXPECT_EQ(strings, (std::vector<std::string_view>{"\"", "\\", "/", "\b", "\f", "\n", "\r", "\t", "a\tb\\n\"c\"/"}));
}

TEST(JsonReader, DecodesUnicodeEscapesToUtf8) {
    const std::vector<std::pair<std::string, std::string>> cases{
        {R"("\u0041")", "A"},
        {R"("\u0000")", "\0"s},
        {R"("\u001f")", "\x1f"},
        {R"("\u007F")", "\x7f"},
        {R"("\u0080")", "\xc2\x80"},
        {R"("\u00e9")", "\xc3\xa9"},
        {R"("\u07ff")", "\xdf\xbf"},
        {R"("\u0800")", "\xe0\xa0\x80"},
        {R"("\u20AC")", "\xe2\x82\xac"},
        {R"("\uffff")", "\xef\xbf\xbf"},
        {R"("\ud83d\ude00")", "\xf0\x9f\x98\x80"},  // a surrogate pair
        {R"("\uD800\uDC00")", "\xf0\x90\x80\x80"},  // the first code point above U+FFFF
        {R"("\udbff\udfff")", "\xf4\x8f\xbf\xbf"},  // the last
        {R"("x\u0041y\u00e9z")", "xAy\xc3\xa9z"},
    };
    for (const auto& [text, expected] : cases) {
        SCOPED_TRACE(text);
        const Parsed parsed{text};
        ASSERT_TRUE(parsed.ok()) << parsed.error().message;
        EXPECT_EQ(parsed.root().as_string(), expected);
    }
}

TEST(JsonReader, PassesBytesAbove0x7fThrough) {
    const Parsed parsed{"\"caf\xc3\xa9 \xff\x80\x7f\""};
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    EXPECT_EQ(parsed.root().as_string(), "caf\xc3\xa9 \xff\x80\x7f");
}

TEST(JsonReader, DecodesStringsInPlace) {
    const Parsed parsed{R"({"k\u0065y": "a\nb"})"};
    ASSERT_TRUE(parsed.ok());
    const Member member = *parsed.root().members().begin();
    EXPECT_EQ(member.key, "key");
    const auto value = member.value.as_string();
    ASSERT_TRUE(value);
    EXPECT_EQ(*value, "a\nb");
    const char* first = parsed.buffer().data();
    const char* last = first + parsed.buffer().size();
    for (const std::string_view text : {member.key, *value}) {
        EXPECT_GE(text.data(), first);
        EXPECT_LE(text.data() + text.size(), last);
    }
}

// ---------------------------------------------------------------------------
// Errors, each with the offset where the problem was found

struct ErrorCase final {
    std::string text;
    std::string_view message;
    std::size_t offset;
};

void expect_errors(const std::vector<ErrorCase>& cases) {
    for (const ErrorCase& error_case : cases) {
        SCOPED_TRACE(error_case.text);
        const Parsed parsed{error_case.text};
        ASSERT_FALSE(parsed.ok());
        EXPECT_EQ(std::string_view{parsed.error().message}, error_case.message);
        EXPECT_EQ(parsed.error().offset, error_case.offset);
        EXPECT_TRUE(parsed.root().is_null());
    }
}

TEST(JsonReaderErrors, Structure) {
    expect_errors({
        {"", "json: unexpected end of text", 0},
        {"   ", "json: unexpected end of text", 3},
        {"[", "json: unexpected end of text", 1},
        {"[1,", "json: unexpected end of text", 3},
        {"[1", "json: unexpected end of text", 2},
        {"{", "json: unexpected end of text", 1},
        {R"({"a")", "json: unexpected end of text", 4},
        {R"({"a":)", "json: unexpected end of text", 5},
        {R"({"a":1)", "json: unexpected end of text", 6},
        {"[1 2]", "json: expected ',' or ']'", 3},
        {"[1}", "json: expected ',' or ']'", 2},
        {R"({"a":1 "b":2})", "json: expected ',' or '}'", 7},
        {R"({"a":1])", "json: expected ',' or '}'", 6},
        {R"({"a" 1})", "json: expected ':'", 5},
        {"{1:2}", "json: expected a string key", 1},
        {"{a:2}", "json: expected a string key", 1},
        {R"({"a":1,})", "json: expected a string key", 7},
        {"[1,]", "json: expected a value", 3},
        {"[,1]", "json: expected a value", 1},
        {"]", "json: expected a value", 0},
        {"'a'", "json: expected a value", 0},
        {"True", "json: expected a value", 0},
        {"tru", "json: invalid literal", 0},
        {"[nul]", "json: invalid literal", 1},
        {"fals e", "json: invalid literal", 0},
        {"1 2", "json: trailing characters after the value", 2},
        {"{} x", "json: trailing characters after the value", 3},
        {"[]]", "json: trailing characters after the value", 2},
        {"truex", "json: trailing characters after the value", 4},
        {"null\0"s, "json: trailing characters after the value", 4},
    });
}

TEST(JsonReaderErrors, Numbers) {
    expect_errors({
        {"01", "json: invalid number", 0},
        {"-01", "json: invalid number", 0},
        {"[1, 00]", "json: invalid number", 4},
        {"-", "json: invalid number", 0},
        {"-a", "json: invalid number", 0},
        {"1.", "json: invalid number", 0},
        {"1.e5", "json: invalid number", 0},
        {"1e", "json: invalid number", 0},
        {"1e+", "json: invalid number", 0},
        {"[2, 1E-]", "json: invalid number", 4},
        {".5", "json: expected a value", 0},
        {"+1", "json: expected a value", 0},
        {"0x10", "json: trailing characters after the value", 1},
        {"9223372036854775808", "json: integer out of int64 range", 0},
        {"-9223372036854775809", "json: integer out of int64 range", 0},
        {"[1, 99999999999999999999]", "json: integer out of int64 range", 4},
        {R"({"id": 18446744073709551616})", "json: integer out of int64 range", 7},
    });
}

TEST(JsonReaderErrors, Strings) {
    expect_errors({
        {R"("abc)", "json: unterminated string", 0},
        {R"(["a", "b)", "json: unterminated string", 6},
        {R"("ab\)", "json: unterminated string", 0},
        {"\"a\x01\"", "json: control character in string", 2},
        {"\"a\tb\"", "json: control character in string", 2},
        {"\"a\nb\"", "json: control character in string", 2},
        {"\"\0\""s, "json: control character in string", 1},
        {R"("\x")", "json: invalid escape", 1},
        {R"("ab\'")", "json: invalid escape", 3},
        {R"("\U0041")", "json: invalid escape", 1},
        {R"("\u12")", "json: invalid \\u escape", 1},
        {R"("\u12G4")", "json: invalid \\u escape", 1},
        {R"("\u)", "json: invalid \\u escape", 1},
        {R"("\ud800")", "json: unpaired surrogate", 1},
        {R"("\udc00")", "json: unpaired surrogate", 1},
        {R"("\uDFFF\uD800")", "json: unpaired surrogate", 1},
        {R"("\ud800\u0041")", "json: unpaired surrogate", 1},
        {R"("\ud800\ud800")", "json: unpaired surrogate", 1},
        {R"("x\ud83d\n")", "json: unpaired surrogate", 2},
        {R"("\ud83d)", "json: unpaired surrogate", 1},
    });
}

TEST(JsonReaderErrors, DuplicateKeys) {
    expect_errors({
        {R"({"a":1,"a":2})", "json: duplicate key", 7},
        {R"({"a":1,"b":[1,{"c":2}],"a":2})", "json: duplicate key", 23},
        {R"({"a":1,"\u0061":2})", "json: duplicate key", 7},  // compared decoded
        {R"({"":1,"":2})", "json: duplicate key", 6},
        {R"({"x":{"a":1,"b":2,"a":3}})", "json: duplicate key", 18},
    });
    // The same key in different objects is fine.
    const Parsed parsed{R"({"a":{"a":{"a":1}},"b":[{"a":1},{"a":2}]})"};
    EXPECT_TRUE(parsed.ok()) << parsed.error().message;
}

// ---------------------------------------------------------------------------
// Limits

TEST(JsonReaderLimits, NestingUpToTheDepthLimit) {
    for (const char open : {'[', '{'}) {
        const char close = open == '[' ? ']' : '}';
        const Parsed deepest{nested(kMaxDepth, open, close, "1")};
        ASSERT_TRUE(deepest.ok()) << deepest.error().message;
        JsonValue value = deepest.root();
        for (std::size_t depth = 0; depth < kMaxDepth; ++depth)
            value = open == '[' ? *value.elements().begin() : *value.find("k");
        EXPECT_EQ(value.as_int(), 1);

        const std::string too_deep = nested(kMaxDepth + 1, open, close, "1");
        const Parsed refused{too_deep};
        ASSERT_FALSE(refused.ok());
        EXPECT_EQ(std::string_view{refused.error().message}, "json: nesting too deep");
        EXPECT_EQ(refused.error().offset, too_deep.find_last_of(open));
    }
}

TEST(JsonReaderLimits, VeryDeepNestingStopsAtTheLimit) {
    const Parsed refused{std::string(100000, '[')};
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(std::string_view{refused.error().message}, "json: nesting too deep");
    EXPECT_EQ(refused.error().offset, kMaxDepth);
}

TEST(JsonReaderLimits, NodeCapacityCountsValuesAndKeys) {
    const Parsed<4> fits{"[1,2,3]"};
    EXPECT_TRUE(fits.ok()) << fits.error().message;
    const Parsed<4> one_more{"[1,2,3,4]"};
    ASSERT_FALSE(one_more.ok());
    EXPECT_EQ(std::string_view{one_more.error().message}, "json: too many values");
    EXPECT_EQ(one_more.error().offset, 7u);

    const Parsed<5> object_fits{R"({"a":1,"b":2})"};
    EXPECT_TRUE(object_fits.ok()) << object_fits.error().message;
    const Parsed<4> value_too_many{R"({"a":1,"b":2})"};
    ASSERT_FALSE(value_too_many.ok());
    EXPECT_EQ(value_too_many.error().offset, 11u);  // the value 2
    const Parsed<3> key_too_many{R"({"a":1,"b":2})"};
    ASSERT_FALSE(key_too_many.ok());
    EXPECT_EQ(key_too_many.error().offset, 7u);  // the key "b"

    const Parsed<1> scalar{"  \"only\""};
    EXPECT_TRUE(scalar.ok());
}

TEST(JsonReaderLimits, NoNodesAtAll) {
    std::vector<char> text{'1'};
    const ParseResult result = parse(text, std::span<JsonNode>{});
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(std::string_view{result.error().message}, "json: too many values");
    EXPECT_EQ(result.error().offset, 0u);
}

// ---------------------------------------------------------------------------
// unknown_key

TEST(JsonUnknownKey, FindsTheFirstKeyNotAllowed) {
    const Parsed parsed{R"({"id": 1, "op": "start", "vm": "web", "force": true, "extra": 0})"};
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(unknown_key(parsed.root(), {"id", "op", "vm", "force", "extra"}), std::nullopt);
    EXPECT_EQ(unknown_key(parsed.root(), {"extra", "force", "vm", "op", "id", "more"}), std::nullopt);
    EXPECT_EQ(unknown_key(parsed.root(), {"id", "op", "vm"}), "force");
    EXPECT_EQ(unknown_key(parsed.root(), {}), "id");

    constexpr std::array<std::string_view, 4> kAllowed{"id", "op", "vm", "force"};
    EXPECT_EQ(unknown_key(parsed.root(), kAllowed), "extra");
}

TEST(JsonUnknownKey, OnlyLooksAtDirectMembers) {
    const Parsed parsed{R"({"op": "set", "args": {"nested": 1}})"};
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(unknown_key(parsed.root(), {"op", "args"}), std::nullopt);
    EXPECT_EQ(unknown_key(*parsed.root().find("args"), {"op"}), "nested");
}

TEST(JsonUnknownKey, NonObjectsHaveNoKeys) {
    const Parsed parsed{R"(["id", {"x": 1}])"};
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(unknown_key(parsed.root(), {"id"}), std::nullopt);
    EXPECT_EQ(unknown_key(JsonValue{}, {}), std::nullopt);
}

// ---------------------------------------------------------------------------
// Writer

// A reply like the management server's, with every kind of value.
void write_sample(JsonWriter& out) {
    out.begin_object();
    out.member("id", 7);
    out.member("ok", true);
    out.key("result");
    out.begin_object();
    out.key("vm");
    out.begin_object();
    out.member("name", "web \"1\"");
    out.member("memory_mib", std::uint64_t{256});
    out.member("offset", std::int64_t{-12});
    out.key("pinned_cpus");
    out.begin_array();
    out.value(0);
    out.value(3u);
    out.end_array();
    out.key("empty");
    out.begin_array();
    out.end_array();
    out.key("balloon");
    out.null();
    out.member("paused", false);
    out.member("note", "a\\b\n");
    out.end_object();
    out.end_object();
    out.end_object();
}

constexpr std::string_view kSampleText =
    R"({"id":7,"ok":true,"result":{"vm":{"name":"web \"1\"","memory_mib":256,"offset":-12,)"
    R"("pinned_cpus":[0,3],"empty":[],"balloon":null,"paused":false,"note":"a\\b\n"}}})";

TEST(JsonWriter, WritesCompactJsonWithCommasAndColons) {
    std::array<char, 512> buffer{};
    JsonWriter out{buffer};
    write_sample(out);
    EXPECT_TRUE(out.ok());
    EXPECT_FALSE(out.overflowed());
    EXPECT_EQ(out.text(), kSampleText);
}

TEST(JsonWriter, WritesScalarsAtTopLevel) {
    const auto written = [](auto write) {
        std::array<char, 64> buffer{};
        JsonWriter out{buffer};
        write(out);
        EXPECT_TRUE(out.ok());
        return std::string{out.text()};
    };
    EXPECT_EQ(written([](JsonWriter& out) { out.null(); }), "null");
    EXPECT_EQ(written([](JsonWriter& out) { out.value(true); }), "true");
    EXPECT_EQ(written([](JsonWriter& out) { out.value("text"); }), "\"text\"");  // not the bool overload
    EXPECT_EQ(written([](JsonWriter& out) { out.value(std::string_view{}); }), "\"\"");
    EXPECT_EQ(written([](JsonWriter& out) { out.value(0); }), "0");
    EXPECT_EQ(written([](JsonWriter& out) { out.value(std::numeric_limits<std::int64_t>::min()); }),
              "-9223372036854775808");
    EXPECT_EQ(written([](JsonWriter& out) { out.value(std::numeric_limits<std::int64_t>::max()); }),
              "9223372036854775807");
    EXPECT_EQ(written([](JsonWriter& out) { out.value(std::numeric_limits<std::uint64_t>::max()); }),
              "18446744073709551615");
    EXPECT_EQ(written([](JsonWriter& out) { out.value(static_cast<short>(-5)); }), "-5");
    EXPECT_EQ(written([](JsonWriter& out) { out.value(std::uint8_t{200}); }), "200");
    EXPECT_EQ(written([](JsonWriter& out) { out.value(-1LL); }), "-1");
    EXPECT_EQ(written([](JsonWriter& out) { out.begin_object(); out.end_object(); }), "{}");
}

TEST(JsonWriter, EscapesStrings) {
    std::array<char, 256> buffer{};
    JsonWriter out{buffer};
    out.value("q\" b\\ s/ \b\f\n\r\t \x01\x1f\x7f caf\xc3\xa9 \xff"s + '\0');
    ASSERT_TRUE(out.ok());
    EXPECT_EQ(out.text(), R"("q\" b\\ s/ \b\f\n\r\t \u0001\u001f)"
                          "\x7f caf\xc3\xa9 \xff"
                          R"(\u0000")");
}

TEST(JsonWriter, EscapesKeys) {
    std::array<char, 64> buffer{};
    JsonWriter out{buffer};
    out.begin_object();
    out.member("a\"b\n", 1);
    out.end_object();
    ASSERT_TRUE(out.ok());
    EXPECT_EQ(out.text(), R"({"a\"b\n":1})");
}

TEST(JsonWriter, RefusesCallsThatDoNotMakeOneValue) {
    const auto misused = [](auto write) {
        std::array<char, 64> buffer{};
        JsonWriter out{buffer};
        write(out);
        EXPECT_FALSE(out.overflowed());
        return !out.ok();
    };
    EXPECT_TRUE(misused([](JsonWriter&) {}));  // nothing written
    EXPECT_TRUE(misused([](JsonWriter& out) { out.begin_object(); }));
    EXPECT_TRUE(misused([](JsonWriter& out) { out.begin_array(); out.end_object(); }));
    EXPECT_TRUE(misused([](JsonWriter& out) { out.begin_object(); out.end_array(); }));
    EXPECT_TRUE(misused([](JsonWriter& out) { out.end_array(); }));
    EXPECT_TRUE(misused([](JsonWriter& out) { out.begin_object(); out.value(1); out.end_object(); }));
    EXPECT_TRUE(misused([](JsonWriter& out) { out.begin_object(); out.key("a"); out.end_object(); }));
    EXPECT_TRUE(misused([](JsonWriter& out) { out.begin_object(); out.key("a"); out.key("b"); }));
    EXPECT_TRUE(misused([](JsonWriter& out) { out.begin_array(); out.key("a"); }));
    EXPECT_TRUE(misused([](JsonWriter& out) { out.key("a"); }));
    EXPECT_TRUE(misused([](JsonWriter& out) { out.value(1); out.value(2); }));
    EXPECT_TRUE(misused([](JsonWriter& out) { out.begin_array(); out.end_array(); out.null(); }));
    EXPECT_FALSE(misused([](JsonWriter& out) { out.begin_array(); out.end_array(); }));
}

TEST(JsonWriter, StopsWritingOnceMisused) {
    std::array<char, 64> buffer{};
    JsonWriter out{buffer};
    out.begin_array();
    out.key("a");
    out.value(1);
    out.end_array();
    EXPECT_FALSE(out.ok());
    EXPECT_EQ(out.text(), "[");
}

TEST(JsonWriter, NestsUpToItsDepthLimit) {
    std::array<char, 2 * JsonWriter::kMaxDepth + 2> buffer{};
    JsonWriter out{buffer};
    for (std::size_t i = 0; i < JsonWriter::kMaxDepth; ++i) out.begin_array();
    for (std::size_t i = 0; i < JsonWriter::kMaxDepth; ++i) out.end_array();
    EXPECT_TRUE(out.ok());
    EXPECT_EQ(out.text().size(), 2 * JsonWriter::kMaxDepth);

    JsonWriter deeper{buffer};
    for (std::size_t i = 0; i <= JsonWriter::kMaxDepth; ++i) deeper.begin_array();
    for (std::size_t i = 0; i <= JsonWriter::kMaxDepth; ++i) deeper.end_array();
    EXPECT_FALSE(deeper.ok());
    EXPECT_FALSE(deeper.overflowed());
}

TEST(JsonWriter, OverflowsCleanlyAtEveryBufferSize) {
    constexpr std::size_t kGuard = 32;
    constexpr char kGuardByte = '\xa5';
    for (std::size_t size = 0; size <= kSampleText.size() + 1; ++size) {
        SCOPED_TRACE(size);
        std::vector<char> storage(size + kGuard, kGuardByte);
        JsonWriter out{std::span<char>{storage.data(), size}};
        write_sample(out);
        const bool fits = size >= kSampleText.size();
        EXPECT_EQ(out.ok(), fits);
        EXPECT_EQ(out.overflowed(), !fits);
        EXPECT_EQ(out.text(), kSampleText.substr(0, std::min(size, kSampleText.size())));
        for (std::size_t i = size; i < storage.size(); ++i) ASSERT_EQ(storage[i], kGuardByte) << "byte " << i;
    }
}

// ---------------------------------------------------------------------------
// Round trips: written, parsed, the same values

TEST(JsonRoundTrip, SampleReadsBackTheValuesWritten) {
    std::array<char, 512> buffer{};
    JsonWriter out{buffer};
    write_sample(out);
    ASSERT_TRUE(out.ok());
    const Parsed parsed{out.text()};
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    const JsonValue root = parsed.root();
    EXPECT_EQ(root.find("id")->as_int(), 7);
    EXPECT_EQ(root.find("ok")->as_bool(), true);
    const JsonValue vm = *root.find("result")->find("vm");
    EXPECT_EQ(keys_of(vm), (std::vector<std::string_view>{"name", "memory_mib", "offset", "pinned_cpus", "empty",
                                                          "balloon", "paused", "note"}));
    EXPECT_EQ(vm.find("name")->as_string(), "web \"1\"");
    EXPECT_EQ(vm.find("memory_mib")->as_int(), 256);
    EXPECT_EQ(vm.find("offset")->as_int(), -12);
    EXPECT_EQ(integers_of(*vm.find("pinned_cpus")), (std::vector<std::int64_t>{0, 3}));
    EXPECT_EQ(vm.find("empty")->size(), 0u);
    EXPECT_TRUE(vm.find("balloon")->is_null());
    EXPECT_EQ(vm.find("paused")->as_bool(), false);
    EXPECT_EQ(vm.find("note")->as_string(), "a\\b\n");
}

TEST(JsonRoundTrip, EveryByteValueInAString) {
    std::string all_bytes;
    for (int byte = 0; byte < 256; ++byte) all_bytes += static_cast<char>(byte);
    std::array<char, 2048> buffer{};
    JsonWriter out{buffer};
    out.begin_object();
    out.member(all_bytes, all_bytes);  // as a key too
    out.end_object();
    ASSERT_TRUE(out.ok());
    const Parsed parsed{out.text()};
    ASSERT_TRUE(parsed.ok()) << parsed.error().message << " at " << parsed.error().offset;
    const Member member = *parsed.root().members().begin();
    EXPECT_EQ(member.key, all_bytes);
    EXPECT_EQ(member.value.as_string(), all_bytes);
}

TEST(JsonRoundTrip, IntegerExtremes) {
    const std::vector<std::int64_t> values{0, -1, 1, std::numeric_limits<std::int64_t>::min(),
                                           std::numeric_limits<std::int64_t>::max()};
    std::array<char, 256> buffer{};
    JsonWriter out{buffer};
    out.begin_array();
    for (const std::int64_t value : values) out.value(value);
    out.value(std::numeric_limits<std::uint64_t>::max());  // beyond int64: the reader refuses it
    out.end_array();
    ASSERT_TRUE(out.ok());
    const std::string_view text = out.text();
    const std::size_t last_comma = text.rfind(',');
    const Parsed in_range{std::string{text.substr(0, last_comma)} + "]"};
    ASSERT_TRUE(in_range.ok()) << in_range.error().message;
    EXPECT_EQ(integers_of(in_range.root()), values);
    const Parsed out_of_range{text};
    ASSERT_FALSE(out_of_range.ok());
    EXPECT_EQ(std::string_view{out_of_range.error().message}, "json: integer out of int64 range");
    EXPECT_EQ(out_of_range.error().offset, last_comma + 1);
}

}  // namespace
}  // namespace lamina::json
