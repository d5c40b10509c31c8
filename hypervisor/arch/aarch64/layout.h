/* Constants shared by the assembly and C++ sides of the aarch64 port. */
#pragma once

#define LAMINA_MAX_CPUS 8
#define LAMINA_STACK_SIZE 16384

/* Offsets in struct PerCpu (core/per_cpu.hpp) used by the vector code. */
#define PER_CPU_TRAP_REGISTERS 0
#define PER_CPU_STACK_TOP 8

/* Offsets in struct GuestRegisters (arch/aarch64/guest_registers.hpp). */
#define GUEST_REGISTERS_PC 248
#define GUEST_REGISTERS_PSTATE 256
#define GUEST_REGISTERS_SIZE 272
