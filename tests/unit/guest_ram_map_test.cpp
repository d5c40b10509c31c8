// GuestRamMap: which host frames back each 2 MiB chunk of a VM's RAM, and
// the balloon's page bookkeeping that decides when a chunk goes back.
#include "core/guest_ram_map.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace lamina {
namespace {

constexpr GuestPhysAddr kRamBase{0x4000'0000};
constexpr std::uint64_t kChunk = GuestRamMap::kChunkSize;

class GuestRamMapTest : public ::testing::Test {
protected:
    void SetUp() override {
        words_.assign(GuestRamMap::words_for(4 * kChunk), 0);
        map_.attach(GuestPhysRange{kRamBase, 4 * kChunk}, words_);
    }
    std::vector<std::uint64_t> words_;
    GuestRamMap map_;
};

TEST_F(GuestRamMapTest, NothingIsBackedAtFirst) {
    EXPECT_EQ(map_.chunk_count(), 4u);
    EXPECT_FALSE(map_.host_address(kRamBase));
    EXPECT_EQ(map_.contiguous_bytes(kRamBase, 16), 0u);
}

TEST_F(GuestRamMapTest, TranslatesInsideBackedChunks) {
    map_.back(1, HostPhysAddr{0x8020'0000});
    EXPECT_EQ(map_.host_address(kRamBase + kChunk + 0x1234), HostPhysAddr{0x8020'1234});
    EXPECT_FALSE(map_.host_address(kRamBase));
    EXPECT_FALSE(map_.host_address(kRamBase + 4 * kChunk));  // past RAM
    EXPECT_FALSE(map_.host_address(GuestPhysAddr{0x1000}));  // below RAM
}

TEST_F(GuestRamMapTest, ContiguousRunsFollowAdjacentHostChunks) {
    map_.back(0, HostPhysAddr{0x8000'0000});
    map_.back(1, HostPhysAddr{0x8020'0000});  // adjacent to chunk 0
    map_.back(2, HostPhysAddr{0x9000'0000});  // elsewhere
    EXPECT_EQ(map_.contiguous_bytes(kRamBase + 0x100, 8 * kChunk), 2 * kChunk - 0x100);
    EXPECT_EQ(map_.contiguous_bytes(kRamBase + 0x100, 64), 64u);
    EXPECT_EQ(map_.contiguous_bytes(kRamBase + 2 * kChunk, 8 * kChunk), kChunk);
    map_.unback(1);
    EXPECT_EQ(map_.contiguous_bytes(kRamBase, 8 * kChunk), kChunk);
    EXPECT_EQ(map_.contiguous_bytes(kRamBase + kChunk, 8), 0u);
}

TEST_F(GuestRamMapTest, AChunkIsFullyBalloonedOnlyWithAllItsPages) {
    const GuestPhysAddr chunk = kRamBase + kChunk;
    for (std::uint64_t page = 0; page + 1 < GuestRamMap::kPagesPerChunk; ++page)
        ASSERT_TRUE(map_.add_to_balloon(chunk + page * kPageSize));
    EXPECT_FALSE(map_.chunk_fully_ballooned(1));
    ASSERT_TRUE(map_.add_to_balloon(chunk + kChunk - kPageSize));
    EXPECT_TRUE(map_.chunk_fully_ballooned(1));
    EXPECT_FALSE(map_.chunk_fully_ballooned(0));
    ASSERT_TRUE(map_.remove_from_balloon(chunk));
    EXPECT_FALSE(map_.chunk_fully_ballooned(1));
}

TEST_F(GuestRamMapTest, TheBalloonRefusesRepeatsAndStrangers) {
    EXPECT_TRUE(map_.add_to_balloon(kRamBase));
    EXPECT_FALSE(map_.add_to_balloon(kRamBase));              // already in
    EXPECT_FALSE(map_.remove_from_balloon(kRamBase + kPageSize));  // never in
    EXPECT_FALSE(map_.add_to_balloon(kRamBase + 4 * kChunk));  // past RAM
    EXPECT_FALSE(map_.add_to_balloon(kRamBase + 8));           // not a page
    map_.empty_balloon();
    EXPECT_TRUE(map_.add_to_balloon(kRamBase));
}

}  // namespace
}  // namespace lamina
