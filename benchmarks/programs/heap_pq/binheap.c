#include <stdlib.h>
#include "pq.h"

int bh_init(binheap *h, size_t cap) {
    h->a = malloc((cap + 1) * sizeof(pq_item));
    h->n = 0;
    h->cap = cap;
    return h->a != NULL;
}

void bh_free(binheap *h) {
    free(h->a);
    h->a = NULL;
}

static void sift_up(pq_item *a, size_t i) {
    pq_item x = a[i];
    while (i > 1 && a[i / 2].key > x.key) {
        a[i] = a[i / 2];
        i /= 2;
    }
    a[i] = x;
}

/* hole-based sift down; compares both children and keeps the smaller in registers */
static void sift_down(pq_item *a, size_t n, size_t i) {
    pq_item x = a[i];
    for (;;) {
        size_t c = 2 * i;
        if (c > n)
            break;
        uint64_t kc = a[c].key;
        if (c + 1 <= n) {
            uint64_t k2 = a[c + 1].key;
            if (k2 < kc) {
                c++;
                kc = k2;
            }
        }
        if (kc >= x.key)
            break;
        a[i] = a[c];
        i = c;
    }
    a[i] = x;
}

int bh_push(binheap *h, uint64_t key, uint32_t val) {
    if (h->n == h->cap) {
        size_t ncap = h->cap * 2;
        pq_item *na = realloc(h->a, (ncap + 1) * sizeof(pq_item));
        if (!na)
            return 0;
        h->a = na;
        h->cap = ncap;
    }
    h->n++;
    h->a[h->n].key = key;
    h->a[h->n].val = val;
    sift_up(h->a, h->n);
    return 1;
}

int bh_pop(binheap *h, pq_item *out) {
    if (h->n == 0)
        return 0;
    *out = h->a[1];
    h->a[1] = h->a[h->n];
    h->n--;
    if (h->n > 1)
        sift_down(h->a, h->n, 1);
    return 1;
}
