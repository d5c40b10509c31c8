// Console input arrives in arbitrary chunks of bytes, but console_input's
// "data" is a JSON string: a UTF-8 character split across two reads must be
// sent whole, in the second request.
#pragma once

#include <cstddef>
#include <string_view>

namespace lamina::cli {

// Length of the longest prefix of `bytes` that does not end inside a
// multi-byte UTF-8 sequence. Invalid bytes count as complete (they are sent
// as U+FFFD); only a sequence that more bytes could still finish is held back.
[[nodiscard]] std::size_t complete_utf8_prefix(std::string_view bytes);

}  // namespace lamina::cli
