#include "pin_list.hpp"

#include <stdexcept>

#include <gtest/gtest.h>

namespace lamina::cli {
namespace {

using Cpus = std::vector<unsigned>;

TEST(PinList, ParsesSingleCpusAndRanges) {
    EXPECT_EQ(parse_pin_list("0"), Cpus({0}));
    EXPECT_EQ(parse_pin_list("0,1"), Cpus({0, 1}));
    EXPECT_EQ(parse_pin_list("0-3,6"), Cpus({0, 1, 2, 3, 6}));
}

TEST(PinList, AnyMeansNoPinning) { EXPECT_TRUE(parse_pin_list("any").empty()); }

TEST(PinList, SortsAndDropsDuplicates) { EXPECT_EQ(parse_pin_list("3,1,1-2,3"), Cpus({1, 2, 3})); }

TEST(PinList, RejectsWhatIsNotAList) {
    for (const char* text : {"", ",", "0,", ",1", "a", "1.5", "-1", "0-", "-", "1 ,2", "0x1", "any,1", "3-1"})
        EXPECT_THROW((void)parse_pin_list(text), std::invalid_argument) << '"' << text << '"';
}

TEST(PinList, RejectsHugeCpuNumbers) {
    EXPECT_THROW((void)parse_pin_list("0-4000000000"), std::invalid_argument);
    EXPECT_THROW((void)parse_pin_list("99999999999999999999"), std::invalid_argument);
    EXPECT_EQ(parse_pin_list("4095").front(), kMaxCpuNumber);
}

TEST(PinList, ExplainsTheProblem) {
    try {
        (void)parse_pin_list("0,x");
        FAIL();
    } catch (const std::invalid_argument& error) {
        EXPECT_STREQ(error.what(), "\"0,x\" is not a CPU list such as 0,1 or 0-3 or any (bad element \"x\")");
    }
}

TEST(PinList, FormatsListsAndAny) {
    EXPECT_EQ(format_pin_list({}), "any");
    EXPECT_EQ(format_pin_list({0, 1, 3}), "0,1,3");
}

}  // namespace
}  // namespace lamina::cli
