/* LSD radix sort, 8 bits per pass; all four histograms are built in one pass. */
#include "sort.h"
#include <string.h>

static void build_histograms(const uint32_t *a, size_t n, size_t hist[4][256])
{
    memset(hist, 0, 4 * 256 * sizeof(size_t));
    size_t i = 0;
    for (; i + 2 <= n; i += 2) {
        uint32_t x = a[i], y = a[i + 1];
        hist[0][x & 0xffu]++;
        hist[1][(x >> 8) & 0xffu]++;
        hist[2][(x >> 16) & 0xffu]++;
        hist[3][x >> 24]++;
        hist[0][y & 0xffu]++;
        hist[1][(y >> 8) & 0xffu]++;
        hist[2][(y >> 16) & 0xffu]++;
        hist[3][y >> 24]++;
    }
    for (; i < n; i++) {
        uint32_t x = a[i];
        hist[0][x & 0xffu]++;
        hist[1][(x >> 8) & 0xffu]++;
        hist[2][(x >> 16) & 0xffu]++;
        hist[3][x >> 24]++;
    }
}

static int prefix_sums(size_t h[256], size_t n)
{
    size_t sum = 0;
    int trivial = 0;
    for (int b = 0; b < 256; b++) {
        size_t c = h[b];
        if (c == n)
            trivial = 1; /* all keys share this digit: pass can be skipped */
        h[b] = sum;
        sum += c;
    }
    return trivial;
}

static void scatter(const uint32_t *src, uint32_t *dst, size_t n, unsigned shift, size_t h[256])
{
    for (size_t i = 0; i < n; i++) {
        uint32_t v = src[i];
        dst[h[(v >> shift) & 0xffu]++] = v;
    }
}

void radix_sort(uint32_t *a, size_t n, uint32_t *tmp)
{
    static size_t hist[4][256];
    build_histograms(a, n, hist);
    uint32_t *src = a, *dst = tmp;
    for (unsigned pass = 0; pass < 4; pass++) {
        if (prefix_sums(hist[pass], n))
            continue;
        scatter(src, dst, n, pass * 8, hist[pass]);
        uint32_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != a)
        memcpy(a, src, n * sizeof *a);
}
