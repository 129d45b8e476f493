/* Deterministic random graph: local "road-like" edges plus long-range shortcuts. */
#include "graph.h"
#include <stdlib.h>

typedef struct {
    uint64_t s[2];
} xs128;

static inline uint64_t xs_next(xs128 *r)
{
    uint64_t s1 = r->s[0];
    const uint64_t s0 = r->s[1];
    r->s[0] = s0;
    s1 ^= s1 << 23;
    r->s[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
    return r->s[1] + s0;
}

static inline uint32_t xs_below(xs128 *r, uint32_t bound)
{
    return (uint32_t)(((xs_next(r) >> 32) * (uint64_t)bound) >> 32);
}

static uint32_t degree_of(xs128 *r, unsigned avg)
{
    return 1 + xs_below(r, 2 * avg - 1);
}

static uint32_t pick_target(xs128 *r, uint32_t v, uint32_t n)
{
    if (xs_below(r, 8) != 0) {
        /* local neighbour within a window */
        uint32_t off = 1 + xs_below(r, 64);
        return xs_below(r, 2) ? (v + off) % n : (v + n - off) % n;
    }
    return xs_below(r, n);
}

int graph_generate(graph *g, uint32_t n, unsigned avg_degree, uint64_t seed)
{
    xs128 r = { { seed ^ 0x9e3779b97f4a7c15ull, seed * 0xbf58476d1ce4e5b9ull + 1 } };
    g->n = n;
    g->offsets = malloc(((size_t)n + 1) * sizeof *g->offsets);
    if (!g->offsets)
        return 0;
    /* pass 1: degrees from a separate stream so pass 2 is reproducible */
    xs128 dr = r;
    g->offsets[0] = 0;
    for (uint32_t v = 0; v < n; v++)
        g->offsets[v + 1] = g->offsets[v] + degree_of(&dr, avg_degree);
    g->m = g->offsets[n];
    g->targets = malloc(g->m * sizeof *g->targets);
    g->weights = malloc(g->m * sizeof *g->weights);
    if (!g->targets || !g->weights)
        return 0;
    xs128 er = { { r.s[1] ^ 0x5555u, r.s[0] + 7 } };
    for (uint32_t v = 0; v < n; v++) {
        for (uint64_t e = g->offsets[v]; e < g->offsets[v + 1]; e++) {
            uint32_t t = pick_target(&er, v, n);
            g->targets[e] = t;
            uint32_t span = t > v ? t - v : v - t;
            g->weights[e] = 1 + xs_below(&er, 100) + (span > 64 ? span / 64 : 0);
        }
    }
    return 1;
}

void graph_free(graph *g)
{
    free(g->offsets);
    free(g->targets);
    free(g->weights);
}
