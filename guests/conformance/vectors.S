// conformance: the guest's own EL1 vector table (IRQs from EL1h go to
// conformance_irq, everything else is fatal as in the shared runtime), the
// CPU_ON entry stub that records the state a started vCPU begins in, and an
// SMCCC register-preservation probe.
#include "layout.h"

    .section .text.conformance_vectors, "ax"
    .balign 2048
    .global conformance_vectors
conformance_vectors:
    .irp    index, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
    .balign 0x80
    .if     \index == 5             // IRQ, current EL with SP_EL1
    b       irq_from_el1h
    .else
    mov     x0, #\index
    b       guest_unexpected_exception
    .endif
    .endr

// Saves what the AAPCS lets conformance_irq clobber (the guests use general
// registers only), so the interrupted code resumes untouched. ELR/SPSR need
// no saving: IRQs stay masked in the handler and nothing in it faults.
irq_from_el1h:
    sub     sp, sp, #176
    stp     x0, x1, [sp, #0]
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x29, [sp, #144]
    str     x30, [sp, #160]
    bl      conformance_irq
    ldr     x30, [sp, #160]
    ldp     x18, x29, [sp, #144]
    ldp     x16, x17, [sp, #128]
    ldp     x14, x15, [sp, #112]
    ldp     x12, x13, [sp, #96]
    ldp     x10, x11, [sp, #80]
    ldp     x8, x9, [sp, #64]
    ldp     x6, x7, [sp, #48]
    ldp     x4, x5, [sp, #32]
    ldp     x2, x3, [sp, #16]
    ldp     x0, x1, [sp, #0]
    add     sp, sp, #176
    eret

    .text
// PSCI CPU_ON entry: x0 = context id. Records DAIF, CurrentEL, SCTLR_EL1
// and x0 in conformance_entry_state[Aff0] (32 bytes each), then continues
// at the runtime's secondary entry with x0 intact.
    .global conformance_secondary_entry
conformance_secondary_entry:
    mrs     x1, mpidr_el1
    and     x1, x1, #0xff
    cmp     x1, #GUEST_MAX_CPUS
    b.hs    1f
    adrp    x2, conformance_entry_state
    add     x2, x2, :lo12:conformance_entry_state
    add     x2, x2, x1, lsl #5
    mrs     x3, daif
    str     x3, [x2, #0]
    mrs     x3, CurrentEL
    str     x3, [x2, #8]
    mrs     x3, sctlr_el1
    str     x3, [x2, #16]
    str     x0, [x2, #24]
1:  b       guest_secondary_entry

// std::uint64_t conformance_hvc_clobbers(std::uint64_t function)
// SMCCC 1.1 makes x4..x17 preserved across a call that does not return
// results in them. Loads each with 0x5a5a00000000a5nn, calls, and returns
// the mask of registers whose value changed. x1..x3 are zero arguments.
    .global conformance_hvc_clobbers
conformance_hvc_clobbers:
    .irp    n, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17
    movz    x\n, #(0xa500 + \n)
    movk    x\n, #0x5a5a, lsl #48
    .endr
    mov     x1, #0
    mov     x2, #0
    mov     x3, #0
    hvc     #0
    mov     x1, #0
    .irp    n, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17
    movz    x2, #(0xa500 + \n)
    movk    x2, #0x5a5a, lsl #48
    cmp     x\n, x2
    cset    x3, ne
    orr     x1, x1, x3, lsl #\n
    .endr
    mov     x0, x1
    ret
