// A small JSON reader and writer for the management API (see
// docs/management-api.md): requests are untrusted JSON texts of at most
// 4096 bytes, replies are built into a fixed buffer.
//
// Reading is allocation-free. parse() decodes strings in place in the
// caller's buffer and records one JsonNode per value (and per object key) in
// a caller-provided array; every JsonValue and string_view it hands out points
// into those two, which must outlive them:
//
//   JsonDocument<64> document;
//   const ParseResult request = document.parse(line);
//   if (!request) reply_malformed(request.error().message, request.error().offset);
//   if (unknown_key(*request, {"id", "op", "vm"})) ...
//   const auto op = request->find("op");
//
// The reader is strict: duplicate keys, text after the value, unpaired
// surrogates, integers outside int64 and nesting deeper than kMaxDepth are
// errors. Bytes >= 0x80 in strings are taken as they are (not checked to be
// UTF-8); \uXXXX escapes decode to UTF-8.
#pragma once

#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>

#include "core/format.hpp"

namespace lamina::json {

// Containers nested deeper than this are refused (the outermost one is 1).
inline constexpr std::size_t kMaxDepth = 16;

enum class Kind : std::uint8_t {
    null,
    boolean,
    integer,  // fits in int64
    number,   // has a fraction or an exponent: accepted, but never read as an integer
    string,
    array,
    object,
};

// Storage for one parsed value; read it through JsonValue. Nodes are in
// document order, an object's members as key node then value node(s).
struct JsonNode final {
    Kind kind{Kind::null};
    std::uint32_t subtree{1};   // nodes in this value's subtree, itself included
    std::uint32_t count{0};     // elements of an array, members of an object
    std::uint32_t length{0};    // bytes at `text`
    const char* text{nullptr};  // a string's decoded bytes; a number as written
    std::int64_t integer{0};    // integers; booleans as 0 or 1
};

namespace detail {
inline constexpr JsonNode kNullNode{};
}  // namespace detail

// A read-only view of one parsed value. Accessors answer nullopt (or an
// empty range) when the value is of another kind, so request validation is
// a chain of checks without separate kind tests.
class JsonValue final {
public:
    class ElementRange;
    class MemberRange;

    JsonValue() = default;  // null
    explicit JsonValue(const JsonNode* node) : node_{node} {}

    [[nodiscard]] Kind kind() const { return node_->kind; }
    [[nodiscard]] bool is_null() const { return node_->kind == Kind::null; }
    [[nodiscard]] std::optional<bool> as_bool() const;
    // Only for Kind::integer: 1.0 and 1e2 are not integers.
    [[nodiscard]] std::optional<std::int64_t> as_int() const;
    [[nodiscard]] std::optional<std::string_view> as_string() const;
    // Any number as written in the text ("-12", "1.5e3").
    [[nodiscard]] std::optional<std::string_view> number_text() const;
    // Elements of an array, members of an object; 0 for anything else.
    [[nodiscard]] std::size_t size() const;

    // The member of an object with this (decoded) key.
    [[nodiscard]] std::optional<JsonValue> find(std::string_view key) const;
    [[nodiscard]] ElementRange elements() const;  // empty unless an array
    [[nodiscard]] MemberRange members() const;    // empty unless an object

private:
    const JsonNode* node_{&detail::kNullNode};
};

struct Member final {
    std::string_view key;
    JsonValue value;
};

class JsonValue::ElementRange final {
public:
    class Iterator final {
    public:
        explicit Iterator(const JsonNode* node) : node_{node} {}
        [[nodiscard]] JsonValue operator*() const { return JsonValue{node_}; }
        Iterator& operator++() {
            node_ += node_->subtree;
            return *this;
        }
        Iterator operator++(int) {
            const Iterator before = *this;
            ++*this;
            return before;
        }
        [[nodiscard]] bool operator==(const Iterator& other) const = default;

    private:
        const JsonNode* node_;
    };

    ElementRange(const JsonNode* first, const JsonNode* end) : first_{first}, end_{end} {}
    [[nodiscard]] Iterator begin() const { return Iterator{first_}; }
    [[nodiscard]] Iterator end() const { return Iterator{end_}; }

private:
    const JsonNode* first_;
    const JsonNode* end_;
};

class JsonValue::MemberRange final {
public:
    class Iterator final {
    public:
        explicit Iterator(const JsonNode* key) : key_{key} {}
        [[nodiscard]] Member operator*() const {
            return Member{.key = {key_->text, key_->length}, .value = JsonValue{key_ + 1}};
        }
        Iterator& operator++() {
            key_ += 1 + key_[1].subtree;
            return *this;
        }
        Iterator operator++(int) {
            const Iterator before = *this;
            ++*this;
            return before;
        }
        [[nodiscard]] bool operator==(const Iterator& other) const = default;

    private:
        const JsonNode* key_;
    };

    MemberRange(const JsonNode* first, const JsonNode* end) : first_{first}, end_{end} {}
    [[nodiscard]] Iterator begin() const { return Iterator{first_}; }
    [[nodiscard]] Iterator end() const { return Iterator{end_}; }

private:
    const JsonNode* first_;
    const JsonNode* end_;
};

// Why a text was refused: a static message and the byte offset in the text
// where the problem was found (the text's size when it ended too early).
struct ParseError final {
    const char* message{"json: unknown error"};
    std::size_t offset{0};
};

// The root value of a parsed text, or why there is none.
class [[nodiscard]] ParseResult final {
public:
    ParseResult(JsonValue root) : root_{root}, ok_{true} {}      // NOLINT: implicit by design
    ParseResult(ParseError error) : error_{error}, ok_{false} {}  // NOLINT: implicit by design

    [[nodiscard]] bool ok() const { return ok_; }
    [[nodiscard]] explicit operator bool() const { return ok_; }
    // A null value when parsing failed.
    [[nodiscard]] JsonValue value() const { return root_; }
    [[nodiscard]] const JsonValue& operator*() const { return root_; }
    [[nodiscard]] const JsonValue* operator->() const { return &root_; }
    [[nodiscard]] ParseError error() const { return error_; }

private:
    JsonValue root_{};
    ParseError error_{};
    bool ok_;
};

// Parses one JSON text (surrounding whitespace allowed), rewriting its
// strings in place. Needs one node per value and per object key; more is
// the error "too many values".
ParseResult parse(std::span<char> text, std::span<JsonNode> nodes);

// A parser with its own node storage. Values from parse() point into the
// document: keep it alive, and in place, while they are used.
template <std::size_t Capacity>
class JsonDocument final {
public:
    ParseResult parse(std::span<char> text) { return json::parse(text, nodes_); }

private:
    std::array<JsonNode, Capacity> nodes_{};
};

// The first key of `object` not in `allowed`; nullopt when every key is
// allowed (or `object` is not an object).
[[nodiscard]] std::optional<std::string_view> unknown_key(JsonValue object, std::span<const std::string_view> allowed);
[[nodiscard]] std::optional<std::string_view> unknown_key(JsonValue object,
                                                          std::initializer_list<std::string_view> allowed);

// Writes one JSON value into a caller-provided buffer, compactly, adding the
// commas and colons itself:
//
//   JsonWriter out{buffer};
//   out.begin_object();
//   out.member("id", 7);
//   out.key("result");
//   out.begin_array();
//   out.value("web");
//   out.end_array();
//   out.end_object();
//   if (out.ok()) send(out.text());
//
// It never writes outside the buffer. When the buffer is too small, or the
// calls do not describe one well-formed value (a value where a key is due,
// an unbalanced end, two top-level values), writing stops and ok() is false.
class JsonWriter final {
public:
    static constexpr std::size_t kMaxDepth = 64;

    explicit JsonWriter(std::span<char> buffer) : buffer_{buffer} {}

    void begin_object();
    void end_object();
    void begin_array();
    void end_array();
    // In an object, before each value.
    void key(std::string_view name);

    // Strings are escaped: quote, backslash and control characters (the
    // common ones as \n \r \t \b \f, the others as \u00XX); other bytes,
    // including those >= 0x80, are copied.
    void value(std::string_view text);
    void value(const char* text) { value(std::string_view{text}); }  // not the bool overload
    void value(std::int64_t number);
    void value(std::uint64_t number);
    void value(bool flag);
    void value(Thousandths number);  // a decimal with three places
    // Other integer types, without an ambiguous conversion.
    template <std::integral T>
        requires(!std::same_as<T, bool> && !std::same_as<T, char>)
    void value(T number) {
        if constexpr (std::is_signed_v<T>)
            value(static_cast<std::int64_t>(number));
        else
            value(static_cast<std::uint64_t>(number));
    }
    void null();

    // key(name) then value(v).
    template <typename T>
    void member(std::string_view name, const T& v) {
        key(name);
        value(v);
    }

    // The buffer was too small; the text is cut short and must not be used.
    [[nodiscard]] bool overflowed() const { return overflowed_; }
    // One complete, well-formed value fit in the buffer.
    [[nodiscard]] bool ok() const { return !overflowed_ && !misused_ && depth_ == 0 && complete_; }
    // What has been written so far.
    [[nodiscard]] std::string_view text() const { return {buffer_.data(), length_}; }

private:
    [[nodiscard]] bool usable() const { return !overflowed_ && !misused_; }
    [[nodiscard]] bool in_object() const { return depth_ > 0 && ((objects_ >> (depth_ - 1)) & 1) != 0; }
    [[nodiscard]] bool has_entries() const { return depth_ > 0 && ((entries_ >> (depth_ - 1)) & 1) != 0; }
    void mark_entry() { entries_ |= std::uint64_t{1} << (depth_ - 1); }
    // Places a value: false when one is not allowed here.
    [[nodiscard]] bool begin_value();
    void end_value();
    void begin_container(bool object);
    void end_container(bool object);
    void put(char c);
    void put(std::string_view text);
    void put_string(std::string_view text);
    void put_unsigned(std::uint64_t number);

    std::span<char> buffer_;
    std::size_t length_{0};
    std::size_t depth_{0};
    std::uint64_t objects_{0};  // bit d: the container at depth d + 1 is an object
    std::uint64_t entries_{0};  // bit d: that container has an element or member already
    bool after_key_{false};     // a key was written; its value is due
    bool complete_{false};      // the top-level value is finished
    bool overflowed_{false};
    bool misused_{false};
};

}  // namespace lamina::json
