/* bench-clock: the Linux guest's side of bench/run's boot-to-init figure.
 *
 * Reads the virtual counter (CNTVCT_EL0, which Linux lets user space read)
 * and its frequency, and writes
 *
 *     lamina-bench: cntvct=<count> cntfrq=<hz>
 *
 * to /dev/kmsg, where the kernel stamps it with its printk clock, and to
 * stdout. The two clocks run from the same counter, so the pair ties the
 * printk timestamp of "Run /init as init process" to the guest's counter:
 * board time natively, time since the VM's creation under Lamina.
 *
 * Static, no libc: bench/run builds it with the cross compiler
 * (aarch64-linux-gnu-gcc -nostdlib -static) and adds it to a copy of the
 * initramfs as /bin/bench-clock, run by /tests/bench-clock.sh.
 */

typedef unsigned long u64;

enum { sys_openat = 56, sys_write = 64, sys_exit = 93 };
static const long at_fdcwd = -100;
static const long o_wronly = 1;

static long syscall3(long number, long a, long b, long c) {
    register long x8 __asm__("x8") = number;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    __asm__ volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2) : "memory");
    return x0;
}

static int append_text(char *out, int at, const char *text) {
    while (*text) out[at++] = *text++;
    return at;
}

static int append_number(char *out, int at, u64 value) {
    char digits[20];
    int count = 0;
    do {
        digits[count++] = (char)('0' + value % 10);
        value /= 10;
    } while (value != 0);
    while (count > 0) out[at++] = digits[--count];
    return at;
}

void _start(void) {
    u64 count, frequency;
    __asm__ volatile("isb\n\tmrs %0, cntvct_el0" : "=r"(count)::"memory");
    __asm__ volatile("mrs %0, cntfrq_el0" : "=r"(frequency));

    char line[96];
    int length = append_text(line, 0, "lamina-bench: cntvct=");
    length = append_number(line, length, count);
    length = append_text(line, length, " cntfrq=");
    length = append_number(line, length, frequency);
    line[length++] = '\n';

    const long kmsg = syscall3(sys_openat, at_fdcwd, (long)"/dev/kmsg", o_wronly);
    if (kmsg >= 0) syscall3(sys_write, kmsg, (long)line, length);
    syscall3(sys_write, 1, (long)line, length);
    syscall3(sys_exit, kmsg >= 0 ? 0 : 1, 0, 0);
    for (;;) {
    }
}
