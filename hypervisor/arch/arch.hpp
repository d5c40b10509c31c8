// The narrow interface between the architecture-neutral core and the port it
// runs on. Core code includes this header only; each port provides the types
// and functions named here.
#pragma once

#if defined(__aarch64__)
#include "arch/aarch64/guest_address_space.hpp"
#include "arch/aarch64/platform_cpu.hpp"
#include "arch/aarch64/vcpu_context.hpp"
#else
#error "Lamina has no port for this architecture yet"
#endif
