/* Constants shared by the start code (assembly) and the C++ runtime, so the
 * per-vCPU stacks are sized and indexed the same way on both sides. Plain
 * #defines because the assembler includes this file too. */
#ifndef LAMINA_GUEST_LAYOUT_H
#define LAMINA_GUEST_LAYOUT_H

/* vCPUs a guest can give a stack to; vCPU n (MPIDR Aff0 = n) uses stack n. */
#define GUEST_MAX_CPUS 16
/* The guests have shallow call chains and no large locals. */
#define GUEST_STACK_BYTES 8192

#endif
