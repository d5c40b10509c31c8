// The block backends behind virtio-blk: RamDisk over host memory, and
// DiskSlice, the window onto the board's disk that must never let a VM reach
// a sector outside its slice, whatever sector numbers and lengths it sends.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "virtual_devices/disk_slice.hpp"
#include "virtual_devices/ram_disk.hpp"

namespace lamina {
namespace {

constexpr std::uint64_t kMaxSector = std::numeric_limits<std::uint64_t>::max();

std::vector<std::byte> sectors_of(std::uint8_t fill, std::size_t count = 1) {
    return std::vector<std::byte>(count * kSectorSize, std::byte{fill});
}

// --- RamDisk ----------------------------------------------------------------------------------

class RamDiskTest : public ::testing::Test {
protected:
    void SetUp() override { ASSERT_TRUE(disk.configure(storage).ok()); }

    std::vector<std::byte> storage = sectors_of(0, 8);
    RamDisk disk;
};

TEST_F(RamDiskTest, ServesTheCallersMemory) {
    EXPECT_EQ(disk.sector_count(), 8u);
    EXPECT_FALSE(disk.is_read_only());
    const auto data = sectors_of(0x5a, 2);
    ASSERT_TRUE(disk.write(3, data).ok());
    EXPECT_EQ(storage[3 * kSectorSize], std::byte{0x5a});
    EXPECT_EQ(storage[5 * kSectorSize - 1], std::byte{0x5a});
    EXPECT_EQ(storage[5 * kSectorSize], std::byte{0});
    EXPECT_EQ(storage[3 * kSectorSize - 1], std::byte{0});
    auto back = sectors_of(0, 2);
    ASSERT_TRUE(disk.read(3, back).ok());
    EXPECT_EQ(back, data);
    EXPECT_TRUE(disk.flush().ok());
}

TEST_F(RamDiskTest, SizeMustBeWholeSectors) {
    std::vector<std::byte> odd(kSectorSize + 1);
    RamDisk other;
    EXPECT_FALSE(other.configure(odd).ok());
    EXPECT_EQ(other.sector_count(), 0u);
    auto buffer = sectors_of(0);
    EXPECT_FALSE(other.read(0, buffer).ok());
    // A failed configure empties a disk that was serving memory.
    EXPECT_FALSE(disk.configure(odd).ok());
    EXPECT_EQ(disk.sector_count(), 0u);
}

TEST_F(RamDiskTest, AccessesUpToTheEndOnly) {
    auto one = sectors_of(1);
    EXPECT_TRUE(disk.write(7, one).ok());
    EXPECT_TRUE(disk.read(7, one).ok());
    EXPECT_FALSE(disk.read(8, one).ok());
    auto two = sectors_of(2, 2);
    EXPECT_FALSE(disk.write(7, two).ok());
    EXPECT_EQ(storage[7 * kSectorSize], std::byte{1});  // nothing of the refused write landed
    std::vector<std::byte> none;
    EXPECT_TRUE(disk.read(8, none).ok());  // empty, at the very end
    EXPECT_FALSE(disk.read(9, none).ok());
}

TEST_F(RamDiskTest, HugeSectorsDoNotWrap) {
    auto one = sectors_of(3);
    EXPECT_FALSE(disk.write(kMaxSector, one).ok());
    EXPECT_FALSE(disk.read(kMaxSector, one).ok());
    // sector * 512 wraps to 0: must not alias the first sector.
    EXPECT_FALSE(disk.write(std::uint64_t{1} << 55, one).ok());
    EXPECT_FALSE(disk.write((kMaxSector / kSectorSize) + 1, one).ok());
    for (const std::byte b : storage) EXPECT_EQ(b, std::byte{0});
}

TEST_F(RamDiskTest, PartialSectorsAreRefused) {
    std::vector<std::byte> part(kSectorSize - 1);
    EXPECT_FALSE(disk.read(0, part).ok());
    EXPECT_FALSE(disk.write(0, part).ok());
    std::vector<std::byte> more(kSectorSize + 8);
    EXPECT_FALSE(disk.write(0, more).ok());
}

TEST_F(RamDiskTest, ReadOnlyDiskRefusesWrites) {
    storage[0] = std::byte{0x77};
    ASSERT_TRUE(disk.configure(storage, true).ok());
    EXPECT_TRUE(disk.is_read_only());
    auto one = sectors_of(9);
    EXPECT_FALSE(disk.write(0, one).ok());
    EXPECT_EQ(storage[0], std::byte{0x77});
    ASSERT_TRUE(disk.read(0, one).ok());
    EXPECT_EQ(one[0], std::byte{0x77});
    EXPECT_TRUE(disk.flush().ok());
}

// --- DiskSlice --------------------------------------------------------------------------------

// The board's disk, recording what reaches it.
class RecordingDisk final : public BlockBackend {
public:
    struct Call final {
        char kind;  // 'r', 'w' or 'f'
        std::uint64_t sector;
        std::size_t bytes;
    };

    explicit RecordingDisk(std::uint64_t sectors) : sectors_{sectors} {}

    std::uint64_t sector_count() const override { return sectors_; }
    bool is_read_only() const override { return read_only; }
    Status read(std::uint64_t sector, std::span<std::byte> bytes) override {
        calls.push_back(Call{'r', sector, bytes.size()});
        return result();
    }
    Status write(std::uint64_t sector, std::span<const std::byte> bytes) override {
        calls.push_back(Call{'w', sector, bytes.size()});
        return result();
    }
    Status flush() override {
        calls.push_back(Call{'f', 0, 0});
        return result();
    }

    bool read_only{false};
    bool failing{false};
    std::vector<Call> calls;

private:
    Status result() const { return failing ? Status{Error{"disk failed"}} : Status{}; }

    std::uint64_t sectors_;
};

class DiskSliceTest : public ::testing::Test {
protected:
    void SetUp() override { ASSERT_TRUE(slice.configure(disk, kFirst, kCount, false).ok()); }

    static constexpr std::uint64_t kFirst = 100;
    static constexpr std::uint64_t kCount = 50;
    RecordingDisk disk{1000};
    DiskSlice slice;
    std::vector<std::byte> one = sectors_of(0);
};

TEST_F(DiskSliceTest, TranslatesSectors) {
    EXPECT_EQ(slice.sector_count(), kCount);
    EXPECT_EQ(slice.first_sector(), kFirst);
    auto four = sectors_of(0, 4);
    ASSERT_TRUE(slice.read(0, four).ok());
    ASSERT_TRUE(slice.write(kCount - 1, one).ok());
    ASSERT_EQ(disk.calls.size(), 2u);
    EXPECT_EQ(disk.calls[0].kind, 'r');
    EXPECT_EQ(disk.calls[0].sector, kFirst);
    EXPECT_EQ(disk.calls[0].bytes, 4 * kSectorSize);
    EXPECT_EQ(disk.calls[1].kind, 'w');
    EXPECT_EQ(disk.calls[1].sector, kFirst + kCount - 1);
}

TEST_F(DiskSliceTest, NothingOutsideTheSliceReachesTheDisk) {
    auto two = sectors_of(0, 2);
    EXPECT_FALSE(slice.read(kCount, one).ok());
    EXPECT_FALSE(slice.write(kCount - 1, two).ok());
    EXPECT_FALSE(slice.write(kMaxSector, one).ok());
    EXPECT_FALSE(slice.read(kMaxSector - kFirst + 1, one).ok());  // first + sector would wrap to 0
    EXPECT_FALSE(slice.write(kMaxSector - kFirst, one).ok());      // ... or to the disk's last sector
    std::vector<std::byte> part(100);
    EXPECT_FALSE(slice.read(0, part).ok());
    EXPECT_TRUE(disk.calls.empty());
}

TEST_F(DiskSliceTest, ConfigureRefusesSlicesThatDoNotFit) {
    DiskSlice other;
    EXPECT_FALSE(other.configure(disk, 0, 0, false).ok());        // empty
    EXPECT_FALSE(other.configure(disk, 0, 1001, false).ok());     // larger than the disk
    EXPECT_FALSE(other.configure(disk, 1000, 1, false).ok());     // starts at the end
    EXPECT_FALSE(other.configure(disk, 2000, 1, false).ok());     // starts beyond
    EXPECT_FALSE(other.configure(disk, 999, 2, false).ok());      // runs off the end
    EXPECT_FALSE(other.configure(disk, kMaxSector, 2, false).ok());  // first + count wraps
    EXPECT_FALSE(other.configure(disk, 2, kMaxSector, false).ok());
    EXPECT_TRUE(other.configure(disk, 0, 1000, false).ok());      // the whole disk
    EXPECT_TRUE(other.configure(disk, 999, 1, false).ok());       // its last sector
}

TEST_F(DiskSliceTest, FailedConfigureLeavesNothingReachable) {
    EXPECT_FALSE(slice.configure(disk, 990, 20, false).ok());
    EXPECT_EQ(slice.sector_count(), 0u);
    EXPECT_FALSE(slice.read(0, one).ok());
    EXPECT_FALSE(slice.write(0, one).ok());
    EXPECT_FALSE(slice.flush().ok());
    EXPECT_TRUE(disk.calls.empty());
}

TEST_F(DiskSliceTest, UnconfiguredSliceRefusesEverything) {
    DiskSlice fresh;
    EXPECT_EQ(fresh.sector_count(), 0u);
    EXPECT_FALSE(fresh.is_read_only());
    std::vector<std::byte> none;
    EXPECT_FALSE(fresh.read(0, none).ok());
    EXPECT_FALSE(fresh.write(0, one).ok());
    EXPECT_FALSE(fresh.flush().ok());
}

TEST_F(DiskSliceTest, ReadOnlySliceRefusesWrites) {
    ASSERT_TRUE(slice.configure(disk, kFirst, kCount, true).ok());
    EXPECT_TRUE(slice.is_read_only());
    EXPECT_FALSE(slice.write(0, one).ok());
    EXPECT_TRUE(slice.read(0, one).ok());
    ASSERT_EQ(disk.calls.size(), 1u);
    EXPECT_EQ(disk.calls[0].kind, 'r');
}

TEST_F(DiskSliceTest, ReadOnlyDiskMakesTheSliceReadOnly) {
    disk.read_only = true;
    EXPECT_TRUE(slice.is_read_only());
    EXPECT_FALSE(slice.write(0, one).ok());
    EXPECT_TRUE(disk.calls.empty());
}

TEST_F(DiskSliceTest, FlushReachesTheDisk) {
    ASSERT_TRUE(slice.flush().ok());
    ASSERT_TRUE(slice.configure(disk, kFirst, kCount, true).ok());
    ASSERT_TRUE(slice.flush().ok());  // read-only slices may flush too
    ASSERT_EQ(disk.calls.size(), 2u);
    EXPECT_EQ(disk.calls[0].kind, 'f');
    EXPECT_EQ(disk.calls[1].kind, 'f');
}

TEST_F(DiskSliceTest, DiskErrorsComeBack) {
    disk.failing = true;
    EXPECT_FALSE(slice.read(0, one).ok());
    EXPECT_FALSE(slice.write(0, one).ok());
    EXPECT_FALSE(slice.flush().ok());
    EXPECT_EQ(disk.calls.size(), 3u);
}

TEST(DiskSliceOverRamDiskTest, SlicesOfOneDiskStayApart) {
    std::vector<std::byte> storage = sectors_of(0, 16);
    RamDisk board_disk;
    ASSERT_TRUE(board_disk.configure(storage).ok());
    DiskSlice first;
    DiskSlice second;
    ASSERT_TRUE(first.configure(board_disk, 0, 8, false).ok());
    ASSERT_TRUE(second.configure(board_disk, 8, 8, false).ok());
    const auto ones = sectors_of(1, 8);
    const auto twos = sectors_of(2, 8);
    ASSERT_TRUE(first.write(0, ones).ok());
    ASSERT_TRUE(second.write(0, twos).ok());
    EXPECT_FALSE(first.write(8, sectors_of(9)).ok());
    EXPECT_EQ(storage[0], std::byte{1});
    EXPECT_EQ(storage[8 * kSectorSize - 1], std::byte{1});
    EXPECT_EQ(storage[8 * kSectorSize], std::byte{2});
    auto back = sectors_of(0, 8);
    ASSERT_TRUE(first.read(0, back).ok());
    EXPECT_EQ(back, ones);
}

}  // namespace
}  // namespace lamina
