#include "utf8.hpp"

namespace lamina::cli {

namespace {

// Bytes in a sequence starting with `lead`; 0 for a continuation byte, 1 for
// ASCII and for bytes that cannot start a sequence.
[[nodiscard]] std::size_t sequence_length(unsigned char lead) {
    if ((lead & 0xc0) == 0x80) return 0;
    if ((lead & 0xe0) == 0xc0) return 2;
    if ((lead & 0xf0) == 0xe0) return 3;
    if ((lead & 0xf8) == 0xf0) return 4;
    return 1;
}

}  // namespace

std::size_t complete_utf8_prefix(std::string_view bytes) {
    constexpr std::size_t kLongestSequence = 4;
    // Look back for the last lead byte among the final three bytes.
    for (std::size_t back = 1; back < kLongestSequence && back <= bytes.size(); ++back) {
        const std::size_t start = bytes.size() - back;
        const std::size_t length = sequence_length(static_cast<unsigned char>(bytes[start]));
        if (length == 0) continue;
        return length > back ? start : bytes.size();
    }
    return bytes.size();
}

}  // namespace lamina::cli
