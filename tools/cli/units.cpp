#include "units.hpp"

#include <array>
#include <string_view>

#include <fmt/format.h>

namespace lamina::cli {

std::string exact_seconds(std::uint64_t nanoseconds) {
    const std::uint64_t whole = nanoseconds / kNanosecondsPerSecond;
    const std::uint64_t fraction = nanoseconds % kNanosecondsPerSecond;
    if (fraction == 0) return fmt::format("{}", whole);
    std::string digits = fmt::format("{:09}", fraction);
    digits.erase(digits.find_last_not_of('0') + 1);
    return fmt::format("{}.{}", whole, digits);
}

std::string fixed_seconds(std::uint64_t nanoseconds, int decimals) {
    return fmt::format("{:.{}f}", static_cast<double>(nanoseconds) / kNanosecondsPerSecond, decimals);
}

std::string human_bytes(double bytes) {
    constexpr std::array<std::string_view, 5> kUnits{"KiB", "MiB", "GiB", "TiB", "PiB"};
    if (bytes < 1024.0) return fmt::format("{:.0f} B", bytes);
    std::size_t unit = 0;
    bytes /= 1024.0;
    while (bytes >= 1024.0 && unit + 1 < kUnits.size()) {
        bytes /= 1024.0;
        ++unit;
    }
    return fmt::format("{:.1f} {}", bytes, kUnits[unit]);
}

}  // namespace lamina::cli
