// The freestanding memcpy/memmove/memset (core/c_memory_functions.cpp),
// compiled under other names so the host's own stay in use: every offset
// and length combination against a byte-by-byte reference.
#include <gtest/gtest.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

extern "C" {
void* lamina_memcpy(void* destination, const void* source, std::size_t count);
void* lamina_memmove(void* destination, const void* source, std::size_t count);
void* lamina_memset(void* destination, int value, std::size_t count);
}

namespace {

// Room around every copy: word reads may run to the end of the source's
// last aligned word, which must stay inside the buffer for the sanitizers.
constexpr std::size_t kBuffer = 256;
constexpr std::size_t kMaxLength = 80;

using Bytes = std::array<unsigned char, kBuffer>;

Bytes pattern(unsigned seed) {
    Bytes bytes{};
    for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<unsigned char>(i * 7 + seed);
    return bytes;
}

TEST(CMemoryFunctions, MemcpyEveryAlignmentAndLength) {
    const Bytes source = pattern(1);
    for (std::size_t to = 0; to < 16; ++to)
        for (std::size_t from = 0; from < 16; ++from)
            for (std::size_t length = 0; length <= kMaxLength; ++length) {
                Bytes got = pattern(9);
                Bytes want = got;
                for (std::size_t i = 0; i < length; ++i) want[to + i] = source[from + i];
                EXPECT_EQ(lamina_memcpy(got.data() + to, source.data() + from, length), got.data() + to);
                ASSERT_EQ(got, want) << "to " << to << " from " << from << " length " << length;
            }
}

TEST(CMemoryFunctions, MemmoveOverlappingBothWays) {
    for (std::size_t to = 0; to < 24; ++to)
        for (std::size_t from = 0; from < 24; ++from)
            for (std::size_t length = 0; length <= kMaxLength; ++length) {
                Bytes got = pattern(3);
                Bytes want = got;
                std::memmove(want.data() + 64 + to, want.data() + 64 + from, length);
                lamina_memmove(got.data() + 64 + to, got.data() + 64 + from, length);
                ASSERT_EQ(got, want) << "to " << to << " from " << from << " length " << length;
            }
}

TEST(CMemoryFunctions, MemsetEveryAlignmentAndLength) {
    for (std::size_t to = 0; to < 16; ++to)
        for (std::size_t length = 0; length <= kMaxLength; ++length) {
            Bytes got = pattern(5);
            Bytes want = got;
            for (std::size_t i = 0; i < length; ++i) want[to + i] = 0xa7;
            lamina_memset(got.data() + to, 0x1a7, length);  // only the low byte counts
            ASSERT_EQ(got, want) << "to " << to << " length " << length;
        }
}

}  // namespace
