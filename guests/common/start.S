// Entry points of every test guest: the Linux arm64 Image header Lamina loads
// by, the boot vCPU's entry (Linux boot protocol: EL1h, MMU off, x0 = device
// tree) and the entry secondary vCPUs get from PSCI CPU_ON (x0 = context id).
#include "layout.h"

    .section .text.image_header, "ax"
    .global _start
_start:
    b       primary_entry           // code0
    .long   0                       // code1
    .quad   0x80000                 // text_offset: where in RAM we are linked
    .quad   __image_size            // image_size, bss included
    .quad   0                       // flags: little-endian, no placement hints
    .quad   0, 0, 0                 // res2..res4
    .ascii  "ARM\x64"               // magic 0x644d5241
    .long   0                       // res5

    .text
primary_entry:
    mov     x19, x0                 // the device tree survives bss zeroing in x19
    msr     daifset, #0xf
    bl      install_vectors
    adrp    x1, __bss_start
    add     x1, x1, :lo12:__bss_start
    adrp    x2, __bss_end
    add     x2, x2, :lo12:__bss_end
    // Byte-granular stores are not needed: the linker script aligns both ends
    // to 16, and aligned stp is safe on the Device memory of an MMU-off CPU.
1:  cmp     x1, x2
    b.hs    2f
    stp     xzr, xzr, [x1], #16
    b       1b
2:  mov     x0, #0
    bl      stack_top_for_cpu       // the boot vCPU always uses stack 0
    mov     sp, x0
    mov     x0, x19
    bl      guest_primary_main      // does not return
    b       park_forever

    .global guest_secondary_entry
guest_secondary_entry:
    mov     x19, x0                 // context id from CPU_ON
    msr     daifset, #0xf
    bl      install_vectors
    mrs     x0, mpidr_el1
    and     x0, x0, #0xff           // vCPU n has Aff0 = n
    cmp     x0, #GUEST_MAX_CPUS
    b.hs    park_forever            // no stack for it: it can only idle
    bl      stack_top_for_cpu
    mov     sp, x0
    mov     x0, x19
    bl      guest_secondary_main    // does not return
    b       park_forever

// x0 = vCPU index -> x0 = initial stack pointer. Leaf, clobbers x1.
stack_top_for_cpu:
    add     x0, x0, #1
    mov     x1, #GUEST_STACK_BYTES
    mul     x0, x0, x1
    adrp    x1, guest_stacks
    add     x1, x1, :lo12:guest_stacks
    add     x0, x0, x1
    ret

// Leaf, clobbers x0.
install_vectors:
    adrp    x0, guest_exception_vectors
    add     x0, x0, :lo12:guest_exception_vectors
    msr     vbar_el1, x0
    isb
    ret

// With the virtual timer disabled, Lamina never wakes a vCPU from WFI: the
// vCPU gives its physical core away for good.
park_forever:
    msr     cntv_ctl_el0, xzr
    isb
1:  wfi
    b       1b

// Any exception is a bug in the guest (nothing is unmasked and nothing is
// expected to fault): report which vector was taken and stop. Each entry is
// 0x80 bytes; the table must be 2 KiB aligned.
    .section .text.vectors, "ax"
    .balign 2048
    .global guest_exception_vectors
guest_exception_vectors:
    .irp    index, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
    .balign 0x80
    mov     x0, #\index
    b       guest_unexpected_exception
    .endr

    .section .bss.stacks, "aw", %nobits
    .balign 16
guest_stacks:
    .space  GUEST_MAX_CPUS * GUEST_STACK_BYTES
