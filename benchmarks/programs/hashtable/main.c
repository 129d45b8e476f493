#include <stdio.h>
#include <inttypes.h>
#include "hashtable.h"

#define LOG2_CAP 22            /* 4M slots x 16 bytes = 64 MiB */
#define N_KEYS 2000000u
#define ROUNDS 200u

int main(void) {
    hashtable t;
    if (!ht_create(&t, LOG2_CAP)) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    uint64_t fails = run_inserts(&t, 0, N_KEYS);
    uint64_t mixed = run_mixed(&t, N_KEYS, ROUNDS, 0xDEADBEEFull);
    uint64_t removed = 0;
    for (uint64_t i = 0; i < N_KEYS; i += 3)
        removed += (uint64_t)ht_erase(&t, make_key(i));
    size_t run = 0;
    uint64_t digest = ht_fold(&t, &run);
    printf("count %zu fails %" PRIu64 " removed %" PRIu64 " longest_run %zu\n",
           t.count, fails, removed, run);
    printf("mixed %016" PRIx64 " digest %016" PRIx64 " probes %" PRIu64 "\n",
           mixed, digest, t.probes);
    ht_destroy(&t);
    return 0;
}
