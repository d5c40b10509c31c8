#include "management/services.hpp"

#include <algorithm>
#include <array>

#include "arch/arch.hpp"
#include "core/boot_vms.hpp"
#include "core/console.hpp"
#include "core/memory.hpp"
#include "core/per_cpu.hpp"
#include "core/scheduler.hpp"
#include "core/spinlock.hpp"
#include "core/stolen_time.hpp"
#include "core/vm_manager.hpp"
#include "virtual_devices/virtual_switch.hpp"

namespace lamina::services {
namespace {

using packet::Ipv4Address;

constexpr std::uint64_t kSecondNs = 1'000'000'000;
constexpr std::uint64_t kTickNs = 250'000'000;
constexpr std::uint64_t kPowerOffWaitNs = 10'000'000'000;  // after the power button, before a forced stop
constexpr std::uint64_t kMemoryMarginFrames = 4 * MiB / kPageSize;  // page tables, device state
constexpr std::uint32_t kBestEffortFloorPercent = 10;  // per vCPU
constexpr std::size_t kLogEntries = 128;
constexpr std::size_t kMaxReplicas = ServiceBalancer::kMaxReplicas;
constexpr std::size_t kServiceNameSize = bundle_format::kServiceNameFieldSize;
static_assert(kMaxServices == bundle_format::kMaxServiceCount, "every service of a bundle has a slot");

enum class Phase : std::uint8_t { none, booting, ready, draining, stopping };
enum class ServiceStatus : std::uint8_t { ok, scaling_up, scaling_down, cannot_meet_objective };

template <std::size_t N>
struct FixedName final {
    std::array<char, N> text{};
    std::size_t length{0};

    void assign(std::string_view source) {
        length = std::min(source.size(), N);
        std::copy_n(source.begin(), length, text.begin());
    }
    [[nodiscard]] std::string_view view() const { return {text.data(), length}; }
};

struct Replica final {
    Phase phase{Phase::none};
    Vm* vm{nullptr};
    std::uint32_t vm_id{0};
    std::uint64_t phase_since_ns{0};
    FixedName<bundle_format::kNameFieldSize> name{};
};

struct Service final {
    bool in_use{false};
    bool destroying{false};
    FixedName<kServiceNameSize> name{};
    FixedName<bundle_format::kNameFieldSize> template_name{};
    FixedName<bundle_format::kNetworkNameFieldSize> network_name{};
    NetworkId network{};
    std::uint32_t address{0};
    std::uint16_t port{0};
    std::uint32_t first_replica_address{0};
    std::uint8_t replica_prefix{0};
    std::uint64_t drain_grace_ns{0};
    ScalingPolicy policy{ScalingSettings{}};
    ServiceStatus status{ServiceStatus::ok};
    std::string_view reason{};
    std::array<Replica, kMaxReplicas> replicas{};
};

struct LogEntry final {
    std::uint64_t seq{0};
    std::uint64_t time_ns{0};
    FixedName<kServiceNameSize> service{};
    std::string_view action{};
    FixedName<bundle_format::kNameFieldSize> vm{};
    FormatBuffer detail{};
};

// The tick and the management requests both run here; requests from the
// channel may come on another CPU.
SpinLock g_lock;
std::array<Service, kMaxServices> g_services{};
std::array<LogEntry, kLogEntries> g_log{};
std::uint64_t g_log_next_seq = 1;
std::array<char, bundle_format::kMaxCmdlineSize> g_cmdline{};  // a replica's command line while it is built

[[nodiscard]] std::uint64_t now_ns() {
    return stolen_time::ticks_to_ns(arch::counter_now(), arch::counter_frequency());
}

[[nodiscard]] Thousandths milliseconds(std::uint64_t ns) { return Thousandths{ns / 1000}; }

[[nodiscard]] Service* find_service(std::string_view name) {
    for (Service& service : g_services)
        if (service.in_use && service.name.view() == name) return &service;
    return nullptr;
}

[[nodiscard]] std::size_t index_of(const Service& service) {
    return static_cast<std::size_t>(&service - g_services.data());
}

[[nodiscard]] Ipv4Address replica_address(const Service& service, std::size_t slot) {
    return Ipv4Address{service.first_replica_address + static_cast<std::uint32_t>(slot)};
}

// ------------------------------------------------------------------ the log

template <typename... Args>
void record(const Service& service, std::string_view action, std::string_view vm, std::string_view fmt,
            const Args&... args) {
    LogEntry& entry = g_log[g_log_next_seq % kLogEntries];
    entry.seq = g_log_next_seq++;
    entry.time_ns = now_ns();
    entry.service.assign(service.name.view());
    entry.action = action;
    entry.vm.assign(vm);
    entry.detail.clear();
    format_to(entry.detail, fmt, args...);
    log::info("service {}: {} {}: {}", service.name.view(), action, vm, entry.detail.view());
}

// ------------------------------------------------------------------ VMs

// The VM a replica runs in, if it is still that VM.
[[nodiscard]] Vm* live_vm(const Replica& replica) {
    const LockGuard guard{vm_manager::lifecycle_lock()};
    if (replica.vm == nullptr || replica.vm->id != replica.vm_id || replica.vm->state == VmState::free) return nullptr;
    return replica.vm;
}

// CPU a VM may use, in percent of one physical CPU.
[[nodiscard]] std::uint32_t cpu_reserved(std::uint32_t vcpus, std::uint32_t cap_percent) {
    const std::uint32_t full = 100 * vcpus;
    return cap_percent == 0 ? full : std::min(cap_percent, full);
}

[[nodiscard]] std::uint32_t board_cpu_in_use() {
    const LockGuard guard{vm_manager::lifecycle_lock()};
    std::uint32_t total = 0;
    for (const Vm& vm : vm_manager::slots())
        if (vm.state != VmState::free) total += cpu_reserved(vm.vcpu_count, vm.spec.cap_percent);
    return total;
}

// Lowers the caps of best-effort VMs until `needed` percent are free (or
// they are all at their floor); each change is logged.
void take_cpu_from_best_effort(const Service& service, std::uint32_t needed) {
    const LockGuard guard{vm_manager::lifecycle_lock()};
    for (Vm& vm : vm_manager::slots()) {
        if (needed == 0) return;
        if (vm.state == VmState::free || !vm.spec.best_effort) continue;
        const std::uint32_t current = cpu_reserved(vm.vcpu_count, vm.spec.cap_percent);
        const std::uint32_t floor = kBestEffortFloorPercent * vm.vcpu_count;
        if (current <= floor) continue;
        const std::uint32_t taken = std::min(current - floor, needed);
        vm.spec.cap_percent = current - taken;
        needed -= taken;
        const std::uint64_t allowed = vm.spec.pinned_cpu_mask == 0 ? ~std::uint64_t{0} : vm.spec.pinned_cpu_mask;
        scheduler::set_vm_scheduling(vm, vm.spec.weight, vm.spec.cap_percent, allowed);
        record(service, "cap_lowered", vm.name(), "best-effort cap {}% -> {}% to make room for a replica", current,
               vm.spec.cap_percent);
    }
}

// Whether a replica of `spec` fits beside everything else, after taking
// CPU from best-effort VMs if that is what it takes.
[[nodiscard]] bool make_room(const Service& service, const VmImageSpec& spec) {
    if (spec.memory_bytes / kPageSize + kMemoryMarginFrames > frame_allocator().free_frames()) return false;
    const std::uint32_t capacity = 100 * online_cpu_count();
    const std::uint32_t wanted = cpu_reserved(spec.vcpu_count, spec.cap_percent);
    std::uint32_t used = board_cpu_in_use();
    if (used + wanted > capacity) {
        take_cpu_from_best_effort(service, used + wanted - capacity);
        used = board_cpu_in_use();
    }
    return used + wanted <= capacity;
}

// The template's command line with the replica's name and address appended.
[[nodiscard]] std::string_view replica_cmdline(const Service& service, std::string_view base, std::string_view name,
                                               Ipv4Address ip) {
    FormatBuffer suffix;
    format_to(suffix, " lamina.name={} lamina.ip={}.{}.{}.{}/{}", name, ip.value >> 24, (ip.value >> 16) & 0xff,
              (ip.value >> 8) & 0xff, ip.value & 0xff, service.replica_prefix);
    const std::size_t kept = std::min(base.size(), g_cmdline.size() - suffix.view().size());
    std::copy_n(base.begin(), kept, g_cmdline.begin());
    std::copy(suffix.view().begin(), suffix.view().end(), g_cmdline.begin() + kept);
    return {g_cmdline.data(), kept + suffix.view().size()};
}

enum class StartResult : std::uint8_t { started, no_room, failed };

[[nodiscard]] StartResult start_replica(Service& service, std::size_t slot, std::uint64_t now) {
    auto spec = boot_bundle::find_template(service.template_name.view());
    if (!spec) return StartResult::failed;
    if (!make_room(service, *spec)) return StartResult::no_room;
    Replica& replica = service.replicas[slot];
    FormatBuffer name;
    format_to(name, "{}-{}", service.name.view(), slot + 1);
    replica.name.assign(name.view());
    spec->name = replica.name.view();
    spec->nics[0].mac = bundle_format::default_mac(spec->name, 0);
    const Ipv4Address ip = replica_address(service, slot);
    spec->cmdline = replica_cmdline(service, spec->cmdline, spec->name, ip);
    spec->start_at_boot = true;
    auto vm = vm_manager::create(*spec);
    if (!vm) {
        record(service, "replica_failed", replica.name.view(), "cannot build the VM: {}", vm.error().message);
        return StartResult::failed;
    }
    const MacAddress mac{spec->nics[0].mac};
    const Status added = virtual_switch().with_services([&](ServiceBalancer& balancer, std::uint64_t) {
        return balancer.add_replica(index_of(service), slot, ip, mac, now);
    });
    if (!added) {
        vm_manager::destroy(**vm, "its service slot was taken");
        return StartResult::failed;
    }
    replica.vm = *vm;
    replica.vm_id = (*vm)->id;
    (*vm)->service = service.name.view();
    replica.phase = Phase::booting;
    replica.phase_since_ns = now;
    vm_manager::start(**vm);
    return StartResult::started;
}

void forget_replica(Service& service, std::size_t slot) {
    virtual_switch().with_services([&](ServiceBalancer& balancer, std::uint64_t) {
        balancer.remove_replica(index_of(service), slot);
    });
    service.replicas[slot] = Replica{};
}

void begin_drain(Service& service, std::size_t slot, std::uint64_t now) {
    virtual_switch().with_services([&](ServiceBalancer& balancer, std::uint64_t) {
        balancer.drain_replica(index_of(service), slot);
    });
    service.replicas[slot].phase = Phase::draining;
    service.replicas[slot].phase_since_ns = now;
}

// Presses the power button; a guest without a driver for it is stopped.
void shut_down(Replica& replica, std::uint64_t now) {
    replica.phase = Phase::stopping;
    replica.phase_since_ns = now;
    Vm* vm = live_vm(replica);
    if (vm == nullptr) return;
    bool pressed = false;
    {
        const LockGuard guard{vm_manager::lifecycle_lock()};
        pressed = vm->state == VmState::running && vm->power_button.press_power_button();
    }
    if (!pressed) vm_manager::destroy(*vm, "drained replica without a power button driver");
}

// ------------------------------------------------------------------ the tick

struct Figures final {
    WindowSummary window{};
    std::uint64_t busy_ns{0};
    std::uint32_t held{0};
};

void measure(const Service& service, std::uint64_t window_ns, Figures& figures) {
    const std::size_t index = index_of(service);
    virtual_switch().with_services([&](ServiceBalancer& balancer, std::uint64_t now) {
        const ServiceReport& report = balancer.service_report(index);
        figures.window = report.latency.summary(now, window_ns);
        figures.held = report.held;
        for (std::size_t slot = 0; slot < kMaxReplicas; ++slot) {
            const ReplicaReport& replica = balancer.replica_report(index, slot);
            if (replica.state != ReplicaState::ready) continue;
            figures.busy_ns += replica.latency.summary(now, window_ns).busy_ns;
        }
    });
}

// What the balancer says about a replica: is it answering, how many connections.
struct ReplicaView final {
    ReplicaState state{ReplicaState::unused};
    std::uint32_t connections{0};
};

[[nodiscard]] ReplicaView view_replica(const Service& service, std::size_t slot) {
    return virtual_switch().with_services([&](ServiceBalancer& balancer, std::uint64_t) {
        const ReplicaReport& report = balancer.replica_report(index_of(service), slot);
        return ReplicaView{report.state, report.connections};
    });
}

// Moves each replica along: booting -> ready when its port answers,
// draining -> stopping when its connections are gone, stopping -> gone.
void follow_replica(Service& service, std::size_t slot, std::uint64_t now) {
    Replica& replica = service.replicas[slot];
    if (replica.phase == Phase::none) return;
    const bool alive = live_vm(replica) != nullptr;
    const std::uint64_t in_phase = now - replica.phase_since_ns;
    if (!alive) {
        const bool expected = replica.phase == Phase::stopping;
        record(service, "replica_stopped", replica.name.view(), expected ? "powered off after draining"
                                                                        : "the VM stopped on its own");
        if (replica.phase == Phase::ready) service.policy.capacity_changed(now);
        forget_replica(service, slot);
        return;
    }
    const ReplicaView view = view_replica(service, slot);
    switch (replica.phase) {
        case Phase::booting:
            if (view.state != ReplicaState::ready) return;
            replica.phase = Phase::ready;
            replica.phase_since_ns = now;
            service.policy.capacity_changed(now);
            record(service, "replica_ready", replica.name.view(), "port {} answers {} ms after the VM was created",
                   service.port, milliseconds(in_phase));
            return;
        case Phase::draining:
            if (view.connections != 0 && in_phase < service.drain_grace_ns) return;
            shut_down(replica, now);
            return;
        case Phase::stopping:
            if (in_phase < kPowerOffWaitNs) return;
            if (Vm* vm = live_vm(replica)) vm_manager::destroy(*vm, "did not power off after its power button");
            replica.phase_since_ns = now;  // look again later
            return;
        default: return;
    }
}

[[nodiscard]] ReplicaCounts count_replicas(const Service& service) {
    ReplicaCounts counts{};
    for (const Replica& replica : service.replicas) {
        if (replica.phase == Phase::ready) ++counts.ready;
        if (replica.phase == Phase::booting) ++counts.booting;
        if (replica.phase == Phase::draining || replica.phase == Phase::stopping) ++counts.draining;
    }
    return counts;
}

// The slot a new replica takes: the lowest free one, so names and
// addresses are reused.
[[nodiscard]] int free_slot(const Service& service) {
    for (std::size_t slot = 0; slot < kMaxReplicas; ++slot)
        if (service.replicas[slot].phase == Phase::none) return static_cast<int>(slot);
    return -1;
}

// The replica to let go: a booting one first (it serves nobody yet), then
// the ready one with the fewest connections, the newest on a tie.
[[nodiscard]] int replica_to_remove(const Service& service) {
    int chosen = -1;
    std::uint32_t fewest = ~std::uint32_t{0};
    for (std::size_t slot = kMaxReplicas; slot-- > 0;) {
        const Replica& replica = service.replicas[slot];
        if (replica.phase == Phase::booting) return static_cast<int>(slot);
        if (replica.phase != Phase::ready) continue;
        const std::uint32_t connections = view_replica(service, slot).connections;
        if (connections < fewest) {
            fewest = connections;
            chosen = static_cast<int>(slot);
        }
    }
    return chosen;
}

void describe(FormatBuffer& out, const Service& service, const ScalingDecision& decision, const Figures& figures,
              unsigned before, unsigned after) {
    format_to(out, "p{} {} ms (objective {} ms), {} requests, {} arrived, {} held: {} -> {} replicas ({})",
              service.policy.settings().percentile, milliseconds(decision.percentile_ns),
              milliseconds(service.policy.settings().objective_ns), figures.window.requests, figures.window.arrivals,
              figures.held, before, after, to_string(decision.reason));
}

void add_replicas(Service& service, const ScalingDecision& decision, const Figures& figures, std::uint64_t now) {
    const ReplicaCounts counts = count_replicas(service);
    unsigned running = counts.ready + counts.booting;
    for (unsigned added = 0; added < decision.count; ++added) {
        const int slot = free_slot(service);
        if (slot < 0) return;
        const StartResult result = start_replica(service, static_cast<std::size_t>(slot), now);
        if (result == StartResult::no_room) {
            service.policy.report_cannot_fit(now);
            return;
        }
        if (result != StartResult::started) return;
        FormatBuffer detail;
        describe(detail, service, decision, figures, running, running + 1);
        ++running;
        record(service, "scale_up", service.replicas[static_cast<std::size_t>(slot)].name.view(), "{}",
               detail.view());
    }
}

void remove_replicas(Service& service, const ScalingDecision& decision, const Figures& figures, std::uint64_t now) {
    const ReplicaCounts counts = count_replicas(service);
    unsigned running = counts.ready + counts.booting;
    for (unsigned removed = 0; removed < decision.count; ++removed) {
        const int slot = replica_to_remove(service);
        if (slot < 0) return;
        const bool was_ready = service.replicas[static_cast<std::size_t>(slot)].phase == Phase::ready;
        begin_drain(service, static_cast<std::size_t>(slot), now);
        if (was_ready) service.policy.capacity_changed(now);
        FormatBuffer detail;
        describe(detail, service, decision, figures, running, running - 1);
        --running;
        record(service, "scale_down", service.replicas[static_cast<std::size_t>(slot)].name.view(), "{}",
               detail.view());
    }
}

void act(Service& service, const ScalingDecision& decision, const Figures& figures, std::uint64_t now) {
    switch (decision.action) {
        case ScalingAction::add: add_replicas(service, decision, figures, now); return;
        case ScalingAction::remove: remove_replicas(service, decision, figures, now); return;
        case ScalingAction::cannot_meet: {
            service.reason = to_string(decision.reason);
            FormatBuffer detail;
            const unsigned replicas = count_replicas(service).ready;
            describe(detail, service, decision, figures, replicas, replicas);
            record(service, "cannot_meet_objective", "", "{}", detail.view());
            return;
        }
        case ScalingAction::objective_met:
            record(service, "objective_met", "", "p{} {} ms within {} ms again", service.policy.settings().percentile,
                   milliseconds(decision.percentile_ns), milliseconds(service.policy.settings().objective_ns));
            return;
        case ScalingAction::none: return;
    }
}

void update_status(Service& service) {
    const ReplicaCounts counts = count_replicas(service);
    if (service.policy.cannot_meet()) {
        service.status = ServiceStatus::cannot_meet_objective;
        return;
    }
    service.reason = {};
    service.status = counts.booting != 0 ? ServiceStatus::scaling_up
                     : counts.draining != 0 ? ServiceStatus::scaling_down
                                            : ServiceStatus::ok;
}

void scale(Service& service, std::uint64_t now) {
    const std::uint64_t window_ns = service.policy.judged_window_ns(now);
    Figures figures{};
    measure(service, window_ns, figures);
    const ScalingInputs inputs{.now_ns = now,
                               .window = figures.window,
                               .replicas = count_replicas(service),
                               .busy_ns_ready = figures.busy_ns,
                               .arrivals = figures.window.arrivals,
                               .completions = figures.window.requests,
                               .connection_held = figures.held != 0};
    const ScalingDecision decision = service.policy.decide(inputs);
    if (decision.action == ScalingAction::add && decision.reason == ScalingReason::connection_held)
        record(service, "held_connection", "", "{} connection(s) wait for a replica", figures.held);
    act(service, decision, figures, now);
    update_status(service);
}

// A service being destroyed: drain everything, then free the slot.
void wind_down(Service& service, std::uint64_t now) {
    bool any = false;
    for (std::size_t slot = 0; slot < kMaxReplicas; ++slot) {
        Replica& replica = service.replicas[slot];
        if (replica.phase == Phase::ready || replica.phase == Phase::booting) begin_drain(service, slot, now);
        any = any || replica.phase != Phase::none;
    }
    if (any) return;
    record(service, "service_removed", "", "every replica has stopped");
    virtual_switch().with_services([&](ServiceBalancer& balancer, std::uint64_t) {
        balancer.remove_service(index_of(service));
    });
    new (&service) Service{};
}

void tick() {
    virtual_switch().tick_services();
    const std::uint64_t now = now_ns();
    const LockGuard guard{g_lock};
    for (Service& service : g_services) {
        if (!service.in_use) continue;
        for (std::size_t slot = 0; slot < kMaxReplicas; ++slot) follow_replica(service, slot, now);
        if (service.destroying) {
            wind_down(service, now);
            continue;
        }
        scale(service, now);
    }
}

// ------------------------------------------------------------------ creation

[[nodiscard]] std::optional<std::uint32_t> network_index(std::string_view name) {
    for (std::uint32_t index = 0; index < boot_bundle::network_count(); ++index)
        if (boot_bundle::network_name(index) == name) return index;
    return std::nullopt;
}

// The bundle's rules for service and replica addresses (core/bundle.hpp).
[[nodiscard]] bool addresses_fit(std::uint32_t address, std::uint32_t first_replica, std::uint8_t prefix,
                                 unsigned max_replicas) {
    ServiceSpec spec{};
    spec.address = address;
    spec.first_replica_address = first_replica;
    spec.replica_prefix = prefix;
    spec.max_replicas = static_cast<std::uint8_t>(max_replicas);
    return static_cast<bool>(check_service_addresses(spec));
}

// Checks what the request decoder cannot: the template, the network, the
// addresses against other services.
[[nodiscard]] Refusal check_config(const ServiceConfig& config) {
    using namespace management;
    const auto spec = boot_bundle::find_template(config.template_name);
    if (!spec) return {code::kUnknownVm, "no template by that name in the boot bundle"};
    const auto network = network_index(config.network_name);
    if (!network) return {code::kInvalidArgument, "no switch network by that name"};
    if (spec->nic_count != 1 || spec->nics[0].network != *network)
        return {code::kInvalidArgument, "the template needs exactly one network card, on the service's network"};
    if (!valid_scaling_settings(config.scaling)) return {code::kInvalidArgument, "scaling settings out of range"};
    if (!addresses_fit(config.address, config.first_replica_address, config.replica_prefix,
                       config.scaling.max_replicas))
        return {code::kInvalidArgument, "the replica addresses do not fit their prefix beside the service address"};
    for (const Service& other : g_services) {
        if (!other.in_use) continue;
        if (other.name.view() == config.name) return {code::kExists, "a service with that name exists"};
        if (other.address == config.address && other.network_name.view() == config.network_name)
            return {code::kExists, "another service has that address"};
    }
    return {};
}

[[nodiscard]] Refusal add_service(const ServiceConfig& config) {
    if (const Refusal refusal = check_config(config)) return refusal;
    Service* free = nullptr;
    for (Service& service : g_services)
        if (!service.in_use && free == nullptr) free = &service;
    if (free == nullptr) return {management::code::kNoResources, "Lamina keeps 4 services at most"};
    const NetworkId network = static_cast<NetworkId>(*network_index(config.network_name));
    const ServiceAddress address{network, Ipv4Address{config.address}, config.port};
    const Status added = virtual_switch().with_services([&](ServiceBalancer& balancer, std::uint64_t now) {
        return balancer.add_service(index_of(*free), address, now);
    });
    if (!added) return {management::code::kExists, "the switch refused the service address"};
    new (free) Service{};
    Service& service = *free;
    service.in_use = true;
    service.name.assign(config.name);
    service.template_name.assign(config.template_name);
    service.network_name.assign(config.network_name);
    service.network = network;
    service.address = config.address;
    service.port = config.port;
    service.first_replica_address = config.first_replica_address;
    service.replica_prefix = config.replica_prefix;
    service.drain_grace_ns = config.drain_grace_ns;
    service.policy = ScalingPolicy{config.scaling};
    record(service, "service_created", "", "p{} <= {} ms over {} s, {}..{} replicas",
           config.scaling.percentile, milliseconds(config.scaling.objective_ns), config.scaling.window_ns / kSecondNs,
           config.scaling.min_replicas, config.scaling.max_replicas);
    return {};
}

[[nodiscard]] ServiceConfig config_from_bundle(const ServiceSpec& spec) {
    constexpr std::uint64_t kMs = 1'000'000;
    const auto template_spec = boot_bundle::template_at(spec.template_vm);
    ServiceConfig config{};
    config.name = spec.name;
    config.template_name = template_spec ? template_spec->name : std::string_view{};
    config.network_name = boot_bundle::network_name(spec.network);
    config.address = spec.address;
    config.port = spec.port;
    config.first_replica_address = spec.first_replica_address;
    config.replica_prefix = spec.replica_prefix;
    config.scaling.percentile = spec.percentile;
    config.scaling.objective_ns = std::uint64_t{spec.objective_us} * 1000;
    config.scaling.window_ns = std::uint64_t{spec.window_s} * 1000 * kMs;
    config.scaling.min_replicas = spec.min_replicas;
    config.scaling.max_replicas = spec.max_replicas;
    config.scaling.scale_up_window_ns = std::uint64_t{spec.scale_up_window_ms} * kMs;
    config.scaling.scale_down_window_ns = std::uint64_t{spec.scale_down_window_ms} * kMs;
    config.drain_grace_ns = std::uint64_t{spec.drain_grace_ms} * kMs;
    return config;
}

// ------------------------------------------------------------------ reports

[[nodiscard]] std::string_view phase_name(Phase phase) {
    switch (phase) {
        case Phase::booting: return "booting";
        case Phase::ready: return "ready";
        case Phase::draining: return "draining";
        case Phase::stopping: return "stopping";
        case Phase::none: break;
    }
    return "none";
}

[[nodiscard]] std::string_view status_name(ServiceStatus status) {
    switch (status) {
        case ServiceStatus::ok: return "ok";
        case ServiceStatus::scaling_up: return "scaling_up";
        case ServiceStatus::scaling_down: return "scaling_down";
        case ServiceStatus::cannot_meet_objective: return "cannot_meet_objective";
    }
    return "ok";
}

void write_address(json::JsonWriter& out, std::string_view key, std::uint32_t ip, char separator,
                   std::uint32_t number) {
    FormatBuffer text;
    format_to(text, "{}.{}.{}.{}", ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff, ip & 0xff);
    if (separator != '\0') format_to(text, "{}{}", separator, number);
    out.member(key, text.view());
}

void write_window(json::JsonWriter& out, const WindowSummary& window) {
    out.begin_object();
    out.member("requests", window.requests);
    out.member("rate_per_s", Thousandths{window.rate_milli_per_s()});
    out.member("p50_ms", milliseconds(window.latencies.percentile_ns(50)));
    out.member("p95_ms", milliseconds(window.latencies.percentile_ns(95)));
    out.member("p99_ms", milliseconds(window.latencies.percentile_ns(99)));
    out.member("resets", window.resets);
    out.member("timeouts", window.timeouts);
    out.end_object();
}

void write_totals(json::JsonWriter& out, const LatencyTotals& totals) {
    out.member("requests", totals.requests);
    out.member("resets", totals.resets);
    out.member("timeouts", totals.timeouts);
}

void write_replicas(json::JsonWriter& out, const Service& service, const ServiceBalancer& balancer,
                    std::uint64_t now) {
    const std::uint64_t window_ns = service.policy.settings().window_ns;
    out.key("replicas");
    out.begin_array();
    for (std::size_t slot = 0; slot < kMaxReplicas; ++slot) {
        const Replica& replica = service.replicas[slot];
        if (replica.phase == Phase::none) continue;
        const ReplicaReport& report = balancer.replica_report(index_of(service), slot);
        out.begin_object();
        out.member("vm", replica.name.view());
        write_address(out, "address", replica_address(service, slot).value, '\0', 0);
        out.member("state", phase_name(replica.phase));
        out.member("connections", report.connections);
        out.member("outstanding", report.outstanding);
        out.key("window");
        write_window(out, report.latency.summary(now, window_ns));
        out.key("totals");
        out.begin_object();
        write_totals(out, report.latency.totals());
        out.end_object();
        out.end_object();
    }
    out.end_array();
}

void write_settings(json::JsonWriter& out, const Service& service) {
    const ScalingSettings& settings = service.policy.settings();
    out.member("name", service.name.view());
    out.member("template", service.template_name.view());
    out.member("network", service.network_name.view());
    write_address(out, "address", service.address, ':', service.port);
    write_address(out, "replica_addresses", service.first_replica_address, '/', service.replica_prefix);
    out.key("objective");
    out.begin_object();
    out.member("percentile", settings.percentile);
    out.member("latency_ms", settings.objective_ns / 1'000'000);
    out.member("window_s", settings.window_ns / kSecondNs);
    out.end_object();
    out.member("min_replicas", settings.min_replicas);
    out.member("max_replicas", settings.max_replicas);
    out.member("scale_up_window_s", settings.scale_up_window_ns / kSecondNs);
    out.member("scale_down_window_s", settings.scale_down_window_ns / kSecondNs);
    out.member("drain_grace_s", service.drain_grace_ns / kSecondNs);
}

void write_one(json::JsonWriter& out, const Service& service) {
    out.begin_object();
    write_settings(out, service);
    out.member("status", service.destroying ? std::string_view{"removing"} : status_name(service.status));
    out.member("reason", service.reason);
    virtual_switch().with_services([&](ServiceBalancer& balancer, std::uint64_t now) {
        const ServiceReport& report = balancer.service_report(index_of(service));
        out.key("window");
        write_window(out, report.latency.summary(now, service.policy.settings().window_ns));
        out.key("totals");
        out.begin_object();
        write_totals(out, report.latency.totals());
        out.member("connections", report.connections_total);
        out.member("held", report.held);
        out.member("held_total", report.held_total);
        out.end_object();
        write_replicas(out, service, balancer, now);
    });
    out.end_object();
}

}  // namespace

// ------------------------------------------------------------------ the API

void start() {
    virtual_switch().set_clock(now_ns);
    {
        const LockGuard guard{g_lock};
        for (std::uint32_t index = 0; index < boot_bundle::service_count(); ++index) {
            const auto spec = boot_bundle::service_at(index);
            if (!spec) {
                log::error("boot bundle: service {} skipped: {}", index, spec.error().message);
                continue;
            }
            if (const Refusal refusal = add_service(config_from_bundle(*spec)))
                log::error("boot bundle: service {} refused: {}", spec->name, refusal.message);
        }
    }
    scheduler::set_periodic_work(tick, kTickNs);
}

Refusal create(const ServiceConfig& config) {
    const LockGuard guard{g_lock};
    return add_service(config);
}

Refusal update(const management::ServiceFields& change) {
    const LockGuard guard{g_lock};
    Service* service = find_service(change.name);
    if (service == nullptr || service->destroying) return {management::code::kUnknownService, "no such service"};
    ScalingSettings settings = service->policy.settings();
    if (change.objective) {
        settings.percentile = change.objective->percentile;
        settings.objective_ns = change.objective->latency_ms * 1'000'000;
        settings.window_ns = std::uint64_t{change.objective->window_s} * kSecondNs;
    }
    if (change.min_replicas) settings.min_replicas = *change.min_replicas;
    if (change.max_replicas) settings.max_replicas = *change.max_replicas;
    if (change.scale_up_window_s) settings.scale_up_window_ns = std::uint64_t{*change.scale_up_window_s} * kSecondNs;
    if (change.scale_down_window_s)
        settings.scale_down_window_ns = std::uint64_t{*change.scale_down_window_s} * kSecondNs;
    if (!valid_scaling_settings(settings))
        return {management::code::kInvalidArgument, "min_replicas is more than max_replicas"};
    if (!addresses_fit(service->address, service->first_replica_address, service->replica_prefix,
                       settings.max_replicas))
        return {management::code::kInvalidArgument, "replica addresses would leave their prefix"};
    if (change.drain_grace_s) service->drain_grace_ns = std::uint64_t{*change.drain_grace_s} * kSecondNs;
    service->policy.update_settings(settings);
    record(*service, "settings_changed", "", "p{} <= {} ms over {} s, {}..{} replicas", settings.percentile,
           milliseconds(settings.objective_ns), settings.window_ns / kSecondNs, settings.min_replicas,
           settings.max_replicas);
    return {};
}

Refusal destroy(std::string_view name) {
    const LockGuard guard{g_lock};
    Service* service = find_service(name);
    if (service == nullptr || service->destroying) return {management::code::kUnknownService, "no such service"};
    service->destroying = true;
    record(*service, "service_removing", "", "draining every replica");
    return {};
}

bool exists(std::string_view name) {
    const LockGuard guard{g_lock};
    return find_service(name) != nullptr;
}

void write_services(json::JsonWriter& out) {
    const LockGuard guard{g_lock};
    out.begin_array();
    for (const Service& service : g_services)
        if (service.in_use) write_one(out, service);
    out.end_array();
}

bool write_service(json::JsonWriter& out, std::string_view name) {
    const LockGuard guard{g_lock};
    const Service* service = find_service(name);
    if (service == nullptr) return false;
    write_one(out, *service);
    return true;
}

void write_log(json::JsonWriter& out, std::string_view service, std::uint64_t since) {
    const LockGuard guard{g_lock};
    out.begin_array();
    const std::uint64_t first = g_log_next_seq > kLogEntries ? g_log_next_seq - kLogEntries : 1;
    for (std::uint64_t seq = std::max(first, since + 1); seq < g_log_next_seq; ++seq) {
        const LogEntry& entry = g_log[seq % kLogEntries];
        if (!service.empty() && entry.service.view() != service) continue;
        out.begin_object();
        out.member("seq", entry.seq);
        out.member("time_ms", entry.time_ns / 1'000'000);
        out.member("service", entry.service.view());
        out.member("action", entry.action);
        out.member("vm", entry.vm.view());
        out.member("detail", entry.detail.view());
        out.end_object();
    }
    out.end_array();
}

}  // namespace lamina::services
