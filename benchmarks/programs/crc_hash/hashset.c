/* Open-addressing hash set of 64-bit keys (key 0 is reserved as empty). */
#include "hashes.h"
#include <stdlib.h>

int hs_init(hash_set *s, unsigned log2_slots)
{
    size_t n = (size_t)1 << log2_slots;
    s->slots = calloc(n, sizeof *s->slots);
    s->mask = n - 1;
    s->count = 0;
    return s->slots != NULL;
}

static inline size_t hs_slot(uint64_t key, size_t mask)
{
    return (size_t)(mix_finalize(key) & mask);
}

/* Returns 1 if inserted, 0 if already present or the table is full. */
int hs_insert(hash_set *s, uint64_t key)
{
    if (key == 0)
        key = 1;
    if (s->count * 4 >= (s->mask + 1) * 3)
        return 0;
    size_t i = hs_slot(key, s->mask);
    for (;;) {
        uint64_t cur = s->slots[i];
        if (cur == 0) {
            s->slots[i] = key;
            s->count++;
            return 1;
        }
        if (cur == key)
            return 0;
        i = (i + 1) & s->mask;
    }
}

void hs_free(hash_set *s)
{
    free(s->slots);
    s->slots = NULL;
}
