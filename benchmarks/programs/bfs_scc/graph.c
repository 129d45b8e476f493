/* Builds a CSR digraph without materializing an edge list. */
#include "bfs_scc.h"
#include <stdlib.h>

static inline uint32_t bounded(uint64_t r, uint32_t bound)
{
    return (uint32_t)(((r >> 32) * (uint64_t)bound) >> 32);
}

static uint32_t vertex_degree(uint64_t *s, unsigned avg)
{
    return bounded(splitmix64(s), 2 * avg + 1);
}

/* Mostly uniform targets; a small share of short back edges adds cycles. */
static uint32_t edge_target(uint64_t r, uint32_t v, uint32_t n)
{
    if ((r & 15u) == 0)
        return v >= 8 ? v - 1 - (uint32_t)((r >> 4) & 7u) : v;
    return bounded(r, n);
}

int graph_build(digraph *g, uint32_t n, unsigned avg_degree, uint64_t seed)
{
    g->n = n;
    g->offsets = malloc(((size_t)n + 1) * sizeof *g->offsets);
    if (!g->offsets)
        return 0;
    uint64_t s = seed;
    g->offsets[0] = 0;
    for (uint32_t v = 0; v < n; v++)
        g->offsets[v + 1] = g->offsets[v] + vertex_degree(&s, avg_degree);
    g->m = g->offsets[n];
    g->targets = malloc((size_t)g->m * sizeof *g->targets);
    if (!g->targets)
        return 0;
    uint64_t t = seed ^ 0x6a09e667f3bcc909ull;
    for (uint32_t v = 0; v < n; v++)
        for (uint32_t e = g->offsets[v]; e < g->offsets[v + 1]; e++)
            g->targets[e] = edge_target(splitmix64(&t), v, n);
    return 1;
}

void graph_release(digraph *g)
{
    free(g->offsets);
    free(g->targets);
}

int workspace_alloc(workspace *w, uint32_t n)
{
    size_t bytes = (size_t)n * sizeof(uint32_t);
    w->a = malloc(bytes);
    w->c = malloc(bytes);
    w->d = malloc(bytes);
    w->e = malloc(bytes);
    w->vs = malloc((size_t)n * sizeof *w->vs);
    w->visited = malloc(((size_t)n / 64 + 1) * sizeof(uint64_t));
    w->done = malloc(((size_t)n / 64 + 1) * sizeof(uint64_t));
    return w->a && w->c && w->d && w->e && w->vs && w->visited && w->done;
}

void workspace_release(workspace *w)
{
    free(w->a);
    free(w->vs);
    free(w->visited);
    free(w->done);
    free(w->c);
    free(w->d);
    free(w->e);
}
