/* Instance generation: correlated knapsack items and matrix dimensions. */
#include "dp.h"

void gen_items(item *items, size_t n, dp_rng *r, uint32_t max_weight)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t w = 1 + dp_rand(r, max_weight);
        /* weakly correlated values make the instance harder than random */
        uint32_t v = w + dp_rand(r, max_weight / 5 + 1);
        if (dp_rand(r, 10) == 0)
            v += max_weight / 2;
        items[i].weight = w;
        items[i].value = v;
    }
}

void gen_dims(uint32_t *dims, size_t n, dp_rng *r)
{
    for (size_t i = 0; i <= n; i++) {
        uint32_t base = 5 + dp_rand(r, 120);
        uint32_t big = dp_rand(r, 8) == 0 ? 400 : 0;
        dims[i] = base + big;
    }
}
