// SMCCC TRNG: bit-count checks, where N bits land in x1..x3 for RND32 and
// RND64, running out of entropy, and the UUID's word encoding.
#include "core/trng.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

namespace lamina::trng {
namespace {

// Hands out its values in order, then nothing (NO_ENTROPY).
class FakeSource {
public:
    explicit FakeSource(std::vector<std::uint64_t> values) : values_{std::move(values)} {}
    std::optional<std::uint64_t> operator()() {
        ++calls;
        if (next_ == values_.size()) return std::nullopt;
        return values_[next_++];
    }
    unsigned calls{0};

private:
    std::vector<std::uint64_t> values_;
    std::size_t next_{0};
};

constexpr std::uint64_t kOnes = ~std::uint64_t{0};

TEST(Trng, ZeroOrTooManyBitsAreInvalid) {
    for (const auto& [bits, width] : {std::pair{0ull, Width::bits32}, std::pair{97ull, Width::bits32},
                                      std::pair{0ull, Width::bits64}, std::pair{193ull, Width::bits64},
                                      std::pair{1ull << 40, Width::bits64}}) {
        FakeSource source{{kOnes, kOnes, kOnes}};
        const Result result = random_bits(bits, width, source);
        EXPECT_EQ(result.status, kInvalidParameters) << bits << " bits";
        EXPECT_EQ(result.registers, (std::array<std::uint64_t, 3>{}));
        EXPECT_EQ(source.calls, 0u) << "no entropy spent on a refused call";
    }
}

TEST(Trng, Rnd64RightAlignedInX3ThenUp) {
    FakeSource one{{kOnes}};
    EXPECT_EQ(random_bits(1, Width::bits64, one).registers, (std::array<std::uint64_t, 3>{0, 0, 1}));
    FakeSource full{{kOnes}};
    EXPECT_EQ(random_bits(64, Width::bits64, full).registers, (std::array<std::uint64_t, 3>{0, 0, kOnes}));
    FakeSource wider{{0x1111, kOnes}};
    EXPECT_EQ(random_bits(65, Width::bits64, wider).registers, (std::array<std::uint64_t, 3>{0, 1, 0x1111}));
    FakeSource most{{1, 2, kOnes}};
    const Result all = random_bits(192, Width::bits64, most);
    EXPECT_EQ(all.status, kSuccess);
    EXPECT_EQ(all.registers, (std::array<std::uint64_t, 3>{kOnes, 2, 1}));
    EXPECT_EQ(most.calls, 3u);
    FakeSource odd{{kOnes, kOnes, kOnes}};
    EXPECT_EQ(random_bits(130, Width::bits64, odd).registers, (std::array<std::uint64_t, 3>{3, kOnes, kOnes}));
}

TEST(Trng, Rnd32UsesTheLow32BitsOfEachRegister) {
    FakeSource full{{kOnes, kOnes, kOnes}};
    const Result all = random_bits(96, Width::bits32, full);
    EXPECT_EQ(all.status, kSuccess);
    EXPECT_EQ(all.registers, (std::array<std::uint64_t, 3>{0xffff'ffff, 0xffff'ffff, 0xffff'ffff}));
    FakeSource some{{kOnes, kOnes}};
    EXPECT_EQ(random_bits(40, Width::bits32, some).registers, (std::array<std::uint64_t, 3>{0, 0xff, 0xffff'ffff}));
    FakeSource few{{0x1234'5678'9abc'def0}};
    EXPECT_EQ(random_bits(12, Width::bits32, few).registers, (std::array<std::uint64_t, 3>{0, 0, 0xef0}));
}

TEST(Trng, NoEntropyReturnsNothing) {
    FakeSource short_source{{kOnes}};
    const Result result = random_bits(128, Width::bits64, short_source);
    EXPECT_EQ(result.status, kNoEntropy);
    EXPECT_EQ(result.registers, (std::array<std::uint64_t, 3>{}));
}

TEST(Trng, UuidWordsAreLittleEndianBytes) {
    EXPECT_EQ(uuid_word(0), 0x9511'11d1u);
    EXPECT_EQ(uuid_word(1), 0x3b44'6f5bu);
    EXPECT_EQ(uuid_word(2), 0x9eef'40b9u);
    EXPECT_EQ(uuid_word(3), 0x6a55'19deu);
}

}  // namespace
}  // namespace lamina::trng
