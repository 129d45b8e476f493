/* hashtable: open-addressing (linear probing, backward-shift deletion) hash table. */
#ifndef HASHTABLE_BENCH_H
#define HASHTABLE_BENCH_H

#include <stddef.h>
#include <stdint.h>

#define HT_EMPTY 0ull   /* key 0 marks an empty slot; user keys are never 0 */

typedef struct {
    uint64_t key;
    uint64_t value;
} ht_slot;

typedef struct {
    ht_slot *slots;
    size_t mask;       /* capacity - 1, capacity is a power of two */
    size_t count;
    uint64_t probes;   /* total probe steps, for statistics */
} hashtable;

static inline uint64_t ht_hash(uint64_t k) {
    k ^= k >> 33;
    k *= 0xFF51AFD7ED558CCDull;
    k ^= k >> 33;
    k *= 0xC4CEB9FE1A85EC53ull;
    k ^= k >> 33;
    return k;
}

/* table.c */
int ht_create(hashtable *t, int log2cap);
void ht_destroy(hashtable *t);
int ht_insert(hashtable *t, uint64_t key, uint64_t value);
int ht_find(hashtable *t, uint64_t key, uint64_t *value);
int ht_erase(hashtable *t, uint64_t key);
uint64_t ht_fold(const hashtable *t, size_t *longest_run);

/* workload.c */
uint64_t make_key(uint64_t i);
size_t find_batch4(hashtable *t, const uint64_t *keys, size_t n, uint64_t *sum);
uint64_t run_inserts(hashtable *t, uint64_t first, uint64_t n);
uint64_t run_mixed(hashtable *t, uint64_t n_present, uint64_t rounds, uint64_t seed);

#endif
