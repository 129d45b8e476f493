/* Dijkstra benchmark: shared declarations. */
#ifndef DIJKSTRA_BENCH_H
#define DIJKSTRA_BENCH_H

#include <stddef.h>
#include <stdint.h>

#define INF_DIST UINT64_MAX
#define NO_VERTEX UINT32_MAX

typedef struct {
    uint32_t n;
    uint64_t m;
    uint64_t *offsets; /* n + 1 */
    uint32_t *targets; /* m */
    uint32_t *weights; /* m */
} graph;

typedef struct {
    uint32_t *heap;  /* vertex ids */
    uint64_t *key;   /* key per heap slot (kept alongside for locality) */
    uint32_t *pos;   /* position of vertex in heap or NO_VERTEX */
    uint32_t size;
} index_heap;

typedef struct {
    uint64_t *dist;
    uint32_t *parent;
    uint64_t relaxations, pops;
} sssp_result;

/* graph.c */
int graph_generate(graph *g, uint32_t n, unsigned avg_degree, uint64_t seed);
void graph_free(graph *g);

/* heap.c */
int heap_init(index_heap *h, uint32_t n);
void heap_free(index_heap *h);
void heap_push_or_decrease(index_heap *h, uint32_t v, uint64_t key);
uint32_t heap_pop_min(index_heap *h, uint64_t *key);

/* dijkstra.c */
int sssp_alloc(sssp_result *r, uint32_t n);
void sssp_free(sssp_result *r);
void dijkstra(const graph *g, uint32_t src, index_heap *h, sssp_result *r);
int verify_sssp(const graph *g, uint32_t src, const sssp_result *r);
uint64_t path_checksum(const sssp_result *r, uint32_t n, uint32_t samples);

#endif
