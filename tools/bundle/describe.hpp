// `lamina-bundle describe`: what Lamina will make of a bundle, using
// Lamina's own parser (core/bundle.cpp compiled for the host).
#pragma once

#include <filesystem>
#include <ostream>

namespace lamina::bundle_tool {

enum class DescribeFormat { kTable, kJson };

// Prints the VMs of `file` to `out`. Returns true when the header and every
// record are valid; problems are printed (to `out` as part of the table or
// the JSON) either way. Throws ToolError if the file cannot be read.
[[nodiscard]] bool describe_bundle(const std::filesystem::path& file, DescribeFormat format, std::ostream& out);

}  // namespace lamina::bundle_tool
