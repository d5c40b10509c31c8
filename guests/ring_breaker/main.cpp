// ring_breaker: a hostile virtio driver. It brings its block device (a RAM
// disk) up correctly and uses it, then feeds it and its network card
// malformed virtqueues, one attack per device reset, and checks that each
// attack only puts that device in DEVICE_NEEDS_RESET, that a broken device
// does nothing more, and that a reset makes it work again. Lamina must stay
// up and the other VMs must not notice.
//
// No bootargs. One vCPU. See guests/README.md for the lines it prints.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "console.hpp"
#include "runtime.hpp"
#include "timer.hpp"
#include "virtio.hpp"
#include "virtio_slots.hpp"

const char guest::role[] = "ring_breaker";

namespace {

using guest::Hex;
using guest::Line;
using namespace ring_breaker;

// --- What the guest shares with its devices ----------------------------------

constexpr std::uint32_t kSectorSize = 512;
constexpr std::uint32_t kBlockRequestIn = 0;   // VIRTIO_BLK_T_IN: read
constexpr std::uint32_t kBlockRequestOut = 1;  // VIRTIO_BLK_T_OUT: write
constexpr std::uint8_t kBlockOk = 0;
constexpr std::uint8_t kBlockIoError = 1;
constexpr std::uint8_t kStatusNotWritten = 0xff;  // what the status byte holds until the device answers

constexpr std::size_t kNetHeaderSize = 12;  // struct virtio_net_hdr with num_buffers (VERSION_1)
constexpr std::size_t kFrameSize = 60;      // a minimal Ethernet frame without FCS
constexpr std::size_t kReceiveBufferSize = kNetHeaderSize + 1518;
constexpr std::uint16_t kLocalExperimentalEtherType = 0x88b5;

struct BlockRequestHeader final {
    std::uint32_t type;
    std::uint32_t reserved;
    std::uint64_t sector;
};

// Everything the devices may read or write, one page per part that only the
// driver or only the device writes (see QueueMemory). Zeroed at boot (bss).
struct alignas(kPage) DmaArena final {
    QueueMemory block_queue;
    QueueMemory net_receive_queue;
    QueueMemory net_transmit_queue;
    QueueMemory console_queue;
    alignas(kPage) BlockRequestHeader block_header;
    alignas(kPage) std::uint8_t block_data[kSectorSize];
    alignas(kPage) std::uint8_t block_status;
    alignas(kPage) Descriptor indirect_table[2];
    alignas(kPage) std::uint8_t net_packet[kNetHeaderSize + kFrameSize];
    alignas(kPage) std::uint8_t net_receive_buffer[kReceiveBufferSize];
};

DmaArena arena;

void sync_dma() { dma_sync(&arena, sizeof arena); }

template <typename T>
[[nodiscard]] std::uintptr_t address_of(const T& object) {
    return reinterpret_cast<std::uintptr_t>(&object);
}

// Byte accesses to the shared buffers go through volatile, like the rings.
void store_byte(std::uint8_t& byte, std::uint8_t value) { const_cast<volatile std::uint8_t&>(byte) = value; }
[[nodiscard]] std::uint8_t load_byte(const std::uint8_t& byte) { return const_cast<const volatile std::uint8_t&>(byte); }

[[nodiscard]] std::uint8_t test_pattern(std::size_t index) { return static_cast<std::uint8_t>(index * 7 + 0x5a); }

// Lamina's devices answer within the register access that notifies them;
// the deadline only keeps a silent device from hanging the test.
constexpr std::uint64_t kDeviceTimeoutNs = 500'000'000;

template <typename Condition>
[[nodiscard]] bool wait_until(Condition condition) {
    const auto deadline = guest::now_ns() + kDeviceTimeoutNs;
    for (;;) {
        sync_dma();
        if (condition()) return true;
        if (guest::now_ns() > deadline) return false;
    }
}

// --- Probing -----------------------------------------------------------------

struct Devices final {
    VirtioDevice console{};
    VirtioDevice net{};
    VirtioDevice block{};
    bool has_console{false};
    bool has_net{false};
    bool has_block{false};
};

// Reports every slot the device tree declares; remembers the first device
// of each type.
[[nodiscard]] Devices probe_slots() {
    Devices devices{};
    const auto slots = find_virtio_slots(reinterpret_cast<const unsigned char*>(guest::boot_facts().device_tree_address));
    if (slots.count == 0) Line{} << "FAIL no virtio_mmio nodes in the device tree";
    for (unsigned index = 0; index < slots.count; ++index) {
        const auto slot = static_cast<unsigned>((slots.base[index] - kVirtioBase) / kVirtioSlotSize);
        const VirtioDevice device{slots.base[index], slot};
        if (device.magic() != kVirtioMagic || device.version() != kVirtioVersion) {
            Line{} << "FAIL slot " << slot << " at " << Hex{device.base()} << ": magic " << Hex{device.magic()}
                   << " version " << device.version() << ", expected a virtio-mmio version 2 window";
            continue;
        }
        const auto id = device.device_id();
        Line{} << "slot " << slot << " device " << id;
        if (id == kDeviceConsole && !devices.has_console) {
            devices.console = device;
            devices.has_console = true;
        } else if (id == kDeviceNet && !devices.has_net) {
            devices.net = device;
            devices.has_net = true;
        } else if (id == kDeviceBlock && !devices.has_block) {
            devices.block = device;
            devices.has_block = true;
        }
    }
    return devices;
}

// --- Bringing devices up -----------------------------------------------------

// Negotiation, then `queue_count` queues (from `queues`), then DRIVER_OK.
// Says what went wrong (as a FAIL line) and returns false on any refusal.
[[nodiscard]] bool bring_up(const VirtioDevice& device, std::string_view name, Queue* const* queues,
                            std::uint32_t queue_count, void (*before_driver_ok)() = nullptr) {
    if (const auto problem = device.negotiate(kFeatureVersion1); !problem.empty()) {
        Line{} << "FAIL " << name << ": " << problem << " (status " << Hex{device.status()} << ")";
        return false;
    }
    for (std::uint32_t index = 0; index < queue_count; ++index) {
        if (device.queue_max_size(index) < kQueueSize) {
            Line{} << "FAIL " << name << ": queue " << index << " holds only " << device.queue_max_size(index)
                   << " entries, expected at least " << kQueueSize;
            return false;
        }
        Queue& queue = *queues[index];
        queue.clear();
        sync_dma();
        if (!device.enable_queue(index, kQueueSize, queue.descriptor_area(), queue.driver_area(),
                                 queue.device_area())) {
            Line{} << "FAIL " << name << ": queue " << index << " refused (status " << Hex{device.status()} << ")";
            return false;
        }
    }
    if (before_driver_ok != nullptr) before_driver_ok();
    device.set_driver_ok();
    if (device.status() != kStatusLive) {
        Line{} << "FAIL " << name << ": status " << Hex{device.status()} << " after DRIVER_OK, expected "
               << Hex{kStatusLive};
        return false;
    }
    return true;
}

// Offers `head`, rings the doorbell and waits for the device to return it.
[[nodiscard]] bool complete(const VirtioDevice& device, std::uint32_t queue_index, Queue& queue, std::uint16_t head,
                            std::string_view what) {
    sync_dma();
    const std::uint16_t used_before = queue.used_index();
    queue.offer(head);
    sync_dma();
    device.notify(queue_index);
    const bool done = wait_until([&] { return queue.used_index() != used_before; });
    device.acknowledge_interrupts(device.interrupt_status());
    if (!done) {
        Line{} << "FAIL " << what << " not completed (status " << Hex{device.status()} << ")";
        return false;
    }
    const auto element = queue.used_element(used_before);
    if (element.id != head || queue.used_index() != static_cast<std::uint16_t>(used_before + 1)) {
        Line{} << "FAIL " << what << ": used ring holds head " << element.id << " and index " << queue.used_index()
               << ", expected head " << head << " and index " << static_cast<std::uint16_t>(used_before + 1);
        return false;
    }
    return true;
}

// --- The block device --------------------------------------------------------

Queue block_queue{arena.block_queue};
Queue* const block_queues[] = {&block_queue};

[[nodiscard]] bool bring_up_block(const VirtioDevice& block) { return bring_up(block, "block", block_queues, 1); }

// One request as three descriptors at head 0: header, data, status byte.
void build_block_request(std::uint32_t type, std::uint64_t sector, std::uint64_t data_address,
                         std::uint32_t data_length) {
    auto& header = const_cast<volatile BlockRequestHeader&>(arena.block_header);
    header.type = type;
    header.reserved = 0;
    header.sector = sector;
    store_byte(arena.block_status, kStatusNotWritten);
    const std::uint16_t data_flags = type == kBlockRequestIn ? kDescriptorWrite : 0;
    block_queue.set_descriptor(0, address_of(arena.block_header), sizeof(BlockRequestHeader), kDescriptorNext, 1);
    block_queue.set_descriptor(1, data_address, data_length, data_flags | kDescriptorNext, 2);
    block_queue.set_descriptor(2, address_of(arena.block_status), 1, kDescriptorWrite);
}

// Runs one request on the guest's own data page; the status byte the
// device wrote, or kStatusNotWritten when the request did not complete.
[[nodiscard]] std::uint8_t block_request(const VirtioDevice& block, std::uint32_t type, std::uint64_t sector) {
    build_block_request(type, sector, address_of(arena.block_data), kSectorSize);
    if (!complete(block, 0, block_queue, 0, type == kBlockRequestIn ? "block read" : "block write"))
        return kStatusNotWritten;
    return load_byte(arena.block_status);
}

void fill_block_data(bool with_pattern) {
    for (std::size_t i = 0; i < kSectorSize; ++i) store_byte(arena.block_data[i], with_pattern ? test_pattern(i) : 0);
}

[[nodiscard]] bool block_data_holds_pattern() {
    for (std::size_t i = 0; i < kSectorSize; ++i)
        if (load_byte(arena.block_data[i]) != test_pattern(i)) return false;
    return true;
}

// Reads sector 0 and checks it holds the pattern written at the start.
[[nodiscard]] bool read_back_sector_zero(const VirtioDevice& block, std::string_view what) {
    fill_block_data(false);
    const auto status = block_request(block, kBlockRequestIn, 0);
    if (status != kBlockOk) {
        Line{} << "FAIL " << what << ": status " << status << ", expected 0 (OK)";
        return false;
    }
    if (!block_data_holds_pattern()) {
        Line{} << "FAIL " << what << ": sector 0 does not hold what was written to it";
        return false;
    }
    return true;
}

// Step 2: a driver that plays by the rules. False when the device cannot
// be used at all (the attacks would then prove nothing).
[[nodiscard]] bool use_block(const VirtioDevice& block) {
    if (!bring_up_block(block)) return false;
    const auto capacity = block.config64(0);
    Line{} << "block capacity " << capacity << " sectors";
    if (capacity == 0) {
        Line{} << "FAIL block capacity is 0";
        return false;
    }

    fill_block_data(true);
    const auto written = block_request(block, kBlockRequestOut, 0);
    if (written != kBlockOk) {
        Line{} << "FAIL block write: status " << written << ", expected 0 (OK)";
        return false;
    }
    Line{} << "block write ok";
    if (!read_back_sector_zero(block, "block read")) return false;
    Line{} << "block read ok";

    // The sector just past the end: refused with IOERR, and nothing else.
    const auto beyond = block_request(block, kBlockRequestIn, capacity);
    if (beyond != kBlockIoError) {
        Line{} << "FAIL block read of sector " << capacity << " (beyond the disk): status " << beyond
               << ", expected 1 (IOERR)";
        return false;
    }
    if (block.status() != kStatusLive) {
        Line{} << "FAIL block status " << Hex{block.status()} << " after a refused request, expected "
               << Hex{kStatusLive};
        return false;
    }
    if (!read_back_sector_zero(block, "block read after a refused request")) return false;
    Line{} << "block read beyond the disk refused";
    return true;
}

// --- Attacks -----------------------------------------------------------------

// After an attack on a running device: DEVICE_NEEDS_RESET, a configuration
// change interrupt (virtio 1.2, 2.1.2), nothing used from the broken ring,
// and a second notification ignored. Prints "<attack> -> needs reset" when
// all hold; resets the device either way.
void expect_broken(const VirtioDevice& device, std::uint32_t queue_index, Queue& queue, std::uint16_t used_before,
                   std::string_view attack) {
    bool held = true;
    if (!wait_until([&] { return device.needs_reset(); })) {
        Line{} << "FAIL " << attack << ": status " << Hex{device.status()} << ", expected DEVICE_NEEDS_RESET ("
               << Hex{kStatusNeedsReset} << ")";
        held = false;
    } else if ((device.interrupt_status() & kInterruptConfigChange) == 0) {
        Line{} << "FAIL " << attack << ": interrupt status " << Hex{device.interrupt_status()}
               << ", expected a configuration change (" << Hex{kInterruptConfigChange} << ")";
        held = false;
    }
    device.acknowledge_interrupts(device.interrupt_status());
    device.notify(queue_index);
    sync_dma();
    if (queue.used_index() != used_before) {
        Line{} << "FAIL " << attack << ": the device used the broken ring (used index " << queue.used_index()
               << ", was " << used_before << ")";
        held = false;
    }
    if (held && !device.needs_reset()) {
        Line{} << "FAIL " << attack << ": DEVICE_NEEDS_RESET cleared without a reset (status "
               << Hex{device.status()} << ")";
        held = false;
    }
    if (held) Line{} << attack << " -> needs reset";
    device.reset();
}

// A ring attack: bring the device up, let `poison` write the malformed
// ring, ring the doorbell, and expect the device broken.
void ring_attack(const VirtioDevice& block, std::string_view attack, void (*poison)()) {
    if (!bring_up_block(block)) return;
    block.acknowledge_interrupts(block.interrupt_status());
    sync_dma();
    const std::uint16_t used_before = block_queue.used_index();
    poison();
    sync_dma();
    block.notify(0);
    expect_broken(block, 0, block_queue, used_before, attack);
}

// A read request whose data buffer is at `address`.
void read_into(std::uint64_t address, std::uint32_t length) {
    build_block_request(kBlockRequestIn, 0, address, length);
    block_queue.offer(0);
}

void poison_low_memory() { read_into(0x1000, kSectorSize); }
void poison_far_away() { read_into(0xffff'ffff'0000, kSectorSize); }
void poison_wrapping() { read_into(0xffff'ffff'ffff'fe00, 0x400); }
void poison_ram_end() {
    const auto& facts = guest::boot_facts();
    read_into(facts.ram_base + facts.ram_size - kSectorSize / 2, kSectorSize);
}
void poison_loop() {
    build_block_request(kBlockRequestIn, 0, address_of(arena.block_data), kSectorSize);
    block_queue.set_descriptor(1, address_of(arena.block_data), kSectorSize, kDescriptorWrite | kDescriptorNext, 1);
    block_queue.offer(0);
}
void poison_next_beyond_table() {
    build_block_request(kBlockRequestIn, 0, address_of(arena.block_data), kSectorSize);
    block_queue.set_descriptor(1, address_of(arena.block_data), kSectorSize, kDescriptorWrite | kDescriptorNext, 200);
    block_queue.offer(0);
}
void poison_head_beyond_table() {
    build_block_request(kBlockRequestIn, 0, address_of(arena.block_data), kSectorSize);
    block_queue.offer(kQueueSize + 3);
}
void poison_available_index() {
    build_block_request(kBlockRequestIn, 0, address_of(arena.block_data), kSectorSize);
    const std::uint16_t index = block_queue.available_index();
    block_queue.set_ring_entry(index, 0);
    block_queue.publish_available_index(static_cast<std::uint16_t>(index + kQueueSize + 1));
}
void poison_indirect() {
    // A well-formed indirect table, but VIRTIO_F_INDIRECT_DESC was not negotiated.
    build_block_request(kBlockRequestIn, 0, address_of(arena.block_data), kSectorSize);
    auto& table = const_cast<volatile Descriptor(&)[2]>(arena.indirect_table);
    table[0].address = address_of(arena.block_header);
    table[0].length = sizeof(BlockRequestHeader);
    table[0].flags = kDescriptorNext;
    table[0].next = 1;
    table[1].address = address_of(arena.block_status);
    table[1].length = 1;
    table[1].flags = kDescriptorWrite;
    table[1].next = 0;
    block_queue.set_descriptor(0, address_of(arena.indirect_table), sizeof arena.indirect_table, kDescriptorIndirect);
    block_queue.offer(0);
}

// Queue placement: queue `queue_index` of `device` with its descriptor
// table on the device's own registers. Refused at QueueReady, before
// DRIVER_OK, so there is no configuration change interrupt to expect.
void placement_attack(const VirtioDevice& device, std::uint32_t queue_index, Queue* const* queues,
                      std::string_view attack) {
    if (const auto problem = device.negotiate(kFeatureVersion1); !problem.empty()) {
        Line{} << "FAIL " << attack << ": " << problem << " (status " << Hex{device.status()} << ")";
        return;
    }
    for (std::uint32_t index = 0; index < queue_index; ++index) {  // the queues before it are fine
        queues[index]->clear();
        sync_dma();
        if (!device.enable_queue(index, kQueueSize, queues[index]->descriptor_area(), queues[index]->driver_area(),
                                 queues[index]->device_area())) {
            Line{} << "FAIL " << attack << ": queue " << index << " refused (status " << Hex{device.status()} << ")";
            return;
        }
    }
    Queue& queue = *queues[queue_index];
    queue.clear();
    sync_dma();
    const bool taken =
        device.enable_queue(queue_index, kQueueSize, device.base(), queue.driver_area(), queue.device_area());
    if (taken)
        Line{} << "FAIL " << attack << ": QueueReady reads 1";
    else if (!device.needs_reset())
        Line{} << "FAIL " << attack << ": status " << Hex{device.status()} << ", expected DEVICE_NEEDS_RESET ("
               << Hex{kStatusNeedsReset} << ")";
    else
        Line{} << attack << " -> needs reset";
    device.reset();
}

// A running queue whose descriptor table the driver moves onto the device's
// registers: the write must not take effect, and the device must stop.
void move_while_enabled_attack(const VirtioDevice& block) {
    if (!bring_up_block(block)) return;
    block.acknowledge_interrupts(block.interrupt_status());
    sync_dma();
    const std::uint16_t used_before = block_queue.used_index();
    block.move_descriptor_table(0, block.base());
    build_block_request(kBlockRequestIn, 0, address_of(arena.block_data), kSectorSize);
    block_queue.offer(0);
    sync_dma();
    block.notify(0);
    expect_broken(block, 0, block_queue, used_before, "block queue moved while enabled");
}

void attack_block(const VirtioDevice& block) {
    ring_attack(block, "block buffer at 0x1000", poison_low_memory);
    ring_attack(block, "block buffer at 0xffffffff0000", poison_far_away);
    ring_attack(block, "block buffer wrapping the address space", poison_wrapping);
    ring_attack(block, "block buffer across the end of RAM", poison_ram_end);
    ring_attack(block, "block descriptor chain loop", poison_loop);
    ring_attack(block, "block descriptor next beyond the table", poison_next_beyond_table);
    ring_attack(block, "block head beyond the table", poison_head_beyond_table);
    ring_attack(block, "block available index jump", poison_available_index);
    ring_attack(block, "block indirect descriptor not negotiated", poison_indirect);
    placement_attack(block, 0, block_queues, "block descriptor table in MMIO space");
    move_while_enabled_attack(block);

    if (!bring_up_block(block)) return;
    if (read_back_sector_zero(block, "block read after reset")) Line{} << "block works again after reset";
}

// --- The network card --------------------------------------------------------

Queue net_receive_queue{arena.net_receive_queue};
Queue net_transmit_queue{arena.net_transmit_queue};
Queue* const net_queues[] = {&net_receive_queue, &net_transmit_queue};

constexpr std::uint32_t kNetTransmit = 1;

// One receive buffer, offered before DRIVER_OK as a driver would.
void offer_receive_buffer() {
    net_receive_queue.set_descriptor(0, address_of(arena.net_receive_buffer), kReceiveBufferSize, kDescriptorWrite);
    net_receive_queue.offer(0);
    sync_dma();
}

[[nodiscard]] bool bring_up_net(const VirtioDevice& net) {
    return bring_up(net, "net", net_queues, 2, offer_receive_buffer);
}

// A broadcast frame from the card's own address: header (no offloads),
// then destination, source, EtherType and a payload.
void build_frame(const VirtioDevice& net) {
    auto* packet = arena.net_packet;
    for (std::size_t i = 0; i < sizeof arena.net_packet; ++i) store_byte(packet[i], 0);
    std::uint8_t* frame = packet + kNetHeaderSize;
    for (std::size_t i = 0; i < 6; ++i) {
        store_byte(frame[i], 0xff);
        store_byte(frame[6 + i], net.config8(static_cast<std::uint32_t>(i)));  // virtio_net_config.mac
    }
    store_byte(frame[12], kLocalExperimentalEtherType >> 8);
    store_byte(frame[13], kLocalExperimentalEtherType & 0xff);
    constexpr std::string_view kPayload = "ring_breaker";
    for (std::size_t i = 0; i < kPayload.size(); ++i) store_byte(frame[14 + i], static_cast<std::uint8_t>(kPayload[i]));
}

void attack_net(const VirtioDevice& net) {
    placement_attack(net, kNetTransmit, net_queues, "net transmit ring in MMIO space");

    // A packet whose frame lies on the UART's registers.
    if (bring_up_net(net)) {
        net.acknowledge_interrupts(net.interrupt_status());
        build_frame(net);
        net_transmit_queue.set_descriptor(0, address_of(arena.net_packet), kNetHeaderSize, kDescriptorNext, 1);
        net_transmit_queue.set_descriptor(1, 0x0900'0000, kFrameSize, 0);
        sync_dma();
        const std::uint16_t used_before = net_transmit_queue.used_index();
        net_transmit_queue.offer(0);
        sync_dma();
        net.notify(kNetTransmit);
        expect_broken(net, kNetTransmit, net_transmit_queue, used_before, "net transmit buffer at 0x9000000");
    }

    if (!bring_up_net(net)) return;
    build_frame(net);
    net_transmit_queue.set_descriptor(0, address_of(arena.net_packet), sizeof arena.net_packet, 0);
    if (complete(net, kNetTransmit, net_transmit_queue, 0, "net transmit after reset") && !net.needs_reset())
        Line{} << "net works again after reset";
}

// --- The console -------------------------------------------------------------

Queue console_queue{arena.console_queue};
Queue* const console_queues[] = {&console_queue};

}  // namespace

void guest::run() {
    const Devices devices = probe_slots();
    if (!devices.has_block) {
        Line{} << "FAIL no virtio block device";
        return;
    }
    if (!use_block(devices.block)) return;
    attack_block(devices.block);
    if (devices.has_net)
        attack_net(devices.net);
    else
        Line{} << "FAIL no virtio network device";
    if (devices.has_console)
        placement_attack(devices.console, 0, console_queues, "console receive ring in MMIO space");
    Line{} << "done";
}
