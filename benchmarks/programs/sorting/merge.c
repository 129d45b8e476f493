/* Bottom-up merge sort with insertion-sorted runs and a four-way unrolled merge. */
#include "sort.h"
#include <string.h>

#define RUN 32

static void merge_runs(const uint32_t *src, size_t lo, size_t mid, size_t hi, uint32_t *dst)
{
    size_t i = lo, j = mid, k = lo;
    /* main loop: both inputs have at least four elements left */
    while (i + 4 <= mid && j + 4 <= hi) {
        uint32_t x0 = src[i], y0 = src[j];
        uint32_t t0 = x0 <= y0;
        dst[k++] = t0 ? x0 : y0;
        i += t0;
        j += 1 - t0;
        uint32_t x1 = src[i], y1 = src[j];
        uint32_t t1 = x1 <= y1;
        dst[k++] = t1 ? x1 : y1;
        i += t1;
        j += 1 - t1;
        uint32_t x2 = src[i], y2 = src[j];
        uint32_t t2 = x2 <= y2;
        dst[k++] = t2 ? x2 : y2;
        i += t2;
        j += 1 - t2;
        uint32_t x3 = src[i], y3 = src[j];
        uint32_t t3 = x3 <= y3;
        dst[k++] = t3 ? x3 : y3;
        i += t3;
        j += 1 - t3;
    }
    while (i < mid && j < hi)
        dst[k++] = src[i] <= src[j] ? src[i++] : src[j++];
    while (i < mid)
        dst[k++] = src[i++];
    while (j < hi)
        dst[k++] = src[j++];
}

static void sort_small_runs(uint32_t *a, size_t n)
{
    for (size_t lo = 0; lo < n; lo += RUN) {
        size_t len = n - lo < RUN ? n - lo : RUN;
        insertion_sort(a + lo, len);
    }
}

void merge_sort(uint32_t *a, size_t n, uint32_t *tmp)
{
    sort_small_runs(a, n);
    uint32_t *src = a, *dst = tmp;
    for (size_t width = RUN; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n;
            size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            merge_runs(src, lo, mid, hi, dst);
        }
        uint32_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != a)
        memcpy(a, src, n * sizeof *a);
}
