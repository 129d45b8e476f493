/* heap_pq: binary heap and pairing heap priority queues driving an event simulation. */
#ifndef HEAP_PQ_H
#define HEAP_PQ_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t key;    /* (time << 24) | sequence: unique, so pop order is total */
    uint32_t val;
} pq_item;

typedef struct {
    pq_item *a;      /* 1-based array */
    size_t n, cap;
} binheap;

typedef struct {
    uint64_t key;
    uint32_t val;
    int32_t child, sibling;   /* indices into the pool, -1 = none */
} ph_node;

typedef struct {
    ph_node *pool;
    int32_t *stack;           /* scratch for the two-pass merge */
    int32_t root, free_head;
    size_t n, cap;
} pairheap;

/* binheap.c */
int bh_init(binheap *h, size_t cap);
void bh_free(binheap *h);
int bh_push(binheap *h, uint64_t key, uint32_t val);
int bh_pop(binheap *h, pq_item *out);

/* pairheap.c */
int ph_init(pairheap *h, size_t cap);
void ph_free(pairheap *h);
int ph_push(pairheap *h, uint64_t key, uint32_t val);
int ph_pop(pairheap *h, pq_item *out);

/* sim.c */
typedef struct {
    uint64_t events, departures, final_time;
    uint64_t wait_sum, max_queue, digest;
} sim_result;

enum { PQ_BINARY, PQ_PAIRING };
int simulate(int kind, int jobs, int stations, uint64_t max_events, uint64_t seed,
             sim_result *res);

#endif
