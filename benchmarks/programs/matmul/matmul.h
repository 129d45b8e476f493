/* Dense double-precision matrix multiply benchmark (compute-bound).
 * Inputs are small dyadic rationals (k/16), so every product and partial sum
 * is exactly representable: results are independent of summation order and
 * of FMA contraction, and all variants must agree bit for bit. */
#ifndef MATMUL_BENCH_H
#define MATMUL_BENCH_H

#include <stddef.h>
#include <stdint.h>

#define MR 4
#define NR 4
#define KC 128
#define MC 64
#define NC 256

typedef struct {
    size_t rows, cols;
    double *data; /* row-major */
} matrix;

static inline double *mat_at(const matrix *m, size_t i, size_t j)
{
    return m->data + i * m->cols + j;
}

/* util.c */
int mat_alloc(matrix *m, size_t rows, size_t cols);
void mat_free(matrix *m);
void mat_fill(matrix *m, uint64_t seed);
void mat_zero(matrix *m);
int mat_equal(const matrix *a, const matrix *b);
uint64_t mat_checksum(const matrix *m);
void mat_transpose(const matrix *src, matrix *dst);

/* naive.c */
void matmul_ijk(const matrix *a, const matrix *b, matrix *c);
void matmul_ikj(const matrix *a, const matrix *b, matrix *c);
void matmul_transposed(const matrix *a, const matrix *bt, matrix *c);

/* blocked.c */
void matmul_blocked(const matrix *a, const matrix *b, matrix *c);

#endif
