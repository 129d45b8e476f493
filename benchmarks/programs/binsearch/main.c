/* Searching benchmark driver: the sorted array is 64 MiB, far larger than the
 * last-level cache, and is probed at random positions. */
#include "search.h"
#include <stdio.h>
#include <stdlib.h>

#ifndef NA
#define NA (16u << 20)
#endif
#ifndef NQ
#define NQ (1u << 17)
#endif
#define NB (1u << 20)

int main(void)
{
    uint32_t *a = malloc((size_t)NA * sizeof *a);
    uint32_t *b = malloc((size_t)NB * sizeof *b);
    uint32_t *q = malloc((size_t)NQ * sizeof *q);
    uint32_t *out = malloc((size_t)NB * sizeof *out);
    if (!a || !b || !q || !out)
        return 1;
    make_sorted(a, NA, 48, 0x1111u);
    make_sorted(b, NB, 48u * (NA / NB), 0x2222u);
    make_queries(q, NQ, a, NA, 0x3333u);

    uint64_t sum_pos = 0, found = 0;
    size_t mismatches = 0;
    for (size_t i = 0; i + BATCH <= NQ; i += BATCH) {
        size_t res[BATCH];
        lower_bound_batch(a, NA, q + i, res);
        for (int k = 0; k < BATCH; k++) {
            sum_pos += res[k];
            found += res[k] < NA && a[res[k]] == q[i + k];
        }
    }
    for (size_t i = 0; i < NQ; i += 2) {
        size_t p1 = lower_bound_branchy(a, NA, q[i]);
        size_t p2 = lower_bound_branchless(a, NA, q[i + 1]);
        sum_pos -= p1 + p2;
    }
    for (size_t i = 0; i < NQ; i += 4) {
        size_t p = interpolation_search(a, NA, q[i]);
        mismatches += p != lower_bound_branchless(a, NA, q[i]);
    }
    /* Eytzinger layout of b, checked against plain binary search on b */
    uint32_t *eyt = malloc(((size_t)NB + 1) * sizeof *eyt);
    uint32_t *rank = malloc(((size_t)NB + 1) * sizeof *rank);
    if (!eyt || !rank)
        return 1;
    eytzinger_build(b, eyt, NB, 0, 1);
    eytzinger_ranks(rank, NB);
    uint64_t eyt_sum = 0;
    for (size_t i = 0; i < NQ; i++) {
        uint32_t key = q[i] / (uint32_t)(NA / NB) * 3u;
        size_t e = eytzinger_to_sorted_index(eytzinger_lower_bound(eyt, NB, key), NB, rank);
        mismatches += e != lower_bound_branchy(b, NB, key);
        eyt_sum += e;
    }
    free(eyt);
    free(rank);

    size_t n1 = intersect_merge(a, NA, b, NB, out);
    uint64_t ih = 0;
    for (size_t i = 0; i < n1; i++)
        ih = ih * 31u + out[i];
    size_t n2 = intersect_gallop(a, NA, b, NB, out);
    uint64_t ih2 = 0;
    for (size_t i = 0; i < n2; i++)
        ih2 = ih2 * 31u + out[i];

    int ok = sum_pos == 0 && mismatches == 0 && n1 == n2 && ih == ih2;
    printf("binsearch n=%u queries=%u found=%llu intersection=%zu agree=%s\n", NA, NQ,
           (unsigned long long)found, n1, ok ? "ok" : "FAIL");
    printf("checksum=%016llx\n", (unsigned long long)(ih ^ (found << 32) ^ a[NA / 3] ^ (eyt_sum << 7)));
    free(a);
    free(b);
    free(q);
    free(out);
    return ok ? 0 : 1;
}
