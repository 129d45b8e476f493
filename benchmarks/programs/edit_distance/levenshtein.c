/* Levenshtein distance: full two-row DP, banded DP and Myers' bit-parallel algorithm. */
#include "edit.h"

static inline uint32_t min3(uint32_t x, uint32_t y, uint32_t z)
{
    uint32_t m = x < y ? x : y;
    return m < z ? m : z;
}

/* Single-row DP; the inner loop is unrolled by four along b. */
uint32_t levenshtein(const char *a, size_t na, const char *b, size_t nb, uint32_t *row)
{
    for (size_t j = 0; j <= nb; j++)
        row[j] = (uint32_t)j;
    for (size_t i = 1; i <= na; i++) {
        char ca = a[i - 1];
        uint32_t diag = row[0];
        uint32_t left = (uint32_t)i;
        row[0] = left;
        size_t j = 1;
        for (; j + 4 <= nb + 1; j += 4) {
            uint32_t up0 = row[j], up1 = row[j + 1], up2 = row[j + 2], up3 = row[j + 3];
            uint32_t c0 = min3(up0 + 1, left + 1, diag + (ca != b[j - 1]));
            uint32_t c1 = min3(up1 + 1, c0 + 1, up0 + (ca != b[j]));
            uint32_t c2 = min3(up2 + 1, c1 + 1, up1 + (ca != b[j + 1]));
            uint32_t c3 = min3(up3 + 1, c2 + 1, up2 + (ca != b[j + 2]));
            row[j] = c0;
            row[j + 1] = c1;
            row[j + 2] = c2;
            row[j + 3] = c3;
            diag = up3;
            left = c3;
        }
        for (; j <= nb; j++) {
            uint32_t up = row[j];
            uint32_t c = min3(up + 1, left + 1, diag + (ca != b[j - 1]));
            row[j] = c;
            diag = up;
            left = c;
        }
    }
    return row[nb];
}

/* Only cells with |i - j| <= band are computed; returns band+1 style
 * saturated values outside.  Exact whenever the true distance <= band. */
uint32_t levenshtein_banded(const char *a, size_t na, const char *b, size_t nb, uint32_t band,
                            uint32_t *row)
{
    const uint32_t big = (uint32_t)(na + nb + 1);
    for (size_t j = 0; j <= nb; j++)
        row[j] = j <= band ? (uint32_t)j : big;
    for (size_t i = 1; i <= na; i++) {
        size_t lo = i > band ? i - band : 1;
        size_t hi = i + band < nb ? i + band : nb;
        uint32_t diag = row[lo - 1];
        uint32_t left = lo == 1 ? (i <= band ? (uint32_t)i : big) : big;
        if (lo == 1)
            row[0] = left;
        else
            row[lo - 1] = big;
        char ca = a[i - 1];
        for (size_t j = lo; j <= hi; j++) {
            uint32_t up = row[j];
            uint32_t c = min3(up + 1, left + 1, diag + (ca != b[j - 1]));
            row[j] = c;
            diag = up;
            left = c;
        }
        if (hi < nb)
            row[hi + 1] = big;
    }
    return row[nb];
}

/* Myers (1999) bit-vector algorithm, multi-word version for long patterns. */
uint32_t levenshtein_bitpar(const char *pat, size_t m, const char *text, size_t n)
{
    enum { MAXW = 64 };
    size_t words = (m + 63) / 64;
    if (m == 0)
        return (uint32_t)n;
    if (words > MAXW)
        return UINT32_MAX;
    static uint64_t peq[256][MAXW];
    uint64_t pv[MAXW], mv[MAXW];
    for (int c = 0; c < 256; c++)
        for (size_t w = 0; w < words; w++)
            peq[c][w] = 0;
    for (size_t i = 0; i < m; i++)
        peq[(unsigned char)pat[i]][i / 64] |= 1ull << (i % 64);
    for (size_t w = 0; w < words; w++) {
        pv[w] = ~0ull;
        mv[w] = 0;
    }
    uint64_t last = 1ull << ((m - 1) % 64);
    uint32_t score = (uint32_t)m;
    for (size_t j = 0; j < n; j++) {
        const uint64_t *eq = peq[(unsigned char)text[j]];
        uint64_t hin_p = 1, hin_m = 0; /* top row increases by one per column */
        for (size_t w = 0; w < words; w++) {
            uint64_t e = eq[w], p = pv[w], mm = mv[w];
            uint64_t xv = e | mm;
            uint64_t eh = e | hin_m;
            uint64_t xh = (((eh & p) + p) ^ p) | eh;
            uint64_t ph = mm | ~(xh | p);
            uint64_t mh = p & xh;
            uint64_t hout_p = ph >> 63, hout_m = mh >> 63;
            if (w == words - 1) {
                if (ph & last)
                    score++;
                else if (mh & last)
                    score--;
            }
            ph = (ph << 1) | hin_p;
            mh = (mh << 1) | hin_m;
            pv[w] = mh | ~(xv | ph);
            mv[w] = ph & xv;
            hin_p = hout_p;
            hin_m = hout_m;
        }
    }
    return score;
}
