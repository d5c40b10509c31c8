#include "management/server.hpp"

#include <algorithm>
#include <array>

#include "arch/arch.hpp"
#include "core/boot_vms.hpp"
#include "core/console.hpp"
#include "core/json.hpp"
#include "core/memory.hpp"
#include "core/per_cpu.hpp"
#include "core/scheduler.hpp"
#include "core/spinlock.hpp"
#include "core/stolen_time.hpp"
#include "core/vm_manager.hpp"
#include "management/request.hpp"
#include "management/services.hpp"
#include "management/vm_report.hpp"

namespace lamina::management {
namespace {

constexpr std::size_t kReplyCapacity = 64 * KiB;
constexpr std::size_t kMaxAttachedConsoles = kMaxVms;
constexpr std::uint64_t kDestroyWaitMicroseconds = 2'000'000;

ChannelWriter g_writer{};
// Requests arrive on the CPU that takes the channel's interrupt; the lock
// keeps the line and reply buffers whole if that ever changes.
SpinLock g_request_lock;
std::array<char, kMaxRequestLine> g_line{};
std::size_t g_line_length = 0;
bool g_discarding_long_line = false;
std::array<char, kReplyCapacity> g_reply{};

// Consoles streamed to the channel, by VM name.
SpinLock g_console_lock;
std::array<std::array<char, bundle_format::kNameFieldSize>, kMaxAttachedConsoles> g_attached{};
std::array<char, 3 * KiB> g_event{};
std::array<char, 1 * KiB> g_event_line{};  // a guest line and its end

// Writers leave the last byte of their buffer free for the end of line, so
// that a line goes out in one send: events from other CPUs never split it.
std::span<char> writer_space(std::span<char> buffer) { return buffer.first(buffer.size() - 1); }

void send_line(const json::JsonWriter& out, std::span<char> buffer) {
    const std::size_t length = out.text().size();
    buffer[length] = '\n';
    const std::span<const char> line{buffer.data(), length + 1};
    if (g_writer.send != nullptr) (void)g_writer.send(g_writer.context, std::as_bytes(line));
}

// ------------------------------------------------------------------ consoles

std::string_view attached_name(const std::array<char, bundle_format::kNameFieldSize>& slot) {
    return {slot.data(), static_cast<std::size_t>(std::find(slot.begin(), slot.end(), '\0') - slot.begin())};
}

bool is_attached(std::string_view vm_name) {
    return std::any_of(g_attached.begin(), g_attached.end(),
                       [vm_name](const auto& slot) { return attached_name(slot) == vm_name; });
}

void attach_console(std::string_view vm_name) {
    const LockGuard guard{g_console_lock};
    if (is_attached(vm_name)) return;
    for (auto& slot : g_attached) {
        if (slot[0] != '\0') continue;
        std::copy(vm_name.begin(), vm_name.end(), slot.begin());
        return;
    }
}

void detach_console(std::string_view vm_name) {
    const LockGuard guard{g_console_lock};
    for (auto& slot : g_attached)
        if (attached_name(slot) == vm_name) slot.fill('\0');
}

void detach_all_consoles() {
    const LockGuard guard{g_console_lock};
    for (auto& slot : g_attached) slot.fill('\0');
}

void forward_guest_line(std::string_view vm_name, std::string_view line) {
    const LockGuard guard{g_console_lock};
    if (!is_attached(vm_name)) return;
    const std::size_t length = std::min(line.size(), g_event_line.size() - 1);
    std::copy_n(line.begin(), length, g_event_line.begin());
    g_event_line[length] = '\n';
    json::JsonWriter out{writer_space(g_event)};
    out.begin_object();
    out.member("event", "console");
    out.member("vm", vm_name);
    out.member("data", std::string_view{g_event_line.data(), length + 1});
    out.end_object();
    if (out.ok()) send_line(out, g_event);
}

// ------------------------------------------------------------------ replies

struct Reply final {
    json::JsonWriter out{writer_space(g_reply)};
    std::optional<std::int64_t> id{};

    // {"id": .., "ok": true, "result": <what the handler writes>}
    void begin_envelope() {
        out.begin_object();
        write_id();
        out.member("ok", true);
        out.key("result");
    }
    void end_envelope() { out.end_object(); }
    void begin_result() {
        begin_envelope();
        out.begin_object();
    }
    void end_result() {
        out.end_object();
        end_envelope();
    }
    void write_id() {
        out.key("id");
        if (id) {
            out.value(*id);
        } else {
            out.null();
        }
    }
};

void send_error(std::optional<std::int64_t> id, const char* code, const char* message) {
    Reply reply{.id = id};
    reply.out.begin_object();
    reply.write_id();
    reply.out.member("ok", false);
    reply.out.key("error");
    reply.out.begin_object();
    reply.out.member("code", code);
    reply.out.member("message", message);
    reply.out.end_object();
    reply.out.end_object();
    send_line(reply.out, g_reply);
}

void send_reply(Reply& reply) {
    if (!reply.out.ok()) {
        send_error(reply.id, code::kNoResources, "the reply does not fit in 64 KiB");
        return;
    }
    send_line(reply.out, g_reply);
}

// What a handler answers: an error, or nothing (it wrote its result).
using Outcome = std::optional<RequestError>;

// ------------------------------------------------------------------ looking VMs up

// A VM found by name, with the id it had then: a VM can be torn down and
// its slot reused between the lookup and the action.
struct FoundVm final {
    Vm* vm{nullptr};
    std::uint32_t id{0};
};

FoundVm find_vm(std::string_view name) {
    const LockGuard guard{vm_manager::lifecycle_lock()};
    Vm* vm = vm_manager::find(name);
    return vm == nullptr ? FoundVm{} : FoundVm{vm, vm->id};
}

RequestError unknown_vm() { return {code::kUnknownVm, "no VM by that name"}; }

// ------------------------------------------------------------------ operations

Outcome hello(Reply& reply) {
    detach_all_consoles();  // a new client: forget what an earlier one attached
    reply.begin_result();
    reply.out.member("protocol", kProtocolVersion);
    reply.out.member("cpus", online_cpu_count());
    reply.out.member("memory_mib", frame_allocator().free_frames() * kPageSize / MiB);
    reply.end_result();
    return std::nullopt;
}

Outcome list(Reply& reply) {
    reply.begin_result();
    reply.out.key("vms");
    reply.out.begin_array();
    {
        const LockGuard guard{vm_manager::lifecycle_lock()};
        for (const Vm& vm : vm_manager::slots())
            if (vm.state != VmState::free) write_vm(reply.out, vm);
    }
    reply.out.end_array();
    reply.out.key("templates");
    reply.out.begin_array();
    for (std::uint32_t i = 0; i < boot_bundle::template_count(); ++i)
        if (const auto spec = boot_bundle::template_at(i)) reply.out.value(spec->name);
    reply.out.end_array();
    reply.end_result();
    return std::nullopt;
}

Outcome board(Reply& reply) {
    reply.begin_envelope();
    write_board(reply.out);
    reply.end_envelope();
    return std::nullopt;
}

// {"vm": VM} and, for a VM just built, how long that took.
Outcome reply_with_vm(Reply& reply, std::string_view name, std::optional<std::uint64_t> build_ns = std::nullopt) {
    const LockGuard guard{vm_manager::lifecycle_lock()};
    const Vm* vm = vm_manager::find(name);
    reply.begin_result();
    if (vm != nullptr) {
        reply.out.key("vm");
        write_vm(reply.out, *vm);
    }
    if (build_ns) reply.out.member("build_ns", *build_ns);
    reply.end_result();
    return std::nullopt;
}

Outcome check_scheduling(const SchedulingChange& change, std::uint32_t vcpus) {
    if (change.pinned_cpu_mask && *change.pinned_cpu_mask != 0 && (*change.pinned_cpu_mask & ~online_cpu_mask()) != 0)
        return RequestError{code::kInvalidArgument, "pinned_cpus names a CPU that is not online"};
    if (change.cap_percent && *change.cap_percent > 100 * vcpus)
        return RequestError{code::kInvalidArgument, "cap_percent is more than the VM's vCPUs can use"};
    return std::nullopt;
}

// The template with the request's overrides; MACs follow a new name.
Outcome build_spec(const Request& request, VmImageSpec& spec) {
    const auto found = boot_bundle::find_template(request.vm);
    if (!found) return RequestError{code::kUnknownVm, "no template by that name in the boot bundle"};
    spec = *found;
    if (!request.new_name.empty() && request.new_name != spec.name) {
        spec.name = request.new_name;
        for (std::uint32_t i = 0; i < spec.nic_count; ++i) spec.nics[i].mac = bundle_format::default_mac(spec.name, i);
    }
    if (request.memory_mib) spec.memory_bytes = *request.memory_mib * MiB;
    if (request.vcpus) spec.vcpu_count = *request.vcpus;
    if (request.cmdline) spec.cmdline = *request.cmdline;
    if (request.scheduling.weight) spec.weight = *request.scheduling.weight;
    if (request.scheduling.cap_percent) spec.cap_percent = *request.scheduling.cap_percent;
    if (request.scheduling.pinned_cpu_mask) spec.pinned_cpu_mask = *request.scheduling.pinned_cpu_mask;
    if (request.best_effort) spec.best_effort = *request.best_effort;
    return check_scheduling(request.scheduling, spec.vcpu_count);
}

Outcome create_vm(const Request& request, Reply& reply, bool start) {
    VmImageSpec spec{};
    if (auto error = build_spec(request, spec)) return error;
    if (find_vm(spec.name).vm != nullptr) return RequestError{code::kExists, "a VM with that name exists"};
    if (spec.memory_bytes / kPageSize > frame_allocator().free_frames())
        return RequestError{code::kNoResources, "not enough free memory for the VM"};
    const std::uint64_t begin = arch::counter_now();
    auto vm = vm_manager::create(spec);
    if (!vm) return RequestError{code::kNoResources, vm.error().message};
    if (start) vm_manager::start(**vm);
    const std::uint64_t ticks = arch::counter_now() - begin;
    return reply_with_vm(reply, spec.name, stolen_time::ticks_to_ns(ticks, arch::counter_frequency()));
}

Outcome start_vm(const Request& request, Reply& reply) {
    bool started_now = false;
    {
        const LockGuard guard{vm_manager::lifecycle_lock()};
        if (Vm* vm = vm_manager::find(request.vm)) {
            if (vm->state != VmState::running || vm->started)
                return RequestError{code::kWrongState, "the VM has already been started"};
            vm_manager::start(*vm);
            started_now = true;
        }
    }
    if (started_now) return reply_with_vm(reply, request.vm);
    return create_vm(request, reply, true);  // no VM by that name: boot its template
}

Outcome pause_or_resume(const Request& request, Reply& reply) {
    {
        const LockGuard guard{vm_manager::lifecycle_lock()};
        Vm* vm = vm_manager::find(request.vm);
        if (vm == nullptr) return unknown_vm();
        const Status status =
            request.operation == Operation::pause ? scheduler::pause_vm(*vm) : scheduler::resume_vm(*vm);
        if (!status) return RequestError{code::kWrongState, status.error().message};
    }
    return reply_with_vm(reply, request.vm);
}

Outcome shutdown(const Request& request, Reply& reply) {
    {
        const LockGuard guard{vm_manager::lifecycle_lock()};
        Vm* vm = vm_manager::find(request.vm);
        if (vm == nullptr) return unknown_vm();
        if (vm->state != VmState::running || !vm->started)
            return RequestError{code::kWrongState, "the VM is not running"};
        if (!vm->power_button.press_power_button())
            return RequestError{code::kNoDevice, "the guest has no driver for its power button (virtio-input)"};
    }
    log::info("vm {}: power button pressed", request.vm);
    reply.begin_result();
    reply.end_result();
    return std::nullopt;
}

// Whether the slot no longer holds that VM.
bool is_gone(const FoundVm& found) {
    const LockGuard guard{vm_manager::lifecycle_lock()};
    return found.vm->id != found.id || found.vm->state == VmState::free;
}

Outcome destroy(const Request& request, Reply& reply) {
    const FoundVm found = find_vm(request.vm);
    if (found.vm == nullptr) return unknown_vm();
    vm_manager::destroy(*found.vm, "destroyed by the operator");
    // Wait for the teardown unless one of its vCPUs is on this CPU (it
    // leaves only once this request is done).
    const Vcpu* here = this_cpu().current;
    const bool can_wait = here == nullptr || here->vm != found.vm;
    const std::uint64_t deadline =
        arch::counter_now() + arch::counter_frequency() * kDestroyWaitMicroseconds / 1'000'000;
    while (can_wait && !is_gone(found) && arch::counter_now() < deadline) {
    }
    reply.begin_result();
    reply.out.member("stopped", is_gone(found));
    reply.end_result();
    return std::nullopt;
}

Outcome set_scheduling(const Request& request, Reply& reply) {
    {
        const LockGuard guard{vm_manager::lifecycle_lock()};
        Vm* vm = vm_manager::find(request.vm);
        if (vm == nullptr) return unknown_vm();
        if (auto error = check_scheduling(request.scheduling, vm->vcpu_count)) return error;
        const SchedulingChange& change = request.scheduling;
        if (change.weight) vm->spec.weight = *change.weight;
        if (change.cap_percent) vm->spec.cap_percent = *change.cap_percent;
        if (change.pinned_cpu_mask) vm->spec.pinned_cpu_mask = *change.pinned_cpu_mask;
        if (request.best_effort) vm->spec.best_effort = *request.best_effort;
        const std::uint64_t allowed = vm->spec.pinned_cpu_mask == 0 ? ~std::uint64_t{0} : vm->spec.pinned_cpu_mask;
        scheduler::set_vm_scheduling(*vm, vm->spec.weight, vm->spec.cap_percent, allowed);
    }
    log::info("vm {}: scheduling changed by the operator", request.vm);
    return reply_with_vm(reply, request.vm);
}

Outcome balloon(const Request& request, Reply& reply) {
    {
        const LockGuard guard{vm_manager::lifecycle_lock()};
        Vm* vm = vm_manager::find(request.vm);
        if (vm == nullptr) return unknown_vm();
        const std::uint64_t ram_mib = vm->ram.size / MiB;
        if (request.target_mib > ram_mib) return RequestError{code::kInvalidArgument, "target_mib is more than the VM's RAM"};
        if (request.target_mib < 16) return RequestError{code::kInvalidArgument, "target_mib below 16 MiB would starve the guest"};
        vm->balloon_target_bytes = (ram_mib - request.target_mib) * MiB;
        vm->balloon.set_target_pages(static_cast<std::uint32_t>(vm->balloon_target_bytes / kPageSize));
    }
    log::info("vm {}: balloon target {} MiB", request.vm, request.target_mib);
    return reply_with_vm(reply, request.vm);
}

Outcome stats(const Request& request, Reply& reply) {
    reply.begin_result();
    reply.out.key("board");
    write_board(reply.out);
    reply.out.key("vms");
    reply.out.begin_array();
    bool found = request.vm.empty();
    {
        const LockGuard guard{vm_manager::lifecycle_lock()};
        for (Vm& vm : vm_manager::slots()) {
            if (vm.state == VmState::free || (!request.vm.empty() && vm.name() != request.vm)) continue;
            write_vm_statistics(reply.out, vm);
            found = true;
        }
    }
    reply.out.end_array();
    reply.out.key("services");
    services::write_services(reply.out);
    reply.end_result();
    if (!found) return unknown_vm();
    return std::nullopt;
}

// ------------------------------------------------------------------ services

Outcome refused(services::Refusal refusal) { return RequestError{refusal.code, refusal.message}; }

Outcome reply_with_service(Reply& reply, std::string_view name) {
    reply.begin_result();
    reply.out.key("service");
    if (!services::write_service(reply.out, name)) reply.out.null();
    reply.end_result();
    return std::nullopt;
}

Outcome list_services(Reply& reply) {
    reply.begin_result();
    reply.out.key("services");
    services::write_services(reply.out);
    reply.end_result();
    return std::nullopt;
}

Outcome create_service(const Request& request, Reply& reply) {
    constexpr std::uint64_t kSecond = 1'000'000'000;
    const ServiceFields& fields = request.service;
    const ScalingSettings defaults{};
    services::ServiceConfig config{};
    config.name = fields.name;
    config.template_name = fields.template_name;
    config.network_name = fields.network;
    config.address = fields.address;
    config.port = fields.port;
    config.first_replica_address = fields.first_replica_address;
    config.replica_prefix = fields.replica_prefix;
    config.scaling.percentile = fields.objective->percentile;
    config.scaling.objective_ns = fields.objective->latency_ms * 1'000'000;
    config.scaling.window_ns = fields.objective->window_s * kSecond;
    config.scaling.min_replicas = *fields.min_replicas;
    config.scaling.max_replicas = *fields.max_replicas;
    config.scaling.scale_up_window_ns =
        fields.scale_up_window_s ? *fields.scale_up_window_s * kSecond : defaults.scale_up_window_ns;
    config.scaling.scale_down_window_ns =
        fields.scale_down_window_s ? *fields.scale_down_window_s * kSecond : defaults.scale_down_window_ns;
    config.drain_grace_ns = (fields.drain_grace_s ? *fields.drain_grace_s : 10) * kSecond;
    if (const services::Refusal refusal = services::create(config)) return refused(refusal);
    return reply_with_service(reply, fields.name);
}

Outcome set_service(const Request& request, Reply& reply) {
    if (const services::Refusal refusal = services::update(request.service)) return refused(refusal);
    return reply_with_service(reply, request.service.name);
}

Outcome destroy_service(const Request& request, Reply& reply) {
    if (const services::Refusal refusal = services::destroy(request.service.name)) return refused(refusal);
    reply.begin_result();
    reply.end_result();
    return std::nullopt;
}

Outcome scaling_log(const Request& request, Reply& reply) {
    if (!request.service.name.empty() && !services::exists(request.service.name))
        return RequestError{code::kUnknownService, "no such service"};
    reply.begin_result();
    reply.out.key("entries");
    services::write_log(reply.out, request.service.name, request.service.since.value_or(0));
    reply.end_result();
    return std::nullopt;
}

Outcome console(const Request& request, Reply& reply) {
    {
        const LockGuard guard{vm_manager::lifecycle_lock()};
        Vm* vm = vm_manager::find(request.vm);
        if (vm == nullptr) return unknown_vm();
        if (request.operation == Operation::console_input) {
            for (const char c : request.data) {
                if (vm->console_input_to_virtio) {
                    (void)vm->virtio_console.receive(c);
                } else {
                    (void)vm->uart.receive(c);
                }
            }
        }
    }
    if (request.operation == Operation::console_attach) attach_console(request.vm);
    if (request.operation == Operation::console_detach) detach_console(request.vm);
    reply.begin_result();
    reply.end_result();
    return std::nullopt;
}

Outcome carry_out(const Request& request, Reply& reply) {
    switch (request.operation) {
        case Operation::hello: return hello(reply);
        case Operation::list: return list(reply);
        case Operation::board: return board(reply);
        case Operation::create: return create_vm(request, reply, request.start);
        case Operation::start: return start_vm(request, reply);
        case Operation::pause:
        case Operation::resume: return pause_or_resume(request, reply);
        case Operation::shutdown: return shutdown(request, reply);
        case Operation::destroy: return destroy(request, reply);
        case Operation::set: return set_scheduling(request, reply);
        case Operation::balloon: return balloon(request, reply);
        case Operation::stats: return stats(request, reply);
        case Operation::console_attach:
        case Operation::console_input:
        case Operation::console_detach: return console(request, reply);
        case Operation::services: return list_services(reply);
        case Operation::service_create: return create_service(request, reply);
        case Operation::service_set: return set_service(request, reply);
        case Operation::service_destroy: return destroy_service(request, reply);
        case Operation::scaling_log: return scaling_log(request, reply);
    }
    return RequestError{code::kUnknownOp, "no such operation"};
}

void handle_line(std::span<char> line) {
    json::JsonDocument<256> document;
    const json::ParseResult parsed = document.parse(line);
    if (!parsed) {
        send_error(std::nullopt, code::kMalformed, parsed.error().message);
        return;
    }
    const DecodedRequest decoded = decode_request(*parsed);
    if (!decoded.request) {
        send_error(decoded.id, decoded.error.code, decoded.error.message);
        return;
    }
    Reply reply{.id = decoded.id};
    if (const Outcome error = carry_out(*decoded.request, reply)) {
        send_error(decoded.id, error->code, error->message);
        return;
    }
    send_reply(reply);
}

void take_byte(char c) {
    if (c == '\n') {
        if (g_discarding_long_line) {
            send_error(std::nullopt, code::kLineTooLong, "a request line is at most 4096 bytes");
        } else if (g_line_length != 0) {
            handle_line({g_line.data(), g_line_length});
        }
        g_line_length = 0;
        g_discarding_long_line = false;
        return;
    }
    if (g_discarding_long_line) return;
    if (g_line_length == g_line.size()) {
        g_discarding_long_line = true;
        return;
    }
    g_line[g_line_length++] = c;
}

}  // namespace

void start(ChannelWriter writer) {
    g_writer = writer;
    console::observe_guest_lines(forward_guest_line);
}

void receive(std::span<const std::byte> bytes) {
    const LockGuard guard{g_request_lock};
    for (const std::byte b : bytes) take_byte(static_cast<char>(b));
}

}  // namespace lamina::management
