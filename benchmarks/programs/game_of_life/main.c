#include <stdio.h>
#include <inttypes.h>
#include "life.h"

#define W 1024
#define H 768
#define PLAIN_GENS 40
#define PACKED_GENS 1500

int main(void) {
    plain_grid a, b;
    packed_grid p, q;
    if (!plain_alloc(&a, W, H) || !plain_alloc(&b, W, H) ||
        !packed_alloc(&p, W, H) || !packed_alloc(&q, W, H)) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    plain_randomize(&a, 31337u, 30);
    for (int i = 0; i < 40; i++)
        plain_add_glider(&a, (i * 97) % W, (i * 61) % H);
    pack_grid(&a, &p);
    plain_grid *pc = &a, *pn = &b;
    packed_grid *kc = &p, *kn = &q;
    int agree = 1;
    for (int g = 0; g < PLAIN_GENS; g++) {
        plain_step(pc, pn);
        packed_step(kc, kn);
        plain_grid *t = pc; pc = pn; pn = t;
        packed_grid *u = kc; kc = kn; kn = u;
        if (g % 10 == 9 && !packed_equals_plain(kc, pc))
            agree = 0;
    }
    uint64_t pop_plain = plain_population(pc);
    for (int g = PLAIN_GENS; g < PACKED_GENS; g++) {
        packed_step(kc, kn);
        packed_grid *u = kc; kc = kn; kn = u;
    }
    printf("gen %d population %" PRIu64 " implementations %s\n", PLAIN_GENS, pop_plain,
           agree ? "agree" : "DISAGREE");
    printf("gen %d population %" PRIu64 " hash %016" PRIx64 "\n", PACKED_GENS,
           packed_population(kc), packed_hash(kc));
    plain_free(&a); plain_free(&b);
    packed_free(&p); packed_free(&q);
    return 0;
}
