/* Iterative Tarjan strongly connected components.
 * Workspace use: vs = interleaved (index, low) per vertex, c = Tarjan stack,
 * d/e = explicit call stack (vertex, next edge), visited/done = bitmaps that
 * keep the "unvisited?" and "already assigned?" tests off the large arrays. */
#include "bfs_scc.h"

#define DONE UINT32_MAX

static inline int test_bit(const uint64_t *bits, uint32_t i)
{
    return (int)((bits[i >> 6] >> (i & 63u)) & 1u);
}

static inline void set_bit(uint64_t *bits, uint32_t i)
{
    bits[i >> 6] |= 1ull << (i & 63u);
}

static inline uint32_t min_u32(uint32_t x, uint32_t y)
{
    return x < y ? x : y;
}

static uint64_t component_mix(uint32_t root, uint32_t size)
{
    uint64_t s = ((uint64_t)root << 32) | size;
    return splitmix64(&s);
}

/* Pops one finished component off the Tarjan stack, returns its size. */
static uint32_t pop_component(workspace *w, uint32_t *sp, uint32_t root, uint32_t comp_id)
{
    uint32_t size = 0, v;
    do {
        v = w->c[--*sp];
        w->vs[v].index = comp_id + 1;
        w->vs[v].low = DONE;
        set_bit(w->done, v);
        size++;
    } while (v != root);
    return size;
}

static void clear_state(workspace *w, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        w->vs[i].index = 0;
        w->vs[i].low = 0;
    }
    for (uint32_t i = 0; i <= n / 64; i++) {
        w->visited[i] = 0;
        w->done[i] = 0;
    }
}

/* Touches the adjacency of every successor of v so that their cache misses
 * overlap instead of being paid one after another during the descent.
 * Returns a value derived from the loads so they are not optimized away. */
static uint32_t warm_successors(const digraph *g, uint32_t v)
{
    const uint32_t *off = g->offsets, *tg = g->targets;
    uint32_t acc = 0;
    for (uint32_t e = off[v], end = off[v + 1]; e < end; e++) {
        uint32_t x = tg[e];
        uint32_t first = off[x];
        acc += first != off[x + 1] ? tg[first] : x;
    }
    return acc;
}

static void record_component(scc_summary *out, uint32_t root, uint32_t size)
{
    out->count++;
    if (size > out->largest)
        out->largest = size;
    out->singletons += size == 1;
    out->hash += component_mix(root, size);
}

static void strongconnect(const digraph *g, uint32_t root, workspace *w, uint32_t *counter,
                          uint32_t *sp, scc_summary *out)
{
    vertex_state *vs = w->vs;
    uint64_t *visited = w->visited;
    const uint64_t *done = w->done;
    uint32_t *stack = w->c, *cs_v = w->d, *cs_e = w->e;
    const uint32_t *off = g->offsets, *tg = g->targets;
    uint32_t idx = ++*counter;
    vs[root].index = vs[root].low = idx;
    set_bit(visited, root);
    stack[(*sp)++] = root;
    cs_v[0] = root;
    cs_e[0] = off[root];
    uint32_t warm = warm_successors(g, root);
    uint32_t depth = 1;
    while (depth > 0) {
        uint32_t v = cs_v[depth - 1];
        uint32_t e = cs_e[depth - 1], end = off[v + 1];
        uint32_t lv = vs[v].low;
        int descended = 0;
        while (e < end) {
            uint32_t x = tg[e++];
            if (!test_bit(visited, x)) {
                cs_e[depth - 1] = e;
                vs[v].low = lv;
                idx = ++*counter;
                vs[x].index = vs[x].low = idx;
                set_bit(visited, x);
                stack[(*sp)++] = x;
                cs_v[depth] = x;
                cs_e[depth] = off[x];
                warm += warm_successors(g, x);
                depth++;
                descended = 1;
                break;
            }
            if (!test_bit(done, x))
                lv = min_u32(lv, vs[x].index); /* x is on the stack */
        }
        if (descended)
            continue;
        vs[v].low = lv;
        depth--;
        if (lv == vs[v].index) {
            uint32_t size = pop_component(w, sp, v, out->count);
            record_component(out, v, size);
        }
        if (depth > 0) {
            uint32_t parent = cs_v[depth - 1];
            if (lv < vs[parent].low)
                vs[parent].low = lv;
        }
    }
    out->warm += warm;
}

void tarjan_scc(const digraph *g, workspace *w, scc_summary *out)
{
    uint32_t counter = 0, sp = 0;
    out->count = out->largest = out->singletons = 0;
    out->hash = 0;
    out->warm = 0;
    clear_state(w, g->n);
    for (uint32_t v = 0; v < g->n; v++)
        if (!test_bit(w->visited, v))
            strongconnect(g, v, w, &counter, &sp, out);
}
