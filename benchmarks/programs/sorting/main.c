/* Sorting benchmark driver: every algorithm on every distribution; all results
 * must be sorted, be permutations of the input and agree with each other. */
#include "sort.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 300000u

typedef enum { ALG_QUICK, ALG_MERGE, ALG_HEAP, ALG_RADIX, ALG_COUNT } algorithm;

static const char *const alg_names[ALG_COUNT] = { "quick", "merge", "heap", "radix" };

static void run_algorithm(algorithm alg, uint32_t *a, size_t n, uint32_t *tmp)
{
    switch (alg) {
    case ALG_QUICK: quick_sort(a, n); break;
    case ALG_MERGE: merge_sort(a, n, tmp); break;
    case ALG_HEAP: heap_sort(a, n); break;
    default: radix_sort(a, n, tmp); break;
    }
}

int main(void)
{
    uint32_t *orig = malloc(N * sizeof *orig);
    uint32_t *work = malloc(N * sizeof *work);
    uint32_t *tmp = malloc(N * sizeof *tmp);
    if (!orig || !work || !tmp)
        return 1;
    uint64_t digest = 0;
    int ok = 1;
    unsigned failures[ALG_COUNT] = { 0 };
    for (unsigned d = 0; d < DIST_COUNT; d++) {
        fill_array(orig, N, (dist_kind)d, 0x5151u + d * 0x9e37u);
        uint64_t ms = multiset_hash(orig, N);
        uint64_t reference = 0;
        for (unsigned alg = 0; alg < ALG_COUNT; alg++) {
            memcpy(work, orig, N * sizeof *work);
            run_algorithm((algorithm)alg, work, N, tmp);
            uint64_t ph = positional_hash(work, N);
            if (alg == 0)
                reference = ph;
            if (!is_sorted(work, N) || multiset_hash(work, N) != ms || ph != reference) {
                failures[alg]++;
                ok = 0;
            }
        }
        digest = digest * 0x9e3779b97f4a7c15ull ^ reference;
        digest ^= (uint64_t)work[N / 2] << 16;
    }
    printf("sorting n=%u distributions=%u algorithms=%u result=%s", N, (unsigned)DIST_COUNT,
           (unsigned)ALG_COUNT, ok ? "ok" : "FAIL");
    for (unsigned alg = 0; alg < ALG_COUNT; alg++)
        if (failures[alg])
            printf(" %s_failed=%u", alg_names[alg], failures[alg]);
    printf("\nchecksum=%016llx\n", (unsigned long long)digest);
    free(orig);
    free(work);
    free(tmp);
    return ok ? 0 : 1;
}
