/* BFS + Tarjan SCC benchmark on a large random directed graph (memory-bound). */
#ifndef BFS_SCC_BENCH_H
#define BFS_SCC_BENCH_H

#include <stddef.h>
#include <stdint.h>

#define UNREACHED UINT32_MAX

typedef struct {
    uint32_t n;
    uint32_t m;
    uint32_t *offsets; /* n + 1 */
    uint32_t *targets; /* m */
} digraph;

typedef struct {
    uint32_t reached;
    uint32_t levels;
    uint64_t dist_sum;
    uint64_t level_hash;
} bfs_summary;

typedef struct {
    uint32_t count;       /* number of SCCs */
    uint32_t largest;     /* size of the largest SCC */
    uint32_t singletons;  /* SCCs with one vertex */
    uint64_t hash;        /* hash of the partition (roots and sizes) */
    uint32_t warm;        /* sum of first successors' first successors (look-ahead loads) */
} scc_summary;

typedef struct {
    uint32_t index; /* DFS number, 0 = unvisited; component id + 1 once assigned */
    uint32_t low;   /* low link; UINT32_MAX once assigned to a component */
} vertex_state;

typedef struct {
    uint32_t *a, *c, *d, *e; /* scratch arrays of n words each */
    vertex_state *vs;        /* per-vertex Tarjan state, interleaved for locality */
    uint64_t *visited;       /* bitmaps: small enough to stay cache resident */
    uint64_t *done;
} workspace;

static inline uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* graph.c */
int graph_build(digraph *g, uint32_t n, unsigned avg_degree, uint64_t seed);
void graph_release(digraph *g);
int workspace_alloc(workspace *w, uint32_t n);
void workspace_release(workspace *w);

/* bfs.c */
void bfs_run(const digraph *g, uint32_t src, uint32_t *dist, uint32_t *queue, bfs_summary *out);

/* scc.c */
void tarjan_scc(const digraph *g, workspace *w, scc_summary *out);

#endif
