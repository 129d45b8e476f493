/* 0/1 knapsack and matrix-chain multiplication DP benchmark. */
#ifndef DP_BENCH_H
#define DP_BENCH_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t weight;
    uint32_t value;
} item;

typedef struct {
    uint64_t s;
} dp_rng;

static inline uint32_t dp_rand(dp_rng *r, uint32_t bound)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return (uint32_t)((r->s >> 11) % bound);
}

/* knapsack.c */
uint64_t knapsack_max(const item *items, size_t n, uint32_t cap, uint64_t *best);
uint64_t knapsack_select(const item *items, size_t n, uint32_t cap, uint8_t *take);
uint64_t knapsack_greedy_bound(const item *items, size_t n, uint32_t cap);

/* mcm.c */
uint64_t mcm_solve(const uint32_t *dims, size_t n, uint64_t *cost, uint32_t *split);
uint64_t mcm_evaluate(const uint32_t *dims, size_t n, const uint32_t *split, size_t i, size_t j);
size_t mcm_format(const uint32_t *split, size_t n, size_t i, size_t j, char *out, size_t pos);
uint64_t mcm_left_to_right(const uint32_t *dims, size_t n);

/* gen.c */
void gen_items(item *items, size_t n, dp_rng *r, uint32_t max_weight);
void gen_dims(uint32_t *dims, size_t n, dp_rng *r);

#endif
