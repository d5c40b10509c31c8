// VirtioInput, the power button, driven the way Linux's virtio_input driver
// drives it: configuration queries through select/subsel, an eventq kept
// full of 8-byte buffers, a statusq it may write to. Covers every query the
// driver makes at probe, presses delivered in order, presses waiting for
// buffers, presses nobody can receive, and a driver that posts buffers too
// small for an event. Guard bytes around the fake RAM are checked after
// every test.
#include "virtual_devices/virtio_input.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "fake_guest_memory.hpp"
#include "virtio_driver_model.hpp"
#include "virtio_driver_ring.hpp"

namespace lamina {
namespace {

using testing::DriverRing;
using testing::FakeGuestMemory;
using testing::GuestVirtioDriver;

using namespace virtio_mmio_register;

constexpr std::uint64_t kRam = 0x4000'0000;
constexpr std::uint64_t kRamSize = 0x1'0000;
constexpr std::uint64_t kEventBuffers = kRam + 0x8000;  // 8 bytes per descriptor index
constexpr std::uint64_t kStatusBuffers = kRam + 0xa000;
constexpr std::uint16_t kRingSize = 64;

// Offsets in struct virtio_input_config.
constexpr std::uint64_t kSelect = 0;
constexpr std::uint64_t kSubsel = 1;
constexpr std::uint64_t kSize = 2;
constexpr std::uint64_t kAnswer = 8;

// evdev event types the driver asks about at probe (input-event-codes.h).
constexpr std::uint8_t kEventRelative = 0x02;
constexpr std::uint8_t kEventAbsolute = 0x03;
constexpr std::uint8_t kEventMisc = 0x04;
constexpr std::uint8_t kEventSwitch = 0x05;
constexpr std::uint8_t kEventLed = 0x11;
constexpr std::uint8_t kEventSound = 0x12;
constexpr std::uint8_t kEventRepeat = 0x14;

struct Event final {
    std::uint16_t type;
    std::uint16_t code;
    std::uint32_t value;
    bool operator==(const Event&) const = default;
};

std::ostream& operator<<(std::ostream& out, const Event& event) {
    return out << "{type " << event.type << ", code " << event.code << ", value " << event.value << "}";
}

constexpr Event kPowerDown{VirtioInput::kEventKey, VirtioInput::kKeyPower, 1};
constexpr Event kPowerUp{VirtioInput::kEventKey, VirtioInput::kKeyPower, 0};
constexpr Event kReport{VirtioInput::kEventSync, VirtioInput::kSyncReport, 0};

class VirtioInputTest : public ::testing::Test {
protected:
    void SetUp() override { input.connect(memory, VirtioTransportHooks{&record_level, &record_failure, this}); }
    void TearDown() override { EXPECT_TRUE(memory.guards_intact()); }

    static void record_level(void* self, bool asserted) { static_cast<VirtioInputTest*>(self)->line = asserted; }
    static void record_failure(void* self, Error reason) {
        static_cast<VirtioInputTest*>(self)->failures.emplace_back(reason.message);
    }

    void start(std::uint64_t features = kVirtioFeatureVersion1) {
        ASSERT_TRUE(driver.start(features, {&events, &status}));
    }

    // --- Configuration space, as virtinput_cfg_select and virtio_cread_bytes --------------
    std::uint8_t query(std::uint8_t select, std::uint8_t subsel) {
        driver.write_config(kSelect, 1, select);
        driver.write_config(kSubsel, 1, subsel);
        return static_cast<std::uint8_t>(driver.read_config(kSize, 1));
    }
    std::vector<std::uint8_t> answer(std::size_t length = 128) {
        std::vector<std::uint8_t> bytes;
        for (std::size_t i = 0; i < length; ++i)
            bytes.push_back(static_cast<std::uint8_t>(driver.read_config(kAnswer + i, 1)));
        return bytes;
    }
    std::string answer_string(std::size_t length) {
        const std::vector<std::uint8_t> bytes = answer(length);
        return {bytes.begin(), bytes.end()};
    }

    // --- Events ---------------------------------------------------------------------------
    // `count` buffers in the eventq, as virtinput_fill_evt posts them. With
    // one descriptor per buffer, a buffer's head is its slot in the table.
    void post_event_buffers(int count, std::uint32_t size = 8) {
        for (int i = 0; i < count; ++i) {
            const std::uint64_t slot = posted_event_buffers++ % kRingSize;
            events.add({{kEventBuffers + 8 * slot, size, true}});
        }
        driver.notify(VirtioInput::kEventQueue);
    }
    // The event the device put in the `position`th used buffer.
    Event delivered(std::uint16_t position) {
        const testing::UsedElement used = events.used_element(position);
        EXPECT_EQ(used.length, 8u);
        const std::uint64_t at = kEventBuffers + 8ull * used.id;
        return {memory.peek<std::uint16_t>(at), memory.peek<std::uint16_t>(at + 2), memory.peek<std::uint32_t>(at + 4)};
    }
    void expect_press_at(std::uint16_t first) {
        EXPECT_EQ(delivered(first), kPowerDown);
        EXPECT_EQ(delivered(first + 1), kReport);
        EXPECT_EQ(delivered(first + 2), kPowerUp);
        EXPECT_EQ(delivered(first + 3), kReport);
    }

    FakeGuestMemory memory{{{kRam, kRamSize}}};
    VirtioInput input;
    GuestVirtioDriver driver{input.transport()};
    DriverRing events{memory, kRingSize, kRam, kRam + 0x1000, kRam + 0x2000};
    DriverRing status{memory, kRingSize, kRam + 0x4000, kRam + 0x5000, kRam + 0x6000};
    int posted_event_buffers{0};
    bool line{false};
    std::vector<std::string> failures;
};

// --- Identification and configuration ---------------------------------------------------------

TEST_F(VirtioInputTest, IdentifiesAsInputDeviceWithTwoQueues) {
    EXPECT_EQ(driver.read(kDeviceId), 18u);
    EXPECT_EQ(driver.offered_features(), testing::kLinuxTransportFeatures);  // the device type defines none
    driver.write(kQueueSelect, 0);
    EXPECT_EQ(driver.read(kQueueSizeMax), 64u);
    driver.write(kQueueSelect, 1);
    EXPECT_EQ(driver.read(kQueueSizeMax), 64u);
    driver.write(kQueueSelect, 2);
    EXPECT_EQ(driver.read(kQueueSizeMax), 0u);
}

TEST_F(VirtioInputTest, NothingIsSelectedAtFirst) {
    EXPECT_EQ(driver.read_config(kSelect, 1), 0u);
    EXPECT_EQ(driver.read_config(kSize, 1), 0u);
    EXPECT_EQ(answer(), std::vector<std::uint8_t>(128, 0));
}

TEST_F(VirtioInputTest, NameIsAStringWithoutTerminator) {
    ASSERT_EQ(query(VirtioInput::kSelectName, 0), 19u);
    EXPECT_EQ(answer_string(19), "Lamina power button");
    EXPECT_EQ(driver.read_config(kAnswer + 19, 1), 0u);
}

TEST_F(VirtioInputTest, SerialIsEmpty) { EXPECT_EQ(query(VirtioInput::kSelectSerial, 0), 0u); }

TEST_F(VirtioInputTest, DeviceIdsAreOnTheVirtualBus) {
    ASSERT_EQ(query(VirtioInput::kSelectDeviceIds, 0), 8u);
    EXPECT_EQ(driver.read_config(kAnswer, 2), 0x06u);  // BUS_VIRTUAL
    EXPECT_EQ(driver.read_config(kAnswer + 2, 2), VirtioInput::kVendor);
    EXPECT_EQ(driver.read_config(kAnswer + 4, 2), VirtioInput::kProduct);
    EXPECT_EQ(driver.read_config(kAnswer + 6, 2), VirtioInput::kVersion);
}

TEST_F(VirtioInputTest, KeyBitsHoldOnlyThePowerKey) {
    const std::uint8_t size = query(VirtioInput::kSelectEventBits, VirtioInput::kEventKey);
    ASSERT_EQ(size, 15u);  // up to the byte holding bit 116
    const std::vector<std::uint8_t> bits = answer();
    std::vector<std::uint8_t> expected(128, 0);
    expected[116 / 8] = 1u << (116 % 8);
    EXPECT_EQ(bits, expected);
}

TEST_F(VirtioInputTest, SyncBitsHoldReport) {
    ASSERT_EQ(query(VirtioInput::kSelectEventBits, VirtioInput::kEventSync), 1u);
    EXPECT_EQ(driver.read_config(kAnswer, 1), 1u);  // SYN_REPORT
}

// virtinput_probe asks for each of these; none may be enabled.
TEST_F(VirtioInputTest, OtherEventTypesAreUnsupported) {
    for (const std::uint8_t type :
         {kEventRelative, kEventAbsolute, kEventMisc, kEventSwitch, kEventLed, kEventSound, kEventRepeat}) {
        EXPECT_EQ(query(VirtioInput::kSelectEventBits, type), 0u) << "event type " << int{type};
        EXPECT_EQ(answer(16), std::vector<std::uint8_t>(16, 0));
    }
}

TEST_F(VirtioInputTest, PropertiesAxesAndUnknownQueriesHaveSizeZero) {
    EXPECT_EQ(query(VirtioInput::kSelectPropertyBits, 0), 0u);
    EXPECT_EQ(query(VirtioInput::kSelectAbsoluteInfo, 0), 0u);
    EXPECT_EQ(query(VirtioInput::kSelectUnset, 0), 0u);
    EXPECT_EQ(query(VirtioInput::kSelectName, 1), 0u);  // the name has subsel 0 only
    ASSERT_EQ(query(VirtioInput::kSelectName, 0), 19u);
    EXPECT_EQ(query(0x7f, 0), 0u);
    EXPECT_EQ(answer(), std::vector<std::uint8_t>(128, 0));  // nothing left of the name
}

TEST_F(VirtioInputTest, OnlySelectAndSubselAreWritable) {
    driver.write_config(0, 4, 0xffff'0111);  // select EV_BITS, subsel EV_KEY, and size and reserved bytes
    EXPECT_EQ(driver.read_config(kSelect, 1), VirtioInput::kSelectEventBits);
    EXPECT_EQ(driver.read_config(kSubsel, 1), VirtioInput::kEventKey);
    EXPECT_EQ(driver.read_config(kSize, 1), 15u);
    EXPECT_EQ(driver.read_config(4, 4), 0u);
    driver.write_config(kAnswer, 8, ~0ull);  // ignored
    EXPECT_EQ(driver.read_config(kAnswer, 8), 0u);
    EXPECT_EQ(driver.read_config(136, 8), 0u);  // beyond struct virtio_input_config
}

TEST_F(VirtioInputTest, ResetForgetsTheQuery) {
    ASSERT_EQ(query(VirtioInput::kSelectName, 0), 19u);
    driver.write(kStatus, 0);
    EXPECT_EQ(driver.read_config(kSelect, 1), 0u);
    EXPECT_EQ(driver.read_config(kSize, 1), 0u);
}

// --- Events -----------------------------------------------------------------------------------

TEST_F(VirtioInputTest, PressDeliversKeyDownReportKeyUpReport) {
    start();
    post_event_buffers(8);
    EXPECT_EQ(events.used_index(), 0);
    EXPECT_FALSE(line);

    EXPECT_TRUE(input.press_power_button());
    ASSERT_EQ(events.used_index(), 4);
    expect_press_at(0);
    EXPECT_TRUE(line);
    EXPECT_EQ(driver.take_interrupt(), kVirtioInterruptUsedBuffer);
    EXPECT_FALSE(line);

    EXPECT_TRUE(input.press_power_button());
    ASSERT_EQ(events.used_index(), 8);
    expect_press_at(4);
    EXPECT_TRUE(failures.empty());
}

TEST_F(VirtioInputTest, PressWithLinuxFeatures) {
    start(testing::kLinuxTransportFeatures);
    post_event_buffers(64);
    EXPECT_TRUE(input.press_power_button());
    ASSERT_EQ(events.used_index(), 4);
    expect_press_at(0);
    EXPECT_TRUE(line);
}

TEST_F(VirtioInputTest, EventsWaitForBuffers) {
    start();
    EXPECT_TRUE(input.press_power_button());
    EXPECT_EQ(events.used_index(), 0);
    EXPECT_FALSE(line);

    post_event_buffers(2);
    ASSERT_EQ(events.used_index(), 2);
    EXPECT_EQ(delivered(0), kPowerDown);
    EXPECT_EQ(delivered(1), kReport);
    EXPECT_TRUE(line);
    driver.take_interrupt();

    post_event_buffers(3);
    ASSERT_EQ(events.used_index(), 4);
    EXPECT_EQ(delivered(2), kPowerUp);
    EXPECT_EQ(delivered(3), kReport);
    EXPECT_TRUE(line);

    EXPECT_TRUE(input.press_power_button());  // one buffer left for the next press
    ASSERT_EQ(events.used_index(), 5);
    EXPECT_EQ(delivered(4), kPowerDown);
}

TEST_F(VirtioInputTest, PressWithoutLiveDriverIsRefused) {
    EXPECT_FALSE(input.press_power_button());  // nothing loaded
    ASSERT_TRUE(driver.negotiate(kVirtioFeatureVersion1));
    driver.setup_queue(0, events);
    driver.setup_queue(1, status);
    EXPECT_FALSE(input.press_power_button());  // queues set up, no DRIVER_OK yet
    driver.set_driver_ok();
    post_event_buffers(8);
    EXPECT_EQ(events.used_index(), 0);  // refused presses left nothing behind
    EXPECT_TRUE(input.press_power_button());
    EXPECT_EQ(events.used_index(), 4);
}

TEST_F(VirtioInputTest, PressWithoutEventQueueIsRefused) {
    ASSERT_TRUE(driver.negotiate(kVirtioFeatureVersion1));
    driver.setup_queue(1, status);
    driver.set_driver_ok();
    EXPECT_FALSE(input.press_power_button());
}

TEST_F(VirtioInputTest, WaitingPressesHaveALimit) {
    start();
    for (int press = 0; press < 6; ++press) EXPECT_TRUE(input.press_power_button());
    post_event_buffers(32);
    ASSERT_EQ(events.used_index(), VirtioInput::kPendingCapacity);  // four whole presses, no partial fifth
    for (std::uint16_t first = 0; first < VirtioInput::kPendingCapacity; first += 4) expect_press_at(first);
}

TEST_F(VirtioInputTest, ResetDropsWaitingPresses) {
    start();
    EXPECT_TRUE(input.press_power_button());
    driver.write(kStatus, 0);
    EXPECT_FALSE(input.press_power_button());
    std::memset(memory.host(kRam, 0x8000), 0, 0x8000);
    events.restart();
    status.restart();
    posted_event_buffers = 0;
    start();
    post_event_buffers(8);
    EXPECT_EQ(events.used_index(), 0);
}

TEST_F(VirtioInputTest, StatusBuffersAreReturnedUnread) {
    start();
    memory.poke<std::uint16_t>(kStatusBuffers, 0x11);  // EV_LED, as for a keyboard
    status.add({{kStatusBuffers, 8, false}});
    status.add({{kStatusBuffers + 8, 8, false}});
    driver.notify(VirtioInput::kStatusQueue);
    ASSERT_EQ(status.used_index(), 2);
    EXPECT_EQ(status.used_element(0).length, 0u);
    EXPECT_EQ(status.used_element(1).length, 0u);
    EXPECT_EQ(events.used_index(), 0);
    EXPECT_TRUE(failures.empty());
}

// --- Driver mistakes --------------------------------------------------------------------------

TEST_F(VirtioInputTest, EventBufferSmallerThanAnEventStopsTheDevice) {
    start();
    post_event_buffers(1, 4);
    EXPECT_TRUE(input.press_power_button());  // the device was live when pressed
    EXPECT_EQ(events.used_index(), 0);
    EXPECT_TRUE(driver.needs_reset());
    ASSERT_EQ(failures.size(), 1u);
    EXPECT_EQ(failures.front(), "virtio-input event buffer is smaller than an event");
    EXPECT_EQ(driver.take_interrupt(), kVirtioInterruptConfigChange);
    EXPECT_FALSE(input.press_power_button());
    // A reset brings it back.
    driver.write(kStatus, 0);
    EXPECT_EQ(input.transport().failure_reason(), nullptr);
}

TEST_F(VirtioInputTest, EventBufferOutsideRamStopsTheDevice) {
    start();
    events.add({{kRam + kRamSize - 4, 8, true}});
    driver.notify(VirtioInput::kEventQueue);
    EXPECT_TRUE(input.press_power_button());
    EXPECT_TRUE(driver.needs_reset());
    ASSERT_FALSE(failures.empty());
    EXPECT_EQ(failures.front(), "descriptor buffer is not in guest RAM");
}

}  // namespace
}  // namespace lamina
