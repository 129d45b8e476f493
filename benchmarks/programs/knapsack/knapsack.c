/* 0/1 knapsack: one-dimensional value DP, bit-matrix selection recovery and a
 * fractional upper bound. */
#include "dp.h"
#include <stdlib.h>
#include <string.h>

static inline uint64_t max_u64(uint64_t x, uint64_t y)
{
    return x > y ? x : y;
}

/* Descending capacity loop unrolled by four: four candidate values, four
 * current values, both pointers and the item value are live together. */
static void add_item(uint64_t *best, uint32_t cap, uint32_t w, uint64_t v)
{
    if (w > cap)
        return;
    size_t c = cap;
    for (; c >= (size_t)w + 3; c -= 4) {
        uint64_t b0 = best[c], b1 = best[c - 1], b2 = best[c - 2], b3 = best[c - 3];
        uint64_t t0 = best[c - w] + v, t1 = best[c - 1 - w] + v;
        uint64_t t2 = best[c - 2 - w] + v, t3 = best[c - 3 - w] + v;
        best[c] = max_u64(b0, t0);
        best[c - 1] = max_u64(b1, t1);
        best[c - 2] = max_u64(b2, t2);
        best[c - 3] = max_u64(b3, t3);
    }
    for (; c >= w; c--) {
        best[c] = max_u64(best[c], best[c - w] + v);
        if (c == 0)
            break;
    }
}

uint64_t knapsack_max(const item *items, size_t n, uint32_t cap, uint64_t *best)
{
    memset(best, 0, ((size_t)cap + 1) * sizeof *best);
    for (size_t i = 0; i < n; i++)
        add_item(best, cap, items[i].weight, items[i].value);
    return best[cap];
}

static inline void set_bit(uint8_t *bits, size_t idx)
{
    bits[idx >> 3] |= (uint8_t)(1u << (idx & 7u));
}

static inline int get_bit(const uint8_t *bits, size_t idx)
{
    return (bits[idx >> 3] >> (idx & 7u)) & 1;
}

/* Same DP but records per item and capacity whether the item was taken. */
uint64_t knapsack_select(const item *items, size_t n, uint32_t cap, uint8_t *take)
{
    size_t stride = ((size_t)cap + 8) / 8;
    uint64_t *best = calloc((size_t)cap + 1, sizeof *best);
    if (!best)
        return 0;
    memset(take, 0, stride * n);
    for (size_t i = 0; i < n; i++) {
        uint32_t w = items[i].weight;
        uint64_t v = items[i].value;
        uint8_t *row = take + i * stride;
        for (size_t c = cap; c >= w && c > 0; c--) {
            uint64_t cand = best[c - w] + v;
            if (cand > best[c]) {
                best[c] = cand;
                set_bit(row, c);
            }
        }
    }
    uint64_t result = best[cap];
    free(best);
    /* walk back to mark the chosen items in row 0's spare space is avoided:
     * reuse bit (i, 0) as "chosen" flag since capacity 0 never takes an item */
    size_t c = cap;
    for (size_t i = n; i-- > 0;) {
        uint8_t *row = take + i * stride;
        if (get_bit(row, c)) {
            c -= items[i].weight;
            set_bit(row, 0);
        }
    }
    return result;
}

static int by_ratio_desc(const void *x, const void *y)
{
    const item *a = x, *b = y;
    uint64_t l = (uint64_t)a->value * b->weight, r = (uint64_t)b->value * a->weight;
    if (l != r)
        return l > r ? -1 : 1;
    return a->weight < b->weight ? -1 : (a->weight > b->weight);
}

/* Dantzig bound (integer part of the fractional optimum). */
uint64_t knapsack_greedy_bound(const item *items, size_t n, uint32_t cap)
{
    item *sorted = malloc(n * sizeof *sorted);
    if (!sorted)
        return 0;
    memcpy(sorted, items, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, by_ratio_desc);
    uint64_t value = 0;
    uint32_t left = cap;
    for (size_t i = 0; i < n; i++) {
        if (sorted[i].weight <= left) {
            left -= sorted[i].weight;
            value += sorted[i].value;
        } else {
            value += (uint64_t)sorted[i].value * left / sorted[i].weight;
            break;
        }
    }
    free(sorted);
    return value;
}
