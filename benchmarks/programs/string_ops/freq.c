#include <stdlib.h>
#include <string.h>
#include "strops.h"

static uint32_t fnv1a(const char *s, uint32_t len) {
    uint32_t h = 2166136261u;
    for (uint32_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

int freq_init(freq_table *ft, size_t cap) {
    ft->cap = cap;
    ft->used = 0;
    ft->slots = calloc(cap, sizeof(freq_entry));
    return ft->slots != NULL;
}

void freq_free(freq_table *ft) {
    free(ft->slots);
    ft->slots = NULL;
}

static int word_eq(const freq_entry *e, const char *w, uint32_t len, uint32_t h) {
    return e->hash == h && e->len == len && memcmp(e->word, w, len) == 0;
}

static int freq_grow(freq_table *ft) {
    size_t ncap = ft->cap * 2;
    freq_entry *ns = calloc(ncap, sizeof(freq_entry));
    if (!ns)
        return 0;
    for (size_t i = 0; i < ft->cap; i++) {
        if (!ft->slots[i].word)
            continue;
        size_t j = ft->slots[i].hash & (ncap - 1);
        while (ns[j].word)
            j = (j + 1) & (ncap - 1);
        ns[j] = ft->slots[i];
    }
    free(ft->slots);
    ft->slots = ns;
    ft->cap = ncap;
    return 1;
}

static void freq_add(freq_table *ft, const char *w, uint32_t len) {
    if (2 * (ft->used + 1) > ft->cap && !freq_grow(ft))
        return;
    uint32_t h = fnv1a(w, len);
    size_t j = h & (ft->cap - 1);
    while (ft->slots[j].word) {
        if (word_eq(&ft->slots[j], w, len, h)) {
            ft->slots[j].count++;
            return;
        }
        j = (j + 1) & (ft->cap - 1);
    }
    ft->slots[j].word = w;
    ft->slots[j].len = len;
    ft->slots[j].count = 1;
    ft->slots[j].hash = h;
    ft->used++;
}

void freq_add_tokens(freq_table *ft, const char *text, const token_t *toks, size_t nt) {
    for (size_t k = 0; k < nt; k++)
        freq_add(ft, text + toks[k].off, toks[k].len);
}

/* order: higher count first, then lexicographic */
static int entry_before(const freq_entry *a, const freq_entry *b) {
    if (a->count != b->count)
        return a->count > b->count;
    uint32_t l = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->word, b->word, l);
    if (c != 0)
        return c < 0;
    return a->len < b->len;
}

size_t freq_top(const freq_table *ft, freq_entry *out, size_t k) {
    size_t have = 0;
    for (size_t i = 0; i < ft->cap; i++) {
        const freq_entry *e = &ft->slots[i];
        if (!e->word)
            continue;
        if (have < k) {
            out[have++] = *e;
        } else if (entry_before(e, &out[k - 1])) {
            out[k - 1] = *e;
        } else {
            continue;
        }
        /* bubble the new entry into place */
        for (size_t j = have - 1; j > 0 && entry_before(&out[j], &out[j - 1]); j--) {
            freq_entry t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    }
    return have;
}
