#include "core/format.hpp"

#include <gtest/gtest.h>

namespace lamina {
namespace {

TEST(Format, SubstitutesPlaceholdersInOrder) {
    FormatBuffer out;
    format_to(out, "vm {} has {} vCPUs at {} ({})", "hello", 2u, Hex{0x4000'0000}, -3);
    EXPECT_EQ(out.view(), "vm hello has 2 vCPUs at 0x40000000 (-3)");
}

TEST(Format, PrintsAddressesOfEverySpaceAsHex) {
    FormatBuffer out;
    format_to(out, "{} {}", GuestPhysAddr{0x9000000}, HostPhysAddr{0});
    EXPECT_EQ(out.view(), "0x9000000 0x0");
}

TEST(Format, KeepsTextAfterTheLastArgumentAndIgnoresSurplusHoles) {
    FormatBuffer out;
    format_to(out, "{} and {}", true);
    EXPECT_EQ(out.view(), "true and {}");
}

TEST(Format, TruncatesInsteadOfOverflowing) {
    FormatBuffer out;
    for (int i = 0; i < 1000; ++i) out.append('x');
    EXPECT_EQ(out.view().size(), FormatBuffer::kCapacity);
}

}  // namespace
}  // namespace lamina
