// Whole-file reads and atomic writes for lamina-bundle.
#pragma once

#include <cstddef>
#include <filesystem>
#include <span>
#include <stdexcept>
#include <vector>

namespace lamina::bundle_tool {

// Any failure the user should see as "error: <message>" and exit code 1.
class ToolError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Reads a regular file completely. Throws ToolError naming the file.
[[nodiscard]] std::vector<std::byte> read_file(const std::filesystem::path& path);

// Writes to a temporary file next to `path`, flushes it to disk, then renames
// it over `path`: readers (and a QEMU started concurrently) never see a
// half-written bundle, and a failed build leaves the old file untouched.
void write_file_atomically(const std::filesystem::path& path, std::span<const std::byte> bytes);

}  // namespace lamina::bundle_tool
