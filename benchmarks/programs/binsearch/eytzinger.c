/* Eytzinger (breadth-first) layout: the first levels of the implicit tree
 * share a few cache lines, and the search needs no mispredicted branches. */
#include "search.h"

/* In-order traversal of the implicit tree (1-based slot k) fills eyt[k]
 * from the sorted array; returns the next sorted index to use. */
size_t eytzinger_build(const uint32_t *sorted, uint32_t *eyt, size_t n, size_t i, size_t k)
{
    if (k <= n) {
        i = eytzinger_build(sorted, eyt, n, i, 2 * k);
        eyt[k] = sorted[i++];
        i = eytzinger_build(sorted, eyt, n, i, 2 * k + 1);
    }
    return i;
}

/* Returns the 1-based slot of the lower bound, or 0 if every key is smaller. */
size_t eytzinger_lower_bound(const uint32_t *eyt, size_t n, uint32_t key)
{
    size_t k = 1;
    while (k <= n)
        k = 2 * k + (eyt[k] < key);
    /* strip the trailing right turns plus one left turn */
    while (k & 1u)
        k >>= 1;
    return k >> 1;
}

/* rank[k] = sorted index stored at slot k (iterative in-order walk). */
void eytzinger_ranks(uint32_t *rank, size_t n)
{
    size_t stack[64];
    size_t sp = 0, k = 1;
    uint32_t next = 0;
    while (sp > 0 || k <= n) {
        while (k <= n) {
            stack[sp++] = k;
            k = 2 * k;
        }
        k = stack[--sp];
        rank[k] = next++;
        k = 2 * k + 1;
    }
}

size_t eytzinger_to_sorted_index(size_t k, size_t n, const uint32_t *rank)
{
    return k == 0 ? n : rank[k];
}
