#include <stdlib.h>
#include <string.h>
#include "spmv.h"

typedef struct {
    uint32_t i, j;
    double w;
} edge_t;

static uint64_t mrng;

static uint64_t mrng_next(void) {
    mrng += 0x9E3779B97F4A7C15ull;
    uint64_t z = mrng;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* weights are multiples of 1/1024 so the diagonal sums are exact */
static double rand_weight(void) {
    return (double)(1 + mrng_next() % 1024u) / 1024.0;
}

static void sort_row(uint32_t *c, double *v, uint32_t len) {
    for (uint32_t a = 1; a < len; a++) {
        uint32_t kc = c[a];
        double kv = v[a];
        uint32_t b = a;
        while (b > 0 && c[b - 1] > kc) {
            c[b] = c[b - 1];
            v[b] = v[b - 1];
            b--;
        }
        c[b] = kc;
        v[b] = kv;
    }
}

static size_t make_edges(edge_t *e, int m, size_t extra) {
    size_t k = 0;
    for (int y = 0; y < m; y++)
        for (int x = 0; x < m; x++) {
            uint32_t i = (uint32_t)(y * m + x);
            if (x + 1 < m) e[k++] = (edge_t){i, i + 1, 1.0};
            if (y + 1 < m) e[k++] = (edge_t){i, i + (uint32_t)m, 1.0};
        }
    uint32_t n = (uint32_t)m * (uint32_t)m;
    for (size_t t = 0; t < extra; t++) {
        uint32_t i = (uint32_t)(mrng_next() % n), j = (uint32_t)(mrng_next() % n);
        if (i == j)
            j = (j + 1) % n;
        e[k++] = (edge_t){i, j, rand_weight()};
    }
    return k;
}

/* symmetric, strictly diagonally dominant: diag = sum of |off-diagonals| + 1/8 */
int csr_build_grid_plus_random(csr_t *a, int m, size_t extra_pairs, uint64_t seed) {
    mrng = seed;
    int n = m * m;
    size_t max_edges = 2 * (size_t)n + extra_pairs;
    edge_t *e = malloc(max_edges * sizeof(edge_t));
    double *diag = calloc((size_t)n, sizeof(double));
    a->n = n;
    a->row_ptr = calloc((size_t)n + 1, sizeof(uint32_t));
    if (!e || !diag || !a->row_ptr)
        return 0;
    size_t ne = make_edges(e, m, extra_pairs);
    for (size_t k = 0; k < ne; k++) {
        a->row_ptr[e[k].i + 1]++;
        a->row_ptr[e[k].j + 1]++;
        diag[e[k].i] += e[k].w;
        diag[e[k].j] += e[k].w;
    }
    for (int i = 0; i < n; i++)
        a->row_ptr[i + 1] += a->row_ptr[i] + 1;   /* +1 for the diagonal */
    a->nnz = a->row_ptr[n];
    a->col = malloc(a->nnz * sizeof(uint32_t));
    a->val = malloc(a->nnz * sizeof(double));
    uint32_t *fill = malloc((size_t)n * sizeof(uint32_t));
    if (!a->col || !a->val || !fill)
        return 0;
    for (int i = 0; i < n; i++) {
        fill[i] = a->row_ptr[i];
        a->col[fill[i]] = (uint32_t)i;
        a->val[fill[i]] = diag[i] + 0.125;
        fill[i]++;
    }
    for (size_t k = 0; k < ne; k++) {
        uint32_t i = e[k].i, j = e[k].j;
        a->col[fill[i]] = j; a->val[fill[i]++] = -e[k].w;
        a->col[fill[j]] = i; a->val[fill[j]++] = -e[k].w;
    }
    for (int i = 0; i < n; i++)
        sort_row(a->col + a->row_ptr[i], a->val + a->row_ptr[i], a->row_ptr[i + 1] - a->row_ptr[i]);
    free(fill);
    free(e);
    free(diag);
    return 1;
}

void csr_free(csr_t *a) {
    free(a->row_ptr);
    free(a->col);
    free(a->val);
}

/* y = A x; four partial sums per row keep several loads and pointers live */
void spmv(const csr_t *a, const double *x, double *y) {
    const uint32_t *rp = a->row_ptr, *col = a->col;
    const double *val = a->val;
    for (int i = 0; i < a->n; i++) {
        uint32_t k = rp[i], end = rp[i + 1];
        double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
        for (; k + 4 <= end; k += 4) {
            s0 += val[k] * x[col[k]];
            s1 += val[k + 1] * x[col[k + 1]];
            s2 += val[k + 2] * x[col[k + 2]];
            s3 += val[k + 3] * x[col[k + 3]];
        }
        for (; k < end; k++)
            s0 += val[k] * x[col[k]];
        y[i] = (s0 + s1) + (s2 + s3);
    }
}

void csr_diagonal(const csr_t *a, double *d) {
    for (int i = 0; i < a->n; i++) {
        d[i] = 0.0;
        for (uint32_t k = a->row_ptr[i]; k < a->row_ptr[i + 1]; k++)
            if (a->col[k] == (uint32_t)i)
                d[i] += a->val[k];
    }
}

double csr_checksum(const csr_t *a) {
    double s = 0.0;
    for (size_t k = 0; k < a->nnz; k++)
        s += a->val[k] * (double)(a->col[k] % 7u);
    return s;
}
