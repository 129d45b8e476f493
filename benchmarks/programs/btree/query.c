#include <stdlib.h>
#include "btree.h"

static const bt_node *descend(const btree *t, uint64_t key) {
    const bt_node *nd = t->root;
    while (!nd->leaf) {
        int pos = node_lower_bound(nd, key);
        if (pos < nd->n && nd->keys[pos] == key)
            pos++;
        nd = nd->child[pos];
    }
    return nd;
}

int bt_find(const btree *t, uint64_t key, uint64_t *val) {
    const bt_node *leaf = descend(t, key);
    int pos = node_lower_bound(leaf, key);
    if (pos < leaf->n && leaf->keys[pos] == key) {
        *val = leaf->vals[pos];
        return 1;
    }
    return 0;
}

/* sums values with keys in [lo, hi], at most limit entries; walks the leaf chain
   four entries at a time */
size_t bt_range(const btree *t, uint64_t lo, uint64_t hi, size_t limit, uint64_t *sum) {
    const bt_node *leaf = descend(t, lo);
    int pos = node_lower_bound(leaf, lo);
    size_t got = 0;
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0, x = 0;
    while (leaf && got < limit) {
        int n = leaf->n;
        const uint64_t *k = leaf->keys, *v = leaf->vals;
        if (n > 0 && k[n - 1] <= hi && got + (size_t)(n - pos) <= limit) {
            int i = pos;
            for (; i + 4 <= n; i += 4) {
                s0 += v[i];
                s1 += v[i + 1];
                s2 += v[i + 2];
                s3 += v[i + 3];
                x ^= k[i] + k[i + 3];
            }
            for (; i < n; i++)
                s0 += v[i];
            got += (size_t)(n - pos);
        } else {
            for (int i = pos; i < n && got < limit; i++) {
                if (k[i] > hi) {
                    *sum += s0 + s1 + s2 + s3 + x;
                    return got;
                }
                s0 += v[i];
                got++;
            }
        }
        leaf = leaf->next;
        pos = 0;
    }
    *sum += s0 + s1 + s2 + s3 + x;
    return got;
}

static int validate_rec(const bt_node *nd, uint64_t lo, uint64_t hi, int has_lo, int has_hi,
                        int depth, int *leaf_depth, size_t *count) {
    for (int i = 0; i < nd->n; i++) {
        if (i > 0 && nd->keys[i - 1] >= nd->keys[i])
            return 0;
        if ((has_lo && nd->keys[i] < lo) || (has_hi && nd->keys[i] >= hi))
            return 0;
    }
    if (nd->leaf) {
        if (*leaf_depth < 0)
            *leaf_depth = depth;
        *count += (size_t)nd->n;
        return *leaf_depth == depth;
    }
    for (int i = 0; i <= nd->n; i++) {
        uint64_t clo = i > 0 ? nd->keys[i - 1] : lo;
        uint64_t chi = i < nd->n ? nd->keys[i] : hi;
        if (!validate_rec(nd->child[i], clo, chi, i > 0 || has_lo, i < nd->n || has_hi,
                          depth + 1, leaf_depth, count))
            return 0;
    }
    return 1;
}

int bt_validate(const btree *t, size_t *count) {
    int leaf_depth = -1;
    *count = 0;
    return validate_rec(t->root, 0, 0, 0, 0, 0, &leaf_depth, count);
}

static inline const bt_node *first_leaf(const btree *t) {
    const bt_node *nd = t->root;
    while (!nd->leaf)
        nd = nd->child[0];
    return nd;
}

/* one pass over the leaf chain gathering gap statistics between consecutive keys;
   two keys per step with separate accumulators keeps many values live */
void bt_gap_stats(const btree *t, bt_gap_info *gi) {
    uint64_t prev = 0, min_gap = UINT64_MAX, max_gap = 0;
    uint64_t gsum0 = 0, gsum1 = 0, vsum0 = 0, vsum1 = 0, vxor = 0, small = 0, pairs = 0;
    int have_prev = 0;
    for (const bt_node *nd = first_leaf(t); nd; nd = nd->next) {
        const uint64_t *k = nd->keys, *v = nd->vals;
        int n = nd->n, i = 0;
        if (!have_prev && n > 0) {
            prev = k[0];
            vsum0 += v[0];
            i = 1;
            have_prev = 1;
        }
        for (; i + 2 <= n; i += 2) {
            uint64_t g0 = k[i] - prev, g1 = k[i + 1] - k[i];
            min_gap = g0 < min_gap ? g0 : min_gap;
            min_gap = g1 < min_gap ? g1 : min_gap;
            max_gap = g0 > max_gap ? g0 : max_gap;
            max_gap = g1 > max_gap ? g1 : max_gap;
            gsum0 += g0;
            gsum1 += g1;
            vsum0 += v[i];
            vsum1 += v[i + 1];
            vxor ^= v[i] * 31u + v[i + 1];
            small += (g0 < 64) + (g1 < 64);
            pairs += 2;
            prev = k[i + 1];
        }
        for (; i < n; i++) {
            uint64_t g = k[i] - prev;
            min_gap = g < min_gap ? g : min_gap;
            max_gap = g > max_gap ? g : max_gap;
            gsum0 += g;
            vsum0 += v[i];
            small += g < 64;
            pairs++;
            prev = k[i];
        }
    }
    gi->min_gap = pairs ? min_gap : 0;
    gi->max_gap = max_gap;
    gi->gap_sum = gsum0 + gsum1;
    gi->val_sum = vsum0 + vsum1;
    gi->val_xor = vxor;
    gi->small_gaps = small;
}

uint64_t bt_leaf_digest(const btree *t) {
    const bt_node *nd = first_leaf(t);
    uint64_t h = 0, prev = 0;
    int first = 1, sorted = 1;
    for (; nd; nd = nd->next) {
        for (int i = 0; i < nd->n; i++) {
            if (!first && nd->keys[i] <= prev)
                sorted = 0;
            prev = nd->keys[i];
            first = 0;
            h = (h ^ nd->keys[i]) * 0x100000001B3ull + nd->vals[i];
        }
    }
    return sorted ? h : 0;
}
