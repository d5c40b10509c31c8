// Assembler helpers shared by the aarch64 .S files.

#include "layout.h"

// Load the address of a symbol, PC-relative (+-4 GiB): works before relocation.
.macro adr_l reg, symbol
    adrp    \reg, \symbol
    add     \reg, \reg, :lo12:\symbol
.endm

// \reg = top of the stack of the CPU whose index is in \reg.
.macro stack_top_of_cpu reg, scratch
    add     \reg, \reg, #1
    mov     \scratch, #LAMINA_STACK_SIZE
    mul     \reg, \reg, \scratch
    adr_l   \scratch, cpu_stacks
    add     \reg, \reg, \scratch
.endm
