#include <stdio.h>
#include <inttypes.h>
#include "btree.h"

#define N_INSERT 300000u
#define N_FIND 300000u
#define N_RANGE 20000u

static uint64_t rng = 0x2545F4914F6CDD1Dull;

static uint64_t next_rand(void) {
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545F4914F6CDD1Dull;
}

static uint64_t key_of(uint64_t i) {
    uint64_t z = (i + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 31)) * 0xBF58476D1CE4E5B9ull;
    z ^= z >> 29;
    return z % 1000000007u;
}

int main(void) {
    btree t;
    if (!bt_init(&t))
        return 1;
    uint64_t updates = 0;
    for (uint64_t i = 0; i < N_INSERT; i++) {
        int r = bt_insert(&t, key_of(i), i);
        if (r == 0) {
            fprintf(stderr, "out of memory\n");
            return 1;
        }
        updates += r == 2;
    }
    uint64_t found = 0, fsum = 0;
    for (uint64_t q = 0; q < N_FIND; q++) {
        uint64_t x = next_rand();
        uint64_t k = (x & 1) ? key_of((x >> 1) % N_INSERT) : (x >> 1) % 1000000007u;
        uint64_t v;
        if (bt_find(&t, k, &v)) {
            found++;
            fsum += v;
        }
    }
    uint64_t rsum = 0, rcount = 0;
    for (uint64_t q = 0; q < N_RANGE; q++) {
        uint64_t lo = next_rand() % 1000000007u;
        rcount += bt_range(&t, lo, lo + 200000u, 256, &rsum);
    }
    size_t counted = 0;
    int ok = bt_validate(&t, &counted);
    printf("size %zu updates %" PRIu64 " height %d nodes %zu valid %d\n",
           t.size, updates, t.height, t.nodes, ok && counted == t.size);
    printf("found %" PRIu64 " sum %" PRIu64 " range %" PRIu64 " rsum %016" PRIx64 "\n",
           found, fsum, rcount, rsum);
    bt_gap_info gi;
    uint64_t gx = 0;
    for (int r = 0; r < 10; r++) {
        bt_gap_stats(&t, &gi);
        gx = gx * 31u + gi.val_xor + gi.small_gaps;
    }
    printf("digest %016" PRIx64 " gaps %" PRIu64 "..%" PRIu64 " sum %" PRIu64 " small %" PRIu64
           " vals %" PRIu64 " %016" PRIx64 "\n", bt_leaf_digest(&t), gi.min_gap, gi.max_gap,
           gi.gap_sum, gi.small_gaps, gi.val_sum, gx);
    bt_destroy(&t);
    return 0;
}
