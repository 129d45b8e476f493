#include <stdio.h>
#include <inttypes.h>
#include "pq.h"

#define JOBS 30000
#define STATIONS 400
#define EVENTS 1200000u

/* the heaps also sort a pseudo-random sequence; checks pop order */
static uint64_t heap_sort_check(void) {
    binheap b;
    pairheap p;
    if (!bh_init(&b, 16) || !ph_init(&p, 100000))
        return 0;
    uint64_t x = 88172645463325252ull, h = 0;
    for (uint32_t i = 0; i < 100000; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        uint64_t k = ((x >> 40) << 20) | i;
        bh_push(&b, k, i);
        ph_push(&p, k, i);
    }
    pq_item u, v;
    uint64_t prev = 0;
    int bad = 0;
    while (bh_pop(&b, &u) && ph_pop(&p, &v)) {
        if (u.key != v.key || u.key < prev)
            bad++;
        prev = u.key;
        h = h * 31u + u.val;
    }
    bh_free(&b);
    ph_free(&p);
    return bad ? 0 : h;
}

int main(void) {
    sim_result a, b;
    if (!simulate(PQ_BINARY, JOBS, STATIONS, EVENTS, 0xABCDEF12345ull, &a) ||
        !simulate(PQ_PAIRING, JOBS, STATIONS, EVENTS, 0xABCDEF12345ull, &b)) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    int same = a.events == b.events && a.digest == b.digest && a.wait_sum == b.wait_sum;
    printf("events %" PRIu64 " departures %" PRIu64 " time %" PRIu64 " maxq %" PRIu64 "\n",
           a.events, a.departures, a.final_time, a.max_queue);
    printf("wait %" PRIu64 " digest %016" PRIx64 " heaps %s\n", a.wait_sum, a.digest,
           same ? "agree" : "DISAGREE");
    printf("sort %016" PRIx64 "\n", heap_sort_check());
    return 0;
}
