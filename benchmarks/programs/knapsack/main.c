/* DP benchmark driver: knapsack instances and matrix chains. */
#include "dp.h"
#include <stdio.h>
#include <stdlib.h>

#define NITEMS 1500
#define CAPACITY 120000u
#define SEL_ITEMS 200
#define SEL_CAP 20000u
#define CHAIN 480

static uint64_t fnv(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    return h;
}

int main(void)
{
    dp_rng r = { 0x7a5f3c1e9b2d4f68ull };
    item *items = malloc(NITEMS * sizeof *items);
    uint64_t *best = malloc((CAPACITY + 1) * sizeof *best);
    uint8_t *take = malloc((size_t)SEL_ITEMS * ((SEL_CAP + 8) / 8));
    uint64_t *cost = malloc((size_t)CHAIN * CHAIN * sizeof *cost);
    uint32_t *split = malloc((size_t)CHAIN * CHAIN * sizeof *split);
    uint32_t *dims = malloc((CHAIN + 1) * sizeof *dims);
    char *paren = malloc(4 * CHAIN);
    if (!items || !best || !take || !cost || !split || !dims || !paren)
        return 1;
    int ok = 1;

    gen_items(items, NITEMS, &r, CAPACITY / 40);
    uint64_t kmax = knapsack_max(items, NITEMS, CAPACITY, best);
    uint64_t bound = knapsack_greedy_bound(items, NITEMS, CAPACITY);
    ok &= kmax <= bound;
    uint64_t curve = 0;
    for (uint32_t c = 0; c <= CAPACITY; c += 997)
        curve = curve * 31u + best[c];

    /* selection recovery on a smaller instance, verified against the value DP */
    uint64_t sel = knapsack_select(items, SEL_ITEMS, SEL_CAP, take);
    uint64_t chk = knapsack_max(items, SEL_ITEMS, SEL_CAP, best);
    size_t stride = (SEL_CAP + 8) / 8;
    uint64_t wsum = 0, vsum = 0;
    unsigned chosen = 0;
    for (size_t i = 0; i < SEL_ITEMS; i++) {
        if (take[i * stride] & 1u) {
            wsum += items[i].weight;
            vsum += items[i].value;
            chosen++;
        }
    }
    ok &= sel == chk && vsum == sel && wsum <= SEL_CAP;

    gen_dims(dims, CHAIN, &r);
    uint64_t mcm = mcm_solve(dims, CHAIN, cost, split);
    ok &= mcm == mcm_evaluate(dims, CHAIN, split, 0, CHAIN - 1);
    ok &= mcm <= mcm_left_to_right(dims, CHAIN);
    size_t plen = mcm_format(split, CHAIN, 0, CHAIN - 1, paren, 0);

    printf("knapsack best=%llu bound=%llu selected=%u value=%llu weight=%llu check=%s\n",
           (unsigned long long)kmax, (unsigned long long)bound, chosen, (unsigned long long)vsum,
           (unsigned long long)wsum, ok ? "ok" : "FAIL");
    printf("mcm cost=%llu paren_hash=%016llx curve=%016llx\n", (unsigned long long)mcm,
           (unsigned long long)fnv(paren, plen), (unsigned long long)curve);
    free(items);
    free(best);
    free(take);
    free(cost);
    free(split);
    free(dims);
    free(paren);
    return ok ? 0 : 1;
}
