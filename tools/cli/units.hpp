// Numbers as people read them (tables, top) and as Prometheus reads them.
#pragma once

#include <cstdint>
#include <string>

namespace lamina::cli {

inline constexpr std::uint64_t kBytesPerMiB = 1024 * 1024;
inline constexpr std::uint64_t kNanosecondsPerSecond = 1'000'000'000;

// Exact decimal seconds without trailing zeros: 1200000000 -> "1.2",
// 5 -> "0.000000005". No floating point, so large counters stay exact.
[[nodiscard]] std::string exact_seconds(std::uint64_t nanoseconds);

// Seconds with a fixed number of decimals for tables: (1234567890, 2) -> "1.23".
[[nodiscard]] std::string fixed_seconds(std::uint64_t nanoseconds, int decimals);

// Bytes in the largest binary unit that keeps the number at least 1:
// 512 -> "512 B", 1536 -> "1.5 KiB", 3 MiB -> "3.0 MiB".
[[nodiscard]] std::string human_bytes(double bytes);

}  // namespace lamina::cli
