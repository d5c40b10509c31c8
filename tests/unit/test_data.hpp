// Test fixtures compiled from tests/unit/data (LAMINA_TEST_DATA), shared by
// the device-tree and platform tests.
#pragma once

#include <algorithm>
#include <cstddef>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace lamina::test {

using Blob = std::vector<std::byte>;

[[nodiscard]] inline Blob load_fixture(const std::string& name) {
    std::ifstream file{std::string{LAMINA_TEST_DATA} + "/" + name, std::ios::binary};
    EXPECT_TRUE(file.good()) << "missing fixture " << name;
    const std::vector<char> chars{std::istreambuf_iterator<char>{file}, std::istreambuf_iterator<char>{}};
    Blob blob(chars.size());
    std::transform(chars.begin(), chars.end(), blob.begin(), [](char c) { return static_cast<std::byte>(c); });
    return blob;
}

}  // namespace lamina::test
