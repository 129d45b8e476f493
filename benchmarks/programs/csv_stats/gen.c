/* Generates a CSV document with a header and typed columns. */
#include "csv.h"
#include <string.h>

typedef struct {
    uint64_t s;
} gen_rng;

static uint32_t gen_next(gen_rng *r)
{
    r->s = r->s * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(r->s >> 33);
}

static const char *const categories[] = {
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta",
    "iota", "kappa", "lambda", "mu", "nu", "xi", "omicron", "pi", "rho", "sigma",
};
#define NCATS (sizeof categories / sizeof categories[0])

static size_t put_str(char *buf, size_t pos, const char *s)
{
    size_t n = strlen(s);
    memcpy(buf + pos, s, n);
    return pos + n;
}

static size_t put_int(char *buf, size_t pos, int64_t v, unsigned min_digits)
{
    char tmp[24];
    unsigned n = 0;
    uint64_t a = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + a % 10u);
        a /= 10u;
    } while (a != 0);
    while (n < min_digits)
        tmp[n++] = '0';
    if (v < 0)
        buf[pos++] = '-';
    while (n > 0)
        buf[pos++] = tmp[--n];
    return pos;
}

static size_t put_text(char *buf, size_t pos, gen_rng *r)
{
    unsigned words = 1 + gen_next(r) % 6;
    int quoted = gen_next(r) % 3 == 0;
    if (quoted)
        buf[pos++] = '"';
    for (unsigned w = 0; w < words; w++) {
        if (w > 0)
            buf[pos++] = ' ';
        unsigned len = 2 + gen_next(r) % 7;
        for (unsigned i = 0; i < len; i++)
            buf[pos++] = (char)('a' + gen_next(r) % 26);
        if (quoted) {
            uint32_t k = gen_next(r) % 10;
            if (k == 0)
                buf[pos++] = ',';
            else if (k == 1) {
                buf[pos++] = '"';
                buf[pos++] = '"';
            } else if (k == 2)
                buf[pos++] = '\n';
        }
    }
    if (quoted)
        buf[pos++] = '"';
    return pos;
}

size_t csv_generate(char *buf, size_t cap, size_t rows, uint64_t seed, col_kind *kinds, int *ncols)
{
    static const col_kind layout[] = { COL_INT, COL_CATEGORY, COL_DECIMAL, COL_INT, COL_TEXT,
                                       COL_DECIMAL, COL_CATEGORY, COL_INT, COL_DECIMAL };
    static const char *const names[] = { "id", "region", "price", "qty", "comment",
                                         "weight", "status", "delta", "ratio" };
    const int nc = (int)(sizeof layout / sizeof layout[0]);
    gen_rng r = { seed };
    size_t pos = 0;
    for (int c = 0; c < nc; c++) {
        if (c)
            buf[pos++] = ',';
        pos = put_str(buf, pos, names[c]);
        kinds[c] = layout[c];
    }
    buf[pos++] = '\n';
    for (size_t row = 0; row < rows && pos + 512 < cap; row++) {
        for (int c = 0; c < nc; c++) {
            if (c)
                buf[pos++] = ',';
            if (c > 0 && gen_next(&r) % 50 == 0)
                continue; /* missing value */
            switch (layout[c]) {
            case COL_INT:
                if (c == 0)
                    pos = put_int(buf, pos, (int64_t)row, 1);
                else
                    pos = put_int(buf, pos, (int64_t)(gen_next(&r) % 200000) - 60000, 1);
                break;
            case COL_DECIMAL: {
                int64_t v = (int64_t)(gen_next(&r) % 10000000);
                if (gen_next(&r) % 4 == 0)
                    v = -v;
                pos = put_int(buf, pos, v / 100, 1);
                if (v < 0 && v / 100 == 0) {
                    /* keep the sign for values in (-1, 0) */
                    memmove(buf + pos, buf + pos - 1, 1);
                    buf[pos - 1] = '-';
                    pos++;
                }
                buf[pos++] = '.';
                pos = put_int(buf, pos, (v < 0 ? -v : v) % 100, 2);
                break;
            }
            case COL_CATEGORY: {
                uint32_t a = gen_next(&r) % NCATS, b = gen_next(&r) % NCATS;
                pos = put_str(buf, pos, categories[a < b ? a : b]);
                if (gen_next(&r) % 8 == 0)
                    pos = put_int(buf, pos, gen_next(&r) % 40, 1);
                break;
            }
            case COL_TEXT:
                pos = put_text(buf, pos, &r);
                break;
            }
        }
        buf[pos++] = (row % 16 == 15) ? '\r' : '\n';
        if (buf[pos - 1] == '\r')
            buf[pos++] = '\n';
    }
    *ncols = nc;
    return pos;
}
