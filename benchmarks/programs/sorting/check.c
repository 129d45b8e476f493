/* Input generation and result checking. */
#include "sort.h"

static inline uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 7;
    *s ^= *s >> 9;
    return *s;
}

void fill_array(uint32_t *a, size_t n, dist_kind kind, uint64_t seed)
{
    uint64_t s = seed | 1u;
    for (size_t i = 0; i < n; i++) {
        uint64_t r = next_rand(&s);
        switch (kind) {
        case DIST_UNIFORM: a[i] = (uint32_t)(r >> 16); break;
        case DIST_FEW_UNIQUE: a[i] = (uint32_t)((r >> 20) % 97u) * 40503u; break;
        case DIST_NEARLY_SORTED: a[i] = (uint32_t)(i * 16u) + (uint32_t)((r >> 30) % 64u); break;
        default: a[i] = (uint32_t)((n - i) * 8u) + (uint32_t)((r >> 40) & 3u); break;
        }
    }
    if (kind == DIST_NEARLY_SORTED) {
        /* a few long-distance swaps */
        for (size_t k = 0; k < n / 200; k++) {
            size_t i = (size_t)(next_rand(&s) % n), j = (size_t)(next_rand(&s) % n);
            uint32_t t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    }
}

int is_sorted(const uint32_t *a, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (a[i - 1] > a[i])
            return 0;
    return 1;
}

static inline uint64_t mix(uint64_t x)
{
    x ^= x >> 31;
    x *= 0x7fb5d329728ea185ull;
    x ^= x >> 27;
    x *= 0x81dadef4bc2dd44dull;
    return x ^ (x >> 33);
}

/* Order-independent: equal for any permutation of the same multiset. */
uint64_t multiset_hash(const uint32_t *a, size_t n)
{
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += mix(a[i]);
        s1 += mix(a[i + 1]);
        s2 += mix(a[i + 2]);
        s3 += mix(a[i + 3]);
    }
    for (; i < n; i++)
        s0 += mix(a[i]);
    return s0 + s1 + s2 + s3;
}

uint64_t positional_hash(const uint32_t *a, size_t n)
{
    uint64_t h = 0;
    for (size_t i = 0; i < n; i++)
        h = h * 0x100000001b3ull + a[i];
    return h;
}
