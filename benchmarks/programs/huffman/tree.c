/* Huffman tree construction: frequency counting, heap-based merging,
 * code length extraction with a length limit, canonical code assignment. */
#include "huffman.h"
#include <string.h>

typedef struct {
    uint64_t weight; /* weight << 16 | node id, gives deterministic tie-break */
} heap_item;

typedef struct {
    heap_item items[HUF_SYMBOLS];
    unsigned size;
} min_heap;

static inline void heap_swap(heap_item *a, heap_item *b)
{
    heap_item t = *a;
    *a = *b;
    *b = t;
}

static void heap_push(min_heap *h, uint64_t w)
{
    unsigned i = h->size++;
    h->items[i].weight = w;
    while (i > 0) {
        unsigned p = (i - 1) / 2;
        if (h->items[p].weight <= h->items[i].weight)
            break;
        heap_swap(&h->items[p], &h->items[i]);
        i = p;
    }
}

static uint64_t heap_pop(min_heap *h)
{
    uint64_t top = h->items[0].weight;
    h->items[0] = h->items[--h->size];
    unsigned i = 0;
    for (;;) {
        unsigned l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->size && h->items[l].weight < h->items[m].weight)
            m = l;
        if (r < h->size && h->items[r].weight < h->items[m].weight)
            m = r;
        if (m == i)
            break;
        heap_swap(&h->items[m], &h->items[i]);
        i = m;
    }
    return top;
}

void huf_count(const uint8_t *data, size_t n, uint32_t freq[HUF_SYMBOLS])
{
    /* four partial histograms to break store-to-load dependencies */
    static uint32_t part[4][HUF_SYMBOLS];
    memset(part, 0, sizeof part);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint8_t a = data[i], b = data[i + 1], c = data[i + 2], d = data[i + 3];
        uint8_t e = data[i + 4], f = data[i + 5], g = data[i + 6], k = data[i + 7];
        part[0][a]++;
        part[1][b]++;
        part[2][c]++;
        part[3][d]++;
        part[0][e]++;
        part[1][f]++;
        part[2][g]++;
        part[3][k]++;
    }
    for (; i < n; i++)
        part[0][data[i]]++;
    for (unsigned s = 0; s < HUF_SYMBOLS; s++)
        freq[s] = part[0][s] + part[1][s] + part[2][s] + part[3][s];
}

static unsigned node_depths(const int16_t *parent, unsigned nnodes, unsigned nleaves,
                            uint8_t *depth)
{
    unsigned max = 0;
    /* internal nodes are created in increasing order; root is the last one */
    depth[nnodes - 1] = 0;
    for (unsigned i = nnodes - 1; i-- > 0;) {
        depth[i] = (uint8_t)(depth[parent[i]] + 1 > 255 ? 255 : depth[parent[i]] + 1);
        if (i < nleaves && depth[i] > max)
            max = depth[i];
    }
    return max;
}

static unsigned build_once(const uint32_t *freq, uint8_t len[HUF_SYMBOLS])
{
    min_heap heap;
    int16_t parent[2 * HUF_SYMBOLS];
    uint8_t depth[2 * HUF_SYMBOLS];
    uint8_t leaf_sym[HUF_SYMBOLS];
    unsigned nleaves = 0;
    heap.size = 0;
    memset(len, 0, HUF_SYMBOLS);
    for (unsigned s = 0; s < HUF_SYMBOLS; s++) {
        if (freq[s] == 0)
            continue;
        leaf_sym[nleaves] = (uint8_t)s;
        heap_push(&heap, ((uint64_t)freq[s] << 16) | nleaves);
        nleaves++;
    }
    if (nleaves == 0)
        return 0;
    if (nleaves == 1) {
        len[leaf_sym[0]] = 1;
        return 1;
    }
    unsigned next = nleaves;
    while (heap.size > 1) {
        uint64_t a = heap_pop(&heap);
        uint64_t b = heap_pop(&heap);
        parent[a & 0xffffu] = (int16_t)next;
        parent[b & 0xffffu] = (int16_t)next;
        uint64_t w = (a >> 16) + (b >> 16);
        heap_push(&heap, (w << 16) | next);
        next++;
    }
    unsigned max = node_depths(parent, next, nleaves, depth);
    for (unsigned i = 0; i < nleaves; i++)
        len[leaf_sym[i]] = depth[i];
    return max;
}

/* Builds code lengths; flattens the distribution until max length fits. */
int huf_build_lengths(const uint32_t freq[HUF_SYMBOLS], uint8_t len[HUF_SYMBOLS])
{
    uint32_t f[HUF_SYMBOLS];
    memcpy(f, freq, sizeof f);
    for (int attempt = 0; attempt < 32; attempt++) {
        unsigned max = build_once(f, len);
        if (max <= HUF_MAX_LEN)
            return (int)max;
        for (unsigned s = 0; s < HUF_SYMBOLS; s++)
            if (f[s] != 0)
                f[s] = (f[s] >> 1) | 1u;
    }
    return -1;
}

void huf_build_canonical(huf_code *c)
{
    unsigned max = 0;
    memset(c->count, 0, sizeof c->count);
    for (unsigned s = 0; s < HUF_SYMBOLS; s++) {
        c->count[c->len[s]]++;
        if (c->len[s] > max)
            max = c->len[s];
    }
    c->count[0] = 0;
    c->max_len = max;
    uint32_t code = 0, index = 0;
    for (unsigned l = 1; l <= HUF_MAX_LEN + 1; l++) {
        c->first_code[l] = code;
        c->first_index[l] = index;
        code = (code + c->count[l]) << 1;
        index += c->count[l];
    }
    uint32_t next_code[HUF_MAX_LEN + 2];
    uint32_t next_index[HUF_MAX_LEN + 2];
    memcpy(next_code, c->first_code, sizeof next_code);
    memcpy(next_index, c->first_index, sizeof next_index);
    for (unsigned s = 0; s < HUF_SYMBOLS; s++) {
        unsigned l = c->len[s];
        if (l == 0)
            continue;
        c->code[s] = next_code[l]++;
        c->sorted[next_index[l]++] = (uint8_t)s;
    }
    memset(c->table, 0, sizeof c->table);
    for (unsigned s = 0; s < HUF_SYMBOLS; s++) {
        unsigned l = c->len[s];
        if (l == 0 || l > HUF_TABLE_BITS)
            continue;
        uint32_t base = c->code[s] << (HUF_TABLE_BITS - l);
        uint32_t span = 1u << (HUF_TABLE_BITS - l);
        for (uint32_t k = 0; k < span; k++)
            c->table[base + k] = (uint16_t)((l << 8) | s);
    }
}
