// What a guest reads from the CPU ID registers (trapped by HCR_EL2.TID3):
// the real values with the features Lamina does not virtualize hidden, so an
// unmodified kernel never tries to use them (SVE, SME, pointer
// authentication, MTE, AMU, MPAM, ...).
#pragma once

#include <cstdint>

namespace lamina::arch {

// `crm`/`op2` of an ID register S3_0_C0_<crm>_<op2> (crm 1..7).
[[nodiscard]] std::uint64_t guest_id_register(unsigned crm, unsigned op2);
// The same filtering applied to a value, for host unit tests and reuse.
[[nodiscard]] std::uint64_t filter_id_register(unsigned crm, unsigned op2, std::uint64_t real_value);

}  // namespace lamina::arch
