#include <stdlib.h>
#include "pq.h"

int ph_init(pairheap *h, size_t cap) {
    h->pool = malloc(cap * sizeof(ph_node));
    h->stack = malloc(cap * sizeof(int32_t));
    h->cap = cap;
    h->n = 0;
    h->root = -1;
    if (!h->pool || !h->stack)
        return 0;
    for (size_t i = 0; i < cap; i++)
        h->pool[i].sibling = i + 1 < cap ? (int32_t)(i + 1) : -1;
    h->free_head = cap ? 0 : -1;
    return 1;
}

void ph_free(pairheap *h) {
    free(h->pool);
    free(h->stack);
    h->pool = NULL;
    h->stack = NULL;
}

/* links two roots; the larger becomes the first child of the smaller */
static inline int32_t link(ph_node *p, int32_t a, int32_t b) {
    if (a < 0)
        return b;
    if (b < 0)
        return a;
    if (p[b].key < p[a].key) {
        int32_t t = a;
        a = b;
        b = t;
    }
    p[b].sibling = p[a].child;
    p[a].child = b;
    return a;
}

static int32_t alloc_node(pairheap *h) {
    int32_t i = h->free_head;
    if (i >= 0)
        h->free_head = h->pool[i].sibling;
    return i;
}

int ph_push(pairheap *h, uint64_t key, uint32_t val) {
    int32_t i = alloc_node(h);
    if (i < 0)
        return 0;
    ph_node *nd = &h->pool[i];
    nd->key = key;
    nd->val = val;
    nd->child = -1;
    nd->sibling = -1;
    h->root = link(h->pool, h->root, i);
    h->n++;
    return 1;
}

/* standard two-pass pairing: left to right in pairs, then fold right to left */
static int32_t merge_children(pairheap *h, int32_t first) {
    ph_node *p = h->pool;
    int32_t *st = h->stack;
    size_t top = 0;
    int32_t c = first;
    while (c >= 0) {
        int32_t a = c, b = p[a].sibling;
        if (b < 0) {
            p[a].sibling = -1;
            st[top++] = a;
            break;
        }
        c = p[b].sibling;
        p[a].sibling = -1;
        p[b].sibling = -1;
        st[top++] = link(p, a, b);
    }
    int32_t r = -1;
    while (top > 0)
        r = link(p, st[--top], r);
    return r;
}

int ph_pop(pairheap *h, pq_item *out) {
    int32_t r = h->root;
    if (r < 0)
        return 0;
    out->key = h->pool[r].key;
    out->val = h->pool[r].val;
    h->root = merge_children(h, h->pool[r].child);
    h->pool[r].sibling = h->free_head;
    h->free_head = r;
    h->n--;
    return 1;
}
