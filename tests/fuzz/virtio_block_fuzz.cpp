// libFuzzer target for the virtio-blk device model (virtio_block.cpp) with its
// transport and virtqueue, over a RamDisk. The input is a little program: a
// few setup bytes (queue size, features the driver takes, a read-only disk,
// an image of the ring area), then a stream of driver actions run until the
// input ends: well-formed or subtly wrong requests (any type, sector and
// data layout, direct or through an indirect table), notifications, stray
// writes to the rings, configuration reads, device resets.
//
// Besides the sanitizers it checks that nothing outside guest RAM or the
// disk's storage is ever written (guard bytes around both), that a
// read-only disk never changes, and, when the input leaves the rings alone
// (so the harness knows every chain), that a used length never claims more
// than the request's writable bytes.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "fake_guest_memory.hpp"
#include "virtio_driver_ring.hpp"
#include "virtual_devices/ram_disk.hpp"
#include "virtual_devices/virtio_block.hpp"

namespace {

using lamina::MmioAccess;
using lamina::VirtioBlock;
using lamina::testing::DriverRing;
using lamina::testing::FakeGuestMemory;

constexpr std::uint64_t kRam = 0x4000'0000;
constexpr std::uint64_t kFirstExtent = 0x1'0000;  // data buffers often straddle the boundary
constexpr std::uint64_t kRamSize = 0x3'0000;
constexpr std::uint64_t kDescriptors = kRam;  // up to 128 entries: 2 KiB
constexpr std::uint64_t kAvailable = kRam + 0x800;
constexpr std::uint64_t kUsed = kRam + 0xc00;
constexpr std::uint64_t kRingArea = 0x1100;  // all three rings
constexpr std::uint64_t kHeaders = kRam + 0x1800;  // 32 request slots of 32 bytes
constexpr std::uint64_t kStatusBytes = kRam + 0x1c00;
constexpr std::uint64_t kIndirectTables = kRam + 0x4000;  // one per head: 128 tables of 8 entries
constexpr std::uint64_t kData = kRam + 0x8000;
constexpr std::uint64_t kDataSize = kRam + kRamSize - kData;
constexpr std::uint16_t kMaxQueueSize = VirtioBlock::kQueueSize;

constexpr std::size_t kDiskSectors = 64;
constexpr std::size_t kDiskGuard = 512;
constexpr std::byte kDiskGuardByte{0x5c};

// Registers the driver uses (virtio 1.2, 4.2.2).
constexpr std::uint64_t kDeviceFeatures = 0x010;
constexpr std::uint64_t kDeviceFeaturesSel = 0x014;
constexpr std::uint64_t kDriverFeatures = 0x020;
constexpr std::uint64_t kDriverFeaturesSel = 0x024;
constexpr std::uint64_t kQueueSel = 0x030;
constexpr std::uint64_t kQueueNum = 0x038;
constexpr std::uint64_t kQueueReady = 0x044;
constexpr std::uint64_t kQueueNotify = 0x050;
constexpr std::uint64_t kInterruptStatus = 0x060;
constexpr std::uint64_t kInterruptAck = 0x064;
constexpr std::uint64_t kStatus = 0x070;
constexpr std::uint64_t kQueueDescLow = 0x080;
constexpr std::uint64_t kQueueDriverLow = 0x090;
constexpr std::uint64_t kQueueDeviceLow = 0x0a0;
constexpr std::uint64_t kConfig = 0x100;

constexpr std::uint64_t kVersion1 = std::uint64_t{1} << 32;
constexpr std::uint64_t kIndirectDesc = std::uint64_t{1} << 28;

// Reads the input front to back; zeros once it runs out.
class Input final {
public:
    Input(const std::uint8_t* data, std::size_t size) : data_{data}, size_{size} {}
    [[nodiscard]] bool empty() const { return position_ >= size_; }
    std::uint8_t byte() { return empty() ? 0 : data_[position_++]; }
    std::uint16_t u16() { return static_cast<std::uint16_t>(byte() | (byte() << 8)); }
    std::uint32_t u32() { return u16() | (std::uint32_t{u16()} << 16); }
    std::uint64_t u64() { return u32() | (std::uint64_t{u32()} << 32); }
    std::size_t take(std::size_t wanted, const std::uint8_t** bytes) {
        const std::size_t count = empty() ? 0 : std::min(wanted, size_ - position_);
        *bytes = data_ + position_;
        position_ += count;
        return count;
    }

private:
    const std::uint8_t* data_;
    std::size_t size_;
    std::size_t position_{0};
};

void check(bool holds) {
    if (!holds) __builtin_trap();
}

// One buffer of a request as the driver lays it out.
struct Buffer final {
    std::uint64_t address;
    std::uint32_t length;
    bool device_writable;
};

// Input flags.
constexpr std::uint8_t kFlagReadOnly = 1;  // the disk is read-only
constexpr std::uint8_t kFlagPristine = 2;  // no garbage or stray writes in the rings

class Harness final {
public:
    Harness(Input& input, std::uint8_t flags)
        : input_{input},
          pristine_{(flags & kFlagPristine) != 0},
          queue_size_{static_cast<std::uint16_t>(1u << (input.byte() % 8))} {  // 1..128
        disk_storage_.assign(kDiskSectors * lamina::kSectorSize + 2 * kDiskGuard, kDiskGuardByte);
        const std::vector<std::byte>& image = disk_image();
        std::copy(image.begin(), image.end(), disk_sectors().begin());
        check(disk_.configure(disk_sectors(), (flags & kFlagReadOnly) != 0).ok());
        device_.connect(memory_, lamina::VirtioTransportHooks{}, disk_, "fuzz-disk");
    }

    void run() {
        features_ = pick_features();
        if (!pristine_) load_ring_image();
        start();
        while (!input_.empty()) step();
    }

    void finish() {
        check(memory_.guards_intact());
        const auto storage = std::span{disk_storage_};
        const auto is_guard = [](std::byte b) { return b == kDiskGuardByte; };
        check(std::all_of(storage.begin(), storage.begin() + kDiskGuard, is_guard));
        check(std::all_of(storage.end() - kDiskGuard, storage.end(), is_guard));
        if (disk_.is_read_only()) check(std::equal(disk_image().begin(), disk_image().end(), disk_sectors().begin()));
    }

private:
    // What the disk holds at the start of every run: no two sectors alike.
    static const std::vector<std::byte>& disk_image() {
        static const std::vector<std::byte> image = [] {
            std::vector<std::byte> bytes(kDiskSectors * lamina::kSectorSize);
            for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::byte>(i * 13 + i / 512);
            return bytes;
        }();
        return image;
    }

    [[nodiscard]] std::span<std::byte> disk_sectors() {
        return std::span{disk_storage_}.subspan(kDiskGuard, kDiskSectors * lamina::kSectorSize);
    }

    std::uint64_t access(std::uint64_t offset, unsigned size, bool is_write, std::uint64_t value = 0) {
        MmioAccess access{offset, size, is_write, value};
        (void)device_.transport().access(access);
        return access.value;
    }
    void write(std::uint64_t offset, std::uint32_t value) { (void)access(offset, 4, true, value); }

    // Mostly some of the features the device offers (VERSION_1 always, as
    // the transport insists); now and then anything at all.
    std::uint64_t pick_features() {
        const std::uint8_t choice = input_.byte();
        const std::uint64_t bits = input_.u64();
        if (choice < 16) return bits;
        (void)access(kDeviceFeaturesSel, 4, true, 1);
        const std::uint64_t offered_high = access(kDeviceFeatures, 4, false);
        (void)access(kDeviceFeaturesSel, 4, true, 0);
        const std::uint64_t offered = (offered_high << 32) | access(kDeviceFeatures, 4, false);
        return kVersion1 | (bits & offered);
    }

    // The input's bytes, repeated over the rings: garbage the driver left there.
    void load_ring_image() {
        const std::uint8_t* image = nullptr;
        const std::size_t image_size = input_.take(input_.byte() % 64, &image);
        if (image_size == 0) return;
        for (std::uint64_t offset = 0; offset < kRingArea; ++offset)
            memory_.poke<std::uint8_t>(kRam + offset, image[offset % image_size]);
    }

    // Linux's probe sequence, with the features and queue size the input chose.
    void start() {
        write(kStatus, 0);
        write(kStatus, 1);
        write(kStatus, 3);
        write(kDriverFeaturesSel, 1);
        write(kDriverFeatures, static_cast<std::uint32_t>(features_ >> 32));
        write(kDriverFeaturesSel, 0);
        write(kDriverFeatures, static_cast<std::uint32_t>(features_));
        write(kStatus, 0xb);
        write(kQueueSel, 0);
        write(kQueueNum, queue_size_);
        write(kQueueDescLow, static_cast<std::uint32_t>(kDescriptors));
        write(kQueueDriverLow, static_cast<std::uint32_t>(kAvailable));
        write(kQueueDeviceLow, static_cast<std::uint32_t>(kUsed));
        write(kQueueReady, 1);
        write(kStatus, 0xf);
        ring_.restart();
        next_descriptor_ = 0;
        pending_descriptors_ = 0;
    }

    // The driver resets the device and starts over on freshly zeroed rings.
    void restart() {
        write(kStatus, 0);
        std::fill_n(memory_.host(kRam, kRingArea), kRingArea, std::byte{0});
        start();
    }

    [[nodiscard]] bool is_live() {
        const auto status = static_cast<std::uint32_t>(access(kStatus, 4, false));
        return (status & 0x4) != 0 && (status & 0xc0) == 0;
    }

    void step() {
        switch (input_.byte() % 8) {
            case 0:
            case 1:
            case 2: add_request(); break;
            case 3: notify(); break;
            case 4: scribble_on_rings(); break;
            case 5: (void)access(kConfig + (input_.byte() & 0x3f & ~std::uint64_t{3}), 4, false); break;
            case 6: write(kInterruptAck, static_cast<std::uint32_t>(access(kInterruptStatus, 4, false))); break;
            default:
                if (input_.byte() < 16) restart();  // a device reset now and then
                break;
        }
    }

    void scribble_on_rings() {
        const std::uint64_t address = kRam + input_.u16() % kRingArea;
        const std::uint16_t value = input_.u16();
        if (!pristine_) memory_.poke<std::uint16_t>(address, value);
    }

    void notify() { notify_queue(input_.byte() < 250 ? 0 : input_.byte()); }

    void notify_queue(std::uint32_t queue) {
        const std::uint16_t before = ring_.used_index();
        write(kQueueNotify, queue);
        // A live device takes every chain offered; a stopped one takes none until a reset.
        if (queue == 0 && is_live()) pending_descriptors_ = 0;
        if (pristine_) check_used_lengths(before);
    }

    // A used length never exceeds what the request gave the device to write.
    void check_used_lengths(std::uint16_t before) {
        const std::uint16_t after = ring_.used_index();
        for (std::uint16_t position = before; position != after; ++position) {
            const lamina::testing::UsedElement element = ring_.used_element(position);
            check(element.id < queue_size_);
            check(element.length <= writable_of_head_[element.id]);
        }
    }

    // --- Requests -------------------------------------------------------------------------
    [[nodiscard]] std::uint32_t pick_type() {
        constexpr std::array<std::uint32_t, 6> kTypes{0, 1, 4, 8, 11, 2};
        const std::uint8_t choice = input_.byte();
        return choice < 240 ? kTypes[choice % kTypes.size()] : input_.u32();
    }
    [[nodiscard]] std::uint64_t pick_sector() {
        const std::uint8_t choice = input_.byte();
        return choice < 224 ? choice % (kDiskSectors + 8) : input_.u64();
    }
    // Mostly whole sectors, sometimes any length, anywhere in the data area.
    [[nodiscard]] Buffer pick_data(bool device_writable) {
        const std::uint8_t choice = input_.byte();
        const std::uint32_t length = choice < 200 ? (choice % 48) * 512u : input_.u16() % 0x6000u;
        const std::uint64_t address = kData + (std::uint64_t{input_.u16()} * 8) % (kDataSize - length + 1);
        return Buffer{address, length, device_writable};
    }

    // Flaws a request may have; most have none.
    static constexpr std::uint8_t kOddHeader = 1;        // not 16 bytes
    static constexpr std::uint8_t kWritableHeader = 2;
    static constexpr std::uint8_t kWrongDirection = 4;   // data the other way round
    static constexpr std::uint8_t kNoStatus = 8;
    static constexpr std::uint8_t kReadableStatus = 16;

    void add_request() {
        const std::uint8_t slot = input_.byte() % 32;
        const std::uint8_t layout = input_.byte();
        const std::uint8_t flaws = input_.byte() < 192 ? 0 : input_.byte();
        const std::uint64_t header = kHeaders + 32ull * slot;
        const std::uint32_t type = pick_type();
        memory_.poke<std::uint32_t>(header, type);
        memory_.poke<std::uint64_t>(header + 8, pick_sector());
        std::array<Buffer, 6> chain{};
        std::size_t count = 0;
        const std::uint32_t header_length = (flaws & kOddHeader) != 0 ? input_.byte() % 20u : 16u;
        chain[count++] = Buffer{header, header_length, (flaws & kWritableHeader) != 0};
        const bool device_writes_data = type == 0 || type == 8;
        const bool data_writable = device_writes_data != ((flaws & kWrongDirection) != 0);
        for (unsigned i = 0; i < layout % 4; ++i) chain[count++] = pick_data(data_writable);
        if ((flaws & kNoStatus) == 0) chain[count++] = Buffer{kStatusBytes + slot, 1, (flaws & kReadableStatus) == 0};
        offer(std::span{chain}.first(count), (layout & 0x80) != 0 && (features_ & kIndirectDesc) != 0);
    }

    void offer(std::span<const Buffer> chain, bool indirect) {
        // Never overwrite the descriptors of a chain the device has not seen
        // yet, so the harness knows what every chain holds.
        const std::size_t needed = indirect ? 1 : chain.size();
        if (pending_descriptors_ + needed > queue_size_) notify_queue(0);
        if (pending_descriptors_ + needed > queue_size_) return;
        pending_descriptors_ += needed;
        const std::uint16_t head = next_descriptor_;
        std::uint64_t writable = 0;
        for (const Buffer& buffer : chain) writable += buffer.device_writable ? buffer.length : 0;
        if (indirect) {
            const std::uint64_t table = kIndirectTables + 128ull * head;
            write_chain(table, chain, 0, 8);
            const auto table_length = static_cast<std::uint32_t>(16 * chain.size());
            ring_.set_descriptor(head, table, table_length, lamina::testing::kDescIndirect);
            next_descriptor_ = static_cast<std::uint16_t>((head + 1) % queue_size_);
        } else {
            write_chain(kDescriptors, chain, head, queue_size_);
            next_descriptor_ = static_cast<std::uint16_t>((head + chain.size()) % queue_size_);
        }
        writable_of_head_[head] = writable;
        ring_.offer(head);
    }

    // `chain` in consecutive entries of `table` from `first` (wrapping at `entries`).
    void write_chain(std::uint64_t table, std::span<const Buffer> chain, std::uint32_t first, std::uint32_t entries) {
        for (std::size_t i = 0; i < chain.size(); ++i) {
            const auto index = static_cast<std::uint32_t>((first + i) % entries);
            const bool last = i + 1 == chain.size();
            const auto flags = static_cast<std::uint16_t>((chain[i].device_writable ? lamina::testing::kDescWrite : 0) |
                                                          (last ? 0 : lamina::testing::kDescNext));
            const auto next = static_cast<std::uint16_t>(last ? 0 : (index + 1) % entries);
            ring_.write_descriptor(table, index, chain[i].address, chain[i].length, flags, next);
        }
    }

    Input& input_;
    const bool pristine_;
    const std::uint16_t queue_size_;
    std::uint64_t features_{kVersion1};
    FakeGuestMemory memory_{{{kRam, kFirstExtent}, {kRam + kFirstExtent, kRamSize - kFirstExtent}}};
    std::vector<std::byte> disk_storage_;
    lamina::RamDisk disk_;
    VirtioBlock device_;
    DriverRing ring_{memory_, queue_size_, kDescriptors, kAvailable, kUsed};
    std::uint16_t next_descriptor_{0};
    std::size_t pending_descriptors_{0};  // offered since the last notification
    // Writable bytes of the chain at each head, as the harness built it.
    std::array<std::uint64_t, kMaxQueueSize> writable_of_head_{};
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Input input{data, size};
    const std::uint8_t flags = input.byte();
    const auto harness = std::make_unique<Harness>(input, flags);  // tens of KiB: kept off the stack
    harness->run();
    harness->finish();
    return 0;
}
