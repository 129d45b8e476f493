/* Straightforward loop orders. */
#include "matmul.h"

/* Dot-product order: strided access to b. */
void matmul_ijk(const matrix *a, const matrix *b, matrix *c)
{
    const size_t n = a->rows, k = a->cols, m = b->cols;
    for (size_t i = 0; i < n; i++) {
        const double *arow = a->data + i * k;
        for (size_t j = 0; j < m; j++) {
            double s = 0.0;
            for (size_t p = 0; p < k; p++)
                s += arow[p] * b->data[p * m + j];
            c->data[i * m + j] = s;
        }
    }
}

/* Row-streaming order: c row += a[i][p] * b row. */
void matmul_ikj(const matrix *a, const matrix *b, matrix *c)
{
    const size_t n = a->rows, k = a->cols, m = b->cols;
    mat_zero(c);
    for (size_t i = 0; i < n; i++) {
        double *crow = c->data + i * m;
        for (size_t p = 0; p < k; p++) {
            const double aip = a->data[i * k + p];
            const double *brow = b->data + p * m;
            for (size_t j = 0; j < m; j++)
                crow[j] += aip * brow[j];
        }
    }
}

/* Both operands traversed contiguously; four partial sums per dot product. */
void matmul_transposed(const matrix *a, const matrix *bt, matrix *c)
{
    const size_t n = a->rows, k = a->cols, m = bt->rows;
    for (size_t i = 0; i < n; i++) {
        const double *x = a->data + i * k;
        for (size_t j = 0; j < m; j++) {
            const double *y = bt->data + j * k;
            double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
            size_t p = 0;
            for (; p + 4 <= k; p += 4) {
                s0 += x[p] * y[p];
                s1 += x[p + 1] * y[p + 1];
                s2 += x[p + 2] * y[p + 2];
                s3 += x[p + 3] * y[p + 3];
            }
            for (; p < k; p++)
                s0 += x[p] * y[p];
            c->data[i * m + j] = (s0 + s1) + (s2 + s3);
        }
    }
}
