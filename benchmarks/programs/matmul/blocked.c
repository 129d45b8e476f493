/* Cache-blocked multiply with packed panels and a 4x4 register-blocked
 * micro-kernel: 16 accumulators plus 8 operand values are live in the
 * innermost loop, more than the 16 vector registers of baseline x86-64. */
#include "matmul.h"
#include <stdlib.h>

/* Packs an mc x kc block of a into MR-row slivers (column-major inside). */
static void pack_a(const matrix *a, size_t i0, size_t p0, size_t mc, size_t kc, double *dst)
{
    for (size_t i = 0; i < mc; i += MR) {
        for (size_t p = 0; p < kc; p++) {
            for (size_t r = 0; r < MR; r++) {
                size_t row = i0 + i + r;
                *dst++ = (i + r < mc) ? *mat_at(a, row, p0 + p) : 0.0;
            }
        }
    }
}

/* Packs a kc x nc block of b into NR-column slivers (row-major inside). */
static void pack_b(const matrix *b, size_t p0, size_t j0, size_t kc, size_t nc, double *dst)
{
    for (size_t j = 0; j < nc; j += NR) {
        for (size_t p = 0; p < kc; p++) {
            const double *src = mat_at(b, p0 + p, j0 + j);
            for (size_t c = 0; c < NR; c++)
                *dst++ = (j + c < nc) ? src[c] : 0.0;
        }
    }
}

static void micro_kernel(size_t kc, const double *restrict ap, const double *restrict bp,
                         double *restrict cbuf)
{
    double c00 = 0, c01 = 0, c02 = 0, c03 = 0;
    double c10 = 0, c11 = 0, c12 = 0, c13 = 0;
    double c20 = 0, c21 = 0, c22 = 0, c23 = 0;
    double c30 = 0, c31 = 0, c32 = 0, c33 = 0;
    for (size_t p = 0; p < kc; p++) {
        const double a0 = ap[0], a1 = ap[1], a2 = ap[2], a3 = ap[3];
        const double b0 = bp[0], b1 = bp[1], b2 = bp[2], b3 = bp[3];
        c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
        c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
        c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
        c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
        ap += MR;
        bp += NR;
    }
    cbuf[0] = c00; cbuf[1] = c01; cbuf[2] = c02; cbuf[3] = c03;
    cbuf[4] = c10; cbuf[5] = c11; cbuf[6] = c12; cbuf[7] = c13;
    cbuf[8] = c20; cbuf[9] = c21; cbuf[10] = c22; cbuf[11] = c23;
    cbuf[12] = c30; cbuf[13] = c31; cbuf[14] = c32; cbuf[15] = c33;
}

/* Adds a 4x4 tile into c, clipping at the matrix edge. */
static void store_tile(matrix *c, size_t i0, size_t j0, size_t mr, size_t nr, const double *tile)
{
    for (size_t r = 0; r < mr; r++) {
        double *dst = mat_at(c, i0 + r, j0);
        for (size_t q = 0; q < nr; q++)
            dst[q] += tile[r * NR + q];
    }
}

static void macro_kernel(matrix *c, size_t i0, size_t j0, size_t mc, size_t nc, size_t kc,
                         const double *apack, const double *bpack)
{
    double tile[MR * NR];
    for (size_t j = 0; j < nc; j += NR) {
        size_t nr = nc - j < NR ? nc - j : NR;
        for (size_t i = 0; i < mc; i += MR) {
            size_t mr = mc - i < MR ? mc - i : MR;
            micro_kernel(kc, apack + i * kc, bpack + j * kc, tile);
            store_tile(c, i0 + i, j0 + j, mr, nr, tile);
        }
    }
}

static size_t round_up(size_t x, size_t m)
{
    return (x + m - 1) / m * m;
}

void matmul_blocked(const matrix *a, const matrix *b, matrix *c)
{
    const size_t n = a->rows, k = a->cols, m = b->cols;
    double *apack = malloc(round_up(MC, MR) * KC * sizeof *apack);
    double *bpack = malloc(round_up(NC, NR) * KC * sizeof *bpack);
    if (!apack || !bpack) {
        free(apack);
        free(bpack);
        return;
    }
    mat_zero(c);
    for (size_t j0 = 0; j0 < m; j0 += NC) {
        size_t nc = m - j0 < NC ? m - j0 : NC;
        for (size_t p0 = 0; p0 < k; p0 += KC) {
            size_t kc = k - p0 < KC ? k - p0 : KC;
            pack_b(b, p0, j0, kc, nc, bpack);
            for (size_t i0 = 0; i0 < n; i0 += MC) {
                size_t mc = n - i0 < MC ? n - i0 : MC;
                pack_a(a, i0, p0, mc, kc, apack);
                macro_kernel(c, i0, j0, mc, nc, kc, apack, bpack);
            }
        }
    }
    free(apack);
    free(bpack);
}
