#include <stdio.h>
#include <stdlib.h>
#include <inttypes.h>
#include "vm.h"

typedef struct {
    int fib, gcd_sum, collatz_sum, sieve, kernel[4];
} entry_points;

static int build(program_t *p, entry_points *e) {
    prog_init(p);
    int csum = 0;
    e->fib = gen_fib(p);
    e->gcd_sum = gen_gcd_sum(p);
    gen_collatz(p, &csum);
    e->collatz_sum = csum;
    e->sieve = gen_sieve(p);
    for (int k = 0; k < 4; k++)
        e->kernel[k] = gen_random_kernel(p, 0x1234567ull * (uint64_t)(k + 1), 3 + k % 2);
    return prog_finish(p);
}

static uint64_t run_suite(const program_t *p, const entry_points *e, uint64_t *mem,
                          vm_stats *st, uint64_t out[8]) {
    uint64_t a;
    a = 26; out[0] = vm_call(p, e->fib, &a, 1, mem, st);
    a = 30000; out[1] = vm_call(p, e->gcd_sum, &a, 1, mem, st);
    a = 20000; out[2] = vm_call(p, e->collatz_sum, &a, 1, mem, st);
    a = 200000; out[3] = vm_call(p, e->sieve, &a, 1, mem, st);
    uint64_t h = 0;
    for (int k = 0; k < 4; k++) {
        a = 25000;
        out[4 + k] = vm_call(p, e->kernel[k], &a, 1, mem, st);
    }
    for (int k = 0; k < 8; k++)
        h = (h ^ out[k]) * 0x100000001B3ull;
    return h;
}

int main(void) {
    program_t base, opt;
    entry_points e;
    if (!build(&base, &e) || !peephole(&base, &opt)) {
        fprintf(stderr, "build failed\n");
        return 1;
    }
    uint64_t *mem = calloc(VM_MEM_WORDS, sizeof(uint64_t));
    if (!mem)
        return 1;
    vm_stats s1 = {0, 0, 0}, s2 = {0, 0, 0};
    uint64_t r1[8], r2[8];
    uint64_t h1 = run_suite(&base, &e, mem, &s1, r1);
    uint64_t h2 = run_suite(&opt, &e, mem, &s2, r2);
    printf("fib %" PRIu64 " gcd %" PRIu64 " collatz %" PRIu64 " primes %" PRIu64 "\n",
           r1[0], r1[1], r1[2], r1[3]);
    printf("kernels %016" PRIx64 " %s\n", h1, h1 == h2 ? "match" : "MISMATCH");
    printf("insns %" PRIu64 " -> %" PRIu64 " calls %" PRIu64 " depth %d size %d -> %d\n",
           s1.executed, s2.executed, s1.calls, s1.max_depth, base.len, opt.len);
    free(mem);
    prog_free(&base);
    prog_free(&opt);
    return 0;
}
