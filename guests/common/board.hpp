// The virtual board every Lamina VM sees (see guests/README.md).
#pragma once

#include <cstdint>

namespace guest::board {

inline constexpr std::uintptr_t kRamBase = 0x4000'0000;
inline constexpr std::uintptr_t kUartBase = 0x0900'0000;  // PL011

}  // namespace guest::board
