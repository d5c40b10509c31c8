// libFuzzer target for the management API's JSON reader and writer. The
// input is one JSON text. A refused text must come with an error inside it;
// an accepted one is written back with JsonWriter and parsed again, and must
// come back as the same values (a number with a fraction or an exponent,
// which the writer has no call for, travels as a string of its text).
// Writing the copy again must give the same text, and writing into a buffer
// cut short must overflow cleanly: a prefix of the full text, nothing
// written past the buffer (guard bytes after it).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "core/json.hpp"

namespace {

using lamina::json::JsonDocument;
using lamina::json::JsonValue;
using lamina::json::JsonWriter;
using lamina::json::Kind;
using lamina::json::Member;

constexpr std::size_t kNodes = 1024;
constexpr std::size_t kGuard = 64;
constexpr char kGuardByte = '\x5a';

void check(bool holds) {
    if (!holds) __builtin_trap();
}

void write_value(JsonWriter& out, JsonValue value) {
    switch (value.kind()) {
        case Kind::null: out.null(); break;
        case Kind::boolean: out.value(*value.as_bool()); break;
        case Kind::integer: out.value(*value.as_int()); break;
        case Kind::number: out.value(*value.number_text()); break;
        case Kind::string: out.value(*value.as_string()); break;
        case Kind::array:
            out.begin_array();
            for (const JsonValue element : value.elements()) write_value(out, element);
            out.end_array();
            break;
        case Kind::object:
            out.begin_object();
            for (const Member member : value.members()) {
                out.key(member.key);
                write_value(out, member.value);
            }
            out.end_object();
            break;
    }
}

// `copy` is what became of `original` after writing and parsing again.
void check_same(JsonValue original, JsonValue copy) {
    if (original.kind() == Kind::number) {
        check(copy.as_string() == original.number_text());
        return;
    }
    check(original.kind() == copy.kind());
    check(original.size() == copy.size());
    switch (original.kind()) {
        case Kind::null: break;
        case Kind::boolean: check(original.as_bool() == copy.as_bool()); break;
        case Kind::integer: check(original.as_int() == copy.as_int()); break;
        case Kind::number: break;
        case Kind::string: check(original.as_string() == copy.as_string()); break;
        case Kind::array: {
            auto copied = copy.elements().begin();
            for (const JsonValue element : original.elements()) check_same(element, *copied++);
            check(copied == copy.elements().end());
            break;
        }
        case Kind::object: {
            auto copied = copy.members().begin();
            for (const Member member : original.members()) {
                const Member copied_member = *copied++;
                check(member.key == copied_member.key);
                check_same(member.value, copied_member.value);
                check(copy.find(member.key).has_value());
            }
            check(copied == copy.members().end());
            break;
        }
    }
}

// Writes `value` into the first `size` bytes of a guarded buffer.
void check_cut_short(JsonValue value, std::string_view full_text, std::size_t size) {
    std::vector<char> storage(size + kGuard, kGuardByte);
    JsonWriter out{std::span<char>{storage.data(), size}};
    write_value(out, value);
    const bool fits = size >= full_text.size();
    check(out.ok() == fits);
    check(out.overflowed() == !fits);
    check(out.text() == full_text.substr(0, std::min(size, full_text.size())));
    check(std::all_of(storage.begin() + static_cast<std::ptrdiff_t>(size), storage.end(),
                      [](char c) { return c == kGuardByte; }));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // Each text in its own exactly-sized buffer, so ASan sees any overread.
    std::vector<char> text(data, data + size);
    static JsonDocument<kNodes> document;
    const auto parsed = document.parse(text);
    if (!parsed) {
        check(parsed.error().message != nullptr && parsed.error().offset <= size);
        return 0;
    }

    // Quoting a number text grows it by 2 bytes, never past double its size;
    // escapes never grow what they decode back to.
    std::vector<char> written(2 * size + 16);
    JsonWriter out{written};
    write_value(out, *parsed);
    check(out.ok());

    std::vector<char> reread_text(out.text().begin(), out.text().end());
    static JsonDocument<kNodes> reread_document;
    const auto reread = reread_document.parse(reread_text);
    check(reread.ok());
    check_same(*parsed, *reread);

    std::vector<char> rewritten(written.size());
    JsonWriter again{rewritten};
    write_value(again, *reread);
    check(again.ok() && again.text() == out.text());

    const std::size_t cut = size > 0 ? (data[0] | (data[size - 1] << 8)) % (out.text().size() + 1) : 0;
    check_cut_short(*parsed, out.text(), cut);
    return 0;
}
