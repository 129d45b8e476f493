/* Searching benchmark over a large sorted array (memory-bound by design). */
#ifndef SEARCH_BENCH_H
#define SEARCH_BENCH_H

#include <stddef.h>
#include <stdint.h>

#define BATCH 8

typedef struct {
    uint64_t s;
} srng;

static inline uint64_t srng_next(srng *r)
{
    r->s += 0x9e3779b97f4a7c15ull;
    uint64_t z = r->s;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* data.c */
void make_sorted(uint32_t *a, size_t n, unsigned max_gap, uint64_t seed);
void make_queries(uint32_t *q, size_t nq, const uint32_t *a, size_t n, uint64_t seed);

/* search.c */
size_t lower_bound_branchy(const uint32_t *a, size_t n, uint32_t key);
size_t lower_bound_branchless(const uint32_t *a, size_t n, uint32_t key);
void lower_bound_batch(const uint32_t *a, size_t n, const uint32_t *keys, size_t *out);
size_t interpolation_search(const uint32_t *a, size_t n, uint32_t key);
size_t gallop_from(const uint32_t *a, size_t lo, size_t n, uint32_t key);

/* eytzinger.c */
size_t eytzinger_build(const uint32_t *sorted, uint32_t *eyt, size_t n, size_t i, size_t k);
size_t eytzinger_lower_bound(const uint32_t *eyt, size_t n, uint32_t key);
size_t eytzinger_to_sorted_index(size_t k, size_t n, const uint32_t *rank);
void eytzinger_ranks(uint32_t *rank, size_t n);

/* intersect.c */
size_t intersect_merge(const uint32_t *a, size_t na, const uint32_t *b, size_t nb, uint32_t *out);
size_t intersect_gallop(const uint32_t *a, size_t na, const uint32_t *b, size_t nb, uint32_t *out);

#endif
