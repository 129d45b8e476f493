/* Longest common subsequence: two-rows-at-a-time length DP and a full table
 * with traceback for shorter inputs. */
#include "edit.h"
#include <string.h>

static inline uint32_t max_u32(uint32_t x, uint32_t y)
{
    return x > y ? x : y;
}

/* Computes rows i and i+1 together, so each loaded character of b and each
 * value of the previous row is reused twice; several values stay live. */
uint32_t lcs_length(const char *a, size_t na, const char *b, size_t nb, uint32_t *rows)
{
    uint32_t *prev = rows;
    memset(prev, 0, (nb + 1) * sizeof *prev);
    size_t i = 0;
    for (; i + 2 <= na; i += 2) {
        char c0 = a[i], c1 = a[i + 1];
        uint32_t left0 = 0, left1 = 0, diag0 = 0, diag1 = 0;
        for (size_t j = 1; j <= nb; j++) {
            char cb = b[j - 1];
            uint32_t up0 = prev[j];
            uint32_t v0 = (c0 == cb) ? diag0 + 1 : max_u32(up0, left0);
            uint32_t v1 = (c1 == cb) ? diag1 + 1 : max_u32(v0, left1);
            diag0 = up0;
            diag1 = v0;
            left0 = v0;
            left1 = v1;
            prev[j] = v1;
        }
    }
    if (i < na) {
        char c0 = a[i];
        uint32_t left = 0, diag = 0;
        for (size_t j = 1; j <= nb; j++) {
            uint32_t up = prev[j];
            uint32_t v = (c0 == b[j - 1]) ? diag + 1 : max_u32(up, left);
            diag = up;
            left = v;
            prev[j] = v;
        }
    }
    return prev[nb];
}

static inline uint16_t cell(const uint16_t *t, size_t w, size_t i, size_t j)
{
    return t[i * w + j];
}

/* Full (na+1) x (nb+1) table; writes one LCS to out and returns its length. */
size_t lcs_traceback(const char *a, size_t na, const char *b, size_t nb, uint16_t *table, char *out)
{
    size_t w = nb + 1;
    for (size_t j = 0; j <= nb; j++)
        table[j] = 0;
    for (size_t i = 1; i <= na; i++) {
        uint16_t *row = table + i * w, *up = row - w;
        row[0] = 0;
        for (size_t j = 1; j <= nb; j++) {
            if (a[i - 1] == b[j - 1])
                row[j] = (uint16_t)(up[j - 1] + 1);
            else
                row[j] = up[j] > row[j - 1] ? up[j] : row[j - 1];
        }
    }
    size_t len = cell(table, w, na, nb), k = len, i = na, j = nb;
    while (i > 0 && j > 0) {
        if (a[i - 1] == b[j - 1]) {
            out[--k] = a[i - 1];
            i--;
            j--;
        } else if (cell(table, w, i - 1, j) >= cell(table, w, i, j - 1)) {
            i--;
        } else {
            j--;
        }
    }
    return len;
}
