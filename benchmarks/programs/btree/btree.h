/* btree: B+ tree with insert, point search, range scan and validation. */
#ifndef BTREE_BENCH_H
#define BTREE_BENCH_H

#include <stddef.h>
#include <stdint.h>

#define BT_MAX 32          /* max keys per node */

typedef struct bt_node {
    int leaf;
    int n;
    uint64_t keys[BT_MAX];
    uint64_t vals[BT_MAX];             /* leaves only */
    struct bt_node *child[BT_MAX + 1]; /* internal nodes only */
    struct bt_node *next;              /* leaf chain */
} bt_node;

typedef struct {
    bt_node *root;
    size_t size;
    size_t nodes;
    int height;
} btree;

/* first index i with keys[i] >= key (keys sorted ascending) */
static inline int node_lower_bound(const bt_node *nd, uint64_t key) {
    int lo = 0, len = nd->n;
    while (len > 0) {
        int half = len >> 1;
        if (nd->keys[lo + half] < key) {
            lo += half + 1;
            len -= half + 1;
        } else {
            len = half;
        }
    }
    return lo;
}

typedef struct {
    uint64_t min_gap, max_gap, gap_sum, val_sum, val_xor, small_gaps;
} bt_gap_info;

/* btree.c */
int bt_init(btree *t);
void bt_destroy(btree *t);
int bt_insert(btree *t, uint64_t key, uint64_t val);

/* query.c */
int bt_find(const btree *t, uint64_t key, uint64_t *val);
size_t bt_range(const btree *t, uint64_t lo, uint64_t hi, size_t limit, uint64_t *sum);
int bt_validate(const btree *t, size_t *count);
uint64_t bt_leaf_digest(const btree *t);
void bt_gap_stats(const btree *t, bt_gap_info *gi);

#endif
