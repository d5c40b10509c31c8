// What the header-only parts of the C++ library expect from a runtime: the
// hooks they call on errors. (The C memory functions are in
// c_memory_functions.cpp, shared with the test guests.)

#include "core/panic.hpp"

extern "C" {

void __cxa_pure_virtual() { lamina::panic_with("pure virtual function called"); }

}  // extern "C"

namespace std {
[[noreturn]] void __throw_out_of_range_fmt(const char*, ...) { lamina::panic_with("out of range (library check)"); }
[[noreturn]] void __throw_out_of_range(const char*) { lamina::panic_with("out of range (library check)"); }
[[noreturn]] void __throw_length_error(const char*) { lamina::panic_with("length error (library check)"); }
[[noreturn]] void __throw_bad_optional_access() { lamina::panic_with("empty optional accessed"); }
}  // namespace std
