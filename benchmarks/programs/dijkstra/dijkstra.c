/* Single-source shortest paths, verification and path sampling. */
#include "graph.h"
#include <stdlib.h>

int sssp_alloc(sssp_result *r, uint32_t n)
{
    r->dist = malloc((size_t)n * sizeof *r->dist);
    r->parent = malloc((size_t)n * sizeof *r->parent);
    return r->dist && r->parent;
}

void sssp_free(sssp_result *r)
{
    free(r->dist);
    free(r->parent);
}

static void reset_result(sssp_result *r, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        r->dist[i] = INF_DIST;
        r->parent[i] = NO_VERTEX;
    }
    r->relaxations = 0;
    r->pops = 0;
}

/* Relaxes all out-edges of u; unrolled by two to keep more values in flight. */
static void relax_edges(const graph *g, uint32_t u, uint64_t du, index_heap *h, sssp_result *r)
{
    uint64_t e = g->offsets[u], end = g->offsets[u + 1];
    const uint32_t *tg = g->targets, *wt = g->weights;
    uint64_t *dist = r->dist;
    uint32_t *parent = r->parent;
    uint64_t relax = 0;
    for (; e + 2 <= end; e += 2) {
        uint32_t v0 = tg[e], v1 = tg[e + 1];
        uint64_t n0 = du + wt[e], n1 = du + wt[e + 1];
        if (n0 < dist[v0]) {
            dist[v0] = n0;
            parent[v0] = u;
            heap_push_or_decrease(h, v0, n0);
            relax++;
        }
        if (n1 < dist[v1]) {
            dist[v1] = n1;
            parent[v1] = u;
            heap_push_or_decrease(h, v1, n1);
            relax++;
        }
    }
    if (e < end) {
        uint32_t v = tg[e];
        uint64_t nd = du + wt[e];
        if (nd < dist[v]) {
            dist[v] = nd;
            parent[v] = u;
            heap_push_or_decrease(h, v, nd);
            relax++;
        }
    }
    r->relaxations += relax;
}

void dijkstra(const graph *g, uint32_t src, index_heap *h, sssp_result *r)
{
    reset_result(r, g->n);
    r->dist[src] = 0;
    heap_push_or_decrease(h, src, 0);
    while (h->size > 0) {
        uint64_t du;
        uint32_t u = heap_pop_min(h, &du);
        r->pops++;
        if (du > r->dist[u])
            continue;
        relax_edges(g, u, du, h, r);
    }
}

/* Checks that no edge can be relaxed further and parents are consistent. */
int verify_sssp(const graph *g, uint32_t src, const sssp_result *r)
{
    if (r->dist[src] != 0)
        return 0;
    for (uint32_t u = 0; u < g->n; u++) {
        uint64_t du = r->dist[u];
        if (du == INF_DIST)
            continue;
        for (uint64_t e = g->offsets[u]; e < g->offsets[u + 1]; e++)
            if (du + g->weights[e] < r->dist[g->targets[e]])
                return 0;
        uint32_t p = r->parent[u];
        if (u != src && (p == NO_VERTEX || r->dist[p] >= du))
            return 0;
    }
    return 1;
}

static uint32_t path_length(const sssp_result *r, uint32_t v, uint32_t limit)
{
    uint32_t hops = 0;
    while (r->parent[v] != NO_VERTEX && hops < limit) {
        v = r->parent[v];
        hops++;
    }
    return hops;
}

uint64_t path_checksum(const sssp_result *r, uint32_t n, uint32_t samples)
{
    uint64_t h = 0, reach = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (r->dist[i] != INF_DIST) {
            h += r->dist[i] * (i | 1u);
            reach++;
        }
    }
    for (uint32_t s = 0; s < samples; s++) {
        uint32_t v = (uint32_t)(((uint64_t)s * 2654435761u) % n);
        h = h * 31u + path_length(r, v, n);
    }
    return h ^ (reach << 40);
}
