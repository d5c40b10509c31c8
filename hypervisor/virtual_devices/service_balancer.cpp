#include "virtual_devices/service_balancer.hpp"

#include <new>

namespace lamina {
namespace {

using packet::Ipv4Address;
using packet::TcpSegment;
namespace tcp_flags = packet::tcp_flags;

// Resets a large object where it is: `x = T{}` could build the temporary on
// the hypervisor's small stack.
template <typename T>
void reset_in_place(T& object) {
    new (&object) T{};
}

// A frame copy the balancer may rewrite before sending it on.
class FrameCopy final {
public:
    explicit FrameCopy(std::span<const std::byte> frame) : size_{frame.size()} {
        for (std::size_t i = 0; i < size_; ++i) bytes_[i] = frame[i];
    }
    [[nodiscard]] std::span<std::byte> bytes() { return {bytes_.data(), size_}; }

private:
    std::array<std::byte, kMaxFrameSize> bytes_{};
    std::size_t size_;
};

// Probe sequence numbers only need to differ between replicas and rounds.
[[nodiscard]] std::uint32_t probe_sequence(std::size_t replica, std::uint64_t now_ns) {
    return static_cast<std::uint32_t>(now_ns >> 10) ^ static_cast<std::uint32_t>(replica << 24);
}

}  // namespace

MacAddress ServiceBalancer::service_mac(std::size_t index) {
    return MacAddress{{0x02, 0x4c, 0x53, 0x00, 0x00, static_cast<std::uint8_t>(index)}};
}

// --- Services and replicas ---------------------------------------------------------------------

Status ServiceBalancer::add_service(std::size_t index, const ServiceAddress& address, std::uint64_t now_ns) {
    if (index >= kMaxServices) return Error{"no such service slot"};
    if (services_[index].in_use) return Error{"service slot is taken"};
    if (service_at(address.network, address.ip) >= 0) return Error{"another service has this address"};
    Service& service = services_[index];
    reset_in_place(service);
    service.in_use = true;
    service.address = address;
    new (&service.report.latency) LatencyWindow{now_ns};
    ++service_count_;
    return {};
}

void ServiceBalancer::remove_service(std::size_t index) {
    if (index >= kMaxServices || !services_[index].in_use) return;
    for (std::size_t replica = 0; replica < kMaxReplicas; ++replica) remove_replica(index, replica);
    reset_in_place(services_[index]);
    --service_count_;
}

Status ServiceBalancer::add_replica(std::size_t service, std::size_t replica, Ipv4Address ip, MacAddress mac,
                                    std::uint64_t now_ns) {
    if (service >= kMaxServices || !services_[service].in_use || replica >= kMaxReplicas)
        return Error{"no such service or replica slot"};
    Replica& slot = services_[service].replicas[replica];
    if (slot.report.state != ReplicaState::unused) return Error{"replica slot is taken"};
    reset_in_place(slot);
    slot.report.state = ReplicaState::booting;
    slot.report.ip = ip;
    slot.mac = mac;
    new (&slot.report.latency) LatencyWindow{now_ns};
    return {};
}

void ServiceBalancer::drain_replica(std::size_t service, std::size_t replica) {
    if (service >= kMaxServices || replica >= kMaxReplicas) return;
    ReplicaReport& report = services_[service].replicas[replica].report;
    if (report.state != ReplicaState::unused) report.state = ReplicaState::draining;
}

void ServiceBalancer::remove_replica(std::size_t service, std::size_t replica) {
    if (service >= kMaxServices || replica >= kMaxReplicas) return;
    for (std::size_t slot = 0; slot < kMaxFlows;) {
        const Flow& flow = flows_[slot];
        if (flow.state != FlowState::free && flow.service == service && flow.replica == replica) {
            erase_flow(slot);  // shifts a later entry into `slot`: look at it again
            continue;
        }
        ++slot;
    }
    reset_in_place(services_[service].replicas[replica]);
}

// --- Frames ------------------------------------------------------------------------------------

bool ServiceBalancer::inspect(NetworkId network, std::span<const std::byte> frame, std::uint64_t now_ns,
                              FrameSink& sink) {
    // Never bigger than a frame the switch forwards; the copies below hold one such frame.
    if (frame.size() > kMaxFrameSize) return false;
    if (answer_arp(network, frame, sink)) return true;
    const std::optional<TcpSegment> segment = packet::parse_tcp(frame);
    if (!segment) return false;

    const int service = service_at(network, segment->destination);
    if (service >= 0) {
        const auto index = static_cast<std::size_t>(service);
        const std::uint16_t port = segment->destination_port;
        const std::size_t probed = port - kProbePortBase;
        std::size_t owner = 0;
        std::size_t replica = 0;
        if (port >= kProbePortBase && probed < kMaxReplicas &&
            replica_of(network, frame, *segment, owner, replica) && owner == index && replica == probed) {
            probe_answered(index, replica, *segment, now_ns, sink);
        } else if (port == services_[index].address.port) {
            from_client(index, frame, *segment, now_ns, sink);
        }
        return true;  // nothing else listens on a service address
    }

    std::size_t owner = 0;
    std::size_t replica = 0;
    if (!replica_of(network, frame, *segment, owner, replica)) return false;
    Flow* flow = find_flow(owner, segment->destination, segment->destination_port);
    if (flow == nullptr || flow->replica != replica) return false;  // the replica's own traffic
    from_replica(*flow, frame, *segment, now_ns, sink);
    return true;
}

bool ServiceBalancer::answer_arp(NetworkId network, std::span<const std::byte> frame, FrameSink& sink) {
    const std::optional<packet::ArpRequest> request = packet::parse_arp_request(frame);
    if (!request) return false;
    const int service = service_at(network, request->target_ip);
    if (service < 0) return false;
    std::array<std::byte, kMaxFrameSize> reply{};
    const std::size_t size =
        packet::build_arp_reply(reply, *request, service_mac(static_cast<std::size_t>(service)), request->target_ip);
    sink.emit(network, std::span{reply}.first(size));
    return true;
}

void ServiceBalancer::from_client(std::size_t index, std::span<const std::byte> frame, const TcpSegment& segment,
                                  std::uint64_t now_ns, FrameSink& sink) {
    Service& service = services_[index];
    Flow* flow = find_flow(index, segment.source, segment.source_port);
    if (flow != nullptr && flow->state == FlowState::closed && segment.is_connection_request()) {
        request_ended(*flow, now_ns);  // a request it closed on unanswered is outstanding no more
        erase_flow(static_cast<std::size_t>(flow - flows_.data()));  // the client reuses its port
        flow = nullptr;
    }
    if (flow == nullptr) {
        if (!segment.is_connection_request()) return;  // not a connection we know: drop
        const int replica = pick_replica(service);
        if (replica < 0) {
            hold(service, frame, segment);
            return;
        }
        flow = new_flow(index, segment.source, segment.source_port);
        if (flow == nullptr) return;  // table full: the client retries its SYN
        flow->replica = static_cast<std::uint8_t>(replica);
        ++service.replicas[flow->replica].report.connections;
        ++service.report.connections_total;
    }
    flow->last_seen_ns = now_ns;
    if (segment.payload_size != 0 && !flow->awaiting_response) request_started(*flow, now_ns);
    note_flags(*flow, segment, true, now_ns);

    const Replica& replica = service.replicas[flow->replica];
    FrameCopy copy{frame};
    packet::rewrite_destination(copy.bytes(), segment, replica.mac, replica.report.ip);
    sink.emit(service.address.network, copy.bytes());
}

void ServiceBalancer::from_replica(Flow& flow, std::span<const std::byte> frame, const TcpSegment& segment,
                                   std::uint64_t now_ns, FrameSink& sink) {
    const Service& service = services_[flow.service];
    flow.last_seen_ns = now_ns;
    if (segment.payload_size != 0 && flow.awaiting_response) response_started(flow, now_ns);
    note_flags(flow, segment, false, now_ns);

    FrameCopy copy{frame};
    packet::rewrite_source(copy.bytes(), segment, service_mac(flow.service), service.address.ip);
    sink.emit(service.address.network, copy.bytes());
}

// A SYN-ACK from the service port means a listener: the replica is ready
// (and our half-open probe is reset). A RST means not yet.
void ServiceBalancer::probe_answered(std::size_t index, std::size_t replica_index, const TcpSegment& segment,
                                     std::uint64_t now_ns, FrameSink& sink) {
    Service& service = services_[index];
    Replica& replica = service.replicas[replica_index];
    if (!segment.has(tcp_flags::kSyn) || !segment.has(tcp_flags::kAck)) return;
    const packet::TcpEndpoints endpoints{service_mac(index), replica.mac, service.address.ip, replica.report.ip,
                                         probe_port(replica_index), service.address.port};
    std::array<std::byte, kMaxFrameSize> reset{};
    const std::size_t size = packet::build_tcp_segment(reset, endpoints, segment.acknowledgement, 0, tcp_flags::kRst);
    sink.emit(service.address.network, std::span{reset}.first(size));
    if (replica.report.state != ReplicaState::booting) return;
    replica.report.state = ReplicaState::ready;
    replica.report.ready_since_ns = now_ns;
    release_held(index, now_ns, sink);
}

void ServiceBalancer::send_probe(std::size_t index, std::size_t replica_index, std::uint64_t now_ns,
                                 FrameSink& sink) {
    const Service& service = services_[index];
    const Replica& replica = service.replicas[replica_index];
    const packet::TcpEndpoints endpoints{service_mac(index), replica.mac, service.address.ip, replica.report.ip,
                                         probe_port(replica_index), service.address.port};
    std::array<std::byte, kMaxFrameSize> syn{};
    const std::size_t size =
        packet::build_tcp_segment(syn, endpoints, probe_sequence(replica_index, now_ns), 0, tcp_flags::kSyn);
    sink.emit(service.address.network, std::span{syn}.first(size));
}

// Keeps the SYN until a replica is ready; a retransmission replaces its
// earlier copy rather than taking a second place.
void ServiceBalancer::hold(Service& service, std::span<const std::byte> frame, const TcpSegment& segment) {
    if (frame.size() > HeldSyn{}.bytes.size()) return;
    HeldSyn* place = nullptr;
    for (HeldSyn& held : service.held) {
        if (held.size == 0) {
            if (place == nullptr) place = &held;
            continue;
        }
        const auto copy = std::span{held.bytes}.first(held.size);
        const std::optional<TcpSegment> earlier = packet::parse_tcp(copy);
        if (earlier && earlier->source == segment.source && earlier->source_port == segment.source_port) {
            place = &held;
            break;
        }
    }
    if (place == nullptr) return;  // full: the client will retransmit
    if (place->size == 0) {
        ++service.report.held;
        ++service.report.held_total;
    }
    place->size = static_cast<std::uint16_t>(frame.size());
    for (std::size_t i = 0; i < frame.size(); ++i) place->bytes[i] = frame[i];
}

void ServiceBalancer::release_held(std::size_t index, std::uint64_t now_ns, FrameSink& sink) {
    Service& service = services_[index];
    for (HeldSyn& held : service.held) {
        if (held.size == 0) continue;
        const auto frame = std::span<const std::byte>{held.bytes}.first(held.size);
        held.size = 0;
        --service.report.held;
        if (const std::optional<TcpSegment> segment = packet::parse_tcp(frame))
            from_client(index, frame, *segment, now_ns, sink);
    }
}

// --- Requests and connections ------------------------------------------------------------------

void ServiceBalancer::request_started(Flow& flow, std::uint64_t now_ns) {
    Service& service = services_[flow.service];
    ReplicaReport& replica = service.replicas[flow.replica].report;
    flow.awaiting_response = true;
    flow.any_request = true;
    flow.timed_out = false;
    flow.request_start_ns = now_ns;
    service.report.latency.count_arrival(now_ns);
    if (replica.outstanding++ == 0) service.replicas[flow.replica].busy_since_ns = now_ns;
}

void ServiceBalancer::response_started(Flow& flow, std::uint64_t now_ns) {
    if (!flow.timed_out) {
        const std::uint64_t latency = now_ns - flow.request_start_ns;
        services_[flow.service].report.latency.record_latency(now_ns, latency);
        services_[flow.service].replicas[flow.replica].report.latency.record_latency(now_ns, latency);
    }
    request_ended(flow, now_ns);
}

void ServiceBalancer::request_ended(Flow& flow, std::uint64_t now_ns) {
    if (!flow.awaiting_response) return;
    flow.awaiting_response = false;
    Replica& replica = services_[flow.service].replicas[flow.replica];
    if (replica.report.outstanding != 0 && --replica.report.outstanding == 0)
        replica.report.latency.add_busy(now_ns, now_ns - replica.busy_since_ns);
}

void ServiceBalancer::note_flags(Flow& flow, const TcpSegment& segment, bool from_client, std::uint64_t now_ns) {
    if (segment.has(tcp_flags::kRst)) {
        // A reset while a request waits (or of a connection the replica
        // refused) is a failed request as the client sees it.
        const bool refused = !from_client && !flow.any_request && !flow.client_finished;
        if (flow.awaiting_response || refused) {
            services_[flow.service].report.latency.count_reset(now_ns);
            services_[flow.service].replicas[flow.replica].report.latency.count_reset(now_ns);
        }
        request_ended(flow, now_ns);
        close_flow(flow);
        return;
    }
    if (segment.has(tcp_flags::kFin)) (from_client ? flow.client_finished : flow.replica_finished) = true;
    if (flow.client_finished && flow.replica_finished) close_flow(flow);
}

void ServiceBalancer::close_flow(Flow& flow) {
    if (flow.state != FlowState::open) return;
    flow.state = FlowState::closed;
    ReplicaReport& replica = services_[flow.service].replicas[flow.replica].report;
    if (replica.connections != 0) --replica.connections;
}

// The ready replica with the fewest outstanding requests, then the fewest
// connections; ties go round robin. -1 when none is ready.
int ServiceBalancer::pick_replica(Service& service) const {
    int best = -1;
    for (std::size_t step = 0; step < kMaxReplicas; ++step) {
        const std::size_t index = (service.next_replica + step) % kMaxReplicas;
        const ReplicaReport& candidate = service.replicas[index].report;
        if (candidate.state != ReplicaState::ready) continue;
        if (best >= 0) {
            const ReplicaReport& chosen = service.replicas[static_cast<std::size_t>(best)].report;
            if (candidate.outstanding > chosen.outstanding) continue;
            if (candidate.outstanding == chosen.outstanding && candidate.connections >= chosen.connections) continue;
        }
        best = static_cast<int>(index);
    }
    if (best >= 0) service.next_replica = static_cast<std::uint32_t>(best + 1) % kMaxReplicas;
    return best;
}

// --- Periodic work -----------------------------------------------------------------------------

void ServiceBalancer::tick(std::uint64_t now_ns, FrameSink& sink) {
    for (std::size_t index = 0; index < kMaxServices; ++index) {
        if (!services_[index].in_use) continue;
        for (std::size_t replica = 0; replica < kMaxReplicas; ++replica) {
            Replica& slot = services_[index].replicas[replica];
            if (slot.report.state != ReplicaState::booting || now_ns < slot.next_probe_ns) continue;
            slot.next_probe_ns = now_ns + kProbeIntervalNs;
            send_probe(index, replica, now_ns, sink);
        }
    }
    for (std::size_t slot = 0; slot < kMaxFlows;) {
        Flow& flow = flows_[slot];
        if (flow.state == FlowState::open && flow.awaiting_response && !flow.timed_out &&
            now_ns - flow.request_start_ns > kRequestTimeoutNs) {
            flow.timed_out = true;
            services_[flow.service].report.latency.count_timeout(now_ns);
            services_[flow.service].replicas[flow.replica].report.latency.count_timeout(now_ns);
        }
        const std::uint64_t quiet = now_ns - flow.last_seen_ns;
        const bool finished = (flow.state == FlowState::closed && quiet > kClosedLingerNs) ||
                              (flow.state == FlowState::open && quiet > kIdleFlowNs);
        if (finished) {
            request_ended(flow, now_ns);
            close_flow(flow);
            erase_flow(slot);  // a later entry may move into `slot`
            continue;
        }
        ++slot;
    }
}

// --- Lookups -----------------------------------------------------------------------------------

int ServiceBalancer::service_at(NetworkId network, Ipv4Address ip) const {
    for (std::size_t index = 0; index < kMaxServices; ++index) {
        const Service& service = services_[index];
        if (service.in_use && service.address.network == network && service.address.ip == ip)
            return static_cast<int>(index);
    }
    return -1;
}

// Only the replica's own MAC counts: another station (a router doing NAT,
// say) answering for the replica's address must not make it look ready.
bool ServiceBalancer::replica_of(NetworkId network, std::span<const std::byte> frame, const TcpSegment& segment,
                                 std::size_t& service, std::size_t& replica) const {
    const MacAddress source = frame_source(frame);
    for (std::size_t s = 0; s < kMaxServices; ++s) {
        const Service& candidate = services_[s];
        if (!candidate.in_use || candidate.address.network != network ||
            candidate.address.port != segment.source_port)
            continue;
        for (std::size_t r = 0; r < kMaxReplicas; ++r) {
            const Replica& slot = candidate.replicas[r];
            if (slot.report.state != ReplicaState::unused && slot.report.ip == segment.source && slot.mac == source) {
                service = s;
                replica = r;
                return true;
            }
        }
    }
    return false;
}

std::size_t ServiceBalancer::flow_home(std::size_t service, Ipv4Address client, std::uint16_t port) {
    std::uint32_t hash = client.value * 0x9e3779b1u;
    hash ^= (std::uint32_t{port} << 16 | static_cast<std::uint32_t>(service)) * 0x85ebca6bu;
    hash ^= hash >> 15;
    return hash % kMaxFlows;
}

ServiceBalancer::Flow* ServiceBalancer::find_flow(std::size_t service, Ipv4Address client, std::uint16_t port) {
    for (std::size_t step = 0, slot = flow_home(service, client, port); step < kMaxFlows;
         ++step, slot = (slot + 1) % kMaxFlows) {
        Flow& flow = flows_[slot];
        if (flow.state == FlowState::free) return nullptr;
        if (flow.service == service && flow.client == client && flow.client_port == port) return &flow;
    }
    return nullptr;
}

ServiceBalancer::Flow* ServiceBalancer::new_flow(std::size_t service, Ipv4Address client, std::uint16_t port) {
    if (flow_count_ >= kMaxOpenFlows) return nullptr;
    ++flow_count_;
    std::size_t slot = flow_home(service, client, port);
    while (flows_[slot].state != FlowState::free) slot = (slot + 1) % kMaxFlows;
    Flow& flow = flows_[slot];
    flow = Flow{};
    flow.state = FlowState::open;
    flow.service = static_cast<std::uint8_t>(service);
    flow.client = client;
    flow.client_port = port;
    return &flow;
}

// Backward-shift deletion: entries after the gap that would no longer be
// found from their home slot move into it, so lookups need no tombstones.
void ServiceBalancer::erase_flow(std::size_t gap) {
    if (flows_[gap].state == FlowState::free) return;
    --flow_count_;
    flows_[gap] = Flow{};
    for (std::size_t slot = (gap + 1) % kMaxFlows; flows_[slot].state != FlowState::free;
         slot = (slot + 1) % kMaxFlows) {
        const Flow& flow = flows_[slot];
        const std::size_t home = flow_home(flow.service, flow.client, flow.client_port);
        // Does `home` lie cyclically in (gap, slot]? Then the entry stays.
        const bool stays = gap <= slot ? (home > gap && home <= slot) : (home > gap || home <= slot);
        if (stays) continue;
        flows_[gap] = flow;
        flows_[slot] = Flow{};
        gap = slot;
    }
}

}  // namespace lamina
