/* Indexed binary min-heap supporting decrease-key. */
#include "graph.h"
#include <stdlib.h>

int heap_init(index_heap *h, uint32_t n)
{
    h->heap = malloc((size_t)n * sizeof *h->heap);
    h->key = malloc((size_t)n * sizeof *h->key);
    h->pos = malloc((size_t)n * sizeof *h->pos);
    h->size = 0;
    if (!h->heap || !h->key || !h->pos)
        return 0;
    for (uint32_t i = 0; i < n; i++)
        h->pos[i] = NO_VERTEX;
    return 1;
}

void heap_free(index_heap *h)
{
    free(h->heap);
    free(h->key);
    free(h->pos);
}

static inline void place(index_heap *h, uint32_t slot, uint32_t v, uint64_t key)
{
    h->heap[slot] = v;
    h->key[slot] = key;
    h->pos[v] = slot;
}

static void sift_up(index_heap *h, uint32_t i, uint32_t v, uint64_t key)
{
    while (i > 0) {
        uint32_t p = (i - 1) >> 1;
        uint64_t pk = h->key[p];
        if (pk <= key)
            break;
        place(h, i, h->heap[p], pk);
        i = p;
    }
    place(h, i, v, key);
}

/* Moves the hole at slot i down, comparing both children each level. */
static void sift_down(index_heap *h, uint32_t i, uint32_t v, uint64_t key)
{
    uint32_t n = h->size;
    uint32_t *heap = h->heap;
    uint64_t *keys = h->key;
    uint32_t *pos = h->pos;
    for (;;) {
        uint32_t l = 2 * i + 1;
        if (l >= n)
            break;
        uint32_t r = l + 1;
        uint32_t c = l;
        uint64_t ck = keys[l];
        if (r < n) {
            uint64_t rk = keys[r];
            if (rk < ck) {
                c = r;
                ck = rk;
            }
        }
        if (ck >= key)
            break;
        uint32_t cv = heap[c];
        heap[i] = cv;
        keys[i] = ck;
        pos[cv] = i;
        i = c;
    }
    heap[i] = v;
    keys[i] = key;
    pos[v] = i;
}

void heap_push_or_decrease(index_heap *h, uint32_t v, uint64_t key)
{
    uint32_t p = h->pos[v];
    if (p == NO_VERTEX) {
        sift_up(h, h->size++, v, key);
    } else if (key < h->key[p]) {
        sift_up(h, p, v, key);
    }
}

uint32_t heap_pop_min(index_heap *h, uint64_t *key)
{
    uint32_t top = h->heap[0];
    *key = h->key[0];
    h->pos[top] = NO_VERTEX;
    uint32_t last = --h->size;
    if (last > 0)
        sift_down(h, 0, h->heap[last], h->key[last]);
    return top;
}
