// Characters typed on Lamina's console. They go to the VM that has the
// console's focus; Ctrl-T starts a Lamina command:
//   Ctrl-T h  help            Ctrl-T l  list VMs
//   Ctrl-T s  statistics      Ctrl-T 1..9  give focus to the n-th VM
//   Ctrl-T Ctrl-T  send a Ctrl-T to the VM
#pragma once

namespace lamina::console_input {

inline constexpr char kCommandKey = 0x14;  // Ctrl-T

void receive(char c);
// The hint printed at boot.
void announce();

}  // namespace lamina::console_input
