// The management server: reads request lines from the management channel,
// carries them out with vm_manager and the scheduler, and writes one reply
// line per request (docs/management-api.md). Requests are handled where the
// channel's interrupt is taken, one at a time; the other CPUs go on running
// VMs meanwhile. Console events for attached VMs go out on whatever CPU
// printed the line.
#pragma once

#include <cstddef>
#include <span>

namespace lamina::management {

// Where replies and events go (the channel's send).
struct ChannelWriter final {
    bool (*send)(void* context, std::span<const std::byte> bytes){nullptr};
    void* context{nullptr};
};

// Starts serving: received bytes go to receive().
void start(ChannelWriter writer);
// Bytes from the channel, in order; complete lines are handled at once.
void receive(std::span<const std::byte> bytes);

}  // namespace lamina::management
