#include <stdlib.h>
#include "hashtable.h"

int ht_create(hashtable *t, int log2cap) {
    size_t cap = (size_t)1 << log2cap;
    t->slots = calloc(cap, sizeof(ht_slot));
    t->mask = cap - 1;
    t->count = 0;
    t->probes = 0;
    return t->slots != NULL;
}

void ht_destroy(hashtable *t) {
    free(t->slots);
    t->slots = NULL;
}

static inline size_t home_of(const hashtable *t, uint64_t key) {
    return (size_t)ht_hash(key) & t->mask;
}

/* distance from a key's home slot to position i, modulo capacity */
static inline size_t probe_distance(const hashtable *t, size_t home, size_t i) {
    return (i - home) & t->mask;
}

int ht_insert(hashtable *t, uint64_t key, uint64_t value) {
    if (key == HT_EMPTY || t->count + 1 > (t->mask + 1) / 10 * 8)
        return 0;
    size_t i = home_of(t, key);
    for (;;) {
        ht_slot *s = &t->slots[i];
        t->probes++;
        if (s->key == HT_EMPTY) {
            s->key = key;
            s->value = value;
            t->count++;
            return 1;
        }
        if (s->key == key) {
            s->value = value;
            return 2;
        }
        i = (i + 1) & t->mask;
    }
}

static size_t locate(hashtable *t, uint64_t key, int *found) {
    size_t i = home_of(t, key);
    for (;;) {
        uint64_t k = t->slots[i].key;
        t->probes++;
        if (k == key) {
            *found = 1;
            return i;
        }
        if (k == HT_EMPTY) {
            *found = 0;
            return i;
        }
        i = (i + 1) & t->mask;
    }
}

int ht_find(hashtable *t, uint64_t key, uint64_t *value) {
    int found = 0;
    size_t i = locate(t, key, &found);
    if (found)
        *value = t->slots[i].value;
    return found;
}

/* backward-shift deletion keeps probe sequences intact without tombstones */
static void backshift(hashtable *t, size_t hole) {
    size_t j = hole;
    for (;;) {
        j = (j + 1) & t->mask;
        uint64_t k = t->slots[j].key;
        if (k == HT_EMPTY)
            break;
        size_t home = home_of(t, k);
        if (probe_distance(t, home, j) >= probe_distance(t, hole, j)) {
            t->slots[hole] = t->slots[j];
            hole = j;
        }
    }
    t->slots[hole].key = HT_EMPTY;
    t->slots[hole].value = 0;
}

int ht_erase(hashtable *t, uint64_t key) {
    int found = 0;
    size_t i = locate(t, key, &found);
    if (!found)
        return 0;
    backshift(t, i);
    t->count--;
    return 1;
}

/* order-independent digest of the contents plus the longest occupied run */
uint64_t ht_fold(const hashtable *t, size_t *longest_run) {
    uint64_t a = 0, b = 0;
    size_t run = 0, best = 0;
    for (size_t i = 0; i <= t->mask; i++) {
        const ht_slot *s = &t->slots[i];
        if (s->key != HT_EMPTY) {
            a += ht_hash(s->key ^ s->value);
            b ^= s->key * 0x9E3779B97F4A7C15ull + s->value;
            run++;
            if (run > best)
                best = run;
        } else {
            run = 0;
        }
    }
    *longest_run = best;
    return a ^ (b << 1);
}
