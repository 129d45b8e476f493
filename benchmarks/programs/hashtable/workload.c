#include <stdlib.h>
#include "hashtable.h"

/* distinct non-zero keys: an odd multiplier is a bijection on 64-bit integers */
uint64_t make_key(uint64_t i) {
    uint64_t k = (i + 1) * 0x9E3779B97F4A7C15ull;
    k ^= k >> 29;
    return k;   /* both steps are bijections fixing 0 and i + 1 != 0, so k != 0 */
}

static inline size_t slot_of(const hashtable *t, uint64_t key) {
    return (size_t)ht_hash(key) & t->mask;
}

/* four independent probe sequences advanced together so the cache misses overlap */
size_t find_batch4(hashtable *t, const uint64_t *keys, size_t n, uint64_t *sum) {
    size_t hits = 0, q = 0;
    uint64_t acc = *sum;
    const ht_slot *s = t->slots;
    size_t mask = t->mask;
    for (; q + 4 <= n; q += 4) {
        uint64_t k0 = keys[q], k1 = keys[q + 1], k2 = keys[q + 2], k3 = keys[q + 3];
        size_t i0 = slot_of(t, k0), i1 = slot_of(t, k1);
        size_t i2 = slot_of(t, k2), i3 = slot_of(t, k3);
        int d0 = 0, d1 = 0, d2 = 0, d3 = 0;
        while (!(d0 & d1 & d2 & d3)) {
            if (!d0) {
                uint64_t k = s[i0].key;
                if (k == k0) { acc += s[i0].value; hits++; d0 = 1; }
                else if (k == HT_EMPTY) d0 = 1;
                else i0 = (i0 + 1) & mask;
            }
            if (!d1) {
                uint64_t k = s[i1].key;
                if (k == k1) { acc += s[i1].value; hits++; d1 = 1; }
                else if (k == HT_EMPTY) d1 = 1;
                else i1 = (i1 + 1) & mask;
            }
            if (!d2) {
                uint64_t k = s[i2].key;
                if (k == k2) { acc += s[i2].value; hits++; d2 = 1; }
                else if (k == HT_EMPTY) d2 = 1;
                else i2 = (i2 + 1) & mask;
            }
            if (!d3) {
                uint64_t k = s[i3].key;
                if (k == k3) { acc += s[i3].value; hits++; d3 = 1; }
                else if (k == HT_EMPTY) d3 = 1;
                else i3 = (i3 + 1) & mask;
            }
        }
    }
    for (; q < n; q++) {
        uint64_t v;
        if (ht_find(t, keys[q], &v)) {
            acc += v;
            hits++;
        }
    }
    *sum = acc;
    return hits;
}

uint64_t run_inserts(hashtable *t, uint64_t first, uint64_t n) {
    uint64_t fails = 0;
    for (uint64_t i = first; i < first + n; i++)
        if (!ht_insert(t, make_key(i), i * 3u + 7u))
            fails++;
    return fails;
}

static uint64_t wl_state;

static uint64_t wl_next(void) {
    wl_state ^= wl_state << 13;
    wl_state ^= wl_state >> 7;
    wl_state ^= wl_state << 17;
    return wl_state;
}

/* random mix per round: batched lookups (half misses), deletes, re-inserts */
uint64_t run_mixed(hashtable *t, uint64_t n_present, uint64_t rounds, uint64_t seed) {
    enum { BATCH = 4096 };
    uint64_t *keys = malloc(BATCH * sizeof(uint64_t));
    if (!keys)
        return 0;
    wl_state = seed;
    uint64_t sum = 0, hits = 0, erased = 0;
    for (uint64_t r = 0; r < rounds; r++) {
        for (int b = 0; b < BATCH; b++) {
            uint64_t x = wl_next();
            /* odd draws hit live indices, even draws usually miss */
            uint64_t idx = (x >> 1) % (x & 1 ? n_present : 4 * n_present);
            keys[b] = make_key(x & 1 ? idx : n_present * 8 + idx);
        }
        hits += find_batch4(t, keys, BATCH, &sum);
        for (int d = 0; d < BATCH / 8; d++) {
            uint64_t idx = wl_next() % n_present;
            if (ht_erase(t, make_key(idx))) {
                erased++;
                ht_insert(t, make_key(idx), idx ^ r);
            }
        }
    }
    free(keys);
    return sum ^ (hits << 32) ^ erased;
}
