/* Binary, branchless, batched-interleaved, interpolation and galloping searches.
 * All return the lower bound: the first index i with a[i] >= key (n if none). */
#include "search.h"

size_t lower_bound_branchy(const uint32_t *a, size_t n, uint32_t key)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid] < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

size_t lower_bound_branchless(const uint32_t *a, size_t n, uint32_t key)
{
    if (n == 0)
        return 0;
    const uint32_t *base = a;
    size_t len = n;
    while (len > 1) {
        size_t half = len / 2;
        base = (base[half - 1] < key) ? base + half : base;
        len -= half;
    }
    return (size_t)(base - a) + (*base < key);
}

/* Eight independent searches advanced in lock step: eight base offsets are
 * live at once so their cache misses overlap. */
void lower_bound_batch(const uint32_t *a, size_t n, const uint32_t *keys, size_t *out)
{
    size_t b0 = 0, b1 = 0, b2 = 0, b3 = 0, b4 = 0, b5 = 0, b6 = 0, b7 = 0;
    const uint32_t k0 = keys[0], k1 = keys[1], k2 = keys[2], k3 = keys[3];
    const uint32_t k4 = keys[4], k5 = keys[5], k6 = keys[6], k7 = keys[7];
    size_t len = n;
    while (len > 1) {
        size_t half = len / 2;
        b0 += (a[b0 + half - 1] < k0) ? half : 0;
        b1 += (a[b1 + half - 1] < k1) ? half : 0;
        b2 += (a[b2 + half - 1] < k2) ? half : 0;
        b3 += (a[b3 + half - 1] < k3) ? half : 0;
        b4 += (a[b4 + half - 1] < k4) ? half : 0;
        b5 += (a[b5 + half - 1] < k5) ? half : 0;
        b6 += (a[b6 + half - 1] < k6) ? half : 0;
        b7 += (a[b7 + half - 1] < k7) ? half : 0;
        len -= half;
    }
    out[0] = b0 + (a[b0] < k0);
    out[1] = b1 + (a[b1] < k1);
    out[2] = b2 + (a[b2] < k2);
    out[3] = b3 + (a[b3] < k3);
    out[4] = b4 + (a[b4] < k4);
    out[5] = b5 + (a[b5] < k5);
    out[6] = b6 + (a[b6] < k6);
    out[7] = b7 + (a[b7] < k7);
}

static inline size_t interp_probe(const uint32_t *a, size_t lo, size_t hi, uint32_t key)
{
    uint64_t span = (uint64_t)a[hi] - a[lo];
    uint64_t off = (uint64_t)(key - a[lo]) * (hi - lo) / (span ? span : 1);
    return lo + (size_t)off;
}

/* Interpolation search with a fallback to bisection once probes stop shrinking. */
size_t interpolation_search(const uint32_t *a, size_t n, uint32_t key)
{
    if (n == 0 || a[0] >= key)
        return 0;
    if (a[n - 1] < key)
        return n;
    size_t lo = 0, hi = n - 1; /* invariant: a[lo] < key <= a[hi] */
    unsigned rounds = 0;
    while (hi - lo > 1) {
        size_t mid;
        if (rounds++ < 8) {
            mid = interp_probe(a, lo, hi, key);
            if (mid <= lo)
                mid = lo + 1;
            if (mid >= hi)
                mid = hi - 1;
        } else {
            mid = lo + (hi - lo) / 2;
        }
        if (a[mid] < key)
            lo = mid;
        else
            hi = mid;
    }
    return hi;
}

/* Exponential search forward from lo. */
size_t gallop_from(const uint32_t *a, size_t lo, size_t n, uint32_t key)
{
    if (lo >= n || a[lo] >= key)
        return lo;
    size_t step = 1, prev = lo;
    while (lo + step < n && a[lo + step] < key) {
        prev = lo + step;
        step *= 2;
    }
    size_t hi = lo + step < n ? lo + step : n;
    return prev + 1 + lower_bound_branchy(a + prev + 1, hi - prev - 1, key);
}
