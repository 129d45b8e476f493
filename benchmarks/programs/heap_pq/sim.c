#include <stdlib.h>
#include "pq.h"

/* closed queueing network: jobs travel between stations, each station serves one job
   at a time with a FIFO queue; every job has at most one pending event */

typedef struct {
    int kind;
    binheap bh;
    pairheap ph;
} pqueue;

static inline int pq_push(pqueue *q, uint64_t key, uint32_t val) {
    return q->kind == PQ_BINARY ? bh_push(&q->bh, key, val) : ph_push(&q->ph, key, val);
}

static inline int pq_pop(pqueue *q, pq_item *out) {
    return q->kind == PQ_BINARY ? bh_pop(&q->bh, out) : ph_pop(&q->ph, out);
}

static uint64_t sim_rng;

static inline uint32_t rnd(void) {
    sim_rng ^= sim_rng << 13;
    sim_rng ^= sim_rng >> 7;
    sim_rng ^= sim_rng << 17;
    return (uint32_t)(sim_rng >> 32);
}

/* roughly exponential integer delay: geometric number of halvings of a uniform */
static inline uint64_t rand_delay(uint32_t mean) {
    uint32_t r = rnd();
    uint64_t d = 1 + (r % (2 * mean));
    if ((r >> 28) == 0)
        d += 4u * mean;   /* occasional long delay */
    return d;
}

typedef struct {
    int32_t head, tail;   /* FIFO of waiting jobs via next_job links */
    int busy;
    uint32_t len;
    uint32_t mean_service;
} station_t;

#define EV_ARRIVE 0u
#define EV_DEPART 1u
#define SEQ_BITS 24

static inline uint32_t pack(uint32_t job, uint32_t type) {
    return (job << 1) | type;
}

static void enqueue(station_t *st, int32_t *next_job, int32_t job) {
    next_job[job] = -1;
    if (st->tail >= 0)
        next_job[st->tail] = job;
    else
        st->head = job;
    st->tail = job;
    st->len++;
}

static int32_t dequeue(station_t *st, const int32_t *next_job) {
    int32_t j = st->head;
    if (j >= 0) {
        st->head = next_job[j];
        if (st->head < 0)
            st->tail = -1;
        st->len--;
    }
    return j;
}

int simulate(int kind, int jobs, int stations, uint64_t max_events, uint64_t seed,
             sim_result *res) {
    pqueue q;
    q.kind = kind;
    int ok = kind == PQ_BINARY ? bh_init(&q.bh, 1024) : ph_init(&q.ph, (size_t)jobs + 1);
    station_t *st = malloc((size_t)stations * sizeof(station_t));
    int32_t *next_job = malloc((size_t)jobs * sizeof(int32_t));
    uint32_t *where = malloc((size_t)jobs * sizeof(uint32_t));
    uint64_t *arrived_at = malloc((size_t)jobs * sizeof(uint64_t));
    if (!ok || !st || !next_job || !where || !arrived_at)
        return 0;
    sim_rng = seed;
    for (int s = 0; s < stations; s++) {
        st[s].head = st[s].tail = -1;
        st[s].busy = 0;
        st[s].len = 0;
        st[s].mean_service = 20 + (uint32_t)(s * 7 % 53);
    }
    uint64_t seq = 0;
    for (int j = 0; j < jobs; j++) {
        where[j] = rnd() % (uint32_t)stations;
        uint64_t t = rand_delay(500);
        pq_push(&q, (t << SEQ_BITS) | (seq++ & ((1u << SEQ_BITS) - 1)), pack((uint32_t)j, EV_ARRIVE));
    }
    sim_result r = {0, 0, 0, 0, 0, 0xCBF29CE484222325ull};
    pq_item ev;
    while (r.events < max_events && pq_pop(&q, &ev)) {
        uint64_t now = ev.key >> SEQ_BITS;
        uint32_t job = ev.val >> 1, type = ev.val & 1u;
        station_t *s = &st[where[job]];
        r.events++;
        r.digest = (r.digest ^ (ev.key + ev.val)) * 0x100000001B3ull;
        if (type == EV_ARRIVE) {
            arrived_at[job] = now;
            if (!s->busy) {
                s->busy = 1;
                uint64_t t = now + rand_delay(s->mean_service);
                pq_push(&q, (t << SEQ_BITS) | (seq++ & ((1u << SEQ_BITS) - 1)), pack(job, EV_DEPART));
            } else {
                enqueue(s, next_job, (int32_t)job);
                if (s->len > r.max_queue)
                    r.max_queue = s->len;
            }
        } else {
            r.departures++;
            r.wait_sum += now - arrived_at[job];
            uint32_t hop = rnd();
            where[job] = (where[job] + 1 + hop % 5u) % (uint32_t)stations;
            uint64_t ta = now + 1 + (hop >> 20) % 40u;
            pq_push(&q, (ta << SEQ_BITS) | (seq++ & ((1u << SEQ_BITS) - 1)), pack(job, EV_ARRIVE));
            int32_t nxt = dequeue(s, next_job);
            if (nxt >= 0) {
                uint64_t t = now + rand_delay(s->mean_service);
                pq_push(&q, (t << SEQ_BITS) | (seq++ & ((1u << SEQ_BITS) - 1)),
                        pack((uint32_t)nxt, EV_DEPART));
            } else {
                s->busy = 0;
            }
        }
        r.final_time = now;
    }
    *res = r;
    if (kind == PQ_BINARY)
        bh_free(&q.bh);
    else
        ph_free(&q.ph);
    free(st); free(next_job); free(where); free(arrived_at);
    return 1;
}
