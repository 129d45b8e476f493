/* Generation of sorted arrays and query keys. */
#include "search.h"

void make_sorted(uint32_t *a, size_t n, unsigned max_gap, uint64_t seed)
{
    srng r = { seed };
    uint32_t v = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t x = srng_next(&r);
        /* mostly small gaps with occasional large jumps (non-uniform for interpolation) */
        uint32_t gap = 1 + (uint32_t)(x % max_gap);
        if ((x >> 58) == 0)
            gap += (uint32_t)((x >> 20) % (64u * max_gap));
        v += gap;
        a[i] = v;
    }
}

void make_queries(uint32_t *q, size_t nq, const uint32_t *a, size_t n, uint64_t seed)
{
    srng r = { seed };
    uint32_t maxv = a[n - 1];
    for (size_t i = 0; i < nq; i++) {
        uint64_t x = srng_next(&r);
        if (x & 1u)
            q[i] = a[(size_t)((x >> 1) % n)];           /* present */
        else
            q[i] = (uint32_t)((x >> 8) % ((uint64_t)maxv + 2)); /* mostly absent */
    }
}
