// VirtioBlock driven the way Linux's virtio_blk driver drives it: through the
// virtio-mmio registers, with requests built in a real split ring in fake
// guest RAM over a RAM disk. Covers what the device offers, data round trips
// larger than the bounce buffer, flush, GET_ID, and every malformed request,
// which must complete with an error status and leave the device working.
// Guard bytes around the fake RAM are checked after every test.
#include "virtual_devices/virtio_block.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "fake_guest_memory.hpp"
#include "virtio_driver_ring.hpp"
#include "virtual_devices/ram_disk.hpp"

namespace lamina {
namespace {

using testing::DriverBuffer;
using testing::DriverRing;
using testing::FakeGuestMemory;

using namespace virtio_mmio_register;

constexpr std::uint32_t kAcknowledge = 1;
constexpr std::uint32_t kDriver = 2;
constexpr std::uint32_t kDriverOk = 4;
constexpr std::uint32_t kFeaturesOk = 8;
constexpr std::uint32_t kNeedsReset = 0x40;

constexpr std::uint64_t kSegMax = 1ull << 2;
constexpr std::uint64_t kReadOnly = 1ull << 5;
constexpr std::uint64_t kBlockSize = 1ull << 6;
constexpr std::uint64_t kFlush = 1ull << 9;
constexpr std::uint64_t kIndirectDesc = 1ull << 28;
constexpr std::uint64_t kEventIdx = 1ull << 29;
constexpr std::uint64_t kVersion1 = 1ull << 32;
constexpr std::uint64_t kTransportFeatures = kVersion1 | kIndirectDesc | kEventIdx;
constexpr std::uint64_t kBlockFeatures = kSegMax | kBlockSize | kFlush;

constexpr std::uint32_t kIn = 0;
constexpr std::uint32_t kOut = 1;
constexpr std::uint32_t kFlushRequest = 4;
constexpr std::uint32_t kGetId = 8;
constexpr std::uint8_t kOk = 0;
constexpr std::uint8_t kIoError = 1;
constexpr std::uint8_t kUnsupported = 2;
constexpr std::uint8_t kUntouched = 0xee;  // what the driver leaves in the status byte

// Guest RAM: two extents, adjacent in guest space and apart in host memory,
// so data buffers can straddle them.
constexpr std::uint64_t kRam = 0x4000'0000;
constexpr std::uint64_t kFirstExtent = 0x1'0000;
constexpr std::uint64_t kSecondExtent = 0x2'0000;
constexpr std::uint64_t kRamEnd = kRam + kFirstExtent + kSecondExtent;
constexpr std::uint64_t kHeader = kRam + 0x3000;
constexpr std::uint64_t kStatusByte = kRam + 0x3100;
constexpr std::uint64_t kIdBuffer = kRam + 0x3200;
constexpr std::uint64_t kData = kRam + 0x8000;       // 32 KiB before the extent boundary
constexpr std::uint64_t kReadBack = kRam + 0x1'8000;  // in the second extent

constexpr std::uint64_t kDiskSectors = 256;  // 128 KiB
constexpr std::uint16_t kRingSize = 128;

// The disk under the device: a RAM disk that counts what reaches it and
// can be told to fail.
class ObservedDisk final : public BlockBackend {
public:
    std::uint64_t sector_count() const override { return ram.sector_count(); }
    bool is_read_only() const override { return ram.is_read_only(); }
    Status read(std::uint64_t sector, std::span<std::byte> bytes) override {
        const bool fail = failing || (reads_before_failure >= 0 && reads >= reads_before_failure);
        ++reads;
        return fail ? Status{Error{"disk failed"}} : ram.read(sector, bytes);
    }
    Status write(std::uint64_t sector, std::span<const std::byte> bytes) override {
        ++writes;
        return failing ? Status{Error{"disk failed"}} : ram.write(sector, bytes);
    }
    Status flush() override {
        ++flushes;
        return failing ? Status{Error{"disk failed"}} : ram.flush();
    }

    RamDisk ram;
    int reads{0};
    int writes{0};
    int flushes{0};
    bool failing{false};
    int reads_before_failure{-1};  // reads that succeed before they all fail; -1: no limit
};

struct Completion final {
    std::uint8_t status;
    std::uint32_t used_length;
};

// One VM's side: its RAM, its disk, the device and Linux's driver for it.
class BlockGuest final {
public:
    explicit BlockGuest(bool read_only = false, std::string_view serial = "linux1-disk") {
        EXPECT_TRUE(disk.ram.configure(storage, read_only).ok());
        device.connect(memory, VirtioTransportHooks{&record_level, &record_failure, this}, disk, serial);
    }

    static void record_level(void* self, bool asserted) { static_cast<BlockGuest*>(self)->line = asserted; }
    static void record_failure(void* self, Error reason) {
        static_cast<BlockGuest*>(self)->failures.emplace_back(reason.message);
    }

    // --- Registers ------------------------------------------------------------------------
    std::uint64_t access(std::uint64_t offset, unsigned size, bool is_write, std::uint64_t value = 0) {
        MmioAccess access{offset, size, is_write, value};
        EXPECT_TRUE(device.transport().access(access)) << "access at " << std::hex << offset;
        return access.value;
    }
    std::uint32_t read(std::uint64_t offset) { return static_cast<std::uint32_t>(access(offset, 4, false)); }
    void write(std::uint64_t offset, std::uint32_t value) { (void)access(offset, 4, true, value); }
    std::uint64_t config(std::uint64_t offset, unsigned size) { return access(kConfig + offset, size, false); }

    std::uint64_t offered_features() {
        write(kDeviceFeaturesSelect, 1);
        const std::uint64_t high = read(kDeviceFeatures);
        write(kDeviceFeaturesSelect, 0);
        return (high << 32) | read(kDeviceFeatures);
    }

    // Linux: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK, vm_setup_vq, DRIVER_OK.
    void start(std::uint64_t features = kTransportFeatures | kBlockFeatures) {
        write(kStatus, 0);
        write(kStatus, kAcknowledge);
        write(kStatus, kAcknowledge | kDriver);
        write(kDriverFeaturesSelect, 1);
        write(kDriverFeatures, static_cast<std::uint32_t>(features >> 32));
        write(kDriverFeaturesSelect, 0);
        write(kDriverFeatures, static_cast<std::uint32_t>(features));
        write(kStatus, kAcknowledge | kDriver | kFeaturesOk);
        ASSERT_NE(read(kStatus) & kFeaturesOk, 0u);
        write(kQueueSelect, 0);
        ASSERT_EQ(read(kQueueSizeMax), kRingSize);
        write(kQueueSize, ring.size());
        write(kQueueDescriptorLow, static_cast<std::uint32_t>(ring.descriptors()));
        write(kQueueDriverLow, static_cast<std::uint32_t>(ring.available()));
        write(kQueueDeviceLow, static_cast<std::uint32_t>(ring.used()));
        write(kQueueReady, 1);
        ASSERT_EQ(read(kQueueReady), 1u);
        write(kStatus, kAcknowledge | kDriver | kFeaturesOk | kDriverOk);
        ASSERT_EQ(read(kStatus), kAcknowledge | kDriver | kFeaturesOk | kDriverOk);
    }

    // --- Requests -------------------------------------------------------------------------
    // A chain of `buffers` in the next free descriptors, offered (not yet notified).
    void offer(const std::vector<DriverBuffer>& buffers) {
        const std::uint16_t head = next_descriptor_;
        for (std::size_t i = 0; i < buffers.size(); ++i) {
            const std::uint16_t index = next_descriptor_;
            next_descriptor_ = static_cast<std::uint16_t>((next_descriptor_ + 1) % ring.size());
            const bool last = i + 1 == buffers.size();
            const auto flags = static_cast<std::uint16_t>((buffers[i].device_writable ? testing::kDescWrite : 0) |
                                                          (last ? 0 : testing::kDescNext));
            ring.set_descriptor(index, buffers[i].address, buffers[i].length, flags, last ? 0 : next_descriptor_);
        }
        ring.offer(head);
    }
    void write_header(std::uint32_t type, std::uint64_t sector) {
        memory.poke<std::uint32_t>(kHeader, type);
        memory.poke<std::uint32_t>(kHeader + 4, 0);
        memory.poke<std::uint64_t>(kHeader + 8, sector);
    }
    // Offers `chain`, notifies, and reads back how it completed.
    Completion submit(const std::vector<DriverBuffer>& chain) {
        memory.poke<std::uint8_t>(kStatusByte, kUntouched);
        const std::uint16_t used = ring.used_index();
        offer(chain);
        write(kQueueNotify, 0);
        EXPECT_EQ(ring.used_index(), static_cast<std::uint16_t>(used + 1)) << "request not completed";
        return Completion{memory.peek<std::uint8_t>(kStatusByte), ring.used_element(used).length};
    }
    // Header, `data`, status byte: the chain Linux builds.
    Completion request(std::uint32_t type, std::uint64_t sector, std::vector<DriverBuffer> data = {}) {
        write_header(type, sector);
        data.insert(data.begin(), DriverBuffer{kHeader, 16, false});
        data.push_back(DriverBuffer{kStatusByte, 1, true});
        return submit(data);
    }

    // --- Data -----------------------------------------------------------------------------
    void fill_guest(std::uint64_t address, std::size_t length, std::uint8_t seed) {
        for (std::size_t i = 0; i < length; ++i)
            memory.poke<std::uint8_t>(address + i, static_cast<std::uint8_t>(seed + i * 7 + i / 509));
    }
    [[nodiscard]] std::vector<std::byte> guest_bytes(std::uint64_t address, std::size_t length) {
        std::vector<std::byte> bytes(length);
        for (std::size_t i = 0; i < length; ++i) bytes[i] = std::byte{memory.peek<std::uint8_t>(address + i)};
        return bytes;
    }
    [[nodiscard]] std::vector<std::byte> disk_bytes(std::uint64_t sector, std::size_t length) {
        const auto first = storage.begin() + static_cast<std::ptrdiff_t>(sector * kSectorSize);
        return {first, first + static_cast<std::ptrdiff_t>(length)};
    }
    [[nodiscard]] bool disk_is_blank() {
        for (const std::byte b : storage)
            if (b != std::byte{0}) return false;
        return true;
    }

    FakeGuestMemory memory{{{kRam, kFirstExtent}, {kRam + kFirstExtent, kSecondExtent}}};
    std::vector<std::byte> storage = std::vector<std::byte>(kDiskSectors * kSectorSize);
    ObservedDisk disk;
    VirtioBlock device;
    DriverRing ring{memory, kRingSize, kRam, kRam + 0x1000, kRam + 0x2000};
    bool line{false};
    std::vector<std::string> failures;

private:
    std::uint16_t next_descriptor_{0};
};

class VirtioBlockTest : public ::testing::Test {
protected:
    void TearDown() override { EXPECT_TRUE(guest.memory.guards_intact()); }

    // The device keeps serving after whatever went before.
    void expect_still_working() {
        guest.fill_guest(kData, 512, 0x42);
        EXPECT_EQ(guest.request(kOut, 1, {{kData, 512, false}}).status, kOk);
        EXPECT_EQ(guest.request(kIn, 1, {{kReadBack, 512, true}}).status, kOk);
        EXPECT_EQ(guest.guest_bytes(kReadBack, 512), guest.guest_bytes(kData, 512));
        EXPECT_EQ(guest.read(kStatus) & kNeedsReset, 0u);
        EXPECT_TRUE(guest.failures.empty());
    }

    BlockGuest guest;
};

// --- What the device offers -------------------------------------------------------------------

TEST_F(VirtioBlockTest, IdentifiesAsBlockDevice) {
    EXPECT_EQ(guest.read(kDeviceId), 2u);
    EXPECT_EQ(guest.offered_features(), kTransportFeatures | kBlockFeatures);
    EXPECT_EQ(guest.read(kQueueSizeMax), kRingSize);
    guest.write(kQueueSelect, 1);  // one queue only
    EXPECT_EQ(guest.read(kQueueSizeMax), 0u);
}

TEST_F(VirtioBlockTest, ConfigSpaceDescribesTheDisk) {
    EXPECT_EQ(guest.config(0, 8), kDiskSectors);  // capacity
    EXPECT_EQ(guest.config(0, 4), kDiskSectors);  // as Linux reads a 64-bit field: two halves
    EXPECT_EQ(guest.config(4, 4), 0u);
    EXPECT_EQ(guest.config(8, 4), 0u);                              // size_max: not offered
    EXPECT_EQ(guest.config(12, 4), VirtioBlock::kMaxDataSegments);  // seg_max
    EXPECT_EQ(guest.config(16, 4), 0u);                             // geometry: not offered
    EXPECT_EQ(guest.config(20, 4), 512u);                           // blk_size
    EXPECT_EQ(guest.config(21, 1), 2u);                             // byte by byte too
    EXPECT_EQ(guest.config(24, 8), 0u);  // beyond blk_size: zero
    EXPECT_EQ(guest.config(0x80, 4), 0u);
    (void)guest.access(kConfig, 8, true, 1);  // read-only: ignored
    (void)guest.access(kConfig + 32, 1, true, 1);
    EXPECT_EQ(guest.config(0, 8), kDiskSectors);
    EXPECT_EQ(guest.config(32, 1), 0u);
}

TEST_F(VirtioBlockTest, SegMaxFitsTheQueueWithoutIndirectDescriptors) {
    EXPECT_EQ(VirtioBlock::kMaxDataSegments + 2u, kRingSize);
}

TEST(VirtioBlockReadOnlyTest, ReadOnlyDiskOffersRo) {
    BlockGuest guest{true};
    EXPECT_EQ(guest.offered_features(), kTransportFeatures | kBlockFeatures | kReadOnly);
}

// --- Data -------------------------------------------------------------------------------------

TEST_F(VirtioBlockTest, WriteThenReadBackAcrossSegmentsAndTheBounceBuffer) {
    guest.start();
    constexpr std::uint32_t kLength = 40 * 1024;  // more than two bounce buffers
    static_assert(kLength > 2 * VirtioBlock::kBounceBufferSize);
    guest.fill_guest(kData, kLength, 3);
    // The middle segment straddles the boundary between the two extents.
    const Completion written = guest.request(kOut, 10,
                                             {{kData, 10 * 1024, false},
                                              {kData + 10 * 1024, 24 * 1024, false},
                                              {kData + 34 * 1024, 6 * 1024, false}});
    EXPECT_EQ(written.status, kOk);
    EXPECT_EQ(written.used_length, 1u);  // only the status byte
    EXPECT_EQ(guest.disk_bytes(10, kLength), guest.guest_bytes(kData, kLength));
    EXPECT_EQ(guest.disk_bytes(9, 512), std::vector<std::byte>(512));
    EXPECT_EQ(guest.disk_bytes(10 + kLength / 512, 512), std::vector<std::byte>(512));

    // Read back cut differently, with segments that do not end on sectors.
    const Completion read = guest.request(
        kIn, 10, {{kReadBack, 512, true}, {kReadBack + 512, 16896, true}, {kReadBack + 17408, 23552, true}});
    EXPECT_EQ(read.status, kOk);
    EXPECT_EQ(read.used_length, kLength + 1);
    EXPECT_EQ(guest.guest_bytes(kReadBack, kLength), guest.guest_bytes(kData, kLength));

    const VirtioBlockStatistics statistics = guest.device.statistics();
    EXPECT_EQ(statistics.write_requests, 1u);
    EXPECT_EQ(statistics.read_requests, 1u);
    EXPECT_EQ(statistics.bytes_written, kLength);
    EXPECT_EQ(statistics.bytes_read, kLength);
    EXPECT_EQ(statistics.errors, 0u);
    EXPECT_TRUE(guest.line);  // the driver was interrupted
}

TEST_F(VirtioBlockTest, HeaderAndStatusNeedNotHaveTheirOwnDescriptors) {
    guest.start();
    guest.fill_guest(kData, 1024, 9);
    ASSERT_EQ(guest.request(kOut, 4, {{kData, 1024, false}}).status, kOk);
    // Header in two pieces; data and status in one writable buffer.
    guest.write_header(kIn, 4);
    const std::uint64_t buffer = kReadBack;
    guest.memory.poke<std::uint8_t>(buffer + 1024, kUntouched);
    const Completion read = guest.submit({{kHeader, 8, false}, {kHeader + 8, 8, false}, {buffer, 1025, true}});
    EXPECT_EQ(read.used_length, 1025u);
    EXPECT_EQ(guest.memory.peek<std::uint8_t>(buffer + 1024), kOk);
    EXPECT_EQ(guest.guest_bytes(buffer, 1024), guest.guest_bytes(kData, 1024));
}

TEST_F(VirtioBlockTest, SeveralRequestsForOneNotification) {
    guest.start();
    guest.fill_guest(kData, 3 * 512, 1);
    for (std::uint64_t i = 0; i < 3; ++i) {
        // Each with its own header and status, all in flight at once.
        const std::uint64_t header = kRam + 0x4000 + 32 * i;
        guest.memory.poke<std::uint32_t>(header, kOut);
        guest.memory.poke<std::uint64_t>(header + 8, 20 + i);
        guest.offer({{header, 16, false}, {kData + 512 * i, 512, false}, {kRam + 0x5000 + i, 1, true}});
    }
    guest.write(kQueueNotify, 0);
    EXPECT_EQ(guest.ring.used_index(), 3);
    for (std::uint64_t i = 0; i < 3; ++i) EXPECT_EQ(guest.memory.peek<std::uint8_t>(kRam + 0x5000 + i), kOk);
    EXPECT_EQ(guest.disk_bytes(20, 3 * 512), guest.guest_bytes(kData, 3 * 512));
}

TEST_F(VirtioBlockTest, EmptyReadAtTheEndIsFine) {
    guest.start();
    EXPECT_EQ(guest.request(kIn, kDiskSectors).status, kOk);
}

// --- Flush and identification -----------------------------------------------------------------

TEST_F(VirtioBlockTest, FlushReachesTheBackend) {
    guest.start();
    const Completion flushed = guest.request(kFlushRequest, 0);
    EXPECT_EQ(flushed.status, kOk);
    EXPECT_EQ(flushed.used_length, 1u);
    EXPECT_EQ(guest.disk.flushes, 1);
    EXPECT_EQ(guest.device.statistics().flushes, 1u);
    // With FLUSH negotiated the driver flushes; writes alone do not.
    guest.fill_guest(kData, 512, 0);
    EXPECT_EQ(guest.request(kOut, 0, {{kData, 512, false}}).status, kOk);
    EXPECT_EQ(guest.disk.flushes, 1);
}

TEST_F(VirtioBlockTest, WritesAreFlushedForADriverWithoutFlush) {
    guest.start(kTransportFeatures | kSegMax | kBlockSize);
    guest.fill_guest(kData, 512, 0);
    EXPECT_EQ(guest.request(kOut, 0, {{kData, 512, false}}).status, kOk);
    EXPECT_EQ(guest.disk.flushes, 1);
    EXPECT_EQ(guest.request(kIn, 0, {{kReadBack, 512, true}}).status, kOk);
    EXPECT_EQ(guest.disk.flushes, 1);
}

TEST_F(VirtioBlockTest, GetIdReturnsTheSerialNulPadded) {
    guest.start();
    std::memset(guest.memory.host(kIdBuffer, 20), 'x', 20);
    const Completion id = guest.request(kGetId, 0, {{kIdBuffer, 20, true}});
    EXPECT_EQ(id.status, kOk);
    EXPECT_EQ(id.used_length, 21u);
    std::string expected{"linux1-disk"};
    expected.resize(20, '\0');
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(guest.memory.host(kIdBuffer, 20)), 20), expected);
}

TEST(VirtioBlockSerialTest, LongSerialIsCutTo20Bytes) {
    BlockGuest guest{false, "a-serial-longer-than-twenty-bytes"};
    guest.start();
    const Completion id = guest.request(kGetId, 0, {{kIdBuffer, 24, true}});
    EXPECT_EQ(id.status, kOk);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(guest.memory.host(kIdBuffer, 20)), 20),
              "a-serial-longer-than");
    EXPECT_TRUE(guest.memory.guards_intact());
}

TEST_F(VirtioBlockTest, GetIdIntoASmallBufferWritesWhatFits) {
    guest.start();
    const Completion id = guest.request(kGetId, 0, {{kIdBuffer, 6, true}});
    EXPECT_EQ(id.status, kOk);
    EXPECT_EQ(id.used_length, 7u);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(guest.memory.host(kIdBuffer, 6)), 6), "linux1");
}

// --- Requests the device refuses --------------------------------------------------------------

TEST_F(VirtioBlockTest, UnknownTypeIsUnsupported) {
    guest.start();
    for (const std::uint32_t type : {2u, 11u, 13u, 0xffff'ffffu}) {  // SCSI, DISCARD, WRITE_ZEROES, nonsense
        const Completion done = guest.request(type, 0, {{kData, 512, false}});
        EXPECT_EQ(done.status, kUnsupported) << type;
        EXPECT_EQ(done.used_length, 1u);
    }
    EXPECT_EQ(guest.device.statistics().errors, 4u);
    expect_still_working();
}

TEST_F(VirtioBlockTest, SectorsBeyondTheDiskAreIoErrors) {
    guest.start();
    guest.fill_guest(kData, 1024, 5);
    EXPECT_EQ(guest.request(kOut, kDiskSectors - 1, {{kData, 1024, false}}).status, kIoError);
    EXPECT_EQ(guest.request(kOut, kDiskSectors, {{kData, 512, false}}).status, kIoError);
    EXPECT_EQ(guest.request(kOut, ~std::uint64_t{0}, {{kData, 512, false}}).status, kIoError);
    // sector * 512 wraps around to 0.
    EXPECT_EQ(guest.request(kOut, std::uint64_t{1} << 55, {{kData, 512, false}}).status, kIoError);
    EXPECT_EQ(guest.disk.writes, 0);
    EXPECT_TRUE(guest.disk_is_blank());

    std::memset(guest.memory.host(kReadBack, 1024), 0x77, 1024);
    const Completion read = guest.request(kIn, kDiskSectors - 1, {{kReadBack, 1024, true}});
    EXPECT_EQ(read.status, kIoError);
    EXPECT_EQ(read.used_length, 0u);  // the data before the status byte was not written
    EXPECT_EQ(guest.guest_bytes(kReadBack, 1024), std::vector<std::byte>(1024, std::byte{0x77}));
    EXPECT_EQ(guest.request(kIn, ~std::uint64_t{0} - 1, {{kReadBack, 1024, true}}).status, kIoError);
    EXPECT_EQ(guest.disk.reads, 0);
    EXPECT_EQ(guest.device.statistics().errors, 6u);
    expect_still_working();
}

TEST_F(VirtioBlockTest, DataMustBeWholeSectors) {
    guest.start();
    EXPECT_EQ(guest.request(kOut, 0, {{kData, 100, false}}).status, kIoError);
    EXPECT_EQ(guest.request(kOut, 0, {{kData, 512, false}, {kData + 512, 1, false}}).status, kIoError);
    EXPECT_EQ(guest.request(kIn, 0, {{kReadBack, 600, true}}).status, kIoError);
    EXPECT_EQ(guest.disk.writes + guest.disk.reads, 0);
    expect_still_working();
}

TEST_F(VirtioBlockTest, ChainWithoutAWritableStatusByte) {
    guest.start();
    guest.write_header(kOut, 0);
    // Everything readable: the "status" is the driver's, the device cannot answer.
    Completion done = guest.submit({{kHeader, 16, false}, {kData, 512, false}, {kStatusByte, 1, false}});
    EXPECT_EQ(done.status, kUntouched);
    EXPECT_EQ(done.used_length, 0u);
    done = guest.submit({{kHeader, 16, false}});
    EXPECT_EQ(done.status, kUntouched);
    EXPECT_EQ(done.used_length, 0u);
    EXPECT_EQ(guest.disk.writes, 0);
    EXPECT_EQ(guest.device.statistics().errors, 2u);
    expect_still_working();
}

TEST_F(VirtioBlockTest, ShortOrWritableHeaderIsAnIoError) {
    guest.start();
    guest.write_header(kOut, 0);
    EXPECT_EQ(guest.submit({{kHeader, 8, false}, {kStatusByte, 1, true}}).status, kIoError);
    EXPECT_EQ(guest.submit({{kHeader, 16, true}, {kStatusByte, 1, true}}).status, kIoError);
    EXPECT_EQ(guest.submit({{kStatusByte, 1, true}}).status, kIoError);
    EXPECT_EQ(guest.disk.writes, 0);
    expect_still_working();
}

TEST_F(VirtioBlockTest, StatusIsTheLastWritableByte) {
    guest.start();
    // A read whose status descriptor the driver marked readable: the device
    // reads it as extra header bytes and puts the status in the data's last
    // byte, which makes the data a sector short of whole: an I/O error.
    guest.write_header(kIn, 0);
    guest.memory.poke<std::uint8_t>(kReadBack + 511, kUntouched);
    const Completion done = guest.submit({{kHeader, 16, false}, {kStatusByte, 1, false}, {kReadBack, 512, true}});
    EXPECT_EQ(done.status, kUntouched);
    EXPECT_EQ(guest.memory.peek<std::uint8_t>(kReadBack + 511), kIoError);
    EXPECT_EQ(done.used_length, 0u);
    EXPECT_EQ(guest.disk.reads, 0);
    expect_still_working();
}

TEST(VirtioBlockReadOnlyTest, RefusesWrites) {
    BlockGuest read_only{true};
    read_only.start(kTransportFeatures | kBlockFeatures | kReadOnly);
    read_only.fill_guest(kData, 512, 1);
    const Completion write = read_only.request(kOut, 0, {{kData, 512, false}});
    EXPECT_EQ(write.status, kIoError);
    EXPECT_EQ(read_only.disk.writes, 0);
    EXPECT_TRUE(read_only.disk_is_blank());
    EXPECT_EQ(read_only.request(kIn, 0, {{kReadBack, 512, true}}).status, kOk);
    EXPECT_EQ(read_only.request(kFlushRequest, 0).status, kOk);  // firmware flushes read-only disks
    EXPECT_EQ(read_only.request(kGetId, 0, {{kIdBuffer, 20, true}}).status, kOk);
    EXPECT_EQ(read_only.device.statistics().errors, 1u);
    EXPECT_TRUE(read_only.memory.guards_intact());
}

TEST_F(VirtioBlockTest, BackendFailuresAreIoErrors) {
    guest.start();
    guest.disk.failing = true;
    EXPECT_EQ(guest.request(kOut, 0, {{kData, 512, false}}).status, kIoError);
    EXPECT_EQ(guest.request(kIn, 0, {{kReadBack, 512, true}}).status, kIoError);
    EXPECT_EQ(guest.request(kFlushRequest, 0).status, kIoError);
    EXPECT_EQ(guest.device.statistics().errors, 3u);
    guest.disk.failing = false;
    expect_still_working();
}

TEST_F(VirtioBlockTest, FailureMidwayReportsTheDataWritten) {
    guest.start();
    constexpr std::uint32_t kLength = 40 * 1024;
    guest.fill_guest(kData, kLength, 2);
    ASSERT_EQ(guest.request(kOut, 0, {{kData, kLength, false}}).status, kOk);
    // The disk fails the second bounce-buffer piece of a read.
    guest.disk.reads = 0;
    guest.disk.reads_before_failure = 1;
    const Completion read = guest.request(kIn, 0, {{kReadBack, kLength, true}});
    EXPECT_EQ(read.status, kIoError);
    EXPECT_EQ(read.used_length, VirtioBlock::kBounceBufferSize);
    EXPECT_EQ(guest.disk.reads, 2);  // stopped at the failure
    EXPECT_EQ(guest.guest_bytes(kReadBack, VirtioBlock::kBounceBufferSize),
              guest.guest_bytes(kData, VirtioBlock::kBounceBufferSize));
    EXPECT_EQ(guest.device.statistics().bytes_read, 0u);
}

// --- Broken rings and lifetime ----------------------------------------------------------------

TEST_F(VirtioBlockTest, BrokenRingStopsOnlyThatDevice) {
    BlockGuest other;
    guest.start();
    other.start();
    guest.ring.set_descriptor(0, kHeader, 16, testing::kDescNext, 1);
    guest.ring.set_descriptor(1, kData, 512, testing::kDescNext, 0);  // a loop
    guest.ring.offer(0);
    guest.write(kQueueNotify, 0);
    EXPECT_NE(guest.read(kStatus) & kNeedsReset, 0u);
    ASSERT_EQ(guest.failures.size(), 1u);
    EXPECT_EQ(guest.failures[0], "descriptor chain loops");
    EXPECT_EQ(guest.ring.used_index(), 0);

    EXPECT_EQ(other.read(kStatus) & kNeedsReset, 0u);
    other.fill_guest(kData, 512, 8);
    EXPECT_EQ(other.request(kOut, 3, {{kData, 512, false}}).status, kOk);
    EXPECT_TRUE(other.failures.empty());
    EXPECT_TRUE(other.memory.guards_intact());
}

TEST_F(VirtioBlockTest, DataBufferOutsideRamBreaksTheRing) {
    guest.start();
    guest.write_header(kIn, 0);
    guest.offer({{kHeader, 16, false}, {kRamEnd - 256, 512, true}, {kStatusByte, 1, true}});
    guest.write(kQueueNotify, 0);
    EXPECT_NE(guest.read(kStatus) & kNeedsReset, 0u);
    EXPECT_EQ(guest.disk.reads, 0);
}

TEST_F(VirtioBlockTest, ResetAndStartAgain) {
    guest.start();
    expect_still_working();
    guest.write(kStatus, 0);
    std::memset(guest.memory.host(kRam, 0x3000), 0, 0x3000);
    guest.ring.restart();
    guest.start();
    expect_still_working();
    EXPECT_EQ(guest.device.statistics().write_requests, 2u);  // statistics survive a device reset
}

TEST(VirtioBlockLifetimeTest, DisconnectWithoutConnectIsSafe) {
    VirtioBlock device;
    device.disconnect();
    EXPECT_EQ(device.transport().status(), 0u);
}

TEST_F(VirtioBlockTest, NothingReachesTheBackendAfterDisconnect) {
    guest.start();
    expect_still_working();
    const int writes = guest.disk.writes;
    guest.device.disconnect();
    EXPECT_EQ(guest.read(kStatus), 0u);
    EXPECT_EQ(guest.config(0, 8), 0u);  // no disk
    // A driver that carries on regardless gets nothing done.
    guest.write(kStatus, 0);
    std::memset(guest.memory.host(kRam, 0x3000), 0, 0x3000);
    guest.ring.restart();
    guest.start();
    guest.write_header(kOut, 0);
    guest.offer({{kHeader, 16, false}, {kData, 512, false}, {kStatusByte, 1, true}});
    guest.write(kQueueNotify, 0);
    EXPECT_EQ(guest.ring.used_index(), 0);
    EXPECT_EQ(guest.disk.writes, writes);
}

}  // namespace
}  // namespace lamina
