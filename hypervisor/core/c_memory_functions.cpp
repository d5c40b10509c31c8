// The C memory functions the compiler may emit calls to on its own (struct
// copies, zeroing, std::string_view internals), for freestanding code: the
// hypervisor and the bare-metal test guests. Every access is naturally
// aligned, so they also work with the MMU off (Device memory). Built with
// -fno-tree-loop-distribute-patterns so GCC cannot turn these loops back into
// calls to themselves.
#include <cstddef>
#include <cstdint>

extern "C" {

void* memcpy(void* destination, const void* source, std::size_t count) {
    auto* to = static_cast<unsigned char*>(destination);
    const auto* from = static_cast<const unsigned char*>(source);
    if (((reinterpret_cast<std::uintptr_t>(to) | reinterpret_cast<std::uintptr_t>(from) | count) & 7) == 0) {
        for (std::size_t i = 0; i < count; i += 8)
            *reinterpret_cast<std::uint64_t*>(to + i) = *reinterpret_cast<const std::uint64_t*>(from + i);
        return destination;
    }
    for (std::size_t i = 0; i < count; ++i) to[i] = from[i];
    return destination;
}

void* memmove(void* destination, const void* source, std::size_t count) {
    auto* to = static_cast<unsigned char*>(destination);
    const auto* from = static_cast<const unsigned char*>(source);
    if (to < from) {
        for (std::size_t i = 0; i < count; ++i) to[i] = from[i];
    } else {
        for (std::size_t i = count; i > 0; --i) to[i - 1] = from[i - 1];
    }
    return destination;
}

void* memset(void* destination, int value, std::size_t count) {
    auto* to = static_cast<unsigned char*>(destination);
    if (value == 0 && ((reinterpret_cast<std::uintptr_t>(to) | count) & 15) == 0) {
        for (std::size_t i = 0; i < count; i += 16) {
            *reinterpret_cast<std::uint64_t*>(to + i) = 0;
            *reinterpret_cast<std::uint64_t*>(to + i + 8) = 0;
        }
        return destination;
    }
    for (std::size_t i = 0; i < count; ++i) to[i] = static_cast<unsigned char>(value);
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
