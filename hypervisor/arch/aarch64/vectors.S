// EL2 exception vectors and the guest entry/exit path.
//
// Lamina keeps no stack frames while a guest runs: entering a guest resets SP
// to the top of this CPU's stack, so every trap starts on an empty stack. The
// guest's general registers are saved into the current vCPU's GuestRegisters,
// which TPIDR_EL2 -> PerCpu.trap_registers points at. EL1 system registers
// and FP/SIMD state stay live in the CPU and are switched only when the vCPU
// changes (see vcpu_switch.S), which keeps the common exits short.

#include "asm_macros.S"

.macro save_guest_registers
    stp     x0, x1, [sp, #-16]!
    mrs     x0, tpidr_el2
    ldr     x0, [x0, #PER_CPU_TRAP_REGISTERS]
    stp     x2, x3, [x0, #16]
    stp     x4, x5, [x0, #32]
    stp     x6, x7, [x0, #48]
    stp     x8, x9, [x0, #64]
    stp     x10, x11, [x0, #80]
    stp     x12, x13, [x0, #96]
    stp     x14, x15, [x0, #112]
    stp     x16, x17, [x0, #128]
    stp     x18, x19, [x0, #144]
    stp     x20, x21, [x0, #160]
    stp     x22, x23, [x0, #176]
    stp     x24, x25, [x0, #192]
    stp     x26, x27, [x0, #208]
    stp     x28, x29, [x0, #224]
    ldp     x2, x3, [sp], #16
    str     x30, [x0, #240]
    stp     x2, x3, [x0]
    mrs     x1, elr_el2
    mrs     x2, spsr_el2
    stp     x1, x2, [x0, #GUEST_REGISTERS_PC]
.endm

.macro guest_vector handler
    .balign 0x80
    save_guest_registers
    bl      \handler
    b       resume_guest
.endm

.macro hypervisor_vector kind
    .balign 0x80
    sub     sp, sp, #(34 * 8)
    stp     x0, x1, [sp]
    mov     x0, #\kind
    b       hypervisor_exception
.endm

    .text
    .balign 2048
    .global exception_vectors
exception_vectors:
    // Current EL with SP_EL0: Lamina never uses SP_EL0.
    hypervisor_vector 0
    hypervisor_vector 1
    hypervisor_vector 2
    hypervisor_vector 3
    // Current EL with SP_EL2: a fault inside Lamina.
    hypervisor_vector 4
    hypervisor_vector 5
    hypervisor_vector 6
    hypervisor_vector 7
    // Lower EL, AArch64: the guest.
    guest_vector handle_guest_synchronous
    guest_vector handle_guest_irq
    guest_vector handle_guest_fiq
    guest_vector handle_guest_serror
    // Lower EL, AArch32 (guest EL0 in AArch32): same handlers, ESR says why.
    guest_vector handle_guest_synchronous
    guest_vector handle_guest_irq
    guest_vector handle_guest_fiq
    guest_vector handle_guest_serror

// resume_guest(GuestRegisters* x0): restore and return to the guest.
    .global resume_guest
resume_guest:
    ldp     x1, x2, [x0, #GUEST_REGISTERS_PC]
    msr     elr_el2, x1
    msr     spsr_el2, x2
    ldp     x2, x3, [x0, #16]
    ldp     x4, x5, [x0, #32]
    ldp     x6, x7, [x0, #48]
    ldp     x8, x9, [x0, #64]
    ldp     x10, x11, [x0, #80]
    ldp     x12, x13, [x0, #96]
    ldp     x14, x15, [x0, #112]
    ldp     x16, x17, [x0, #128]
    ldp     x18, x19, [x0, #144]
    ldp     x20, x21, [x0, #160]
    ldp     x22, x23, [x0, #176]
    ldp     x24, x25, [x0, #192]
    ldp     x26, x27, [x0, #208]
    ldp     x28, x29, [x0, #224]
    ldr     x30, [x0, #240]
    ldp     x0, x1, [x0]
    eret

// enter_guest(GuestRegisters* x0): drop every Lamina frame, then resume.
    .global enter_guest
enter_guest:
    mrs     x1, tpidr_el2
    ldr     x1, [x1, #PER_CPU_STACK_TOP]
    mov     sp, x1
    b       resume_guest

// A fault in Lamina itself: x0 = vector kind; x0/x1 originals at [sp].
hypervisor_exception:
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x19, [sp, #144]
    stp     x20, x21, [sp, #160]
    stp     x22, x23, [sp, #176]
    stp     x24, x25, [sp, #192]
    stp     x26, x27, [sp, #208]
    stp     x28, x29, [sp, #224]
    add     x2, sp, #(34 * 8)
    stp     x30, x2, [sp, #240]          // lr and the faulting SP
    mov     x1, sp
    bl      handle_hypervisor_exception  // never returns
1:  wfe
    b       1b
