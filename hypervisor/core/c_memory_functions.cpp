// The C memory functions the compiler may emit calls to on its own (struct
// copies, zeroing, std::string_view internals), for freestanding code: the
// hypervisor and the bare-metal test guests. Every access is naturally
// aligned, so they also work with the MMU off (Device memory). Built with
// -fno-tree-loop-distribute-patterns so GCC cannot turn these loops back into
// calls to themselves.
#include <cstddef>
#include <cstdint>

namespace {

// Word accesses may alias anything (the bytes behind the caller's pointers).
using Word = std::uint64_t __attribute__((may_alias));
constexpr std::uintptr_t kWordMask = sizeof(Word) - 1;

[[nodiscard]] std::uintptr_t address_of(const void* pointer) { return reinterpret_cast<std::uintptr_t>(pointer); }

// Copies with aligned word stores once the destination is aligned. A
// source at another alignment is read as aligned words and spliced, so
// every access stays naturally aligned (a word read may go past the
// source's end, but never past its aligned word, so never into another
// page). Eight bytes per step instead of one: guest buffers are copied here.
void copy_forward(unsigned char* to, const unsigned char* from, std::size_t count) {
    for (; count != 0 && (address_of(to) & kWordMask) != 0; --count) *to++ = *from++;
    const std::uintptr_t misalignment = address_of(from) & kWordMask;
    if (misalignment == 0) {
        for (; count >= 4 * sizeof(Word); count -= 4 * sizeof(Word), to += 32, from += 32) {
            const auto* source = reinterpret_cast<const Word*>(from);
            auto* destination = reinterpret_cast<Word*>(to);
            destination[0] = source[0];
            destination[1] = source[1];
            destination[2] = source[2];
            destination[3] = source[3];
        }
        for (; count >= sizeof(Word); count -= sizeof(Word), to += 8, from += 8)
            *reinterpret_cast<Word*>(to) = *reinterpret_cast<const Word*>(from);
    } else if (count >= sizeof(Word)) {
        const unsigned low_shift = static_cast<unsigned>(8 * misalignment);
        const unsigned high_shift = 64 - low_shift;
        const auto* source = reinterpret_cast<const Word*>(from - misalignment);
        Word current = *source++;
        for (; count >= sizeof(Word); count -= sizeof(Word), to += 8, from += 8) {
            const Word next = *source++;
            *reinterpret_cast<Word*>(to) = (current >> low_shift) | (next << high_shift);  // little endian
            current = next;
        }
    }
    for (; count != 0; --count) *to++ = *from++;
}

}  // namespace

extern "C" {

void* memcpy(void* destination, const void* source, std::size_t count) {
    copy_forward(static_cast<unsigned char*>(destination), static_cast<const unsigned char*>(source), count);
    return destination;
}

void* memmove(void* destination, const void* source, std::size_t count) {
    auto* to = static_cast<unsigned char*>(destination);
    const auto* from = static_cast<const unsigned char*>(source);
    if (to <= from || to >= from + count) {
        copy_forward(to, from, count);  // no overlap that a forward copy would trample
    } else {
        for (std::size_t i = count; i > 0; --i) to[i - 1] = from[i - 1];
    }
    return destination;
}

void* memset(void* destination, int value, std::size_t count) {
    auto* to = static_cast<unsigned char*>(destination);
    const auto byte = static_cast<unsigned char>(value);
    for (; count != 0 && (address_of(to) & kWordMask) != 0; --count) *to++ = byte;
    const Word pattern = Word{byte} * 0x0101'0101'0101'0101ULL;
    for (; count >= sizeof(Word); count -= sizeof(Word), to += 8) *reinterpret_cast<Word*>(to) = pattern;
    for (; count != 0; --count) *to++ = byte;
    return destination;
}

int memcmp(const void* left, const void* right, std::size_t count) {
    const auto* a = static_cast<const unsigned char*>(left);
    const auto* b = static_cast<const unsigned char*>(right);
    for (std::size_t i = 0; i < count; ++i) {
        if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
    }
    return 0;
}

void* memchr(const void* memory, int value, std::size_t count) {
    const auto* bytes = static_cast<const unsigned char*>(memory);
    for (std::size_t i = 0; i < count; ++i) {
        if (bytes[i] == static_cast<unsigned char>(value)) return const_cast<unsigned char*>(bytes + i);
    }
    return nullptr;
}

std::size_t strlen(const char* text) {
    std::size_t length = 0;
    while (text[length] != '\0') ++length;
    return length;
}

}  // extern "C"
