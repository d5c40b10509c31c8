// A tiny, bounds-checked reader for the flattened device tree Lamina hands a
// guest in x0. It extracts only what the test guests need and never reads
// outside the blob's declared size, whatever the blob contains.
#pragma once

#include <cstdint>
#include <string_view>

namespace guest {

struct DeviceTreeFacts {
    std::uint64_t ram_base{0};     // first range of the first /memory node
    std::uint64_t ram_size{0};
    unsigned cpu_count{0};         // /cpus/cpu@N nodes
    std::string_view bootargs{};   // /chosen/bootargs without its NUL; may be empty
    std::uint32_t blob_size{0};    // the header's totalsize
};

struct DeviceTreeResult final {
    DeviceTreeFacts facts{};
    std::string_view error{};  // empty on success, else what was wrong
};

// The largest blob accepted; Linux imposes the same limit.
inline constexpr std::uint32_t kMaxDeviceTreeBytes = 2u << 20;

// `blob` points at the blob's header; at most its totalsize bytes are read
// (and the 40-byte header before that size is known).
[[nodiscard]] DeviceTreeResult read_device_tree(const unsigned char* blob);

}  // namespace guest
