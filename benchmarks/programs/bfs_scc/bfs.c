/* Top-down breadth-first search with a flat queue. */
#include "bfs_scc.h"

static void reset_dist(uint32_t *dist, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        dist[i] = UNREACHED;
}

/* Visits the neighbours of u, four at a time; returns the new queue tail. */
static uint32_t expand_vertex(const digraph *g, uint32_t u, uint32_t du1, uint32_t *dist,
                              uint32_t *queue, uint32_t tail)
{
    const uint32_t *t = g->targets;
    uint32_t e = g->offsets[u], end = g->offsets[u + 1];
    for (; e + 4 <= end; e += 4) {
        uint32_t v0 = t[e], v1 = t[e + 1], v2 = t[e + 2], v3 = t[e + 3];
        uint32_t d0 = dist[v0], d1 = dist[v1], d2 = dist[v2], d3 = dist[v3];
        if (d0 == UNREACHED) {
            dist[v0] = du1;
            queue[tail++] = v0;
        }
        if (d1 == UNREACHED && dist[v1] == UNREACHED) {
            dist[v1] = du1;
            queue[tail++] = v1;
        }
        if (d2 == UNREACHED && dist[v2] == UNREACHED) {
            dist[v2] = du1;
            queue[tail++] = v2;
        }
        if (d3 == UNREACHED && dist[v3] == UNREACHED) {
            dist[v3] = du1;
            queue[tail++] = v3;
        }
    }
    for (; e < end; e++) {
        uint32_t v = t[e];
        if (dist[v] == UNREACHED) {
            dist[v] = du1;
            queue[tail++] = v;
        }
    }
    return tail;
}

static void summarize(const uint32_t *queue, uint32_t count, const uint32_t *dist, bfs_summary *out)
{
    uint64_t sum = 0, h = 0;
    uint32_t levels = 0;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t d = dist[queue[i]];
        sum += d;
        if (d + 1 > levels)
            levels = d + 1;
        h += (uint64_t)queue[i] * (d + 1);
    }
    out->reached = count;
    out->levels = levels;
    out->dist_sum = sum;
    out->level_hash = h;
}

void bfs_run(const digraph *g, uint32_t src, uint32_t *dist, uint32_t *queue, bfs_summary *out)
{
    reset_dist(dist, g->n);
    uint32_t head = 0, tail = 0;
    dist[src] = 0;
    queue[tail++] = src;
    while (head < tail) {
        uint32_t u = queue[head++];
        tail = expand_vertex(g, u, dist[u] + 1, dist, queue, tail);
    }
    summarize(queue, tail, dist, out);
}
