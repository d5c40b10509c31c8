// Entry points of the hypervisor image.
//
// The image starts with a Linux arm64 Image header so that QEMU's -kernel and
// any Linux boot loader place it and enter it at EL2 with the DTB in x0. It is
// linked at 0 and position independent: it applies its own R_AARCH64_RELATIVE
// relocations before any C++ runs, and then runs identity mapped.

#include "asm_macros.S"

    .section .text.boot, "ax"
    .global _start
_start:
    b       primary_entry                // code0
    .long   0                            // code1
    .quad   0x80000                      // text_offset: as Linux, to leave room below us
    .quad   __image_end - . + 16         // image_size (incl. bss and stacks), PC-relative: no relocation
    .quad   0xa                          // flags: little endian, 4K pages, anywhere in RAM
    .quad   0, 0, 0                      // reserved
    .ascii  "ARM\x64"                    // magic
    .long   0                            // reserved

// CPU 0, from the boot loader: x0 = DTB, MMU off, at EL2.
primary_entry:
    msr     daifset, #0xf
    mov     x19, x0
    mrs     x1, CurrentEL
    cmp     x1, #(2 << 2)
    b.ne    wrong_exception_level
    adr     x20, _start                  // where we were loaded

    // Apply relocations: every entry must be R_AARCH64_RELATIVE (1027).
    adr_l   x1, __rela_start
    adr_l   x2, __rela_end
1:  cmp     x1, x2
    b.hs    2f
    ldp     x3, x4, [x1], #16            // r_offset, r_info
    ldr     x5, [x1], #8                 // r_addend
    cmp     x4, #1027
    b.ne    bad_relocation
    add     x5, x5, x20
    str     x5, [x3, x20]
    b       1b
2:
    // Zero bss (it holds the stacks, so before any call).
    adr_l   x1, __bss_start
    adr_l   x2, __bss_end
3:  cmp     x1, x2
    b.hs    4f
    stp     xzr, xzr, [x1], #16
    b       3b
4:
    adr_l   x1, exception_vectors
    msr     vbar_el2, x1
    isb
    mov     x0, #0
    stack_top_of_cpu x0, x1
    mov     sp, x0
    mov     x0, x19
    mov     x1, x20
    bl      lamina_primary_main          // never returns

// Other CPUs, started with PSCI CPU_ON: x0 = logical CPU index, MMU off.
    .global secondary_entry
secondary_entry:
    msr     daifset, #0xf
    mov     x19, x0
    // Turn the MMU on before touching memory through the cache: CPU 0
    // cleaned the configuration and the page tables to the point of coherency.
    adr_l   x0, boot_mmu_config
    bl      enable_mmu
    adr_l   x1, exception_vectors
    msr     vbar_el2, x1
    isb
    mov     x0, x19
    stack_top_of_cpu x0, x1
    mov     sp, x0
    mov     x0, x19
    bl      lamina_secondary_main        // never returns

// enable_mmu(const MmuConfig* x0): {mair, tcr, ttbr0, sctlr}. Leaf; no stack.
    .global enable_mmu
enable_mmu:
    ldp     x1, x2, [x0]
    ldp     x3, x4, [x0, #16]
    msr     mair_el2, x1
    msr     tcr_el2, x2
    msr     ttbr0_el2, x3
    isb
    tlbi    alle2
    dsb     nsh
    isb
    msr     sctlr_el2, x4
    isb
    ic      iallu
    dsb     nsh
    isb
    ret

// One stack per CPU, in bss.
    .section .bss.stacks, "aw", %nobits
    .balign 4096
    .global cpu_stacks
cpu_stacks:
    .space  LAMINA_STACK_SIZE * LAMINA_MAX_CPUS

    .text
wrong_exception_level:
bad_relocation:
    wfe
    b       wrong_exception_level
