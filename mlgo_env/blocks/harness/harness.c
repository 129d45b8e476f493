/*
 * Basic-block timing harness without hardware counters (BHive's method, timed with the TSC).
 *
 * Usage: harness CPU [AVOID]. CPU: the logical CPU to pin to (-1: none; a failed pin is reported
 * on stderr as "warning: ..."). AVOID: comma-separated features not to use even if the CPU has
 * them ("avx", "avx512", "rdtscp"), to exercise the fallbacks on any machine.
 *
 * One invocation is one measurement pass over the blocks read from stdin, one per line:
 *     INDEX HEX
 * and prints one line per block, flushed, as soon as it is measured:
 *     INDEX STATUS CYCLES_PER_100 TICKS_PER_CYCLE FAULTS UNROLL
 * STATUS is "ok" or the reason the block was rejected: "fault" (a memory access that could not be
 * mapped, or more than MAX_FAULTS pages), "divide" (SIGFPE), "illegal" (SIGILL: the CPU does not
 * support an instruction), "bus" (SIGBUS), "trap" (SIGTRAP), "timeout" or "unstable" (the longer
 * unrolling was not slower than the shorter one).
 *
 * How a block is timed:
 *   - the block is copied A and B = A/2 times back to back after code that sets every general
 *     register to REG_INIT; vector registers start as 1.0f (ymm with AVX, else xmm; zmm and mask
 *     registers too with AVX-512, as CPUID reports them), MXCSR flushes denormals;
 *   - the first run maps every page the block touches: on SIGSEGV one page at the faulting
 *     address is mapped (all of them onto one physical page filled with MEM_FILL, so data stays in
 *     L1) and the run restarts from the beginning, at most MAX_FAULTS times;
 *   - each unrolled copy is run REPS times, interleaved, and the minimum TSC delta of each is kept;
 *   - a chain of dependent `add rax, rbx` (1 core cycle each on every recent x86 core) is timed
 *     the same way next to the block, converting TSC ticks into core cycles and cancelling clock
 *     changes; throughput = (L_A - L_B) / (A - B) / ticks_per_cycle;
 *   - a timed run ends with rdtscp, or lfence; rdtsc where the CPU lacks rdtscp (the same: the
 *     time stamp is read after every earlier instruction has completed).
 * rsp is set like the other registers (and restored after), so stack accesses hit mapped pages.
 * Blocks that branch, divide or use segment overrides are rejected by the Python driver first.
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <unistd.h>
#include <x86intrin.h>

#define PAGE 4096UL
#define CODE_ADDR 0x100000000000UL /* far from the program, its heap, libraries and stack */
#define CODE_SLOT (1UL << 20)      /* one unrolled copy per slot: A, B, calibration A, B */
#define MAX_CODE_BYTES 16384UL     /* cap on the unrolled body, to stay within L1i / op cache */
#define MAX_UNROLL 200
#define MIN_UNROLL 16
#define MAX_FAULTS 32
#define REPS 12
#define TARGET_TICKS 60000UL /* ~23 us at 2.6 GHz: the TSC ticks in steps of 26 */
#define MAX_CALLS 1000UL
#define REG_INIT 0x2324000UL
#define SAVED_RSP 0x6FFF0000UL /* page holding the harness's rsp while a block runs */
#define MEM_FILL 0x12345600UL
#define MXCSR_FTZ_DAZ 0x9FC0u
#define MAX_BLOCK_BYTES 4096

enum status { ST_OK = 0, ST_RETRY, ST_FAULT, ST_DIVIDE, ST_ILLEGAL, ST_BUS, ST_TRAP, ST_TIMEOUT };
static const char *STATUS_NAME[] = {"ok", "retry", "fault", "divide", "illegal", "bus", "trap", "timeout"};

struct timing {
    uint64_t t0, t1;
};

/* What run_block may use, as bits of its `features` argument. */
#define F_AVX 1u    /* initialise ymm0-15 (else xmm0-15) and vzeroupper after */
#define F_AVX512 2u /* initialise zmm16-31 and k1-k7 too */
#define F_RDTSCP 4u /* end a timed run with rdtscp (else lfence; rdtsc) */

/* run_block(timing, code, vector_init, mxcsr, features, calls): calls `code` (which initialises
 * the general registers, runs the body and returns) `calls` times between two TSC reads. Repeating
 * the call makes the timed region long against the TSC's granularity (26 ticks on these VMs).
 * Frame: 0 mxcsr to load, 8 saved mxcsr, 16 code, 24 calls left, 32 features, 48 the timing. */
extern void run_block(struct timing *t, const void *code, const float *vinit, uint32_t mxcsr,
                      uint64_t features, uint64_t calls);
__asm__(".text\n"
        ".globl run_block\n"
        ".type run_block,@function\n"
        "run_block:\n"
        "  push %rbx\n  push %rbp\n  push %r12\n  push %r13\n  push %r14\n  push %r15\n"
        "  push %rdi\n"
        "  sub $48, %rsp\n"
        "  mov %rsi, 16(%rsp)\n"
        "  mov %r9, 24(%rsp)\n"
        "  mov %r8, 32(%rsp)\n"
        "  stmxcsr 8(%rsp)\n"
        "  mov %ecx, (%rsp)\n"
        "  ldmxcsr (%rsp)\n"
        "  test $1, %r8\n" /* F_AVX */
        "  jz 3f\n"
        "  vmovups (%rdx), %ymm0\n  vmovaps %ymm0, %ymm1\n  vmovaps %ymm0, %ymm2\n"
        "  vmovaps %ymm0, %ymm3\n  vmovaps %ymm0, %ymm4\n  vmovaps %ymm0, %ymm5\n"
        "  vmovaps %ymm0, %ymm6\n  vmovaps %ymm0, %ymm7\n  vmovaps %ymm0, %ymm8\n"
        "  vmovaps %ymm0, %ymm9\n  vmovaps %ymm0, %ymm10\n  vmovaps %ymm0, %ymm11\n"
        "  vmovaps %ymm0, %ymm12\n  vmovaps %ymm0, %ymm13\n  vmovaps %ymm0, %ymm14\n"
        "  vmovaps %ymm0, %ymm15\n"
        "  test $2, %r8\n" /* F_AVX512 */
        "  jz 1f\n"
        "  vmovups (%rdx), %zmm16\n  vmovaps %zmm16, %zmm17\n  vmovaps %zmm16, %zmm18\n"
        "  vmovaps %zmm16, %zmm19\n  vmovaps %zmm16, %zmm20\n  vmovaps %zmm16, %zmm21\n"
        "  vmovaps %zmm16, %zmm22\n  vmovaps %zmm16, %zmm23\n  vmovaps %zmm16, %zmm24\n"
        "  vmovaps %zmm16, %zmm25\n  vmovaps %zmm16, %zmm26\n  vmovaps %zmm16, %zmm27\n"
        "  vmovaps %zmm16, %zmm28\n  vmovaps %zmm16, %zmm29\n  vmovaps %zmm16, %zmm30\n"
        "  vmovaps %zmm16, %zmm31\n"
        "  kxnorq %k1, %k1, %k1\n  kxnorq %k2, %k2, %k2\n  kxnorq %k3, %k3, %k3\n"
        "  kxnorq %k4, %k4, %k4\n  kxnorq %k5, %k5, %k5\n  kxnorq %k6, %k6, %k6\n"
        "  kxnorq %k7, %k7, %k7\n"
        "  jmp 1f\n"
        "3:\n"
        "  movups (%rdx), %xmm0\n  movaps %xmm0, %xmm1\n  movaps %xmm0, %xmm2\n"
        "  movaps %xmm0, %xmm3\n  movaps %xmm0, %xmm4\n  movaps %xmm0, %xmm5\n"
        "  movaps %xmm0, %xmm6\n  movaps %xmm0, %xmm7\n  movaps %xmm0, %xmm8\n"
        "  movaps %xmm0, %xmm9\n  movaps %xmm0, %xmm10\n  movaps %xmm0, %xmm11\n"
        "  movaps %xmm0, %xmm12\n  movaps %xmm0, %xmm13\n  movaps %xmm0, %xmm14\n"
        "  movaps %xmm0, %xmm15\n"
        "1:\n"
        "  lfence\n"
        "  rdtsc\n"
        "  shl $32, %rdx\n"
        "  or %rdx, %rax\n"
        "  mov 48(%rsp), %rdi\n"
        "  mov %rax, (%rdi)\n"
        "  lfence\n"
        "2:\n"
        "  call *16(%rsp)\n"
        "  decq 24(%rsp)\n"
        "  jnz 2b\n"
        "  testq $4, 32(%rsp)\n" /* F_RDTSCP */
        "  jz 4f\n"
        "  rdtscp\n"
        "  jmp 5f\n"
        "4:\n"
        "  lfence\n"
        "  rdtsc\n"
        "5:\n"
        "  lfence\n"
        "  shl $32, %rdx\n"
        "  or %rdx, %rax\n"
        "  mov 48(%rsp), %rdi\n"
        "  mov %rax, 8(%rdi)\n"
        "  ldmxcsr 8(%rsp)\n"
        "  cld\n"
        "  fninit\n"
        "  testq $1, 32(%rsp)\n" /* F_AVX */
        "  jz 6f\n"
        "  vzeroupper\n"
        "6:\n"
        "  add $48, %rsp\n"
        "  pop %rdi\n"
        "  pop %r15\n  pop %r14\n  pop %r13\n  pop %r12\n  pop %rbp\n  pop %rbx\n"
        "  ret\n"
        ".size run_block, .-run_block\n");

static sigjmp_buf jump_back;
static volatile sig_atomic_t in_block;
static int mem_fd = -1;
static uintptr_t mapped[MAX_FAULTS];
static volatile int n_mapped;
static float vector_init[16] __attribute__((aligned(64)));
static uint64_t features; /* F_* bits: what this CPU has, less what the caller asked to avoid */

/* A fault inside the block: map the page and restart, or give up with a reason. */
static void on_signal(int sig, siginfo_t *info, void *uctx) {
    (void)uctx;
    if (!in_block) {
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    in_block = 0;
    if (sig == SIGSEGV) {
        uintptr_t page = (uintptr_t)info->si_addr & ~(PAGE - 1);
        if (page == 0 || n_mapped >= MAX_FAULTS) siglongjmp(jump_back, ST_FAULT);
        void *p = mmap((void *)page, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED_NOREPLACE,
                       mem_fd, 0);
        if (p != (void *)page) {
            if (p != MAP_FAILED) munmap(p, PAGE);
            siglongjmp(jump_back, ST_FAULT);
        }
        mapped[n_mapped++] = page;
        siglongjmp(jump_back, ST_RETRY);
    }
    if (sig == SIGFPE) siglongjmp(jump_back, ST_DIVIDE);
    if (sig == SIGILL) siglongjmp(jump_back, ST_ILLEGAL);
    if (sig == SIGBUS) siglongjmp(jump_back, ST_BUS);
    if (sig == SIGTRAP) siglongjmp(jump_back, ST_TRAP);
    siglongjmp(jump_back, ST_TIMEOUT);
}

static void install_handlers(void) {
    static char altstack[1 << 16];
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
    sigaltstack(&ss, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    int sigs[] = {SIGSEGV, SIGFPE, SIGILL, SIGBUS, SIGTRAP, SIGALRM};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaction(sigs[i], &sa, NULL);
}

static void unmap_pages(void) {
    for (int i = 0; i < n_mapped; i++) munmap((void *)mapped[i], PAGE);
    n_mapped = 0;
}

/* Writes "lfence; save rsp; init registers; body x unroll; restore rsp; ret" into slot `slot` and
 * returns its address. rsp is saved at a fixed 32-bit address (no register is free to hold it) and
 * set like the others, so blocks that push, pop or address the stack run on mapped pages too. */
static uint8_t *build(int slot, const uint8_t *body, size_t len, int unroll) {
    static const uint8_t lfence[] = {0x0F, 0xAE, 0xE8};
    /* mov [SAVED_RSP], rsp / mov rsp, [SAVED_RSP] (absolute disp32 through SIB) */
    uint8_t save_rsp[] = {0x48, 0x89, 0x24, 0x25, 0, 0, 0, 0};
    uint8_t load_rsp[] = {0x48, 0x8B, 0x24, 0x25, 0, 0, 0, 0};
    uint32_t slot_addr = (uint32_t)SAVED_RSP;
    memcpy(save_rsp + 4, &slot_addr, 4);
    memcpy(load_rsp + 4, &slot_addr, 4);

    uint8_t *code = (uint8_t *)(CODE_ADDR + slot * CODE_SLOT);
    mprotect(code, CODE_SLOT, PROT_READ | PROT_WRITE);
    uint8_t *p = code;
    /* lfence: the previous call's body must finish first; otherwise out-of-order execution
     * overlaps consecutive calls, whose chains the register initialisation makes independent. */
    memcpy(p, lfence, sizeof lfence);
    p += sizeof lfence;
    memcpy(p, save_rsp, sizeof save_rsp);
    p += sizeof save_rsp;
    for (int reg = 0; reg < 16; reg++) {
        *p++ = 0x48 | (reg >= 8 ? 1 : 0); /* movabs reg, REG_INIT */
        *p++ = 0xB8 + (reg & 7);
        uint64_t v = REG_INIT;
        memcpy(p, &v, 8);
        p += 8;
    }
    for (int i = 0; i < unroll; i++, p += len) memcpy(p, body, len);
    memcpy(p, load_rsp, sizeof load_rsp);
    p += sizeof load_rsp;
    *p++ = 0xC3; /* ret */
    mprotect(code, CODE_SLOT, PROT_READ | PROT_EXEC);
    return code;
}

/* One timed run of `calls` calls of `code`; returns ST_OK with the TSC delta in *ticks, or the
 * signal's reason. */
static int run_once(const uint8_t *code, uint64_t calls, uint64_t *ticks) {
    struct timing t;
    int rc = sigsetjmp(jump_back, 1);
    if (rc != 0) {
        _mm_setcsr(0x1F80);
        return rc;
    }
    in_block = 1;
    run_block(&t, code, vector_init, MXCSR_FTZ_DAZ, features, calls);
    in_block = 0;
    *ticks = t.t1 - t.t0;
    return ST_OK;
}

/* Runs `code` until it completes without faulting, mapping pages on the way; then *ticks is the
 * fastest of a few warm runs of one call. */
static int run_mapping(const uint8_t *code, uint64_t *ticks) {
    int rc;
    do rc = run_once(code, 1, ticks);
    while (rc == ST_RETRY);
    for (int r = 0; r < 4 && rc == ST_OK; r++) {
        uint64_t t;
        rc = run_once(code, 1, &t);
        if (t < *ticks) *ticks = t;
    }
    return rc == ST_RETRY ? ST_FAULT : rc;
}

/* One unrolled pair (A and B copies) being timed: the minimum ticks of each copy so far. */
struct pair {
    const uint8_t *code_a, *code_b;
    int a, b;
    uint64_t calls, best_a, best_b;
};

/* Sets the number of calls per timed run so that a run lasts about TARGET_TICKS; `probe` is the
 * ticks of one call of code_a. */
static void pair_init(struct pair *p, const uint8_t *code_a, const uint8_t *code_b, int a, int b,
                      uint64_t probe) {
    p->code_a = code_a;
    p->code_b = code_b;
    p->a = a;
    p->b = b;
    p->calls = TARGET_TICKS / (probe ? probe : 1) + 1;
    if (p->calls > MAX_CALLS) p->calls = MAX_CALLS;
    p->best_a = p->best_b = UINT64_MAX;
}

static int pair_run(struct pair *p, int which_b) {
    uint64_t t;
    int rc = run_once(which_b ? p->code_b : p->code_a, p->calls, &t);
    if (rc != ST_OK) return rc == ST_RETRY ? ST_FAULT : rc;
    uint64_t *best = which_b ? &p->best_b : &p->best_a;
    if (t < *best) *best = t;
    return ST_OK;
}

/* Ticks per iteration: (min L_A - min L_B) / (calls * (A - B)). */
static double pair_ticks_per_iter(const struct pair *p) {
    return ((double)p->best_a - (double)p->best_b) / (double)(p->calls * (uint64_t)(p->a - p->b));
}

static const uint8_t ADD_RAX_RBX[] = {0x48, 0x01, 0xD8};

static void measure(long index, const uint8_t *body, size_t len) {
    int a = (int)(MAX_CODE_BYTES / len);
    if (a > MAX_UNROLL) a = MAX_UNROLL;
    if (a < MIN_UNROLL) a = MIN_UNROLL;
    int b = a / 2;
    const uint8_t *code_a = build(0, body, len, a);
    const uint8_t *code_b = build(1, body, len, b);
    struct itimerval timeout = {{0, 0}, {1, 0}}, off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &timeout, NULL);
    uint64_t probe = 0, unused;
    int status = run_mapping(code_a, &probe);
    if (status == ST_OK) status = run_mapping(code_b, &unused);
    uint64_t cal_probe = 0;
    const uint8_t *cal_a = (const uint8_t *)(CODE_ADDR + 2 * CODE_SLOT);
    const uint8_t *cal_b = (const uint8_t *)(CODE_ADDR + 3 * CODE_SLOT);
    if (status == ST_OK) status = run_mapping(cal_a, &cal_probe);
    struct pair cal, blk;
    pair_init(&cal, cal_a, cal_b, MAX_UNROLL, MAX_UNROLL / 2, cal_probe);
    pair_init(&blk, code_a, code_b, a, b, probe);
    /* Interleaved, so that the calibration sees the same clock as the block. */
    for (int r = 0; r < REPS && status == ST_OK; r++) {
        for (int which_b = 0; which_b < 2 && status == ST_OK; which_b++) {
            status = pair_run(&cal, which_b);
            if (status == ST_OK) status = pair_run(&blk, which_b);
        }
    }
    setitimer(ITIMER_REAL, &off, NULL);
    int faults = n_mapped;
    unmap_pages();
    const char *name = STATUS_NAME[status];
    double cycles = 0.0, ticks_per_cycle = 0.0;
    if (status == ST_OK) {
        ticks_per_cycle = pair_ticks_per_iter(&cal);
        double ticks = pair_ticks_per_iter(&blk);
        cycles = 100.0 * ticks / ticks_per_cycle;
        if (!(ticks > 0.0) || !(ticks_per_cycle > 0.0)) name = "unstable";
    }
    printf("%ld %s %.3f %.5f %d %d\n", index, name, cycles, ticks_per_cycle, faults, a);
    fflush(stdout);
}

/* Keeps the core busy for `ticks` TSC ticks, so that its clock is up before the first block. */
static void spin(uint64_t ticks) {
    uint64_t end = __rdtsc() + ticks;
    while (__rdtsc() < end) _mm_pause();
}

static size_t parse_hex(const char *hex, uint8_t *out, size_t cap) {
    size_t n = 0;
    while (hex[0] && hex[1] && n < cap) {
        unsigned v;
        if (sscanf(hex, "%2x", &v) != 1) break;
        out[n++] = (uint8_t)v;
        hex += 2;
    }
    return n;
}

/* Whether the comma-separated `list` names `feature`. */
static int listed(const char *list, const char *feature) {
    size_t n = strlen(feature);
    for (const char *p = list; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
        if (strncmp(p, feature, n) == 0 && (p[n] == ',' || p[n] == '\0')) return 1;
    return 0;
}

/* The F_* features this CPU has (CPUID; AVX only where the OS saves ymm state; RDTSCP is bit 27
 * of EDX of leaf 0x80000001), less `avoid`. */
static uint64_t cpu_features(const char *avoid) {
    __builtin_cpu_init();
    unsigned eax, ebx, ecx, edx;
    int avx = __builtin_cpu_supports("avx") && !listed(avoid, "avx");
    int avx512 = avx && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                 !listed(avoid, "avx512");
    int rdtscp = __get_cpuid(0x80000001u, &eax, &ebx, &ecx, &edx) && (edx & (1u << 27)) &&
                 !listed(avoid, "rdtscp");
    return (avx ? F_AVX : 0) | (avx512 ? F_AVX512 : 0) | (rdtscp ? F_RDTSCP : 0);
}

int main(int argc, char **argv) {
    int cpu = argc > 1 ? atoi(argv[1]) : -1;
    if (cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        if (sched_setaffinity(0, sizeof set, &set) != 0)
            fprintf(stderr, "warning: could not pin the harness to CPU %d (%s): measuring unpinned\n", cpu,
                    strerror(errno));
    }
    features = cpu_features(argc > 2 ? argv[2] : "");
    for (int i = 0; i < 16; i++) vector_init[i] = 1.0f;

    mem_fd = memfd_create("harness-data", 0);
    if (mem_fd < 0 || ftruncate(mem_fd, PAGE) != 0) {
        perror("memfd");
        return 2;
    }
    uint64_t *fill = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, mem_fd, 0);
    for (size_t i = 0; i < PAGE / 8; i++) fill[i] = MEM_FILL;
    munmap(fill, PAGE);
    if (mmap((void *)CODE_ADDR, 4 * CODE_SLOT, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) != (void *)CODE_ADDR) {
        perror("mmap code");
        return 2;
    }
    if (mmap((void *)SAVED_RSP, PAGE, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) != (void *)SAVED_RSP) {
        perror("mmap rsp slot");
        return 2;
    }
    build(2, ADD_RAX_RBX, sizeof ADD_RAX_RBX, MAX_UNROLL);
    build(3, ADD_RAX_RBX, sizeof ADD_RAX_RBX, MAX_UNROLL / 2);
    install_handlers();
    spin(100000000UL);

    static char line[2 * MAX_BLOCK_BYTES + 64];
    static uint8_t body[MAX_BLOCK_BYTES];
    while (fgets(line, sizeof line, stdin)) {
        long index;
        char hex[2 * MAX_BLOCK_BYTES + 1];
        if (sscanf(line, "%ld %8192s", &index, hex) != 2) continue;
        size_t len = parse_hex(hex, body, sizeof body);
        if (len == 0) continue;
        measure(index, body, len);
    }
    return 0;
}
