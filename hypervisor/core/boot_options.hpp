// Lamina's own command line (/chosen/bootargs of the board), e.g.
// "lamina.loglevel=debug lamina.timeslice_us=5000 lamina.halt_when_idle".
#pragma once

#include <cstdint>
#include <string_view>

#include "core/console.hpp"

namespace lamina {

struct BootOptions final {
    LogLevel log_level{LogLevel::info};
    std::uint64_t timeslice_us{10'000};
    bool halt_when_idle{false};  // power the board off once no VM is left
};

// Unknown words are ignored (the board's command line may carry others);
// malformed values of known options are reported and left at their default.
[[nodiscard]] BootOptions parse_boot_options(std::string_view command_line);

}  // namespace lamina
