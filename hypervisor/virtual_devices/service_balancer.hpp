// The switch's layer-4 load balancer for services (docs/services.md): it
// answers ARP for each service address, spreads new TCP connections over
// the service's ready replicas (rewriting addresses both ways, so a
// connection stays on its replica), probes booting replicas' service port,
// holds connections while no replica is ready, and times every request
// from the client's request bytes to the replica's first response bytes.
//
// Pure logic: frames and the time come in as arguments, frames the
// balancer sends go out through a FrameSink, so it runs unchanged in host
// unit tests. Not locked: the switch calls it under its own lock.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/latency_histogram.hpp"
#include "core/scaling_policy.hpp"
#include "core/result.hpp"
#include "virtual_devices/network_port.hpp"
#include "virtual_devices/packet.hpp"

namespace lamina {

// Where the balancer's own and rewritten frames go: forwarded by their
// destination MAC inside `network`.
class FrameSink {
public:
    virtual void emit(NetworkId network, std::span<const std::byte> frame) = 0;

protected:
    ~FrameSink() = default;
};

struct ServiceAddress final {
    NetworkId network{};
    packet::Ipv4Address ip{};
    std::uint16_t port{0};
};

enum class ReplicaState : std::uint8_t { unused, booting, ready, draining };

// What the balancer knows about one replica, for the autoscaler and reports.
struct ReplicaReport final {
    ReplicaState state{ReplicaState::unused};
    packet::Ipv4Address ip{};
    std::uint32_t connections{0};   // open connections (not yet closed by both sides)
    std::uint32_t outstanding{0};   // requests sent to it and not yet answered
    std::uint64_t ready_since_ns{0};
    LatencyWindow latency{};
};

struct ServiceReport final {
    std::uint32_t held{0};  // connections held for want of a ready replica
    std::uint64_t connections_total{0};
    std::uint64_t held_total{0};
    LatencyWindow latency{};
};

class ServiceBalancer final {
public:
    static constexpr std::size_t kMaxServices = 4;
    static constexpr std::size_t kMaxReplicas = kMaxServiceReplicas;
    static constexpr std::size_t kMaxFlows = 2048;
    static constexpr std::size_t kMaxOpenFlows = kMaxFlows * 3 / 4;  // keeps probe sequences short
    static constexpr std::size_t kMaxHeld = 16;
    static constexpr std::uint64_t kProbeIntervalNs = 200'000'000;
    static constexpr std::uint64_t kRequestTimeoutNs = 30'000'000'000;
    static constexpr std::uint64_t kClosedLingerNs = 5'000'000'000;   // a closed connection's last ACKs
    static constexpr std::uint64_t kIdleFlowNs = 600'000'000'000;     // an open connection silent this long is forgotten

    constexpr ServiceBalancer() = default;

    [[nodiscard]] bool any_service() const { return service_count_ != 0; }
    // The MAC the switch answers ARP with for service `index`.
    [[nodiscard]] static MacAddress service_mac(std::size_t index);

    [[nodiscard]] Status add_service(std::size_t index, const ServiceAddress& address, std::uint64_t now_ns);
    // Forgets the service, its replicas, connections and held SYNs.
    void remove_service(std::size_t index);
    [[nodiscard]] Status add_replica(std::size_t service, std::size_t replica, packet::Ipv4Address ip,
                                     MacAddress mac, std::uint64_t now_ns);
    // No new connections; existing ones go on.
    void drain_replica(std::size_t service, std::size_t replica);
    // Forgets the replica and every connection it had.
    void remove_replica(std::size_t service, std::size_t replica);

    // A frame from a port on `network`: true if the balancer took it (and
    // sent whatever should follow from it through `sink`); false if the
    // switch forwards it as usual.
    [[nodiscard]] bool inspect(NetworkId network, std::span<const std::byte> frame, std::uint64_t now_ns,
                               FrameSink& sink);
    // Periodic work: probes booting replicas, counts request timeouts,
    // forgets finished connections.
    void tick(std::uint64_t now_ns, FrameSink& sink);

    [[nodiscard]] const ServiceReport& service_report(std::size_t service) const { return services_[service].report; }
    [[nodiscard]] const ReplicaReport& replica_report(std::size_t service, std::size_t replica) const {
        return services_[service].replicas[replica].report;
    }

private:
    struct Replica final {
        ReplicaReport report{};
        MacAddress mac{};
        std::uint64_t next_probe_ns{0};
        std::uint64_t busy_since_ns{0};  // when outstanding went from 0 to 1
    };

    struct HeldSyn final {
        std::uint16_t size{0};  // 0: free
        std::array<std::byte, 128> bytes{};
    };

    struct Service final {
        bool in_use{false};
        ServiceAddress address{};
        std::array<Replica, kMaxReplicas> replicas{};
        std::array<HeldSyn, kMaxHeld> held{};
        std::uint32_t next_replica{0};  // round-robin start among equals
        ServiceReport report{};
    };

    enum class FlowState : std::uint8_t { free, open, closed };

    struct Flow final {
        FlowState state{FlowState::free};
        std::uint8_t service{0};
        std::uint8_t replica{0};
        bool awaiting_response{false};
        bool any_request{false};  // the client sent data at least once
        bool timed_out{false};
        bool client_finished{false};
        bool replica_finished{false};
        packet::Ipv4Address client{};
        std::uint16_t client_port{0};
        std::uint64_t request_start_ns{0};
        std::uint64_t last_seen_ns{0};
    };

    // Frame handling.
    [[nodiscard]] bool answer_arp(NetworkId network, std::span<const std::byte> frame, FrameSink& sink);
    void from_client(std::size_t service, std::span<const std::byte> frame, const packet::TcpSegment& segment,
                     std::uint64_t now_ns, FrameSink& sink);
    void from_replica(Flow& flow, std::span<const std::byte> frame, const packet::TcpSegment& segment,
                      std::uint64_t now_ns, FrameSink& sink);
    void probe_answered(std::size_t service, std::size_t replica, const packet::TcpSegment& segment,
                        std::uint64_t now_ns, FrameSink& sink);
    void hold(Service& service, std::span<const std::byte> frame, const packet::TcpSegment& segment);
    void release_held(std::size_t service, std::uint64_t now_ns, FrameSink& sink);
    void send_probe(std::size_t service, std::size_t replica, std::uint64_t now_ns, FrameSink& sink);

    // Request timing and connection bookkeeping.
    void request_started(Flow& flow, std::uint64_t now_ns);
    void response_started(Flow& flow, std::uint64_t now_ns);
    void request_ended(Flow& flow, std::uint64_t now_ns);
    void note_flags(Flow& flow, const packet::TcpSegment& segment, bool from_client, std::uint64_t now_ns);
    void close_flow(Flow& flow);
    [[nodiscard]] int pick_replica(Service& service) const;

    // The connection table: open addressing, linear probing.
    [[nodiscard]] Flow* find_flow(std::size_t service, packet::Ipv4Address client, std::uint16_t port);
    [[nodiscard]] Flow* new_flow(std::size_t service, packet::Ipv4Address client, std::uint16_t port);
    void erase_flow(std::size_t slot);
    [[nodiscard]] static std::size_t flow_home(std::size_t service, packet::Ipv4Address client, std::uint16_t port);

    // Which service a frame belongs to.
    [[nodiscard]] int service_at(NetworkId network, packet::Ipv4Address ip) const;
    [[nodiscard]] bool replica_of(NetworkId network, std::span<const std::byte> frame,
                                  const packet::TcpSegment& segment, std::size_t& service, std::size_t& replica) const;
    [[nodiscard]] static std::uint16_t probe_port(std::size_t replica) {
        return static_cast<std::uint16_t>(kProbePortBase + replica);
    }

    static constexpr std::uint16_t kProbePortBase = 61000;

    std::array<Service, kMaxServices> services_{};
    std::array<Flow, kMaxFlows> flows_{};
    std::size_t service_count_{0};
    std::size_t flow_count_{0};  // entries of flows_ in use
};

}  // namespace lamina
