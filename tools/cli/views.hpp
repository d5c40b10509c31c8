// What the verbs print without --json: pure functions from reply objects to
// text, so they are tested without a socket.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "model.hpp"

namespace lamina::cli {

// `list`: one row per VM, then the templates.
[[nodiscard]] std::string render_vm_list(const VmList& list);

// `board`: one "label: value" line per figure.
[[nodiscard]] std::string render_board(const BoardInfo& board);

// One line about a VM after create/start/pause/resume/set/balloon; create
// also tells how long Lamina took to build the VM.
[[nodiscard]] std::string describe_vm(const VmInfo& vm, std::optional<std::uint64_t> build_ns = {});

// `stats`: the board, then tables per VM, per vCPU, per NIC and per disk.
[[nodiscard]] std::string render_stats(const StatsSnapshot& stats);

}  // namespace lamina::cli
