#include <stdlib.h>
#include <string.h>
#include "btree.h"

static bt_node *node_new(btree *t, int leaf) {
    bt_node *nd = calloc(1, sizeof(bt_node));
    if (nd) {
        nd->leaf = leaf;
        t->nodes++;
    }
    return nd;
}

static void node_free_rec(bt_node *nd) {
    if (!nd)
        return;
    if (!nd->leaf)
        for (int i = 0; i <= nd->n; i++)
            node_free_rec(nd->child[i]);
    free(nd);
}

int bt_init(btree *t) {
    t->size = 0;
    t->nodes = 0;
    t->height = 1;
    t->root = node_new(t, 1);
    return t->root != NULL;
}

void bt_destroy(btree *t) {
    node_free_rec(t->root);
    t->root = NULL;
}

/* shifts entries right by one starting at pos */
static void leaf_open_gap(bt_node *nd, int pos) {
    for (int i = nd->n; i > pos; i--) {
        nd->keys[i] = nd->keys[i - 1];
        nd->vals[i] = nd->vals[i - 1];
    }
}

static void inner_open_gap(bt_node *nd, int pos) {
    for (int i = nd->n; i > pos; i--) {
        nd->keys[i] = nd->keys[i - 1];
        nd->child[i + 1] = nd->child[i];
    }
}

/* splits a full leaf; the new right sibling's first key becomes the separator */
static bt_node *split_leaf(btree *t, bt_node *nd, uint64_t *sep) {
    bt_node *r = node_new(t, 1);
    if (!r)
        return NULL;
    int mid = nd->n / 2;
    r->n = nd->n - mid;
    memcpy(r->keys, nd->keys + mid, (size_t)r->n * sizeof(uint64_t));
    memcpy(r->vals, nd->vals + mid, (size_t)r->n * sizeof(uint64_t));
    nd->n = mid;
    r->next = nd->next;
    nd->next = r;
    *sep = r->keys[0];
    return r;
}

static bt_node *split_inner(btree *t, bt_node *nd, uint64_t *sep) {
    bt_node *r = node_new(t, 0);
    if (!r)
        return NULL;
    int mid = nd->n / 2;
    *sep = nd->keys[mid];
    r->n = nd->n - mid - 1;
    memcpy(r->keys, nd->keys + mid + 1, (size_t)r->n * sizeof(uint64_t));
    memcpy(r->child, nd->child + mid + 1, (size_t)(r->n + 1) * sizeof(bt_node *));
    nd->n = mid;
    return r;
}

/* returns 1 if inserted, 2 if updated, 0 on allocation failure;
   *split receives a new right sibling when nd had to split */
static int insert_rec(btree *t, bt_node *nd, uint64_t key, uint64_t val,
                      bt_node **split, uint64_t *sep) {
    *split = NULL;
    int pos = node_lower_bound(nd, key);
    if (nd->leaf) {
        if (pos < nd->n && nd->keys[pos] == key) {
            nd->vals[pos] = val;
            return 2;
        }
        leaf_open_gap(nd, pos);
        nd->keys[pos] = key;
        nd->vals[pos] = val;
        nd->n++;
        if (nd->n == BT_MAX) {
            *split = split_leaf(t, nd, sep);
            if (!*split)
                return 0;
        }
        return 1;
    }
    if (pos < nd->n && nd->keys[pos] == key)
        pos++;   /* separators equal the first key of the right subtree */
    bt_node *child_split;
    uint64_t child_sep;
    int r = insert_rec(t, nd->child[pos], key, val, &child_split, &child_sep);
    if (r == 0 || !child_split)
        return r;
    inner_open_gap(nd, pos);
    nd->keys[pos] = child_sep;
    nd->child[pos + 1] = child_split;
    nd->n++;
    if (nd->n == BT_MAX) {
        *split = split_inner(t, nd, sep);
        if (!*split)
            return 0;
    }
    return r;
}

int bt_insert(btree *t, uint64_t key, uint64_t val) {
    bt_node *split;
    uint64_t sep;
    int r = insert_rec(t, t->root, key, val, &split, &sep);
    if (r == 1)
        t->size++;
    if (split) {
        bt_node *root = node_new(t, 0);
        if (!root)
            return 0;
        root->n = 1;
        root->keys[0] = sep;
        root->child[0] = t->root;
        root->child[1] = split;
        t->root = root;
        t->height++;
    }
    return r;
}
