#include "json.hpp"

#include <algorithm>
#include <limits>

namespace lamina::json {

namespace {

constexpr const char* kUnexpectedEnd = "json: unexpected end of text";
constexpr const char* kExpectedValue = "json: expected a value";
constexpr const char* kInvalidLiteral = "json: invalid literal";
constexpr const char* kInvalidNumber = "json: invalid number";
constexpr const char* kIntegerOutOfRange = "json: integer out of int64 range";
constexpr const char* kUnterminatedString = "json: unterminated string";
constexpr const char* kControlCharacter = "json: control character in string";
constexpr const char* kInvalidEscape = "json: invalid escape";
constexpr const char* kInvalidUnicodeEscape = "json: invalid \\u escape";
constexpr const char* kUnpairedSurrogate = "json: unpaired surrogate";
constexpr const char* kExpectedKey = "json: expected a string key";
constexpr const char* kExpectedColon = "json: expected ':'";
constexpr const char* kDuplicateKey = "json: duplicate key";
constexpr const char* kExpectedCommaOrBracket = "json: expected ',' or ']'";
constexpr const char* kExpectedCommaOrBrace = "json: expected ',' or '}'";
constexpr const char* kTooDeep = "json: nesting too deep";
constexpr const char* kTooManyValues = "json: too many values";
constexpr const char* kTrailingText = "json: trailing characters after the value";
constexpr const char* kTextTooLarge = "json: text too large";

constexpr std::uint32_t kHighSurrogateFirst = 0xd800;
constexpr std::uint32_t kLowSurrogateFirst = 0xdc00;
constexpr std::uint32_t kLowSurrogateLast = 0xdfff;

[[nodiscard]] constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }
[[nodiscard]] constexpr bool is_whitespace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

[[nodiscard]] constexpr std::optional<std::uint32_t> hex_digit(char c) {
    if (c >= '0' && c <= '9') return static_cast<std::uint32_t>(c - '0');
    if (c >= 'a' && c <= 'f') return static_cast<std::uint32_t>(c - 'a' + 10);
    if (c >= 'A' && c <= 'F') return static_cast<std::uint32_t>(c - 'A' + 10);
    return std::nullopt;
}

[[nodiscard]] std::string_view text_of(const JsonNode& node) { return {node.text, node.length}; }

// Recursive descent over the text; recursion is bounded by kMaxDepth. Each
// parse_* step returns false once it has recorded an error.
class Parser final {
public:
    Parser(std::span<char> text, std::span<JsonNode> nodes)
        : text_{text},
          nodes_{nodes.first(std::min<std::size_t>(nodes.size(), std::numeric_limits<std::uint32_t>::max()))} {}

    [[nodiscard]] ParseResult run() {
        // Node lengths are 32-bit; requests are a few KiB.
        if (text_.size() > std::numeric_limits<std::uint32_t>::max()) return ParseError{kTextTooLarge, 0};
        if (!parse_value(0)) return error_;
        skip_whitespace();
        if (!at_end()) return ParseError{kTrailingText, position_};
        return JsonValue{&nodes_[0]};
    }

private:
    [[nodiscard]] bool at_end() const { return position_ >= text_.size(); }
    [[nodiscard]] char peek() const { return text_[position_]; }

    // Whether the text continues with `expected` at `offset`.
    [[nodiscard]] bool text_at(std::size_t offset, std::string_view expected) const {
        if (offset > text_.size() || text_.size() - offset < expected.size()) return false;
        return std::equal(expected.begin(), expected.end(), text_.begin() + static_cast<std::ptrdiff_t>(offset));
    }

    [[nodiscard]] bool fail(const char* message, std::size_t offset) {
        error_ = ParseError{message, offset};
        return false;
    }
    [[nodiscard]] bool fail_at_end() { return fail(kUnexpectedEnd, text_.size()); }

    void skip_whitespace() {
        while (!at_end() && is_whitespace(peek())) ++position_;
    }

    // The index of a fresh node for a value starting at the current position.
    [[nodiscard]] std::optional<std::uint32_t> add_node(Kind kind) {
        if (node_count_ == nodes_.size()) {
            (void)fail(kTooManyValues, position_);
            return std::nullopt;
        }
        nodes_[node_count_] = JsonNode{.kind = kind};
        return node_count_++;
    }

    [[nodiscard]] bool parse_value(std::size_t depth) {
        skip_whitespace();
        if (at_end()) return fail_at_end();
        const char c = peek();
        if (c == '{') return parse_object(depth + 1);
        if (c == '[') return parse_array(depth + 1);
        if (c == '"') {
            const auto node = add_node(Kind::string);
            return node && parse_string(nodes_[*node]);
        }
        if (c == '-' || is_digit(c)) return parse_number();
        if (c == 't') return parse_literal("true", Kind::boolean, 1);
        if (c == 'f') return parse_literal("false", Kind::boolean, 0);
        if (c == 'n') return parse_literal("null", Kind::null, 0);
        return fail(kExpectedValue, position_);
    }

    [[nodiscard]] bool parse_literal(std::string_view word, Kind kind, std::int64_t integer) {
        if (!text_at(position_, word)) return fail(kInvalidLiteral, position_);
        const auto node = add_node(kind);
        if (!node) return false;
        nodes_[*node].integer = integer;
        position_ += word.size();
        return true;
    }

    // After a container's element: true if another follows (the comma is
    // consumed), false once `close` is consumed; an error otherwise.
    [[nodiscard]] std::optional<bool> next_entry(char close, const char* expected) {
        skip_whitespace();
        if (at_end()) {
            (void)fail_at_end();
            return std::nullopt;
        }
        const char c = peek();
        if (c != ',' && c != close) {
            (void)fail(expected, position_);
            return std::nullopt;
        }
        ++position_;
        return c == ',';
    }

    // The empty container case: consumes `close` if it comes first.
    [[nodiscard]] bool closes_at_once(char close) {
        skip_whitespace();
        if (at_end() || peek() != close) return false;
        ++position_;
        return true;
    }

    void finish_container(std::uint32_t index, std::uint32_t count) {
        nodes_[index].subtree = static_cast<std::uint32_t>(node_count_ - index);
        nodes_[index].count = count;
    }

    [[nodiscard]] bool parse_array(std::size_t depth) {
        if (depth > kMaxDepth) return fail(kTooDeep, position_);
        const auto index = add_node(Kind::array);
        if (!index) return false;
        ++position_;
        std::uint32_t count = 0;
        if (!closes_at_once(']')) {
            for (bool more = true; more; ++count) {
                if (!parse_value(depth)) return false;
                const auto next = next_entry(']', kExpectedCommaOrBracket);
                if (!next) return false;
                more = *next;
            }
        }
        finish_container(*index, count);
        return true;
    }

    [[nodiscard]] bool parse_object(std::size_t depth) {
        if (depth > kMaxDepth) return fail(kTooDeep, position_);
        const auto index = add_node(Kind::object);
        if (!index) return false;
        ++position_;
        std::uint32_t count = 0;
        if (!closes_at_once('}')) {
            for (bool more = true; more; ++count) {
                if (!parse_member(*index, depth)) return false;
                const auto next = next_entry('}', kExpectedCommaOrBrace);
                if (!next) return false;
                more = *next;
            }
        }
        finish_container(*index, count);
        return true;
    }

    // "key": value, inside the object whose node is `object`.
    [[nodiscard]] bool parse_member(std::uint32_t object, std::size_t depth) {
        skip_whitespace();
        if (at_end()) return fail_at_end();
        if (peek() != '"') return fail(kExpectedKey, position_);
        const std::size_t key_offset = position_;
        const auto key = add_node(Kind::string);
        if (!key || !parse_string(nodes_[*key])) return false;
        // Keys are compared decoded: "a" and "\u0061" are the same key.
        if (repeats_earlier_key(object, *key)) return fail(kDuplicateKey, key_offset);
        skip_whitespace();
        if (at_end()) return fail_at_end();
        if (peek() != ':') return fail(kExpectedColon, position_);
        ++position_;
        return parse_value(depth);
    }

    // Earlier members are complete, so their subtree sizes are known.
    // Quadratic in the members, which the node capacity keeps few.
    [[nodiscard]] bool repeats_earlier_key(std::uint32_t object, std::uint32_t key) const {
        const std::string_view name = text_of(nodes_[key]);
        for (std::size_t earlier = object + 1; earlier < key; earlier += 1 + nodes_[earlier + 1].subtree)
            if (text_of(nodes_[earlier]) == name) return true;
        return false;
    }

    // -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, measured from the
    // current position. Errors point at the number's first character.
    [[nodiscard]] bool parse_number() {
        const std::size_t start = position_;
        std::size_t end = position_;
        const auto skip_digits = [&] {
            const std::size_t first = end;
            while (end < text_.size() && is_digit(text_[end])) ++end;
            return end > first;
        };
        const auto next_is = [&](char c) { return end < text_.size() && text_[end] == c; };

        const bool negative = next_is('-');
        if (negative) ++end;
        const std::size_t digits_start = end;
        if (!skip_digits()) return fail(kInvalidNumber, start);
        const std::size_t digits_end = end;
        // A leading zero would otherwise read as 0 followed by garbage.
        if (text_[digits_start] == '0' && digits_end - digits_start > 1) return fail(kInvalidNumber, start);
        bool integral = true;
        if (next_is('.')) {
            ++end;
            if (!skip_digits()) return fail(kInvalidNumber, start);
            integral = false;
        }
        if (next_is('e') || next_is('E')) {
            ++end;
            if (next_is('+') || next_is('-')) ++end;
            if (!skip_digits()) return fail(kInvalidNumber, start);
            integral = false;
        }

        const auto node = add_node(integral ? Kind::integer : Kind::number);
        if (!node) return false;
        nodes_[*node].text = &text_[start];
        nodes_[*node].length = static_cast<std::uint32_t>(end - start);
        if (integral) {
            const auto integer = exact_integer(text_.subspan(digits_start, digits_end - digits_start), negative);
            if (!integer) return fail(kIntegerOutOfRange, start);
            nodes_[*node].integer = *integer;
        }
        position_ = end;
        return true;
    }

    [[nodiscard]] static std::optional<std::int64_t> exact_integer(std::span<const char> digits, bool negative) {
        // The magnitude is built unsigned so INT64_MIN, whose magnitude has
        // no positive int64, needs no special case.
        const std::uint64_t limit = negative ? std::uint64_t{1} << 63 : (std::uint64_t{1} << 63) - 1;
        std::uint64_t magnitude = 0;
        for (const char c : digits) {
            const auto digit = static_cast<std::uint64_t>(c - '0');
            if (magnitude > (limit - digit) / 10) return std::nullopt;
            magnitude = magnitude * 10 + digit;
        }
        // Unsigned to signed conversion wraps (C++20), giving -magnitude.
        return negative ? static_cast<std::int64_t>(std::uint64_t{0} - magnitude)
                        : static_cast<std::int64_t>(magnitude);
    }

    // Decodes the string at the current position (its opening quote) into
    // the same bytes: every escape is at least as long as what it decodes
    // to, so the write position never passes the read position.
    [[nodiscard]] bool parse_string(JsonNode& node) {
        const std::size_t start = position_ + 1;
        std::size_t read = start;
        std::size_t write = start;
        while (true) {
            if (read >= text_.size()) return fail(kUnterminatedString, position_);
            const char c = text_[read];
            if (c == '"') break;
            if (static_cast<unsigned char>(c) < 0x20) return fail(kControlCharacter, read);
            if (c == '\\') {
                if (!decode_escape(read, write)) return false;
            } else {
                text_[write++] = c;
                ++read;
            }
        }
        node.text = &text_[start];
        node.length = static_cast<std::uint32_t>(write - start);
        position_ = read + 1;
        return true;
    }

    // The escape at `read` (its backslash): appends its bytes at `write`
    // and moves both past it.
    [[nodiscard]] bool decode_escape(std::size_t& read, std::size_t& write) {
        if (read + 1 >= text_.size()) return fail(kUnterminatedString, position_);
        char decoded = 0;
        switch (text_[read + 1]) {
            case '"': decoded = '"'; break;
            case '\\': decoded = '\\'; break;
            case '/': decoded = '/'; break;
            case 'b': decoded = '\b'; break;
            case 'f': decoded = '\f'; break;
            case 'n': decoded = '\n'; break;
            case 'r': decoded = '\r'; break;
            case 't': decoded = '\t'; break;
            case 'u': return decode_unicode_escape(read, write);
            default: return fail(kInvalidEscape, read);
        }
        text_[write++] = decoded;
        read += 2;
        return true;
    }

    // The code unit of a \uXXXX escape at `offset`.
    [[nodiscard]] std::optional<std::uint32_t> unicode_escape_at(std::size_t offset) const {
        if (!text_at(offset, "\\u") || text_.size() - offset < 6) return std::nullopt;
        std::uint32_t unit = 0;
        for (std::size_t i = offset + 2; i < offset + 6; ++i) {
            const auto digit = hex_digit(text_[i]);
            if (!digit) return std::nullopt;
            unit = (unit << 4) | *digit;
        }
        return unit;
    }

    [[nodiscard]] bool decode_unicode_escape(std::size_t& read, std::size_t& write) {
        const auto unit = unicode_escape_at(read);
        if (!unit) return fail(kInvalidUnicodeEscape, read);
        std::uint32_t code_point = *unit;
        std::size_t escape_length = 6;
        if (code_point >= kLowSurrogateFirst && code_point <= kLowSurrogateLast) return fail(kUnpairedSurrogate, read);
        if (code_point >= kHighSurrogateFirst && code_point < kLowSurrogateFirst) {
            const auto low = unicode_escape_at(read + 6);
            if (!low || *low < kLowSurrogateFirst || *low > kLowSurrogateLast) return fail(kUnpairedSurrogate, read);
            code_point = 0x10000 + ((code_point - kHighSurrogateFirst) << 10) + (*low - kLowSurrogateFirst);
            escape_length = 12;
        }
        write_utf8(code_point, write);
        read += escape_length;
        return true;
    }

    void write_utf8(std::uint32_t code_point, std::size_t& write) {
        const auto put = [&](std::uint32_t byte) { text_[write++] = static_cast<char>(byte); };
        if (code_point < 0x80) {
            put(code_point);
        } else if (code_point < 0x800) {
            put(0xc0 | (code_point >> 6));
            put(0x80 | (code_point & 0x3f));
        } else if (code_point < 0x10000) {
            put(0xe0 | (code_point >> 12));
            put(0x80 | ((code_point >> 6) & 0x3f));
            put(0x80 | (code_point & 0x3f));
        } else {
            put(0xf0 | (code_point >> 18));
            put(0x80 | ((code_point >> 12) & 0x3f));
            put(0x80 | ((code_point >> 6) & 0x3f));
            put(0x80 | (code_point & 0x3f));
        }
    }

    std::span<char> text_;
    std::span<JsonNode> nodes_;
    std::size_t position_{0};
    std::size_t node_count_{0};
    ParseError error_{};
};

}  // namespace

ParseResult parse(std::span<char> text, std::span<JsonNode> nodes) {
    Parser parser{text, nodes};
    return parser.run();
}

// ---------------------------------------------------------------------------
// JsonValue

std::optional<bool> JsonValue::as_bool() const {
    if (node_->kind != Kind::boolean) return std::nullopt;
    return node_->integer != 0;
}

std::optional<std::int64_t> JsonValue::as_int() const {
    if (node_->kind != Kind::integer) return std::nullopt;
    return node_->integer;
}

std::optional<std::string_view> JsonValue::as_string() const {
    if (node_->kind != Kind::string) return std::nullopt;
    return text_of(*node_);
}

std::optional<std::string_view> JsonValue::number_text() const {
    if (node_->kind != Kind::integer && node_->kind != Kind::number) return std::nullopt;
    return text_of(*node_);
}

std::size_t JsonValue::size() const {
    if (node_->kind != Kind::array && node_->kind != Kind::object) return 0;
    return node_->count;
}

std::optional<JsonValue> JsonValue::find(std::string_view key) const {
    for (const Member member : members())
        if (member.key == key) return member.value;
    return std::nullopt;
}

JsonValue::ElementRange JsonValue::elements() const {
    // A non-array gives the empty range [node + 1, node + 1).
    const JsonNode* end = node_ + (node_->kind == Kind::array ? node_->subtree : 1);
    return ElementRange{node_ + 1, end};
}

JsonValue::MemberRange JsonValue::members() const {
    const JsonNode* end = node_ + (node_->kind == Kind::object ? node_->subtree : 1);
    return MemberRange{node_ + 1, end};
}

std::optional<std::string_view> unknown_key(JsonValue object, std::span<const std::string_view> allowed) {
    for (const Member member : object.members())
        if (std::none_of(allowed.begin(), allowed.end(), [&](std::string_view key) { return key == member.key; }))
            return member.key;
    return std::nullopt;
}

std::optional<std::string_view> unknown_key(JsonValue object, std::initializer_list<std::string_view> allowed) {
    return unknown_key(object, std::span<const std::string_view>{allowed.begin(), allowed.size()});
}

// ---------------------------------------------------------------------------
// JsonWriter

void JsonWriter::put(char c) {
    if (!usable()) return;
    if (length_ == buffer_.size()) {
        overflowed_ = true;
        return;
    }
    buffer_[length_++] = c;
}

void JsonWriter::put(std::string_view text) {
    for (const char c : text) put(c);
}

void JsonWriter::put_string(std::string_view text) {
    static constexpr std::string_view kHexDigits{"0123456789abcdef"};
    put('"');
    for (const char c : text) {
        switch (c) {
            case '"': put("\\\""); break;
            case '\\': put("\\\\"); break;
            case '\b': put("\\b"); break;
            case '\f': put("\\f"); break;
            case '\n': put("\\n"); break;
            case '\r': put("\\r"); break;
            case '\t': put("\\t"); break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    put("\\u00");
                    put(kHexDigits[static_cast<unsigned char>(c) >> 4]);
                    put(kHexDigits[static_cast<unsigned char>(c) & 0xf]);
                } else {
                    put(c);
                }
        }
    }
    put('"');
}

void JsonWriter::put_unsigned(std::uint64_t number) {
    std::array<char, 20> digits{};  // 2^64 - 1 has 20
    std::size_t count = 0;
    do {
        digits[count++] = static_cast<char>('0' + number % 10);
        number /= 10;
    } while (number != 0);
    while (count > 0) put(digits[--count]);
}

bool JsonWriter::begin_value() {
    if (!usable()) return false;
    if (depth_ == 0) {
        if (complete_) misused_ = true;  // a second top-level value
    } else if (in_object()) {
        if (!after_key_) misused_ = true;  // a member's value without its key
        after_key_ = false;
    } else {
        if (has_entries()) put(',');
        mark_entry();
    }
    return usable();
}

void JsonWriter::end_value() {
    if (depth_ == 0) complete_ = true;
}

void JsonWriter::begin_container(bool object) {
    if (!begin_value()) return;
    if (depth_ == kMaxDepth) {
        misused_ = true;
        return;
    }
    const std::uint64_t bit = std::uint64_t{1} << depth_;
    objects_ = object ? objects_ | bit : objects_ & ~bit;
    entries_ &= ~bit;
    ++depth_;
    put(object ? '{' : '[');
}

void JsonWriter::end_container(bool object) {
    if (!usable()) return;
    if (depth_ == 0 || in_object() != object || after_key_) {
        misused_ = true;
        return;
    }
    --depth_;
    put(object ? '}' : ']');
    end_value();
}

void JsonWriter::begin_object() { begin_container(true); }
void JsonWriter::end_object() { end_container(true); }
void JsonWriter::begin_array() { begin_container(false); }
void JsonWriter::end_array() { end_container(false); }

void JsonWriter::key(std::string_view name) {
    if (!usable()) return;
    if (!in_object() || after_key_) {
        misused_ = true;
        return;
    }
    if (has_entries()) put(',');
    mark_entry();
    put_string(name);
    put(':');
    after_key_ = true;
}

void JsonWriter::value(std::string_view text) {
    if (!begin_value()) return;
    put_string(text);
    end_value();
}

void JsonWriter::value(std::int64_t number) {
    if (!begin_value()) return;
    if (number < 0) {
        put('-');
        // Negated in unsigned arithmetic: -INT64_MIN does not fit in int64.
        put_unsigned(std::uint64_t{0} - static_cast<std::uint64_t>(number));
    } else {
        put_unsigned(static_cast<std::uint64_t>(number));
    }
    end_value();
}

void JsonWriter::value(std::uint64_t number) {
    if (!begin_value()) return;
    put_unsigned(number);
    end_value();
}

void JsonWriter::value(bool flag) {
    if (!begin_value()) return;
    put(flag ? std::string_view{"true"} : std::string_view{"false"});
    end_value();
}

void JsonWriter::value(Thousandths number) {
    if (!begin_value()) return;
    put_unsigned(number.value / 1000);
    put('.');
    const std::uint64_t fraction = number.value % 1000;
    if (fraction < 100) put('0');
    if (fraction < 10) put('0');
    put_unsigned(fraction);
    end_value();
}

void JsonWriter::null() {
    if (!begin_value()) return;
    put("null");
    end_value();
}

}  // namespace lamina::json
