// ServiceBalancer (docs/services.md): ARP for service addresses, held SYNs
// and readiness probes, spreading connections over ready replicas, address
// rewriting both ways with valid checksums, request timing, resets and
// timeouts, draining and removing replicas, the flow table (linear probing
// with backward-shift deletion) and its bound; then the same through a
// VirtualSwitch with fake ports.
#include "virtual_devices/service_balancer.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <utility>
#include <vector>

#include "reference_frames.hpp"
#include "virtual_devices/virtual_switch.hpp"

namespace lamina {
namespace {

using packet::Ipv4Address;
using namespace testing;
namespace tcp_flags = packet::tcp_flags;

constexpr std::uint8_t kPsh = 0x08;
constexpr NetworkId kLan{1};
constexpr NetworkId kOtherLan{2};
constexpr std::uint64_t kMs = 1'000'000;
constexpr std::uint64_t kSecond = 1'000'000'000;
constexpr std::uint64_t kStart = 100 * kSecond;
constexpr std::uint64_t kWholeWindow = 16 * kSecond;

constexpr Ipv4Address kServiceIp = ip(10, 0, 2, 50);
constexpr std::uint16_t kServicePort = 80;
constexpr Ipv4Address kReplicaBase = ip(10, 0, 2, 100);
constexpr std::uint16_t kProbePortBase = 61000;

Ipv4Address replica_ip(std::size_t replica) { return Ipv4Address{kReplicaBase.value + static_cast<std::uint32_t>(replica)}; }
MacAddress replica_mac(std::size_t replica) {
    return MacAddress{{0x02, 0x00, 0x00, 0x00, 0x01, static_cast<std::uint8_t>(replica)}};
}

struct Client {
    MacAddress mac{};
    Ipv4Address ip{};
    std::uint16_t port{0};
};

Client client(std::uint32_t n, std::uint16_t port = 40000) {
    return Client{MacAddress{{0x02, 0x00, 0x00, 0x00, static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)}},
                  Ipv4Address{ip(10, 1, 0, 0).value + n}, port};
}

// A client's segment to service 0, and a replica's to the client.
packet::TcpEndpoints to_service(const Client& c) {
    return packet::TcpEndpoints{c.mac, ServiceBalancer::service_mac(0), c.ip, kServiceIp, c.port, kServicePort};
}
packet::TcpEndpoints to_client(std::size_t replica, const Client& c) {
    return packet::TcpEndpoints{replica_mac(replica), c.mac, replica_ip(replica), c.ip, kServicePort, c.port};
}

// --- A frame builder -----------------------------------------------------------------------------

// A TCP segment with `payload`: packet::build_tcp_segment for the headers,
// then the payload appended, the length set and both checksums recomputed
// from scratch. `pad_to`: Ethernet padding a NIC would add.
Frame tcp_frame(const packet::TcpEndpoints& endpoints, std::uint32_t sequence, std::uint32_t acknowledgement,
                std::uint8_t flags, const std::vector<std::byte>& payload = {}, std::size_t pad_to = 0) {
    Frame f(kMaxFrameSize);
    const std::size_t header = packet::build_tcp_segment(f, endpoints, sequence, acknowledgement, flags);
    f.resize(header);
    f.insert(f.end(), payload.begin(), payload.end());
    put16(f, 16, static_cast<std::uint32_t>(f.size() - 14));
    fix_checksums(f);
    if (f.size() < pad_to) f.resize(pad_to, std::byte{0});
    return f;
}

class RecordingSink final : public FrameSink {
public:
    void emit(NetworkId network, std::span<const std::byte> frame) override {
        frames.emplace_back(network, Frame(frame.begin(), frame.end()));
    }
    [[nodiscard]] std::size_t count() const { return frames.size(); }
    [[nodiscard]] const Frame& frame(std::size_t i) const { return frames.at(i).second; }
    [[nodiscard]] const Frame& last() const { return frames.back().second; }
    void clear() { frames.clear(); }

    std::vector<std::pair<NetworkId, Frame>> frames;
};

// --- The fixture --------------------------------------------------------------------------------

class ServiceBalancerTest : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(balancer->add_service(0, ServiceAddress{kLan, kServiceIp, kServicePort}, now).ok());
    }

    void add_replica(std::size_t replica) {
        ASSERT_TRUE(balancer->add_replica(0, replica, replica_ip(replica), replica_mac(replica), now).ok());
    }
    // The replica's SYN-ACK to a probe: it becomes ready.
    bool probe_answer(std::size_t replica, std::uint8_t flags = tcp_flags::kSyn | tcp_flags::kAck,
                      std::uint32_t acknowledgement = 0x1001, std::uint16_t probe_port = 0) {
        const packet::TcpEndpoints endpoints{
            replica_mac(replica), ServiceBalancer::service_mac(0), replica_ip(replica), kServiceIp, kServicePort,
            probe_port != 0 ? probe_port : static_cast<std::uint16_t>(kProbePortBase + replica)};
        const Frame f = tcp_frame(endpoints, 0x7000, acknowledgement, flags);
        return balancer->inspect(kLan, f, now, sink);
    }
    void add_ready_replica(std::size_t replica) {
        add_replica(replica);
        EXPECT_TRUE(probe_answer(replica));
        ASSERT_EQ(balancer->replica_report(0, replica).state, ReplicaState::ready);
        sink.clear();
    }

    bool from_client(const Client& c, std::uint8_t flags, const std::vector<std::byte>& payload = {},
                     std::uint32_t sequence = 1000) {
        return balancer->inspect(kLan, tcp_frame(to_service(c), sequence, 1, flags, payload), now, sink);
    }
    bool from_replica(std::size_t replica, const Client& c, std::uint8_t flags,
                      const std::vector<std::byte>& payload = {}) {
        return balancer->inspect(kLan, tcp_frame(to_client(replica, c), 5000, 1001, flags, payload), now, sink);
    }

    // Sends the client's SYN; returns the replica it was sent to.
    std::optional<std::size_t> connect(const Client& c) {
        sink.clear();
        EXPECT_TRUE(from_client(c, tcp_flags::kSyn));
        if (sink.count() != 1) return std::nullopt;
        const std::optional<std::size_t> replica = destination_replica(sink.last());
        sink.clear();
        return replica;
    }
    // Which replica a frame the balancer sent is for, if any.
    static std::optional<std::size_t> destination_replica(const Frame& f) {
        const auto segment = packet::parse_tcp(f);
        if (!segment) return std::nullopt;
        const std::uint32_t offset = segment->destination.value - kReplicaBase.value;
        if (offset >= ServiceBalancer::kMaxReplicas) return std::nullopt;
        return offset;
    }
    // Sends an ACK from the client; the replica it reached, or nullopt if dropped.
    std::optional<std::size_t> route_of(const Client& c) {
        sink.clear();
        EXPECT_TRUE(from_client(c, tcp_flags::kAck));
        if (sink.count() == 0) return std::nullopt;
        EXPECT_EQ(sink.count(), 1u);
        // Sent on, but not to a replica's address: kNotAReplica.
        const std::size_t replica = destination_replica(sink.last()).value_or(kNotAReplica);
        sink.clear();
        return replica;
    }
    static constexpr std::size_t kNotAReplica = 999;

    static void expect_to_replica(const Frame& f, std::size_t replica, const Client& c) {
        const auto segment = packet::parse_tcp(f);
        ASSERT_TRUE(segment.has_value());
        EXPECT_EQ(mac_at(f, 0), replica_mac(replica));
        EXPECT_EQ(mac_at(f, 6), c.mac);
        EXPECT_EQ(segment->destination, replica_ip(replica));
        EXPECT_EQ(segment->destination_port, kServicePort);
        EXPECT_EQ(segment->source, c.ip);
        EXPECT_EQ(segment->source_port, c.port);
        EXPECT_TRUE(checksums_ok(f));
    }
    static void expect_to_client(const Frame& f, const Client& c) {
        const auto segment = packet::parse_tcp(f);
        ASSERT_TRUE(segment.has_value());
        EXPECT_EQ(mac_at(f, 0), c.mac);
        EXPECT_EQ(mac_at(f, 6), ServiceBalancer::service_mac(0));
        EXPECT_EQ(segment->source, kServiceIp);
        EXPECT_EQ(segment->source_port, kServicePort);
        EXPECT_EQ(segment->destination, c.ip);
        EXPECT_EQ(segment->destination_port, c.port);
        EXPECT_TRUE(checksums_ok(f));
    }

    WindowSummary service_window() const { return balancer->service_report(0).latency.summary(now, kWholeWindow); }
    WindowSummary replica_window(std::size_t replica) const {
        return balancer->replica_report(0, replica).latency.summary(now, kWholeWindow);
    }

    // Large (per-second histograms for every replica): on the heap.
    std::unique_ptr<ServiceBalancer> balancer = std::make_unique<ServiceBalancer>();
    RecordingSink sink;
    std::uint64_t now{kStart};
};

// --- Services and replicas ------------------------------------------------------------------------

TEST_F(ServiceBalancerTest, ServiceMacNamesTheServiceIndex) {
    EXPECT_EQ(ServiceBalancer::service_mac(0), (MacAddress{{0x02, 0x4c, 0x53, 0x00, 0x00, 0x00}}));
    EXPECT_EQ(ServiceBalancer::service_mac(3), (MacAddress{{0x02, 0x4c, 0x53, 0x00, 0x00, 0x03}}));
    EXPECT_FALSE(ServiceBalancer::service_mac(1).is_multicast());
}

TEST_F(ServiceBalancerTest, AddingServicesAndReplicasChecksSlotsAndAddresses) {
    EXPECT_TRUE(balancer->any_service());
    EXPECT_FALSE(balancer->add_service(0, ServiceAddress{kLan, ip(10, 0, 2, 51), 80}, now).ok());  // taken
    EXPECT_FALSE(balancer->add_service(1, ServiceAddress{kLan, kServiceIp, 8080}, now).ok());       // same address
    EXPECT_FALSE(balancer->add_service(ServiceBalancer::kMaxServices, ServiceAddress{kLan, ip(10, 0, 2, 52), 80}, now).ok());
    EXPECT_TRUE(balancer->add_service(1, ServiceAddress{kOtherLan, kServiceIp, 80}, now).ok());  // another network
    add_replica(0);
    EXPECT_FALSE(balancer->add_replica(0, 0, replica_ip(0), replica_mac(0), now).ok());
    EXPECT_FALSE(balancer->add_replica(0, ServiceBalancer::kMaxReplicas, replica_ip(9), replica_mac(9), now).ok());
    EXPECT_FALSE(balancer->add_replica(2, 0, replica_ip(0), replica_mac(0), now).ok());  // no such service
    EXPECT_EQ(balancer->replica_report(0, 0).state, ReplicaState::booting);
    EXPECT_EQ(balancer->replica_report(0, 0).ip, replica_ip(0));

    balancer->remove_service(0);
    balancer->remove_service(1);
    EXPECT_FALSE(balancer->any_service());
    EXPECT_EQ(balancer->replica_report(0, 0).state, ReplicaState::unused);
    // A forgotten service's traffic passes.
    EXPECT_FALSE(from_client(client(1), tcp_flags::kSyn));
    EXPECT_EQ(sink.count(), 0u);
    EXPECT_TRUE(balancer->add_service(0, ServiceAddress{kLan, kServiceIp, kServicePort}, now).ok());
}

// --- ARP ------------------------------------------------------------------------------------------

TEST_F(ServiceBalancerTest, ArpForTheServiceAddressIsAnsweredWithTheServiceMac) {
    ASSERT_TRUE(balancer->add_service(2, ServiceAddress{kLan, ip(10, 0, 2, 60), 8080}, now).ok());
    const Client c = client(7);
    EXPECT_TRUE(balancer->inspect(kLan, arp_request(c.mac, c.ip, ip(10, 0, 2, 60)), now, sink));
    ASSERT_EQ(sink.count(), 1u);
    EXPECT_EQ(sink.frames[0].first, kLan);
    const Frame& reply = sink.frame(0);
    ASSERT_GE(reply.size(), 42u);
    EXPECT_EQ(mac_at(reply, 0), c.mac);
    EXPECT_EQ(mac_at(reply, 6), ServiceBalancer::service_mac(2));
    EXPECT_EQ(get16(reply, 12), 0x0806u);
    EXPECT_EQ(get16(reply, 20), 2u);  // a reply
    EXPECT_EQ(mac_at(reply, 22), ServiceBalancer::service_mac(2));
    EXPECT_EQ(get32(reply, 28), ip(10, 0, 2, 60).value);
    EXPECT_EQ(mac_at(reply, 32), c.mac);
    EXPECT_EQ(get32(reply, 38), c.ip.value);

    sink.clear();
    EXPECT_TRUE(balancer->inspect(kLan, arp_request(c.mac, c.ip, kServiceIp), now, sink));
    ASSERT_EQ(sink.count(), 1u);
    EXPECT_EQ(mac_at(sink.frame(0), 22), ServiceBalancer::service_mac(0));
}

TEST_F(ServiceBalancerTest, OtherArpPassesThrough) {
    add_replica(0);
    const Client c = client(7);
    EXPECT_FALSE(balancer->inspect(kLan, arp_request(c.mac, c.ip, ip(10, 0, 2, 2)), now, sink));
    EXPECT_FALSE(balancer->inspect(kLan, arp_request(c.mac, c.ip, replica_ip(0)), now, sink));  // a replica's own
    EXPECT_FALSE(balancer->inspect(kOtherLan, arp_request(c.mac, c.ip, kServiceIp), now, sink));  // another network
    Frame reply = arp_request(c.mac, c.ip, kServiceIp);
    put16(reply, 20, 2);  // an ARP reply about the service address is not ours to answer
    EXPECT_FALSE(balancer->inspect(kLan, reply, now, sink));
    EXPECT_EQ(sink.count(), 0u);
}

// --- Held SYNs and readiness probes ---------------------------------------------------------------

TEST_F(ServiceBalancerTest, SynWithoutReadyReplicaIsHeldAndReleasedWhenTheReplicaAnswersItsProbe) {
    add_replica(3);
    const Client a = client(1);
    const Client b = client(2);
    EXPECT_TRUE(from_client(a, tcp_flags::kSyn, {}, 111));
    EXPECT_EQ(sink.count(), 0u);
    EXPECT_EQ(balancer->service_report(0).held, 1u);
    EXPECT_EQ(balancer->service_report(0).held_total, 1u);
    // A retransmission replaces the held copy.
    EXPECT_TRUE(from_client(a, tcp_flags::kSyn, {}, 222));
    EXPECT_EQ(balancer->service_report(0).held, 1u);
    EXPECT_EQ(balancer->service_report(0).held_total, 1u);
    EXPECT_TRUE(from_client(b, tcp_flags::kSyn, {}, 333));
    EXPECT_EQ(balancer->service_report(0).held, 2u);
    EXPECT_EQ(sink.count(), 0u);
    // A non-SYN of a held connection is not a connection: dropped.
    EXPECT_TRUE(from_client(a, tcp_flags::kAck));
    EXPECT_EQ(sink.count(), 0u);
    EXPECT_EQ(balancer->service_report(0).held, 2u);

    // A RST from the service port: not listening yet. Nothing changes.
    EXPECT_TRUE(probe_answer(3, tcp_flags::kRst | tcp_flags::kAck));
    EXPECT_EQ(sink.count(), 0u);
    EXPECT_EQ(balancer->replica_report(0, 3).state, ReplicaState::booting);

    now += 450 * kMs;
    EXPECT_TRUE(probe_answer(3, tcp_flags::kSyn | tcp_flags::kAck, 0xabcdef01));
    EXPECT_EQ(balancer->replica_report(0, 3).state, ReplicaState::ready);
    EXPECT_EQ(balancer->replica_report(0, 3).ready_since_ns, now);
    ASSERT_EQ(sink.count(), 3u);
    // First the RST closing the probe's half-open connection.
    const Frame& reset = sink.frame(0);
    const auto rst = packet::parse_tcp(reset);
    ASSERT_TRUE(rst.has_value());
    EXPECT_TRUE(rst->has(tcp_flags::kRst));
    EXPECT_FALSE(rst->has(tcp_flags::kSyn));
    EXPECT_EQ(rst->sequence, 0xabcdef01u);
    EXPECT_EQ(mac_at(reset, 0), replica_mac(3));
    EXPECT_EQ(mac_at(reset, 6), ServiceBalancer::service_mac(0));
    EXPECT_EQ(rst->source, kServiceIp);
    EXPECT_EQ(rst->source_port, kProbePortBase + 3);
    EXPECT_EQ(rst->destination, replica_ip(3));
    EXPECT_EQ(rst->destination_port, kServicePort);
    EXPECT_TRUE(checksums_ok(reset));
    // Then the held SYNs, rewritten to the replica: the latest copy of a's.
    std::set<std::uint32_t> sequences;
    for (std::size_t i = 1; i < 3; ++i) {
        const Frame& f = sink.frame(i);
        EXPECT_EQ(sink.frames[i].first, kLan);
        const auto segment = packet::parse_tcp(f);
        ASSERT_TRUE(segment.has_value());
        EXPECT_TRUE(segment->is_connection_request());
        expect_to_replica(f, 3, segment->source == a.ip ? a : b);
        sequences.insert(segment->sequence);
    }
    EXPECT_EQ(sequences, (std::set<std::uint32_t>{222, 333}));
    EXPECT_EQ(balancer->service_report(0).held, 0u);
    EXPECT_EQ(balancer->service_report(0).held_total, 2u);
    EXPECT_EQ(balancer->replica_report(0, 3).connections, 2u);
    EXPECT_EQ(balancer->service_report(0).connections_total, 2u);

    // The released connections go on to that replica.
    EXPECT_EQ(route_of(a), 3u);
    EXPECT_EQ(route_of(b), 3u);
    // A second SYN-ACK (retransmitted) is reset again but changes nothing.
    const std::uint64_t ready_at = now;
    now += 200 * kMs;
    sink.clear();
    EXPECT_TRUE(probe_answer(3));
    EXPECT_EQ(sink.count(), 1u);
    EXPECT_EQ(balancer->replica_report(0, 3).connections, 2u);
    EXPECT_EQ(balancer->replica_report(0, 3).ready_since_ns, ready_at);
    // A late SYN-ACK does not bring a draining replica back.
    balancer->drain_replica(0, 3);
    sink.clear();
    EXPECT_TRUE(probe_answer(3));
    EXPECT_EQ(sink.count(), 1u);  // only the RST
    EXPECT_EQ(balancer->replica_report(0, 3).state, ReplicaState::draining);
}

TEST_F(ServiceBalancerTest, HeldSynKeepsItsTcpOptions) {
    add_replica(0);
    const Client c = client(1);
    // A SYN as Linux sends it: 20 bytes of options (MSS, SACK, timestamps, window scale).
    Frame syn = tcp_frame(to_service(c), 4242, 0, tcp_flags::kSyn,
                          {std::byte{2}, std::byte{4}, std::byte{0x05}, std::byte{0xb4}, std::byte{4}, std::byte{2},
                           std::byte{8}, std::byte{10}, std::byte{0}, std::byte{1}, std::byte{2}, std::byte{3},
                           std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{1}, std::byte{3},
                           std::byte{3}, std::byte{7}});
    syn[14 + 20 + 12] = std::byte{0xa0};  // data offset 10: those 20 bytes are options
    fix_checksums(syn);
    ASSERT_EQ(syn.size(), 74u);
    ASSERT_EQ(packet::parse_tcp(syn)->payload_size, 0u);
    EXPECT_TRUE(balancer->inspect(kLan, syn, now, sink));
    EXPECT_EQ(balancer->service_report(0).held, 1u);
    EXPECT_TRUE(probe_answer(0));
    ASSERT_EQ(sink.count(), 2u);
    const Frame& released = sink.last();
    ASSERT_EQ(released.size(), syn.size());
    expect_to_replica(released, 0, c);
    EXPECT_TRUE(std::equal(syn.begin() + 34, syn.begin() + 50, released.begin() + 34));  // ports, numbers, flags
    EXPECT_TRUE(std::equal(syn.begin() + 52, syn.end(), released.begin() + 52));          // options
    // No request started: options are not data.
    EXPECT_EQ(balancer->replica_report(0, 0).outstanding, 0u);
}

TEST_F(ServiceBalancerTest, AtMostSixteenSynsAreHeld) {
    add_replica(0);
    for (std::uint32_t n = 0; n < ServiceBalancer::kMaxHeld + 4; ++n) EXPECT_TRUE(from_client(client(n), tcp_flags::kSyn));
    EXPECT_EQ(balancer->service_report(0).held, ServiceBalancer::kMaxHeld);
    EXPECT_EQ(balancer->service_report(0).held_total, ServiceBalancer::kMaxHeld);
    EXPECT_EQ(sink.count(), 0u);
    EXPECT_TRUE(probe_answer(0));
    EXPECT_EQ(sink.count(), 1 + ServiceBalancer::kMaxHeld);
    EXPECT_EQ(balancer->service_report(0).held, 0u);
    EXPECT_EQ(balancer->replica_report(0, 0).connections, ServiceBalancer::kMaxHeld);
}

TEST_F(ServiceBalancerTest, ProbeAnswerMustComeFromTheProbedReplicaToItsProbePort) {
    add_replica(0);
    add_replica(1);
    // Replica 0 answering on replica 1's probe port: not a readiness answer.
    EXPECT_TRUE(probe_answer(0, tcp_flags::kSyn | tcp_flags::kAck, 1, kProbePortBase + 1));
    EXPECT_EQ(balancer->replica_report(0, 0).state, ReplicaState::booting);
    EXPECT_EQ(balancer->replica_report(0, 1).state, ReplicaState::booting);
    // A probe port beyond the replicas.
    EXPECT_TRUE(probe_answer(0, tcp_flags::kSyn | tcp_flags::kAck, 1, kProbePortBase + 40));
    EXPECT_EQ(balancer->replica_report(0, 0).state, ReplicaState::booting);
    // The replica's SYN-ACK from a port other than the service's.
    const packet::TcpEndpoints wrong_port{replica_mac(0), ServiceBalancer::service_mac(0), replica_ip(0), kServiceIp,
                                          8080, kProbePortBase};
    EXPECT_TRUE(balancer->inspect(kLan, tcp_frame(wrong_port, 1, 1, tcp_flags::kSyn | tcp_flags::kAck), now, sink));
    EXPECT_EQ(balancer->replica_report(0, 0).state, ReplicaState::booting);
    // A bare ACK, or a bare SYN, to the probe port.
    EXPECT_TRUE(probe_answer(0, tcp_flags::kAck));
    EXPECT_TRUE(probe_answer(0, tcp_flags::kSyn));
    EXPECT_EQ(balancer->replica_report(0, 0).state, ReplicaState::booting);
    EXPECT_EQ(sink.count(), 0u);
    // The replica's address from another station's MAC (a router answering for it).
    const packet::TcpEndpoints impostor{client(6).mac, ServiceBalancer::service_mac(0), replica_ip(0), kServiceIp,
                                        kServicePort, kProbePortBase};
    EXPECT_TRUE(balancer->inspect(kLan, tcp_frame(impostor, 1, 1, tcp_flags::kSyn | tcp_flags::kAck), now, sink));
    EXPECT_EQ(balancer->replica_report(0, 0).state, ReplicaState::booting);
    EXPECT_EQ(sink.count(), 0u);
    // A stranger (not a replica) answering on a probe port.
    const packet::TcpEndpoints stranger{client(5).mac, ServiceBalancer::service_mac(0), client(5).ip, kServiceIp,
                                        kServicePort, kProbePortBase};
    EXPECT_TRUE(balancer->inspect(kLan, tcp_frame(stranger, 1, 1, tcp_flags::kSyn | tcp_flags::kAck), now, sink));
    EXPECT_EQ(balancer->replica_report(0, 0).state, ReplicaState::booting);
    EXPECT_EQ(sink.count(), 0u);
}

TEST_F(ServiceBalancerTest, TickProbesOnlyBootingReplicasEvery200Ms) {
    add_replica(0);  // booting
    add_ready_replica(1);
    add_replica(2);
    balancer->drain_replica(0, 2);  // draining: no probes
    const auto probes_sent = [&] {
        std::vector<std::size_t> replicas;
        for (const auto& [network, f] : sink.frames) {
            EXPECT_EQ(network, kLan);
            const auto segment = packet::parse_tcp(f);
            EXPECT_TRUE(segment.has_value());
            if (!segment) continue;
            EXPECT_TRUE(segment->is_connection_request());
            EXPECT_EQ(segment->source, kServiceIp);
            EXPECT_EQ(segment->destination_port, kServicePort);
            const std::size_t replica = segment->destination.value - kReplicaBase.value;
            EXPECT_EQ(segment->source_port, kProbePortBase + replica);
            EXPECT_EQ(mac_at(f, 0), replica_mac(replica));
            EXPECT_EQ(mac_at(f, 6), ServiceBalancer::service_mac(0));
            EXPECT_TRUE(checksums_ok(f));
            replicas.push_back(replica);
        }
        sink.clear();
        return replicas;
    };

    balancer->tick(now, sink);
    EXPECT_EQ(probes_sent(), std::vector<std::size_t>{0});
    now += 100 * kMs;
    balancer->tick(now, sink);
    EXPECT_TRUE(probes_sent().empty());
    now += 99 * kMs;
    balancer->tick(now, sink);
    EXPECT_TRUE(probes_sent().empty());
    now += 1 * kMs;
    balancer->tick(now, sink);
    EXPECT_EQ(probes_sent(), std::vector<std::size_t>{0});
    add_replica(4);  // a new booting replica is probed at the next tick
    now += 50 * kMs;
    balancer->tick(now, sink);
    EXPECT_EQ(probes_sent(), std::vector<std::size_t>{4});
    now += 150 * kMs;
    balancer->tick(now, sink);
    EXPECT_EQ(probes_sent(), std::vector<std::size_t>{0});
    // Each probe round uses a new sequence number.
    now += 200 * kMs;
    balancer->tick(now, sink);
    ASSERT_EQ(sink.count(), 2u);
    const std::uint32_t first = packet::parse_tcp(sink.frame(0))->sequence;
    sink.clear();
    now += 200 * kMs;
    balancer->tick(now, sink);
    ASSERT_EQ(sink.count(), 2u);
    EXPECT_NE(packet::parse_tcp(sink.frame(0))->sequence, first);
    sink.clear();

    EXPECT_TRUE(probe_answer(0));
    EXPECT_TRUE(probe_answer(4));
    sink.clear();
    for (int i = 0; i < 5; ++i) {
        now += 200 * kMs;
        balancer->tick(now, sink);
    }
    EXPECT_TRUE(probes_sent().empty());
}

// --- Spreading connections -------------------------------------------------------------------------

TEST_F(ServiceBalancerTest, NewConnectionsGoToFewestOutstandingThenFewestConnections) {
    add_ready_replica(0);
    add_ready_replica(1);
    add_ready_replica(2);
    const Client c1 = client(1), c2 = client(2), c3 = client(3), c4 = client(4), c5 = client(5), c6 = client(6);
    std::set<std::size_t> first_three;
    const auto r1 = connect(c1);
    const auto r2 = connect(c2);
    const auto r3 = connect(c3);
    ASSERT_TRUE(r1 && r2 && r3);
    first_three = {*r1, *r2, *r3};
    EXPECT_EQ(first_three, (std::set<std::size_t>{0, 1, 2}));  // one connection each

    // A request outstanding on c1's replica: new connections avoid it...
    EXPECT_TRUE(from_client(c1, tcp_flags::kAck | kPsh, text("GET / HTTP/1.1\r\n\r\n")));
    EXPECT_EQ(balancer->replica_report(0, *r1).outstanding, 1u);
    const auto r4 = connect(c4);
    ASSERT_TRUE(r4);
    EXPECT_NE(*r4, *r1);
    // ...and go to the idle one with fewer connections.
    const auto r5 = connect(c5);
    ASSERT_TRUE(r5);
    EXPECT_NE(*r5, *r1);
    EXPECT_NE(*r5, *r4);
    // Now the two idle replicas have 2 connections, the busy one 1: outstanding wins.
    const auto r6 = connect(c6);
    ASSERT_TRUE(r6);
    EXPECT_NE(*r6, *r1);
    EXPECT_EQ(balancer->replica_report(0, *r1).connections, 1u);

    // Once answered, the replica with the fewest connections is picked again.
    EXPECT_TRUE(from_replica(*r1, c1, tcp_flags::kAck | kPsh, text("HTTP/1.1 200 OK\r\n\r\n")));
    EXPECT_EQ(balancer->replica_report(0, *r1).outstanding, 0u);
    EXPECT_EQ(connect(client(7)), r1);
    EXPECT_EQ(balancer->service_report(0).connections_total, 7u);
}

TEST_F(ServiceBalancerTest, TiesGoRoundRobin) {
    add_ready_replica(1);
    add_ready_replica(5);
    std::vector<std::size_t> picks;
    for (std::uint32_t n = 0; n < 6; ++n) {
        const Client c = client(n);
        const auto replica = connect(c);
        ASSERT_TRUE(replica);
        picks.push_back(*replica);
        // Closed at once (a client RST): every replica is back to no connections.
        EXPECT_TRUE(from_client(c, tcp_flags::kRst));
        EXPECT_EQ(balancer->replica_report(0, *replica).connections, 0u);
    }
    for (std::size_t i = 1; i < picks.size(); ++i) EXPECT_NE(picks[i], picks[i - 1]) << i;
}

TEST_F(ServiceBalancerTest, ConnectionStaysOnItsReplicaAndRepliesComeFromTheServiceAddress) {
    add_ready_replica(0);
    add_ready_replica(1);
    const Client c = client(9, 51234);
    const auto replica = connect(c);
    ASSERT_TRUE(replica);
    const std::size_t other = 1 - *replica;
    // Other connections come and go; this one keeps to its replica.
    ASSERT_EQ(connect(client(20)), other);  // fewer connections there
    ASSERT_TRUE(from_client(client(20), tcp_flags::kAck | kPsh, text("GET /")));  // and now busy
    sink.clear();

    // The replica's SYN-ACK comes back from the service address.
    EXPECT_TRUE(from_replica(*replica, c, tcp_flags::kSyn | tcp_flags::kAck));
    ASSERT_EQ(sink.count(), 1u);
    expect_to_client(sink.last(), c);
    EXPECT_EQ(packet::parse_tcp(sink.last())->flags, tcp_flags::kSyn | tcp_flags::kAck);
    sink.clear();

    for (int i = 0; i < 5; ++i) {
        const auto payload = text(i % 2 == 0 ? "odd-length request" : "even-length request!");
        EXPECT_TRUE(from_client(c, tcp_flags::kAck | kPsh, payload, 1001 + static_cast<std::uint32_t>(i) * 100));
        ASSERT_EQ(sink.count(), 1u);
        expect_to_replica(sink.last(), *replica, c);
        // The payload and sequence number are untouched.
        const auto segment = packet::parse_tcp(sink.last());
        EXPECT_EQ(segment->payload_size, payload.size());
        EXPECT_EQ(segment->sequence, 1001 + static_cast<std::uint32_t>(i) * 100);
        EXPECT_TRUE(std::equal(payload.begin(), payload.end(), sink.last().begin() + static_cast<long>(segment->tcp_offset + 20)));
        sink.clear();

        EXPECT_TRUE(from_replica(*replica, c, tcp_flags::kAck | kPsh, text("HTTP/1.1 200 OK\r\n\r\nx")));
        ASSERT_EQ(sink.count(), 1u);
        expect_to_client(sink.last(), c);
        sink.clear();
    }
    // The replica's segment from another of its ports is its own traffic, not the connection.
    const packet::TcpEndpoints other_source_port{replica_mac(*replica), c.mac, replica_ip(*replica), c.ip, 8080, c.port};
    EXPECT_FALSE(balancer->inspect(kLan, tcp_frame(other_source_port, 1, 1, tcp_flags::kAck | kPsh, text("x")), now, sink));
    EXPECT_EQ(sink.count(), 0u);
    // The other replica sending to the client's address and port is not this connection.
    EXPECT_FALSE(from_replica(other, c, tcp_flags::kAck | kPsh, text("not mine")));
    EXPECT_EQ(sink.count(), 0u);
    // The same client address from another port is another connection.
    EXPECT_TRUE(from_client(client(9, 51235), tcp_flags::kSyn));
    EXPECT_EQ(sink.count(), 1u);
}

TEST_F(ServiceBalancerTest, SegmentForUnknownConnectionIsDropped) {
    add_ready_replica(0);
    const Client c = client(1);
    EXPECT_TRUE(from_client(c, tcp_flags::kAck));
    EXPECT_TRUE(from_client(c, tcp_flags::kAck | kPsh, text("data")));
    EXPECT_TRUE(from_client(c, tcp_flags::kFin | tcp_flags::kAck));
    EXPECT_TRUE(from_client(c, tcp_flags::kSyn | tcp_flags::kAck));
    EXPECT_TRUE(from_client(c, tcp_flags::kRst));
    EXPECT_EQ(sink.count(), 0u);
    EXPECT_EQ(balancer->replica_report(0, 0).connections, 0u);
    EXPECT_EQ(balancer->replica_report(0, 0).outstanding, 0u);
    // Another port of the service address: nothing listens there.
    const packet::TcpEndpoints other_port{c.mac, ServiceBalancer::service_mac(0), c.ip, kServiceIp, c.port, 22};
    EXPECT_TRUE(balancer->inspect(kLan, tcp_frame(other_port, 1, 0, tcp_flags::kSyn), now, sink));
    EXPECT_EQ(sink.count(), 0u);
}

TEST_F(ServiceBalancerTest, TrafficNotInvolvingServicesPasses) {
    add_ready_replica(0);
    const Client a = client(1);
    const Client b = client(2);
    // Between two other hosts.
    const packet::TcpEndpoints between{a.mac, b.mac, a.ip, b.ip, a.port, 80};
    EXPECT_FALSE(balancer->inspect(kLan, tcp_frame(between, 1, 0, tcp_flags::kSyn), now, sink));
    // The service address on another network.
    EXPECT_FALSE(balancer->inspect(kOtherLan, tcp_frame(to_service(a), 1, 0, tcp_flags::kSyn), now, sink));
    // A replica's own connections: to the outside, from another port, to a client it has no flow with.
    const packet::TcpEndpoints outbound{replica_mac(0), a.mac, replica_ip(0), ip(10, 0, 2, 2), 45000, 443};
    EXPECT_FALSE(balancer->inspect(kLan, tcp_frame(outbound, 1, 0, tcp_flags::kSyn), now, sink));
    const packet::TcpEndpoints ssh{replica_mac(0), a.mac, replica_ip(0), a.ip, 22, a.port};
    EXPECT_FALSE(balancer->inspect(kLan, tcp_frame(ssh, 1, 0, tcp_flags::kAck), now, sink));
    EXPECT_FALSE(from_replica(0, b, tcp_flags::kAck));
    // To a replica directly (not through the service address).
    const packet::TcpEndpoints direct{a.mac, replica_mac(0), a.ip, replica_ip(0), a.port, kServicePort};
    EXPECT_FALSE(balancer->inspect(kLan, tcp_frame(direct, 1, 0, tcp_flags::kSyn), now, sink));
    // Not TCP, not IPv4, not whole.
    Frame udp = tcp_frame(to_service(a), 1, 0, tcp_flags::kSyn);
    udp[23] = std::byte{17};
    EXPECT_FALSE(balancer->inspect(kLan, udp, now, sink));
    Frame ipv6 = tcp_frame(to_service(a), 1, 0, tcp_flags::kSyn);
    put16(ipv6, 12, 0x86dd);
    EXPECT_FALSE(balancer->inspect(kLan, ipv6, now, sink));
    Frame fragment = tcp_frame(to_service(a), 1, 0, tcp_flags::kSyn);
    put16(fragment, 20, 0x2000);
    EXPECT_FALSE(balancer->inspect(kLan, fragment, now, sink));
    const Frame tiny(14, std::byte{0});
    EXPECT_FALSE(balancer->inspect(kLan, tiny, now, sink));
    EXPECT_FALSE(balancer->inspect(kLan, std::span<const std::byte>{}, now, sink));
    EXPECT_EQ(sink.count(), 0u);
    EXPECT_EQ(balancer->replica_report(0, 0).connections, 0u);
}

// --- Request timing ---------------------------------------------------------------------------------

TEST_F(ServiceBalancerTest, RequestIsTimedFromClientDataToReplicaData) {
    add_ready_replica(2);
    const Client c = client(1);
    ASSERT_EQ(connect(c), 2u);
    now += 1 * kMs;
    EXPECT_TRUE(from_replica(2, c, tcp_flags::kSyn | tcp_flags::kAck));
    // A bare ACK (padded to the Ethernet minimum) is not a request.
    EXPECT_TRUE(balancer->inspect(kLan, tcp_frame(to_service(c), 1001, 5001, tcp_flags::kAck, {}, 60), now, sink));
    EXPECT_EQ(balancer->replica_report(0, 2).outstanding, 0u);

    const std::uint64_t t0 = now + 5 * kMs;
    now = t0;
    EXPECT_TRUE(from_client(c, tcp_flags::kAck | kPsh, text("GET / HTTP/1.1\r\n\r\n")));
    EXPECT_EQ(balancer->replica_report(0, 2).outstanding, 1u);
    now = t0 + 10 * kMs;
    EXPECT_TRUE(from_replica(2, c, tcp_flags::kAck));  // an ACK without data: still waiting
    EXPECT_EQ(balancer->replica_report(0, 2).outstanding, 1u);
    now = t0 + 30 * kMs;
    EXPECT_TRUE(from_replica(2, c, tcp_flags::kAck | kPsh, text("HTTP/1.1 200 OK\r\n")));
    EXPECT_EQ(balancer->replica_report(0, 2).outstanding, 0u);
    now = t0 + 31 * kMs;
    EXPECT_TRUE(from_replica(2, c, tcp_flags::kAck | kPsh, text("body")));  // more of the same response

    const WindowSummary service = service_window();
    const WindowSummary replica = replica_window(2);
    ASSERT_EQ(service.requests, 1u);
    ASSERT_EQ(replica.requests, 1u);
    EXPECT_NEAR(static_cast<double>(service.latencies.percentile_ns(50)), 30e6, 30e6 * 0.06);
    EXPECT_NEAR(static_cast<double>(replica.latencies.percentile_ns(50)), 30e6, 30e6 * 0.06);
    EXPECT_EQ(balancer->service_report(0).latency.totals().requests, 1u);
    EXPECT_EQ(balancer->replica_report(0, 2).latency.totals().requests, 1u);
    EXPECT_EQ(balancer->service_report(0).latency.summary(now, kWholeWindow).arrivals, 1u);
    EXPECT_EQ(replica.busy_ns, 30 * kMs);
    EXPECT_EQ(service.resets + service.timeouts, 0u);

    // Keep-alive: the next request on the connection is timed by itself.
    const std::uint64_t t1 = t0 + 1 * kSecond;
    now = t1;
    EXPECT_TRUE(from_client(c, tcp_flags::kAck | kPsh, text("GET /2 HTTP/1.1\r\n\r\n")));
    now = t1 + 200 * kMs;
    EXPECT_TRUE(from_replica(2, c, tcp_flags::kAck | kPsh, text("HTTP/1.1 200 OK\r\n")));
    const WindowSummary two = service_window();
    ASSERT_EQ(two.requests, 2u);
    EXPECT_NEAR(static_cast<double>(two.latencies.percentile_ns(50)), 30e6, 30e6 * 0.06);
    EXPECT_NEAR(static_cast<double>(two.latencies.percentile_ns(100)), 200e6, 200e6 * 0.06);
    EXPECT_EQ(balancer->service_report(0).latency.summary(now, kWholeWindow).arrivals, 2u);
    EXPECT_EQ(replica_window(2).busy_ns, 230 * kMs);
}

TEST_F(ServiceBalancerTest, OverlappingRequestsOnOneReplicaAreTimedEachAndBusyOnce) {
    add_ready_replica(0);
    const Client a = client(1);
    const Client b = client(2);
    ASSERT_EQ(connect(a), 0u);
    ASSERT_EQ(connect(b), 0u);
    const std::uint64_t t0 = now + 100 * kMs;
    now = t0;
    EXPECT_TRUE(from_client(a, tcp_flags::kAck | kPsh, text("GET /a")));
    now = t0 + 10 * kMs;
    EXPECT_TRUE(from_client(b, tcp_flags::kAck | kPsh, text("GET /b")));
    EXPECT_EQ(balancer->replica_report(0, 0).outstanding, 2u);
    now = t0 + 20 * kMs;
    EXPECT_TRUE(from_replica(0, a, tcp_flags::kAck | kPsh, text("A")));
    EXPECT_EQ(balancer->replica_report(0, 0).outstanding, 1u);
    now = t0 + 50 * kMs;
    EXPECT_TRUE(from_replica(0, b, tcp_flags::kAck | kPsh, text("B")));
    EXPECT_EQ(balancer->replica_report(0, 0).outstanding, 0u);
    const WindowSummary replica = replica_window(0);
    ASSERT_EQ(replica.requests, 2u);
    EXPECT_NEAR(static_cast<double>(replica.latencies.percentile_ns(50)), 20e6, 20e6 * 0.06);
    EXPECT_NEAR(static_cast<double>(replica.latencies.percentile_ns(100)), 40e6, 40e6 * 0.06);
    EXPECT_EQ(replica.busy_ns, 50 * kMs);  // from the first request to the last answer
}

TEST_F(ServiceBalancerTest, RetransmittedRequestDataDoesNotRestartTheClock) {
    add_ready_replica(0);
    const Client c = client(1);
    ASSERT_EQ(connect(c), 0u);
    const std::uint64_t t0 = now + 10 * kMs;
    now = t0;
    const auto request = text("POST /x HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
    EXPECT_TRUE(from_client(c, tcp_flags::kAck | kPsh, request, 1001));
    now = t0 + 40 * kMs;
    EXPECT_TRUE(from_client(c, tcp_flags::kAck | kPsh, request, 1001));  // retransmitted
    EXPECT_EQ(sink.count(), 2u);                                         // both forwarded
    EXPECT_EQ(balancer->replica_report(0, 0).outstanding, 1u);
    now = t0 + 50 * kMs;
    EXPECT_TRUE(from_client(c, tcp_flags::kAck | kPsh, text("more of the body"), 1001 + 44));
    now = t0 + 60 * kMs;
    EXPECT_TRUE(from_replica(0, c, tcp_flags::kAck | kPsh, text("HTTP/1.1 201 Created\r\n")));
    const WindowSummary service = service_window();
    ASSERT_EQ(service.requests, 1u);
    EXPECT_NEAR(static_cast<double>(service.latencies.percentile_ns(50)), 60e6, 60e6 * 0.06);
    EXPECT_EQ(balancer->service_report(0).latency.summary(now, kWholeWindow).arrivals, 1u);
}

TEST_F(ServiceBalancerTest, ResetWhileARequestWaitsCountsAReset) {
    add_ready_replica(0);
    const Client a = client(1);
    const Client b = client(2);
    ASSERT_EQ(connect(a), 0u);
    ASSERT_EQ(connect(b), 0u);
    EXPECT_EQ(balancer->replica_report(0, 0).connections, 2u);
    EXPECT_TRUE(from_client(a, tcp_flags::kAck | kPsh, text("GET /")));
    now += 5 * kMs;
    EXPECT_TRUE(from_replica(0, a, tcp_flags::kRst | tcp_flags::kAck));
    ASSERT_EQ(sink.count(), 2u);  // the request and the reset, both sent on
    expect_to_client(sink.last(), a);
    EXPECT_EQ(service_window().resets, 1u);
    EXPECT_EQ(replica_window(0).resets, 1u);
    EXPECT_EQ(service_window().requests, 0u);
    EXPECT_EQ(balancer->service_report(0).latency.totals().resets, 1u);
    EXPECT_EQ(balancer->replica_report(0, 0).outstanding, 0u);
    EXPECT_EQ(balancer->replica_report(0, 0).connections, 1u);

    // A client's RST while waiting counts too.
    EXPECT_TRUE(from_client(b, tcp_flags::kAck | kPsh, text("GET /")));
    EXPECT_TRUE(from_client(b, tcp_flags::kRst));
    EXPECT_EQ(service_window().resets, 2u);
    EXPECT_EQ(balancer->replica_report(0, 0).connections, 0u);

    // A RST after the response (no request waiting) is an ordinary close.
    const Client d = client(4);
    ASSERT_EQ(connect(d), 0u);
    EXPECT_TRUE(from_client(d, tcp_flags::kAck | kPsh, text("GET /")));
    EXPECT_TRUE(from_replica(0, d, tcp_flags::kAck | kPsh, text("200")));
    EXPECT_TRUE(from_client(d, tcp_flags::kRst | tcp_flags::kAck));
    EXPECT_EQ(service_window().resets, 2u);
    EXPECT_EQ(service_window().requests, 1u);
}

TEST_F(ServiceBalancerTest, RefusedConnectionCountsAReset) {
    add_ready_replica(0);
    const Client c = client(1);
    ASSERT_EQ(connect(c), 0u);
    EXPECT_TRUE(from_replica(0, c, tcp_flags::kRst | tcp_flags::kAck));  // nothing listens any more
    EXPECT_EQ(service_window().resets, 1u);
    EXPECT_EQ(balancer->replica_report(0, 0).connections, 0u);
}

TEST_F(ServiceBalancerTest, UnansweredRequestTimesOutOnceAfterThirtySeconds) {
    add_ready_replica(0);
    const Client c = client(1);
    ASSERT_EQ(connect(c), 0u);
    const std::uint64_t t0 = now;
    EXPECT_TRUE(from_client(c, tcp_flags::kAck | kPsh, text("GET /slow")));
    now = t0 + 29 * kSecond;
    balancer->tick(now, sink);
    EXPECT_EQ(balancer->service_report(0).latency.totals().timeouts, 0u);
    now = t0 + ServiceBalancer::kRequestTimeoutNs + 1;
    balancer->tick(now, sink);
    EXPECT_EQ(balancer->service_report(0).latency.totals().timeouts, 1u);
    EXPECT_EQ(balancer->replica_report(0, 0).latency.totals().timeouts, 1u);
    EXPECT_EQ(service_window().timeouts, 1u);
    for (int i = 0; i < 10; ++i) {
        now += 500 * kMs;
        balancer->tick(now, sink);
    }
    EXPECT_EQ(balancer->service_report(0).latency.totals().timeouts, 1u);
    EXPECT_EQ(balancer->replica_report(0, 0).latency.totals().timeouts, 1u);
    // Still outstanding until it ends; a late answer is not timed.
    EXPECT_EQ(balancer->replica_report(0, 0).outstanding, 1u);
    EXPECT_TRUE(from_replica(0, c, tcp_flags::kAck | kPsh, text("HTTP/1.1 200 OK\r\n")));
    EXPECT_EQ(balancer->replica_report(0, 0).outstanding, 0u);
    EXPECT_EQ(balancer->service_report(0).latency.totals().requests, 0u);
    // The next request on the connection is timed as usual.
    const std::uint64_t t1 = now + kSecond;
    now = t1;
    EXPECT_TRUE(from_client(c, tcp_flags::kAck | kPsh, text("GET /fast")));
    now = t1 + 3 * kMs;
    EXPECT_TRUE(from_replica(0, c, tcp_flags::kAck | kPsh, text("HTTP/1.1 200 OK\r\n")));
    EXPECT_EQ(balancer->service_report(0).latency.totals().requests, 1u);
    EXPECT_EQ(balancer->service_report(0).latency.totals().timeouts, 1u);
    EXPECT_EQ(sink.count(), 4u);  // the frames of the connection only: tick sent nothing
}

// --- Draining, removing, forgetting ---------------------------------------------------------------

TEST_F(ServiceBalancerTest, DrainingReplicaKeepsItsConnectionsButGetsNoNewOnes) {
    add_ready_replica(0);
    add_ready_replica(1);
    const Client old_client = client(1);
    const auto replica = connect(old_client);
    ASSERT_TRUE(replica);
    const std::size_t other = 1 - *replica;
    balancer->drain_replica(0, *replica);
    EXPECT_EQ(balancer->replica_report(0, *replica).state, ReplicaState::draining);
    for (std::uint32_t n = 10; n < 20; ++n) EXPECT_EQ(connect(client(n)), other) << n;
    // The old connection goes on, both ways, and is still timed.
    EXPECT_EQ(route_of(old_client), replica);
    EXPECT_TRUE(from_client(old_client, tcp_flags::kAck | kPsh, text("GET /")));
    now += 7 * kMs;
    EXPECT_TRUE(from_replica(*replica, old_client, tcp_flags::kAck | kPsh, text("200")));
    ASSERT_EQ(sink.count(), 2u);
    expect_to_replica(sink.frame(0), *replica, old_client);
    expect_to_client(sink.frame(1), old_client);
    EXPECT_EQ(replica_window(*replica).requests, 1u);
    EXPECT_EQ(balancer->replica_report(0, *replica).connections, 1u);

    // With every replica draining, new connections are held.
    balancer->drain_replica(0, other);
    sink.clear();
    EXPECT_TRUE(from_client(client(30), tcp_flags::kSyn));
    EXPECT_EQ(sink.count(), 0u);
    EXPECT_EQ(balancer->service_report(0).held, 1u);
}

TEST_F(ServiceBalancerTest, RemovedReplicaIsForgottenWithItsConnections) {
    add_ready_replica(0);
    add_ready_replica(1);
    std::map<std::uint32_t, std::size_t> placed;
    for (std::uint32_t n = 0; n < 40; ++n) {
        const auto replica = connect(client(n));
        ASSERT_TRUE(replica);
        placed[n] = *replica;
    }
    balancer->remove_replica(0, 0);
    EXPECT_EQ(balancer->replica_report(0, 0).state, ReplicaState::unused);
    EXPECT_EQ(balancer->replica_report(0, 0).connections, 0u);
    for (const auto& [n, replica] : placed) {
        if (replica == 0) {
            EXPECT_EQ(route_of(client(n)), std::nullopt) << n;  // unknown now: dropped
            EXPECT_FALSE(from_replica(0, client(n), tcp_flags::kAck)) << n;  // no longer a replica
        } else {
            EXPECT_EQ(route_of(client(n)), 1u) << n;
        }
    }
    sink.clear();
    // A new replica in the same slot starts afresh.
    add_ready_replica(0);
    EXPECT_EQ(balancer->replica_report(0, 0).connections, 0u);
    EXPECT_EQ(connect(client(100)), 0u);
}

TEST_F(ServiceBalancerTest, ClosedConnectionIsForgottenAfterTheLinger) {
    add_ready_replica(0);
    const Client c = client(1);
    ASSERT_EQ(connect(c), 0u);
    EXPECT_TRUE(from_client(c, tcp_flags::kFin | tcp_flags::kAck));
    EXPECT_EQ(balancer->replica_report(0, 0).connections, 1u);  // half closed
    EXPECT_TRUE(from_replica(0, c, tcp_flags::kFin | tcp_flags::kAck));
    EXPECT_EQ(balancer->replica_report(0, 0).connections, 0u);
    const std::uint64_t closed_at = now;
    // The last ACK still reaches the replica.
    EXPECT_EQ(route_of(c), 0u);
    now = closed_at + ServiceBalancer::kClosedLingerNs - kSecond;
    balancer->tick(now, sink);
    EXPECT_EQ(route_of(c), 0u);  // resets the linger
    const std::uint64_t last = now;
    now = last + ServiceBalancer::kClosedLingerNs + 1;
    balancer->tick(now, sink);
    EXPECT_EQ(route_of(c), std::nullopt);
    EXPECT_FALSE(from_replica(0, c, tcp_flags::kAck));  // the replica's late ACK passes as its own traffic
    EXPECT_EQ(balancer->replica_report(0, 0).connections, 0u);
}

TEST_F(ServiceBalancerTest, ClientReusingItsPortAfterCloseOpensANewConnection) {
    add_ready_replica(0);
    add_ready_replica(1);
    const Client c = client(1);
    const auto first = connect(c);
    ASSERT_TRUE(first);
    EXPECT_TRUE(from_client(c, tcp_flags::kRst));
    EXPECT_EQ(balancer->replica_report(0, *first).connections, 0u);
    const auto second = connect(c);  // same address and port, before the linger is over
    ASSERT_TRUE(second);
    EXPECT_EQ(balancer->replica_report(0, *second).connections, 1u);
    EXPECT_EQ(balancer->service_report(0).connections_total, 2u);
    EXPECT_EQ(route_of(c), second);
}

TEST_F(ServiceBalancerTest, ReusedPortDoesNotLeaveAnUnansweredRequestOutstanding) {
    add_ready_replica(0);
    const Client c = client(1);
    ASSERT_EQ(connect(c), 0u);
    // The client sends a request and half-closes; the replica closes without answering.
    EXPECT_TRUE(from_client(c, tcp_flags::kAck | kPsh | tcp_flags::kFin, text("GET / HTTP/1.0\r\n\r\n")));
    EXPECT_TRUE(from_replica(0, c, tcp_flags::kAck | tcp_flags::kFin));
    EXPECT_EQ(balancer->replica_report(0, 0).connections, 0u);
    EXPECT_EQ(balancer->replica_report(0, 0).outstanding, 1u);  // until the connection is forgotten
    // The client reuses its port at once: the old connection's request is over.
    now += 100 * kMs;
    ASSERT_EQ(connect(c), 0u);
    EXPECT_EQ(balancer->replica_report(0, 0).outstanding, 0u);
    EXPECT_EQ(balancer->replica_report(0, 0).connections, 1u);
    // And the new connection's requests are counted from zero.
    EXPECT_TRUE(from_client(c, tcp_flags::kAck | kPsh, text("GET /")));
    EXPECT_EQ(balancer->replica_report(0, 0).outstanding, 1u);
    now += 4 * kMs;
    EXPECT_TRUE(from_replica(0, c, tcp_flags::kAck | kPsh, text("200")));
    EXPECT_EQ(balancer->replica_report(0, 0).outstanding, 0u);
    // Without port reuse, the forgotten connection's request ends too.
    const Client d = client(2);
    ASSERT_EQ(connect(d), 0u);
    EXPECT_TRUE(from_client(d, tcp_flags::kAck | kPsh | tcp_flags::kFin, text("GET /")));
    EXPECT_TRUE(from_replica(0, d, tcp_flags::kAck | tcp_flags::kFin));
    EXPECT_EQ(balancer->replica_report(0, 0).outstanding, 1u);
    now += ServiceBalancer::kClosedLingerNs + 1;
    balancer->tick(now, sink);
    EXPECT_EQ(balancer->replica_report(0, 0).outstanding, 0u);
}

TEST_F(ServiceBalancerTest, OversizedFramesAreLeftToTheSwitch) {
    add_ready_replica(0);
    const Client c = client(1);
    // A SYN followed by more bytes than any frame the switch forwards.
    Frame big = tcp_frame(to_service(c), 1, 0, tcp_flags::kSyn);
    big.resize(kMaxFrameSize + 100, std::byte{0x77});
    EXPECT_FALSE(balancer->inspect(kLan, big, now, sink));
    EXPECT_EQ(sink.count(), 0u);
    EXPECT_EQ(balancer->replica_report(0, 0).connections, 0u);
    // The largest frame the switch forwards is handled.
    Frame largest = tcp_frame(to_service(c), 1, 0, tcp_flags::kSyn);
    largest.resize(kMaxFrameSize, std::byte{0});
    EXPECT_TRUE(balancer->inspect(kLan, largest, now, sink));
    ASSERT_EQ(sink.count(), 1u);
    EXPECT_EQ(sink.last().size(), kMaxFrameSize);
    expect_to_replica(sink.last(), 0, c);
}

TEST_F(ServiceBalancerTest, SilentOpenConnectionIsForgottenAfterTheIdleTime) {
    add_ready_replica(0);
    const Client c = client(1);
    ASSERT_EQ(connect(c), 0u);
    now += ServiceBalancer::kIdleFlowNs - kSecond;
    balancer->tick(now, sink);
    EXPECT_EQ(balancer->replica_report(0, 0).connections, 1u);
    now += 2 * kSecond;
    balancer->tick(now, sink);
    EXPECT_EQ(balancer->replica_report(0, 0).connections, 0u);
    EXPECT_EQ(route_of(c), std::nullopt);
}

// --- The flow table -----------------------------------------------------------------------------------

TEST_F(ServiceBalancerTest, FlowTableStaysConsistentThroughRandomInsertionsAndRemovals) {
    for (std::size_t r = 0; r < 4; ++r) add_ready_replica(r);
    std::mt19937 random{4242};
    std::map<std::pair<std::uint32_t, std::uint16_t>, std::size_t> live;  // (client n, port) -> replica
    std::set<std::pair<std::uint32_t, std::uint16_t>> gone;
    const auto new_key = [&]() {
        for (;;) {
            // Half from a few busy hosts (long probe runs), half spread out.
            const std::pair<std::uint32_t, std::uint16_t> key =
                random() % 2 == 0
                    ? std::pair{static_cast<std::uint32_t>(random() % 4), static_cast<std::uint16_t>(40000 + random() % 5000)}
                    : std::pair{static_cast<std::uint32_t>(random() % 60000), static_cast<std::uint16_t>(1024 + random() % 60000)};
            if (!live.contains(key) && !gone.contains(key)) return key;
        }
    };
    const auto open = [&](std::size_t count) {
        for (std::size_t i = 0; i < count; ++i) {
            const auto key = new_key();
            const auto replica = connect(client(key.first, key.second));
            ASSERT_TRUE(replica) << live.size();
            live[key] = *replica;
        }
    };
    const auto verify = [&]() {
        for (const auto& [key, replica] : live) {
            ASSERT_EQ(route_of(client(key.first, key.second)), replica) << key.first << ":" << key.second;
            // And back: the replica's segment is recognised and rewritten.
            sink.clear();
            ASSERT_TRUE(from_replica(replica, client(key.first, key.second), tcp_flags::kAck));
            ASSERT_EQ(sink.count(), 1u);
            expect_to_client(sink.last(), client(key.first, key.second));
            sink.clear();
        }
        for (const auto& key : gone) ASSERT_EQ(route_of(client(key.first, key.second)), std::nullopt);
        std::uint32_t connections = 0;
        for (std::size_t r = 0; r < 4; ++r) connections += balancer->replica_report(0, r).connections;
        ASSERT_EQ(connections, live.size());
    };

    open(1500);
    verify();
    for (int round = 0; round < 12; ++round) {
        // Close a random part of the connections, in random order.
        std::vector<std::pair<std::uint32_t, std::uint16_t>> keys;
        for (const auto& entry : live) keys.push_back(entry.first);
        std::shuffle(keys.begin(), keys.end(), random);
        const std::size_t closing = keys.size() * (1 + random() % 6) / 10;
        for (std::size_t i = 0; i < closing; ++i) {
            const Client c = client(keys[i].first, keys[i].second);
            if (i % 2 == 0) {
                ASSERT_TRUE(from_client(c, tcp_flags::kRst));
            } else {
                ASSERT_TRUE(from_client(c, tcp_flags::kFin | tcp_flags::kAck));
                ASSERT_TRUE(from_replica(live[keys[i]], c, tcp_flags::kFin | tcp_flags::kAck));
            }
            live.erase(keys[i]);
            gone.insert(keys[i]);
        }
        sink.clear();
        // Past the linger: the closed ones are erased (backward shifts).
        now += ServiceBalancer::kClosedLingerNs + kSecond;
        balancer->tick(now, sink);
        verify();  // (also keeps the open ones from going idle)
        open(std::min<std::size_t>(1500 - live.size(), 200 + random() % 400));
        verify();
    }
    // Removing a replica erases its flows from the middle of runs too.
    balancer->remove_replica(0, 2);
    for (auto it = live.begin(); it != live.end();) {
        if (it->second == 2) {
            gone.insert(it->first);
            it = live.erase(it);
        } else {
            ++it;
        }
    }
    verify();
}

TEST_F(ServiceBalancerTest, FullTableRefusesNewConnections) {
    add_ready_replica(0);
    add_ready_replica(1);
    for (std::uint32_t n = 0; n < ServiceBalancer::kMaxOpenFlows; ++n)
        ASSERT_TRUE(connect(client(n / 100, static_cast<std::uint16_t>(20000 + n))).has_value()) << n;
    EXPECT_EQ(balancer->service_report(0).connections_total, ServiceBalancer::kMaxOpenFlows);
    // One more: refused (the client retries its SYN), not held.
    sink.clear();
    const Client late = client(999, 30000);
    EXPECT_TRUE(from_client(late, tcp_flags::kSyn));
    EXPECT_EQ(sink.count(), 0u);
    EXPECT_EQ(balancer->service_report(0).held, 0u);
    EXPECT_EQ(balancer->service_report(0).connections_total, ServiceBalancer::kMaxOpenFlows);
    // A closed connection keeps its entry through the linger...
    const Client first = client(0, 20000);
    EXPECT_TRUE(from_client(first, tcp_flags::kRst));
    sink.clear();
    EXPECT_TRUE(from_client(late, tcp_flags::kSyn));
    EXPECT_EQ(sink.count(), 0u);
    // ...and frees it after.
    now += ServiceBalancer::kClosedLingerNs + 1;
    balancer->tick(now, sink);
    EXPECT_TRUE(connect(late).has_value());
    EXPECT_EQ(route_of(late).has_value(), true);
    EXPECT_EQ(route_of(client(0, 20001)).has_value(), true);
}

// --- Two services: one tier calling another ----------------------------------------------------------

TEST_F(ServiceBalancerTest, ReplicaCallingAnotherServiceIsTimedThere) {
    constexpr Ipv4Address kBackendIp = ip(10, 0, 2, 60);
    constexpr std::uint16_t kBackendPort = 8080;
    ASSERT_TRUE(balancer->add_service(1, ServiceAddress{kLan, kBackendIp, kBackendPort}, now).ok());
    const MacAddress backend_mac{{0x02, 0x00, 0x00, 0x00, 0x02, 0x00}};
    const Ipv4Address backend_replica = ip(10, 0, 2, 200);
    ASSERT_TRUE(balancer->add_replica(1, 0, backend_replica, backend_mac, now).ok());
    const packet::TcpEndpoints probe_reply{backend_mac, ServiceBalancer::service_mac(1), backend_replica, kBackendIp,
                                           kBackendPort, kProbePortBase};
    EXPECT_TRUE(balancer->inspect(kLan, tcp_frame(probe_reply, 1, 1, tcp_flags::kSyn | tcp_flags::kAck), now, sink));
    ASSERT_EQ(balancer->replica_report(1, 0).state, ReplicaState::ready);
    add_ready_replica(0);
    sink.clear();

    // The frontend's replica 0 calls the backend from an ephemeral port.
    const packet::TcpEndpoints call{replica_mac(0), ServiceBalancer::service_mac(1), replica_ip(0), kBackendIp, 50000,
                                    kBackendPort};
    EXPECT_TRUE(balancer->inspect(kLan, tcp_frame(call, 1, 0, tcp_flags::kSyn), now, sink));
    ASSERT_EQ(sink.count(), 1u);
    EXPECT_EQ(mac_at(sink.last(), 0), backend_mac);
    EXPECT_EQ(packet::parse_tcp(sink.last())->destination, backend_replica);
    EXPECT_TRUE(checksums_ok(sink.last()));
    EXPECT_TRUE(balancer->inspect(kLan, tcp_frame(call, 2, 0, tcp_flags::kAck | kPsh, text("query")), now, sink));
    now += 12 * kMs;
    const packet::TcpEndpoints answer{backend_mac, replica_mac(0), backend_replica, replica_ip(0), kBackendPort, 50000};
    EXPECT_TRUE(balancer->inspect(kLan, tcp_frame(answer, 9, 7, tcp_flags::kAck | kPsh, text("rows")), now, sink));
    ASSERT_EQ(sink.count(), 3u);
    const auto back = packet::parse_tcp(sink.last());
    EXPECT_EQ(back->source, kBackendIp);
    EXPECT_EQ(back->source_port, kBackendPort);
    EXPECT_EQ(mac_at(sink.last(), 6), ServiceBalancer::service_mac(1));
    EXPECT_TRUE(checksums_ok(sink.last()));
    EXPECT_EQ(balancer->service_report(1).latency.totals().requests, 1u);
    EXPECT_EQ(balancer->service_report(0).latency.totals().requests, 0u);
}

// --- Through the switch ---------------------------------------------------------------------------------

class FakePort final : public NetworkPort {
public:
    bool receive_frame(std::span<const std::byte> frame) override {
        frames.emplace_back(frame.begin(), frame.end());
        return true;
    }
    std::vector<Frame> frames;
};

std::uint64_t g_fake_now = kStart;
std::uint64_t fake_clock() { return g_fake_now; }

TEST(ServiceBalancerSwitchTest, ClientReachesTheReplicaThroughTheSwitchAndBack) {
    auto network_switch = std::make_unique<VirtualSwitch>();
    g_fake_now = kStart;
    network_switch->set_clock(&fake_clock);
    FakePort client_port, replica_port, bystander_port, elsewhere_port;
    const SwitchPortId client_id = *network_switch->attach(client_port, kLan);
    const SwitchPortId replica_id = *network_switch->attach(replica_port, kLan, replica_mac(0));
    (void)*network_switch->attach(bystander_port, kLan);
    (void)*network_switch->attach(elsewhere_port, kOtherLan);

    const bool added = network_switch->with_services([](ServiceBalancer& balancer, std::uint64_t now_ns) {
        EXPECT_EQ(now_ns, kStart);
        return balancer.add_service(0, ServiceAddress{kLan, kServiceIp, kServicePort}, now_ns).ok() &&
               balancer.add_replica(0, 0, replica_ip(0), replica_mac(0), now_ns).ok();
    });
    ASSERT_TRUE(added);

    // The probe goes to the replica's port alone: its NIC's address is pinned
    // there before the replica has sent anything.
    network_switch->tick_services();
    ASSERT_EQ(replica_port.frames.size(), 1u);
    EXPECT_TRUE(packet::parse_tcp(replica_port.frames[0])->is_connection_request());
    EXPECT_TRUE(client_port.frames.empty());
    EXPECT_TRUE(bystander_port.frames.empty());
    EXPECT_TRUE(elsewhere_port.frames.empty());
    replica_port.frames.clear();

    // The replica answers: it is ready, and the RST goes to its port alone.
    g_fake_now += 300 * kMs;
    const packet::TcpEndpoints probe_reply{replica_mac(0), ServiceBalancer::service_mac(0), replica_ip(0), kServiceIp,
                                           kServicePort, kProbePortBase};
    network_switch->send(replica_id, tcp_frame(probe_reply, 1, 77, tcp_flags::kSyn | tcp_flags::kAck));
    ASSERT_EQ(replica_port.frames.size(), 1u);
    EXPECT_TRUE(packet::parse_tcp(replica_port.frames[0])->has(tcp_flags::kRst));
    EXPECT_TRUE(client_port.frames.empty());
    EXPECT_TRUE(bystander_port.frames.empty());
    EXPECT_EQ(network_switch->with_services([](ServiceBalancer& balancer, std::uint64_t) {
        return balancer.replica_report(0, 0).state;
    }),
              ReplicaState::ready);
    replica_port.frames.clear();

    // The client asks for the service's MAC: answered to it alone.
    const Client c = client(1);
    network_switch->send(client_id, arp_request(c.mac, c.ip, kServiceIp));
    ASSERT_EQ(client_port.frames.size(), 1u);
    EXPECT_EQ(mac_at(client_port.frames[0], 22), ServiceBalancer::service_mac(0));
    EXPECT_TRUE(replica_port.frames.empty());
    EXPECT_TRUE(bystander_port.frames.empty());
    client_port.frames.clear();

    // The client's SYN reaches the replica, rewritten.
    network_switch->send(client_id, tcp_frame(to_service(c), 1000, 0, tcp_flags::kSyn));
    ASSERT_EQ(replica_port.frames.size(), 1u);
    const auto syn = packet::parse_tcp(replica_port.frames[0]);
    ASSERT_TRUE(syn.has_value());
    EXPECT_TRUE(syn->is_connection_request());
    EXPECT_EQ(mac_at(replica_port.frames[0], 0), replica_mac(0));
    EXPECT_EQ(syn->destination, replica_ip(0));
    EXPECT_EQ(syn->source, c.ip);
    EXPECT_TRUE(checksums_ok(replica_port.frames[0]));
    EXPECT_TRUE(client_port.frames.empty());
    EXPECT_TRUE(bystander_port.frames.empty());

    // The SYN-ACK reaches the client, from the service address.
    g_fake_now += 1 * kMs;
    const packet::TcpEndpoints reply{replica_mac(0), c.mac, replica_ip(0), c.ip, kServicePort, c.port};
    network_switch->send(replica_id, tcp_frame(reply, 5000, 1001, tcp_flags::kSyn | tcp_flags::kAck));
    ASSERT_EQ(client_port.frames.size(), 1u);
    const auto syn_ack = packet::parse_tcp(client_port.frames[0]);
    ASSERT_TRUE(syn_ack.has_value());
    EXPECT_EQ(syn_ack->source, kServiceIp);
    EXPECT_EQ(syn_ack->source_port, kServicePort);
    EXPECT_EQ(mac_at(client_port.frames[0], 6), ServiceBalancer::service_mac(0));
    EXPECT_TRUE(checksums_ok(client_port.frames[0]));
    EXPECT_TRUE(bystander_port.frames.empty());
    EXPECT_TRUE(elsewhere_port.frames.empty());

    // A request and its answer, timed with the switch's clock.
    network_switch->send(client_id, tcp_frame(to_service(c), 1001, 5001,
                                              tcp_flags::kAck | kPsh, text("GET / HTTP/1.1\r\n\r\n")));
    g_fake_now += 25 * kMs;
    network_switch->send(replica_id, tcp_frame(reply, 5001, 1019, tcp_flags::kAck | kPsh, text("HTTP/1.1 200 OK\r\n")));
    EXPECT_EQ(replica_port.frames.size(), 2u);
    EXPECT_EQ(client_port.frames.size(), 2u);
    const std::uint64_t p50 = network_switch->with_services([](ServiceBalancer& balancer, std::uint64_t now_ns) {
        return balancer.service_report(0).latency.summary(now_ns, kWholeWindow).latencies.percentile_ns(50);
    });
    EXPECT_NEAR(static_cast<double>(p50), 25e6, 25e6 * 0.06);

    // Ordinary traffic between other stations is switched as before.
    const packet::TcpEndpoints plain{c.mac, MacAddress{{0x02, 0, 0, 0, 0x09, 0x09}}, c.ip, ip(10, 0, 2, 99), c.port, 22};
    network_switch->send(client_id, tcp_frame(plain, 1, 0, tcp_flags::kSyn));
    EXPECT_EQ(bystander_port.frames.size(), 1u);  // unknown unicast: flooded
    EXPECT_EQ(replica_port.frames.size(), 3u);
}

TEST(ServiceBalancerSwitchTest, BalancerFramesToAnUnknownStationAreDroppedNotFlooded) {
    auto network_switch = std::make_unique<VirtualSwitch>();
    g_fake_now = kStart;
    network_switch->set_clock(&fake_clock);
    FakePort uplink_port, replica_port;
    (void)*network_switch->attach(uplink_port, kLan);
    (void)*network_switch->attach(replica_port, kLan);  // its address not pinned, not heard yet
    ASSERT_TRUE(network_switch->with_services([](ServiceBalancer& balancer, std::uint64_t now_ns) {
        return balancer.add_service(0, ServiceAddress{kLan, kServiceIp, kServicePort}, now_ns).ok() &&
               balancer.add_replica(0, 0, replica_ip(0), replica_mac(0), now_ns).ok();
    }));

    network_switch->tick_services();  // a probe the uplink must never see
    EXPECT_TRUE(uplink_port.frames.empty());
    EXPECT_TRUE(replica_port.frames.empty());
}

}  // namespace
}  // namespace lamina
