/* bench-net: the Linux guest's side of bench/run's I/O figures.
 *
 *     bench-net server PORT [CONNECTIONS]
 *     bench-net stream HOST PORT BYTES
 *     bench-net rr HOST PORT COUNT SIZE [WARMUP]
 *     bench-net blk DEVICE MIB BLOCK_KIB
 *
 * server  accepts CONNECTIONS connections one after the other (0, the
 *         default: for ever), then exits. Each client first sends a 16-byte
 *         header saying what it wants: a stream connection is read until
 *         EOF and answered with the byte count; a request/response
 *         connection gets each SIZE-byte request echoed back.
 * stream  sends BYTES bytes and waits for the server's count, so the time
 *         runs from the first byte sent until the server has read the last
 *         one (connection set-up excluded):
 *             bench-net: stream bytes=N ns=T mb_per_s=X.XX
 * rr      sends a SIZE-byte request and reads the SIZE-byte answer COUNT
 *         times after WARMUP (default COUNT / 10) untimed rounds, with
 *         TCP_NODELAY; every round trip is timed:
 *             bench-net: rr count=C size=S mean_ns=M p50_ns=A p99_ns=B min_ns=L max_ns=H
 * blk     writes MIB MiB to DEVICE from its start in BLOCK_KIB KiB blocks
 *         with O_DIRECT, fsync()s, then reads them back the same way and
 *         checks a marker in every 512-byte sector:
 *             bench-blk: write dev=D bytes=N block=B ns=T mb_per_s=X.XX
 *             bench-blk: read dev=D bytes=N block=B ns=T mb_per_s=X.XX
 *
 * Times are the guest's CLOCK_MONOTONIC (clock_gettime, the syscall); MB is
 * 10^6 bytes. Errors print "bench-net: FAIL <what> (errno E)" and exit 1.
 * Clients retry connect() for up to two minutes of guest time while the
 * server comes up.
 *
 * Static, no libc: bench/run builds it with the cross compiler
 * (aarch64-linux-gnu-gcc -nostdlib -static) and adds it to a copy of the
 * initramfs as /bin/bench-net.
 */

typedef unsigned long u64;
typedef long s64;
typedef unsigned int u32;
typedef unsigned short u16;
typedef unsigned char u8;

enum {
    sys_openat = 56,
    sys_close = 57,
    sys_lseek = 62,
    sys_read = 63,
    sys_write = 64,
    sys_fsync = 82,
    sys_exit_group = 94,
    sys_nanosleep = 101,
    sys_clock_gettime = 113,
    sys_socket = 198,
    sys_bind = 200,
    sys_listen = 201,
    sys_accept = 202,
    sys_connect = 203,
    sys_setsockopt = 208,
    sys_shutdown = 210,
};

enum {
    at_fdcwd = -100,
    o_rdwr = 2,
    o_direct = 0200000, /* arm64's value (asm/fcntl.h), not the generic 040000 */
    af_inet = 2,
    sock_stream = 1,
    sol_socket = 1,
    so_reuseaddr = 2,
    ipproto_tcp = 6,
    tcp_nodelay = 1,
    shut_wr = 1,
    clock_monotonic = 1,
    e_intr = 4,
};

enum {
    header_bytes = 16,
    mode_stream = 'S',
    mode_rr = 'R',
    max_rr_size = 65536,
    max_samples = 1 << 17,
    io_buffer_bytes = 1 << 20,
    connect_attempts = 600, /* 200 ms apart: two minutes */
};

struct sockaddr_in {
    u16 family;
    u16 port; /* big endian */
    u32 address; /* big endian */
    u8 zero[8];
};

struct timespec {
    s64 seconds;
    s64 nanoseconds;
};

static u8 io_buffer[io_buffer_bytes] __attribute__((aligned(4096)));
static u64 samples[max_samples];

static long syscall6(long number, long a, long b, long c, long d, long e, long f) {
    register long x8 __asm__("x8") = number;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    register long x4 __asm__("x4") = e;
    register long x5 __asm__("x5") = f;
    __asm__ volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5) : "memory");
    return x0;
}

static long syscall3(long number, long a, long b, long c) { return syscall6(number, a, b, c, 0, 0, 0); }

/* GCC may call these for structure copies even in freestanding code. */
__attribute__((optimize("no-tree-loop-distribute-patterns"))) void *memset(void *to, int value, u64 count) {
    u8 *out = to;
    while (count--) *out++ = (u8)value;
    return to;
}

__attribute__((optimize("no-tree-loop-distribute-patterns"))) void *memcpy(void *to, const void *from, u64 count) {
    u8 *out = to;
    const u8 *in = from;
    while (count--) *out++ = *in++;
    return to;
}

static __attribute__((noreturn)) void exit_with(int status) {
    syscall3(sys_exit_group, status, 0, 0);
    for (;;) {
    }
}

/* ---- output: one line at a time, built in a buffer ---- */

struct line {
    char text[256];
    int length;
};

static void put_text(struct line *line, const char *text) {
    while (*text && line->length < (int)sizeof line->text - 1) line->text[line->length++] = *text++;
}

static void put_number(struct line *line, u64 value) {
    char digits[20];
    int count = 0;
    do {
        digits[count++] = (char)('0' + value % 10);
        value /= 10;
    } while (value != 0);
    while (count > 0 && line->length < (int)sizeof line->text - 1) line->text[line->length++] = digits[--count];
}

static void put_field(struct line *line, const char *name, u64 value) {
    put_text(line, " ");
    put_text(line, name);
    put_text(line, "=");
    put_number(line, value);
}

/* bytes / ns in MB/s (10^6 bytes per second) with two decimals. */
static void put_rate(struct line *line, u64 bytes, u64 ns) {
    const u64 hundredths = ns ? bytes * 100000 / ns : 0;
    put_text(line, " mb_per_s=");
    put_number(line, hundredths / 100);
    put_text(line, ".");
    put_number(line, hundredths / 10 % 10);
    put_number(line, hundredths % 10);
}

static void emit(struct line *line) {
    line->text[line->length++] = '\n';
    syscall3(sys_write, 1, (long)line->text, line->length);
    line->length = 0;
}

static __attribute__((noreturn)) void fail(const char *what, long error) {
    struct line line = {.length = 0};
    put_text(&line, "bench-net: FAIL ");
    put_text(&line, what);
    if (error < 0) {
        put_text(&line, " (errno ");
        put_number(&line, (u64)-error);
        put_text(&line, ")");
    }
    emit(&line);
    exit_with(1);
}

/* ---- arguments ---- */

static int same(const char *a, const char *b) {
    while (*a && *a == *b) a++, b++;
    return *a == *b;
}

static u64 parse_number(const char *text, const char *what) {
    u64 value = 0;
    if (!*text) fail(what, 0);
    for (; *text; text++) {
        if (*text < '0' || *text > '9') fail(what, 0);
        value = value * 10 + (u64)(*text - '0');
    }
    return value;
}

/* A dotted quad, in network byte order. */
static u32 parse_address(const char *text) {
    u32 parts[4];
    int count = 0;
    for (;;) {
        u32 part = 0;
        int digits = 0;
        while (*text >= '0' && *text <= '9' && digits < 4) part = part * 10 + (u32)(*text++ - '0'), digits++;
        if (digits == 0 || part > 255 || count == 4) fail("bad IPv4 address", 0);
        parts[count++] = part;
        if (*text == 0) break;
        if (*text++ != '.') fail("bad IPv4 address", 0);
    }
    if (count != 4) fail("bad IPv4 address", 0);
    return parts[0] | parts[1] << 8 | parts[2] << 16 | parts[3] << 24;
}

static u16 big_endian16(u64 value) { return (u16)((value & 0xff) << 8 | (value >> 8 & 0xff)); }

/* ---- time, I/O helpers ---- */

static u64 now_ns(void) {
    struct timespec now;
    syscall3(sys_clock_gettime, clock_monotonic, (long)&now, 0);
    return (u64)now.seconds * 1000000000u + (u64)now.nanoseconds;
}

static void sleep_ms(u64 milliseconds) {
    struct timespec wait = {(s64)(milliseconds / 1000), (s64)(milliseconds % 1000 * 1000000)};
    syscall3(sys_nanosleep, (long)&wait, 0, 0);
}

/* Reads exactly count bytes; returns 0 at EOF before the first one. */
static int read_all(long fd, void *buffer, u64 count, const char *what) {
    u8 *at = buffer;
    u64 done = 0;
    while (done < count) {
        const long got = syscall3(sys_read, fd, (long)(at + done), (long)(count - done));
        if (got == -e_intr) continue;
        if (got < 0) fail(what, got);
        if (got == 0) {
            if (done == 0) return 0;
            fail(what, 0);
        }
        done += (u64)got;
    }
    return 1;
}

static void write_all(long fd, const void *buffer, u64 count, const char *what) {
    const u8 *at = buffer;
    u64 done = 0;
    while (done < count) {
        const long put = syscall3(sys_write, fd, (long)(at + done), (long)(count - done));
        if (put == -e_intr) continue;
        if (put <= 0) fail(what, put);
        done += (u64)put;
    }
}

static void put_u32(u8 *at, u32 value) {
    for (int i = 0; i < 4; i++) at[i] = (u8)(value >> (8 * i));
}

static u32 get_u32(const u8 *at) { return (u32)at[0] | (u32)at[1] << 8 | (u32)at[2] << 16 | (u32)at[3] << 24; }

static void put_u64(u8 *at, u64 value) {
    for (int i = 0; i < 8; i++) at[i] = (u8)(value >> (8 * i));
}

static u64 get_u64(const u8 *at) {
    u64 value = 0;
    for (int i = 7; i >= 0; i--) value = value << 8 | at[i];
    return value;
}

static void set_option(long fd, long level, long name, const char *what) {
    int one = 1;
    const long result = syscall6(sys_setsockopt, fd, level, name, (long)&one, sizeof one, 0);
    if (result < 0) fail(what, result);
}

/* ---- the server ---- */

static void serve_stream(long fd) {
    const u64 started = now_ns();
    u64 bytes = 0;
    for (;;) {
        const long got = syscall3(sys_read, fd, (long)io_buffer, io_buffer_bytes);
        if (got == -e_intr) continue;
        if (got < 0) fail("server: read", got);
        if (got == 0) break;
        bytes += (u64)got;
    }
    const u64 elapsed = now_ns() - started;
    u8 reply[header_bytes] = {0};
    put_u64(reply, bytes);
    put_u64(reply + 8, elapsed);
    write_all(fd, reply, sizeof reply, "server: write the byte count");
    struct line line = {.length = 0};
    put_text(&line, "bench-net: server stream");
    put_field(&line, "bytes", bytes);
    put_field(&line, "ns", elapsed);
    emit(&line);
}

static void serve_rr(long fd, u32 size, u32 count) {
    if (size == 0 || size > max_rr_size) fail("server: bad request size", 0);
    set_option(fd, ipproto_tcp, tcp_nodelay, "server: TCP_NODELAY");
    u32 done = 0;
    while (done < count && read_all(fd, io_buffer, size, "server: read a request")) {
        write_all(fd, io_buffer, size, "server: write a response");
        done++;
    }
    struct line line = {.length = 0};
    put_text(&line, "bench-net: server rr");
    put_field(&line, "count", done);
    put_field(&line, "size", size);
    emit(&line);
}

static void server(u64 port, u64 connections) {
    const long listener = syscall3(sys_socket, af_inet, sock_stream, 0);
    if (listener < 0) fail("server: socket", listener);
    set_option(listener, sol_socket, so_reuseaddr, "server: SO_REUSEADDR");
    struct sockaddr_in address = {.family = af_inet, .port = big_endian16(port), .address = 0};
    long result = syscall3(sys_bind, listener, (long)&address, sizeof address);
    if (result < 0) fail("server: bind", result);
    result = syscall3(sys_listen, listener, 8, 0);
    if (result < 0) fail("server: listen", result);
    struct line line = {.length = 0};
    put_text(&line, "bench-net: server listening");
    put_field(&line, "port", port);
    emit(&line);
    for (u64 served = 0; connections == 0 || served < connections; served++) {
        const long fd = syscall3(sys_accept, listener, 0, 0);
        if (fd == -e_intr) {
            served--;
            continue;
        }
        if (fd < 0) fail("server: accept", fd);
        u8 header[header_bytes];
        if (!read_all(fd, header, sizeof header, "server: read the header")) fail("server: no header", 0);
        if (header[0] == mode_stream) {
            serve_stream(fd);
        } else if (header[0] == mode_rr) {
            serve_rr(fd, get_u32(header + 4), get_u32(header + 8));
        } else {
            fail("server: unknown mode in the header", 0);
        }
        syscall3(sys_close, fd, 0, 0);
    }
    syscall3(sys_close, listener, 0, 0);
}

/* ---- the clients ---- */

static long connect_to(const char *host, u64 port) {
    struct sockaddr_in address = {.family = af_inet, .port = big_endian16(port), .address = parse_address(host)};
    long result = 0;
    for (int attempt = 0; attempt < connect_attempts; attempt++) {
        const long fd = syscall3(sys_socket, af_inet, sock_stream, 0);
        if (fd < 0) fail("socket", fd);
        result = syscall3(sys_connect, fd, (long)&address, sizeof address);
        if (result == 0) return fd;
        syscall3(sys_close, fd, 0, 0);
        sleep_ms(200);
    }
    fail("connect: no server", result);
}

static void stream(const char *host, u64 port, u64 bytes) {
    const long fd = connect_to(host, port);
    u8 header[header_bytes] = {mode_stream};
    for (u64 i = 0; i < io_buffer_bytes; i++) io_buffer[i] = (u8)(i * 7 + 1);
    const u64 started = now_ns();
    write_all(fd, header, sizeof header, "stream: write the header");
    for (u64 sent = 0; sent < bytes;) {
        const u64 piece = bytes - sent < 65536 ? bytes - sent : 65536;
        write_all(fd, io_buffer + sent % (io_buffer_bytes / 2), piece, "stream: write");
        sent += piece;
    }
    const long result = syscall3(sys_shutdown, fd, shut_wr, 0);
    if (result < 0) fail("stream: shutdown", result);
    u8 reply[header_bytes];
    if (!read_all(fd, reply, sizeof reply, "stream: read the byte count")) fail("stream: no byte count", 0);
    const u64 elapsed = now_ns() - started;
    syscall3(sys_close, fd, 0, 0);
    if (get_u64(reply) != bytes) fail("stream: the server counted other than what was sent", 0);
    struct line line = {.length = 0};
    put_text(&line, "bench-net: stream");
    put_field(&line, "bytes", bytes);
    put_field(&line, "ns", elapsed);
    put_rate(&line, bytes, elapsed);
    emit(&line);
}

static void sort(u64 *values, u64 count) {
    /* Shell sort with Ciura's gaps, extended by x2.25. */
    static const u64 gaps[] = {57265, 25451, 11311, 5027, 2234, 993, 441, 196, 85, 37, 16, 7, 3, 1};
    for (unsigned g = 0; g < sizeof gaps / sizeof gaps[0]; g++) {
        const u64 gap = gaps[g];
        for (u64 i = gap; i < count; i++) {
            const u64 value = values[i];
            u64 j = i;
            for (; j >= gap && values[j - gap] > value; j -= gap) values[j] = values[j - gap];
            values[j] = value;
        }
    }
}

static void request_response(const char *host, u64 port, u64 count, u64 size, u64 warmup) {
    if (count == 0 || count > max_samples) fail("rr: COUNT must be 1..131072", 0);
    if (size == 0 || size > max_rr_size) fail("rr: SIZE must be 1..65536", 0);
    const long fd = connect_to(host, port);
    set_option(fd, ipproto_tcp, tcp_nodelay, "rr: TCP_NODELAY");
    u8 header[header_bytes] = {mode_rr};
    put_u32(header + 4, (u32)size);
    put_u32(header + 8, (u32)(count + warmup));
    write_all(fd, header, sizeof header, "rr: write the header");
    u8 *request = io_buffer;
    u8 *response = io_buffer + max_rr_size;
    for (u64 i = 0; i < size; i++) request[i] = (u8)(i + 3);
    u64 total = 0;
    for (u64 round = 0; round < count + warmup; round++) {
        request[0] = (u8)round;
        const u64 started = now_ns();
        write_all(fd, request, size, "rr: write a request");
        if (!read_all(fd, response, size, "rr: read a response")) fail("rr: the server closed early", 0);
        const u64 elapsed = now_ns() - started;
        if (response[0] != (u8)round) fail("rr: the response is not the request", 0);
        if (round >= warmup) {
            samples[round - warmup] = elapsed;
            total += elapsed;
        }
    }
    syscall3(sys_close, fd, 0, 0);
    sort(samples, count);
    struct line line = {.length = 0};
    put_text(&line, "bench-net: rr");
    put_field(&line, "count", count);
    put_field(&line, "size", size);
    put_field(&line, "mean_ns", total / count);
    put_field(&line, "p50_ns", samples[count / 2]);
    put_field(&line, "p99_ns", samples[(count * 99) / 100 < count ? (count * 99) / 100 : count - 1]);
    put_field(&line, "min_ns", samples[0]);
    put_field(&line, "max_ns", samples[count - 1]);
    emit(&line);
}

/* ---- block ---- */

static const u64 sector_magic = 0x6c616d696e61626cUL; /* "laminabl" */

static void block_line(const char *what, const char *device, u64 bytes, u64 block, u64 elapsed) {
    struct line line = {.length = 0};
    put_text(&line, "bench-blk: ");
    put_text(&line, what);
    put_text(&line, " dev=");
    const char *name = device;
    for (const char *at = device; *at; at++)
        if (*at == '/') name = at + 1;
    put_text(&line, name);
    put_field(&line, "bytes", bytes);
    put_field(&line, "block", block);
    put_field(&line, "ns", elapsed);
    put_rate(&line, bytes, elapsed);
    emit(&line);
}

static void block(const char *device, u64 mib, u64 block_kib) {
    const u64 block = block_kib * 1024;
    const u64 bytes = mib * 1024 * 1024;
    if (block == 0 || block > io_buffer_bytes || block % 4096 != 0) fail("blk: BLOCK_KIB must be 4..1024, a multiple of 4", 0);
    if (bytes == 0 || bytes % block != 0) fail("blk: MIB must be a positive multiple of the block", 0);
    const long fd = syscall6(sys_openat, at_fdcwd, (long)device, o_rdwr | o_direct, 0, 0, 0);
    if (fd < 0) fail("blk: open the device with O_DIRECT", fd);
    for (u64 i = 0; i < block; i++) io_buffer[i] = (u8)(i * 13 + 5);

    u64 started = now_ns();
    for (u64 offset = 0; offset < bytes; offset += block) {
        for (u64 sector = 0; sector < block; sector += 512) {
            /* A marker per sector: where it belongs. Cheap next to the copy. */
            u64 *marker = (u64 *)(io_buffer + sector);
            *marker = (offset + sector) ^ sector_magic;
        }
        write_all(fd, io_buffer, block, "blk: write");
    }
    long result = syscall3(sys_fsync, fd, 0, 0);
    if (result < 0) fail("blk: fsync", result);
    block_line("write", device, bytes, block, now_ns() - started);

    result = syscall3(sys_lseek, fd, 0, 0 /* SEEK_SET */);
    if (result < 0) fail("blk: lseek", result);
    started = now_ns();
    for (u64 offset = 0; offset < bytes; offset += block) {
        if (!read_all(fd, io_buffer, block, "blk: read")) fail("blk: the device ended early", 0);
        for (u64 sector = 0; sector < block; sector += 512)
            if (*(u64 *)(io_buffer + sector) != ((offset + sector) ^ sector_magic))
                fail("blk: read back other than was written", 0);
    }
    block_line("read", device, bytes, block, now_ns() - started);
    syscall3(sys_close, fd, 0, 0);
}

/* ---- entry ---- */

static void usage(void) {
    fail("usage: bench-net server PORT [CONNECTIONS] | stream HOST PORT BYTES | "
         "rr HOST PORT COUNT SIZE [WARMUP] | blk DEVICE MIB BLOCK_KIB",
         0);
}

__attribute__((used, noreturn)) void start_c(long *stack) {
    const long argc = stack[0];
    char **argv = (char **)(stack + 1);
    if (argc < 2) usage();
    const char *mode = argv[1];
    if (same(mode, "server") && (argc == 3 || argc == 4)) {
        server(parse_number(argv[2], "bad PORT"), argc == 4 ? parse_number(argv[3], "bad CONNECTIONS") : 0);
    } else if (same(mode, "stream") && argc == 5) {
        stream(argv[2], parse_number(argv[3], "bad PORT"), parse_number(argv[4], "bad BYTES"));
    } else if (same(mode, "rr") && (argc == 6 || argc == 7)) {
        const u64 count = parse_number(argv[4], "bad COUNT");
        request_response(argv[2], parse_number(argv[3], "bad PORT"), count, parse_number(argv[5], "bad SIZE"),
                         argc == 7 ? parse_number(argv[6], "bad WARMUP") : count / 10);
    } else if (same(mode, "blk") && argc == 5) {
        block(argv[2], parse_number(argv[3], "bad MIB"), parse_number(argv[4], "bad BLOCK_KIB"));
    } else {
        usage();
    }
    exit_with(0);
}

/* The kernel enters with sp at argc, argv[], NULL, envp[]: hand sp to C. */
__asm__(".text\n"
        ".global _start\n"
        "_start:\n"
        "    mov x0, sp\n"
        "    bl start_c\n");
