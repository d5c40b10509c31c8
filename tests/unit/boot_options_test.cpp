#include "core/boot_options.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "core/console.hpp"

namespace lamina {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr std::uint64_t kDefaultTimeslice = 10'000;

void expect_defaults(const BootOptions& options) {
    EXPECT_EQ(options.log_level, LogLevel::info);
    EXPECT_EQ(options.timeslice_us, kDefaultTimeslice);
    EXPECT_FALSE(options.halt_when_idle);
}

// --- Defaults and each option ----------------------------------------------------

TEST(BootOptions, EmptyCommandLineGivesDefaults) {
    expect_defaults(parse_boot_options(""));
    expect_defaults(parse_boot_options(std::string_view{}));
    expect_defaults(parse_boot_options(" "));
    expect_defaults(parse_boot_options("     "));
}

TEST(BootOptions, LogLevels) {
    EXPECT_EQ(parse_boot_options("lamina.loglevel=error").log_level, LogLevel::error);
    EXPECT_EQ(parse_boot_options("lamina.loglevel=warning").log_level, LogLevel::warning);
    EXPECT_EQ(parse_boot_options("lamina.loglevel=info").log_level, LogLevel::info);
    EXPECT_EQ(parse_boot_options("lamina.loglevel=debug").log_level, LogLevel::debug);
}

TEST(BootOptions, Timeslice) {
    EXPECT_EQ(parse_boot_options("lamina.timeslice_us=5000").timeslice_us, 5000u);
    EXPECT_EQ(parse_boot_options("lamina.timeslice_us=100").timeslice_us, 100u);          // lowest
    EXPECT_EQ(parse_boot_options("lamina.timeslice_us=1000000").timeslice_us, 1'000'000u);  // highest
    EXPECT_EQ(parse_boot_options("lamina.timeslice_us=00250").timeslice_us, 250u);       // leading zeros
}

TEST(BootOptions, HaltWhenIdle) {
    const BootOptions options = parse_boot_options("lamina.halt_when_idle");
    EXPECT_TRUE(options.halt_when_idle);
    EXPECT_EQ(options.log_level, LogLevel::info);
    EXPECT_EQ(options.timeslice_us, kDefaultTimeslice);
}

TEST(BootOptions, AllOptionsTogether) {
    const BootOptions options =
        parse_boot_options("lamina.loglevel=debug lamina.timeslice_us=5000 lamina.halt_when_idle");
    EXPECT_EQ(options.log_level, LogLevel::debug);
    EXPECT_EQ(options.timeslice_us, 5000u);
    EXPECT_TRUE(options.halt_when_idle);
}

TEST(BootOptions, OrderDoesNotMatter) {
    const BootOptions options =
        parse_boot_options("lamina.halt_when_idle lamina.timeslice_us=777 lamina.loglevel=warning");
    EXPECT_EQ(options.log_level, LogLevel::warning);
    EXPECT_EQ(options.timeslice_us, 777u);
    EXPECT_TRUE(options.halt_when_idle);
}

TEST(BootOptions, LastOccurrenceWins) {
    const BootOptions options = parse_boot_options(
        "lamina.loglevel=debug lamina.timeslice_us=200 lamina.loglevel=error lamina.timeslice_us=300");
    EXPECT_EQ(options.log_level, LogLevel::error);
    EXPECT_EQ(options.timeslice_us, 300u);
}

// --- Malformed values ---------------------------------------------------------------

TEST(BootOptions, MalformedLogLevelKeepsDefault) {
    for (const std::string_view line :
         {"lamina.loglevel=verbose", "lamina.loglevel=DEBUG", "lamina.loglevel=Info", "lamina.loglevel=3",
          "lamina.loglevel=debug,info", "lamina.loglevel= debug", "lamina.loglevel=debugx", "lamina.loglevel=deb",
          "lamina.loglevel==debug"}) {
        EXPECT_EQ(parse_boot_options(line).log_level, LogLevel::info) << line;
    }
}

TEST(BootOptions, MalformedTimesliceKeepsDefault) {
    for (const std::string_view line :
         {"lamina.timeslice_us=abc", "lamina.timeslice_us=-5000", "lamina.timeslice_us=+5000",
          "lamina.timeslice_us=5000us", "lamina.timeslice_us=5,000", "lamina.timeslice_us=0x1000",
          "lamina.timeslice_us=1e4", "lamina.timeslice_us=50.5", "lamina.timeslice_us= 5000",
          "lamina.timeslice_us==5000"}) {
        EXPECT_EQ(parse_boot_options(line).timeslice_us, kDefaultTimeslice) << line;
    }
}

TEST(BootOptions, TimesliceOutOfRangeKeepsDefault) {
    for (const std::string_view line :
         {"lamina.timeslice_us=0", "lamina.timeslice_us=99", "lamina.timeslice_us=1000001",
          "lamina.timeslice_us=999999999999",        // 12 digits
          "lamina.timeslice_us=18446744073709551616",  // 2^64: must not wrap into range
          "lamina.timeslice_us=18446744073709552616",  // 2^64 + 1000
          "lamina.timeslice_us=99999999999999999999999999999999"}) {
        EXPECT_EQ(parse_boot_options(line).timeslice_us, kDefaultTimeslice) << line;
    }
}

TEST(BootOptions, MalformedValueDoesNotUndoEarlierValidOne) {
    const BootOptions options = parse_boot_options(
        "lamina.loglevel=debug lamina.loglevel=loud lamina.timeslice_us=2000 lamina.timeslice_us=fast");
    EXPECT_EQ(options.log_level, LogLevel::debug);
    EXPECT_EQ(options.timeslice_us, 2000u);
}

TEST(BootOptions, MalformedValueDoesNotAffectOtherOptions) {
    const BootOptions options =
        parse_boot_options("lamina.loglevel=shout lamina.timeslice_us=400 lamina.halt_when_idle");
    EXPECT_EQ(options.log_level, LogLevel::info);
    EXPECT_EQ(options.timeslice_us, 400u);
    EXPECT_TRUE(options.halt_when_idle);
}

// --- Missing values ---------------------------------------------------------------------

TEST(BootOptions, OptionAtEndWithoutValue) {
    expect_defaults(parse_boot_options("lamina.loglevel="));
    expect_defaults(parse_boot_options("lamina.loglevel"));
    expect_defaults(parse_boot_options("lamina.timeslice_us="));
    expect_defaults(parse_boot_options("lamina.timeslice_us"));
    expect_defaults(parse_boot_options("console=ttyAMA0 lamina.timeslice_us="));

    const BootOptions options = parse_boot_options("lamina.timeslice_us=300 lamina.loglevel=");
    EXPECT_EQ(options.timeslice_us, 300u);
    EXPECT_EQ(options.log_level, LogLevel::info);
}

TEST(BootOptions, ValueWithoutKey) {
    expect_defaults(parse_boot_options("=debug"));
    expect_defaults(parse_boot_options("= = ="));
    expect_defaults(parse_boot_options("="));
}

// --- Unknown words and spacing ------------------------------------------------------------

TEST(BootOptions, UnknownWordsIgnored) {
    expect_defaults(parse_boot_options("console=ttyAMA0 root=/dev/vda rw quiet earlycon"));
    expect_defaults(parse_boot_options("lamina.unknown=1 lamina.loglevels=debug lamina.loglevelx=debug"));
    expect_defaults(parse_boot_options("xlamina.loglevel=debug lamina.loglevel.x=debug LAMINA.LOGLEVEL=debug"));
    expect_defaults(parse_boot_options("lamina.halt_when_idle_now lamina.halt lamina. lamina"));
    expect_defaults(parse_boot_options("loglevel=debug timeslice_us=5000 halt_when_idle"));
}

TEST(BootOptions, KnownOptionsAmongUnknownWords) {
    const BootOptions options = parse_boot_options(
        "console=ttyAMA0,115200 lamina.loglevel=warning root=/dev/vda2 lamina.timeslice_us=1500 "
        "init=/sbin/init lamina.halt_when_idle rootwait");
    EXPECT_EQ(options.log_level, LogLevel::warning);
    EXPECT_EQ(options.timeslice_us, 1500u);
    EXPECT_TRUE(options.halt_when_idle);
}

TEST(BootOptions, RepeatedLeadingAndTrailingSpaces) {
    const BootOptions options =
        parse_boot_options("   lamina.loglevel=error     lamina.timeslice_us=123      lamina.halt_when_idle   ");
    EXPECT_EQ(options.log_level, LogLevel::error);
    EXPECT_EQ(options.timeslice_us, 123u);
    EXPECT_TRUE(options.halt_when_idle);
}

TEST(BootOptions, OptionAtVeryEnd) {
    EXPECT_TRUE(parse_boot_options("quiet lamina.halt_when_idle").halt_when_idle);
    EXPECT_EQ(parse_boot_options("quiet lamina.loglevel=debug").log_level, LogLevel::debug);
    EXPECT_EQ(parse_boot_options("quiet lamina.timeslice_us=100").timeslice_us, 100u);
}

TEST(BootOptions, NotNulTerminatedView) {
    // The view may be a slice of a larger buffer: nothing past its end is read.
    const std::string backing = "lamina.timeslice_us=2000000";
    const std::string_view line{backing.data(), backing.size() - 1};  // "...=200000"
    EXPECT_EQ(parse_boot_options(line).timeslice_us, 200'000u);

    const std::string flag = "lamina.halt_when_idlex";
    EXPECT_TRUE(parse_boot_options(std::string_view{flag.data(), flag.size() - 1}).halt_when_idle);
}

TEST(BootOptions, LongCommandLine) {
    std::string line;
    for (int i = 0; i < 500; ++i) line += "word" + std::to_string(i) + "=value ";
    line += "lamina.timeslice_us=4321";
    EXPECT_EQ(parse_boot_options(line).timeslice_us, 4321u);
}

// --- Warnings on the console -------------------------------------------------------------

class CapturingConsole final : public ConsoleDevice {
public:
    void write(std::string_view text) override { text_.append(text); }
    [[nodiscard]] const std::string& text() const { return text_; }
    void clear() { text_.clear(); }

private:
    std::string text_;
};

// The console has no detach: the capturing device lives for the whole process.
class BootOptionsWarnings : public ::testing::Test {
protected:
    void SetUp() override {
        console().clear();
        console::attach(console());
        log::set_level(LogLevel::info);
    }

    [[nodiscard]] static CapturingConsole& console() {
        static CapturingConsole device;
        return device;
    }
};

TEST_F(BootOptionsWarnings, MalformedValuesAreReported) {
    (void)parse_boot_options("lamina.loglevel=loud");
    EXPECT_THAT(console().text(), HasSubstr("warning"));
    EXPECT_THAT(console().text(), HasSubstr("lamina.loglevel=loud"));

    console().clear();
    (void)parse_boot_options("lamina.timeslice_us=5");
    EXPECT_THAT(console().text(), HasSubstr("warning"));
    EXPECT_THAT(console().text(), HasSubstr("lamina.timeslice_us=5 "));
}

TEST_F(BootOptionsWarnings, ValidAndUnknownWordsAreSilent) {
    (void)parse_boot_options("console=ttyAMA0 lamina.unknown=3 lamina.loglevel=debug lamina.timeslice_us=500 "
                             "lamina.halt_when_idle");
    EXPECT_THAT(console().text(), IsEmpty());
}

TEST_F(BootOptionsWarnings, HugeMalformedValueIsReportedTruncated) {
    const std::string value(4 * KiB, 'z');
    const BootOptions options = parse_boot_options("lamina.loglevel=" + value);
    EXPECT_EQ(options.log_level, LogLevel::info);
    EXPECT_THAT(console().text(), HasSubstr("lamina.loglevel=zzz"));
    EXPECT_LT(console().text().size(), value.size());
}

TEST_F(BootOptionsWarnings, ParsingDoesNotChangeTheLogLevel) {
    // Applying the level is the caller's business.
    (void)parse_boot_options("lamina.loglevel=error");
    EXPECT_EQ(log::level(), LogLevel::info);
}

}  // namespace
}  // namespace lamina
