/* Matrix allocation, generation, comparison and exact checksums. */
#include "matmul.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

int mat_alloc(matrix *m, size_t rows, size_t cols)
{
    m->rows = rows;
    m->cols = cols;
    m->data = malloc(rows * cols * sizeof *m->data);
    return m->data != NULL;
}

void mat_free(matrix *m)
{
    free(m->data);
    m->data = NULL;
}

void mat_fill(matrix *m, uint64_t seed)
{
    uint64_t s = seed | 1u;
    size_t n = m->rows * m->cols;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        int k = (int)((s >> 40) % 33u) - 16; /* -16 .. 16 */
        m->data[i] = (double)k / 16.0;
    }
}

void mat_zero(matrix *m)
{
    memset(m->data, 0, m->rows * m->cols * sizeof *m->data);
}

int mat_equal(const matrix *a, const matrix *b)
{
    if (a->rows != b->rows || a->cols != b->cols)
        return 0;
    size_t n = a->rows * a->cols;
    for (size_t i = 0; i < n; i++)
        if (a->data[i] != b->data[i])
            return 0;
    return 1;
}

/* Entries are multiples of 1/256: scale, round to an integer and hash. */
uint64_t mat_checksum(const matrix *m)
{
    uint64_t h = 0xcbf29ce484222325ull;
    size_t n = m->rows * m->cols;
    for (size_t i = 0; i < n; i++) {
        int64_t v = (int64_t)llround(m->data[i] * 256.0);
        h = (h ^ (uint64_t)v) * 0x100000001b3ull;
    }
    return h;
}

void mat_transpose(const matrix *src, matrix *dst)
{
    const size_t B = 32;
    for (size_t ii = 0; ii < src->rows; ii += B)
        for (size_t jj = 0; jj < src->cols; jj += B)
            for (size_t i = ii; i < ii + B && i < src->rows; i++)
                for (size_t j = jj; j < jj + B && j < src->cols; j++)
                    *mat_at(dst, j, i) = *mat_at(src, i, j);
}
