// conformance: the SMCCC guest services. Arm PV stolen time (DEN0057A):
// discovery through SMCCC_ARCH_FEATURES and HV_PV_TIME_FEATURES, each vCPU's
// record outside RAM and the device windows, revision and attributes 0.
// TRNG (DEN0098): version, features, a stable UUID, RND32 and RND64 bit
// placement, values that change, bit counts refused.
#include "conformance.hpp"
#include "psci.hpp"
#include "runtime.hpp"

namespace conformance {
namespace {

namespace psci = guest::psci;
using guest::arch::HvcResults;

constexpr std::uint32_t kSmcccArchFeatures = 0x8000'0001;
constexpr std::uint32_t kTrngVersion = 0x8400'0050;
constexpr std::uint32_t kTrngFeatures = 0x8400'0051;
constexpr std::uint32_t kTrngGetUuid = 0x8400'0052;
constexpr std::uint32_t kTrngRnd32 = 0x8400'0053;
constexpr std::uint32_t kTrngRnd64 = 0xc400'0053;
constexpr std::uint64_t kRecordSize = 64;

// --- PV stolen time ------------------------------------------------------------------------

void check_pv_time_features() {
    Check check{"pv-time-features"};
    const auto discovered = psci::call(kSmcccArchFeatures, kPvTimeFeatures);
    if (discovered != psci::kSuccess)
        check.fail() << "SMCCC_ARCH_FEATURES(HV_PV_TIME_FEATURES) returned " << discovered
                     << ", expected 0 (how Linux discovers PV time)";
    for (const std::uint32_t function : {kPvTimeFeatures, kPvTimeStolenTime}) {
        const auto result = psci::call(kPvTimeFeatures, function);
        if (result != psci::kSuccess)
            check.fail() << "HV_PV_TIME_FEATURES(" << Hex{function} << ") returned " << result << ", expected 0";
    }
    for (const std::uint32_t function : {0xc500'0022u, 0xc500'0000u, 0x8400'0000u}) {
        const auto result = psci::call(kPvTimeFeatures, function);
        if (result != psci::kNotSupported)
            check.fail() << "HV_PV_TIME_FEATURES(" << Hex{function} << ") returned " << result << ", expected -1";
    }
    const auto psci_says = psci::call(psci::kPsciFeatures, kPvTimeFeatures);
    if (psci_says != psci::kNotSupported)
        check.fail() << "PSCI_FEATURES(HV_PV_TIME_FEATURES) returned " << psci_says
                     << ", expected -1 (not a PSCI function)";
}

struct Window final {
    std::uint64_t base;
    std::uint64_t size;
    const char* name;
};

// What the guest's address space holds besides the records.
bool overlaps_something(Check& check, std::uint64_t record) {
    const auto& facts = guest::boot_facts();
    const Window windows[] = {
        {facts.ram_base, facts.ram_size, "RAM"},
        {gic::kDistributor, 0x1'0000, "the GIC distributor"},
        {gic::kRedistributors, facts.cpu_count * gic::kRedistributorStride, "the GIC redistributors"},
        {0x0900'0000, 0x1000, "the UART"},
        {0x0a00'0000, 0x4000, "the virtio-mmio windows"},
    };
    for (const auto& window : windows) {
        if (record < window.base + window.size && window.base < record + kRecordSize) {
            check.fail() << "stolen-time record at " << Hex{record} << " overlaps " << window.name;
            return true;
        }
    }
    return false;
}

void check_stolen_time_records() {
    Check check{"pv-time-records"};
    if (!secondary_online()) {
        check.fail() << "not run: vCPU 1 did not start";
        return;
    }
    const auto mine = static_cast<std::uint64_t>(psci::call(kPvTimeStolenTime));
    if (!run_on(1, Command::stolen_time_record)) {
        check.fail() << "vCPU 1 does not serve its mailbox";
        return;
    }
    const auto theirs = load(mailbox[1].result[0]);
    NoteLine{check.name()} << "vCPU 0's record at " << Hex{mine} << ", vCPU 1's at " << Hex{theirs};
    for (const auto record : {mine, theirs}) {
        if (static_cast<std::int64_t>(record) < 0) {
            check.fail() << "HV_PV_TIME_ST returned " << static_cast<std::int64_t>(record) << ", expected an IPA";
            return;
        }
        if (record % kRecordSize != 0) check.fail() << "record at " << Hex{record} << " is not 64-byte aligned";
        if (overlaps_something(check, record)) return;
        // Caches are off: this reads what Lamina zeroed all the way to RAM.
        check.expect_equal("revision", arch::read32(record), 0);
        check.expect_equal("attributes", arch::read32(record + 4), 0);
    }
    if ((theirs > mine ? theirs - mine : mine - theirs) < kRecordSize)
        check.fail() << "vCPU 0 and vCPU 1 share a record (" << Hex{mine} << ", " << Hex{theirs} << ")";
    check.expect_equal("HV_PV_TIME_ST on vCPU 0 again", static_cast<std::uint64_t>(psci::call(kPvTimeStolenTime)),
                       mine);
}

// --- TRNG ----------------------------------------------------------------------------------

void check_trng_version() {
    Check check{"trng-version"};
    const auto version = psci::call(kTrngVersion);
    if (version == psci::kNotSupported) {
        NoteLine{check.name()} << "no TRNG";
        return;
    }
    NoteLine{check.name()} << "TRNG " << psci::major_version(version) << "." << psci::minor_version(version);
    if (version < 0 || psci::major_version(version) != 1)
        check.fail() << "TRNG_VERSION returned " << Hex{static_cast<std::uint64_t>(version)}
                     << ", expected 1.x or -1 (NOT_SUPPORTED)";
}

[[nodiscard]] bool have_trng() { return psci::call(kTrngVersion) > 0; }

void check_trng_features() {
    Check check{"trng-features"};
    const std::int64_t expected = have_trng() ? psci::kSuccess : psci::kNotSupported;
    for (const std::uint32_t function : {kTrngVersion, kTrngFeatures, kTrngGetUuid, kTrngRnd32, kTrngRnd64}) {
        const auto result = psci::call(kTrngFeatures, function);
        if (result != expected)
            check.fail() << "TRNG_FEATURES(" << Hex{function} << ") returned " << result << ", expected " << expected;
    }
    for (const std::uint32_t function : {0x8400'0054u, 0xc400'0050u, 0x8400'0000u, 0xc500'0020u}) {
        const auto result = psci::call(kTrngFeatures, function);
        if (result != psci::kNotSupported)
            check.fail() << "TRNG_FEATURES(" << Hex{function} << ") returned " << result << ", expected -1";
    }
    if (have_trng()) return;
    // Without a TRNG every call of it is NOT_SUPPORTED.
    for (const std::uint32_t function : {kTrngGetUuid, kTrngRnd32, kTrngRnd64}) {
        const auto result = psci::call(function, 64);
        if (result != psci::kNotSupported)
            check.fail() << Hex{function} << " returned " << result << " although TRNG_VERSION is NOT_SUPPORTED";
    }
}

void check_trng_uuid() {
    Check check{"trng-uuid"};
    if (!have_trng()) return;
    const auto first = arch::hvc_results({kTrngGetUuid});
    const auto second = arch::hvc_results({kTrngGetUuid});
    if (static_cast<std::uint32_t>(first.x[0]) == 0xffff'ffff)
        check.fail() << "TRNG_GET_UUID returned w0 = -1 (NOT_SUPPORTED)";
    for (unsigned i = 0; i < 4; ++i)
        if (static_cast<std::uint32_t>(first.x[i]) != static_cast<std::uint32_t>(second.x[i]))
            check.fail() << "w" << i << " of the UUID changed: " << Hex{first.x[i]} << ", then " << Hex{second.x[i]};
    NoteLine{check.name()} << Hex{first.x[0] & 0xffff'ffff} << " " << Hex{first.x[1] & 0xffff'ffff} << " "
                           << Hex{first.x[2] & 0xffff'ffff} << " " << Hex{first.x[3] & 0xffff'ffff};
}

constexpr unsigned kDraws = 8;

// Draws `bits` bits kDraws times; checks the status, that no bit outside the
// lowest `bits` (counting from bit 0 of x3, `width` bits per register: the
// W registers for RND32) is set, and that not every draw gave the same value
// in each register with 16 bits or more.
void check_draws(Check& check, std::uint32_t function, std::uint64_t bits, unsigned width) {
    HvcResults draws[kDraws];
    for (auto& draw : draws) {
        draw = arch::hvc_results({function, bits});
        if (width == 32)
            for (auto& value : draw.x) value &= 0xffff'ffff;
        if (draw.x[0] != 0) {
            check.fail() << Hex{function} << " with N = " << bits << " returned x0 " << Hex{draw.x[0]}
                         << ", expected 0 (SUCCESS)";
            return;
        }
    }
    std::uint64_t left = bits;
    for (unsigned reg = 3; reg >= 1; --reg) {
        const std::uint64_t used = left < width ? left : width;
        left -= used;
        const std::uint64_t allowed = used == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << used) - 1;
        bool all_equal = true;
        for (const auto& draw : draws) {
            if ((draw.x[reg] & ~allowed) != 0)
                check.fail() << Hex{function} << " with N = " << bits << ": x" << reg << " = " << Hex{draw.x[reg]}
                             << " has bits above the " << used << " it may use";
            all_equal = all_equal && draw.x[reg] == draws[0].x[reg];
        }
        if (used >= 16 && all_equal)
            check.fail() << Hex{function} << " with N = " << bits << ": x" << reg << " was " << Hex{draws[0].x[reg]}
                         << " in all " << kDraws << " draws";
    }
}

void check_trng_rnd64() {
    Check check{"trng-rnd64"};
    if (!have_trng()) return;
    check_draws(check, kTrngRnd64, 64, 64);
    check_draws(check, kTrngRnd64, 192, 64);
    check_draws(check, kTrngRnd64, 100, 64);
    check_draws(check, kTrngRnd64, 1, 64);
}

void check_trng_rnd32() {
    Check check{"trng-rnd32"};
    if (!have_trng()) return;
    check_draws(check, kTrngRnd32, 32, 32);
    check_draws(check, kTrngRnd32, 96, 32);
    check_draws(check, kTrngRnd32, 40, 32);
}

void check_trng_invalid_bits() {
    Check check{"trng-invalid-bits"};
    if (!have_trng()) return;
    constexpr std::int64_t kInvalidParameters = -2;
    const struct {
        std::uint32_t function;
        std::uint64_t bits;
    } refused[] = {{kTrngRnd64, 0}, {kTrngRnd64, 193}, {kTrngRnd64, 1ull << 32}, {kTrngRnd32, 0}, {kTrngRnd32, 97}};
    for (const auto& call : refused) {
        const auto result = psci::call(call.function, call.bits);
        if (result != kInvalidParameters)
            check.fail() << Hex{call.function} << " with N = " << call.bits << " returned " << result
                         << ", expected -2 (INVALID_PARAMETERS)";
    }
}

}  // namespace

void check_guest_services() {
    check_pv_time_features();
    check_stolen_time_records();
    check_trng_version();
    check_trng_features();
    check_trng_uuid();
    check_trng_rnd64();
    check_trng_rnd32();
    check_trng_invalid_bits();
}

}  // namespace conformance
