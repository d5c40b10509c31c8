# Cross toolchain for code that runs on the bare board (the hypervisor and
# the test guests): Debian's aarch64 GCC used freestanding, no OS, no libc.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_ASM_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_OBJCOPY aarch64-linux-gnu-objcopy)
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

# Bare-metal code generation shared by everything built with this file:
# - no exceptions/RTTI/unwind tables, no stack protector (no runtime for them);
# - general registers only, so traps never clobber a guest's FP/SIMD state;
# - strict alignment, because early boot runs with the MMU off (Device memory);
# - no outline atomics (they call into libgcc's HWCAP-probing helpers).
set(LAMINA_BARE_FLAGS
    -ffreestanding -fno-exceptions -fno-rtti -fno-asynchronous-unwind-tables
    -fno-unwind-tables -fno-stack-protector -fno-threadsafe-statics -fno-common
    -mgeneral-regs-only -mstrict-align -mno-outline-atomics -march=armv8-a
    -fno-plt -fpie -ffunction-sections -fdata-sections)
