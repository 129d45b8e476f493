/* Matrix-chain multiplication order: O(n^3) interval DP, split reconstruction,
 * cost re-evaluation and textual parenthesization. */
#include "dp.h"

#define IDX(i, j) ((i) * n + (j))

uint64_t mcm_solve(const uint32_t *dims, size_t n, uint64_t *cost, uint32_t *split)
{
    for (size_t i = 0; i < n; i++)
        cost[IDX(i, i)] = 0;
    for (size_t len = 2; len <= n; len++) {
        for (size_t i = 0; i + len <= n; i++) {
            size_t j = i + len - 1;
            uint64_t best = UINT64_MAX;
            uint32_t best_k = (uint32_t)i;
            const uint64_t di = dims[i], dj1 = dims[j + 1];
            size_t k = i;
            /* two split points per iteration */
            for (; k + 1 < j; k += 2) {
                uint64_t c0 = cost[IDX(i, k)] + cost[IDX(k + 1, j)] + di * dims[k + 1] * dj1;
                uint64_t c1 = cost[IDX(i, k + 1)] + cost[IDX(k + 2, j)] + di * dims[k + 2] * dj1;
                if (c0 < best) {
                    best = c0;
                    best_k = (uint32_t)k;
                }
                if (c1 < best) {
                    best = c1;
                    best_k = (uint32_t)(k + 1);
                }
            }
            for (; k < j; k++) {
                uint64_t c = cost[IDX(i, k)] + cost[IDX(k + 1, j)] + di * dims[k + 1] * dj1;
                if (c < best) {
                    best = c;
                    best_k = (uint32_t)k;
                }
            }
            cost[IDX(i, j)] = best;
            split[IDX(i, j)] = best_k;
        }
    }
    return cost[IDX(0, n - 1)];
}

/* Recomputes the cost of the parenthesization encoded in split. */
uint64_t mcm_evaluate(const uint32_t *dims, size_t n, const uint32_t *split, size_t i, size_t j)
{
    if (i == j)
        return 0;
    size_t k = split[IDX(i, j)];
    return mcm_evaluate(dims, n, split, i, k) + mcm_evaluate(dims, n, split, k + 1, j) +
           (uint64_t)dims[i] * dims[k + 1] * dims[j + 1];
}

size_t mcm_format(const uint32_t *split, size_t n, size_t i, size_t j, char *out, size_t pos)
{
    if (i == j) {
        out[pos++] = 'M';
        return pos;
    }
    size_t k = split[IDX(i, j)];
    out[pos++] = '(';
    pos = mcm_format(split, n, i, k, out, pos);
    pos = mcm_format(split, n, k + 1, j, out, pos);
    out[pos++] = ')';
    return pos;
}

uint64_t mcm_left_to_right(const uint32_t *dims, size_t n)
{
    uint64_t total = 0;
    for (size_t k = 1; k < n; k++)
        total += (uint64_t)dims[0] * dims[k] * dims[k + 1];
    return total;
}
