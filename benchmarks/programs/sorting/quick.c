/* Introspective quicksort: median-of-three, three-way partitioning,
 * insertion sort for small ranges and heapsort fallback on deep recursion. */
#include "sort.h"

#define SMALL_CUTOFF 24

static inline void swap_u32(uint32_t *x, uint32_t *y)
{
    uint32_t t = *x;
    *x = *y;
    *y = t;
}

void insertion_sort(uint32_t *a, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        uint32_t v = a[i];
        size_t j = i;
        while (j > 0 && a[j - 1] > v) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = v;
    }
}

static uint32_t median_of_three(uint32_t *a, size_t n)
{
    size_t m = n / 2;
    if (a[m] < a[0])
        swap_u32(&a[m], &a[0]);
    if (a[n - 1] < a[0])
        swap_u32(&a[n - 1], &a[0]);
    if (a[n - 1] < a[m])
        swap_u32(&a[n - 1], &a[m]);
    return a[m];
}

/* Dutch-flag partition: [0,lt) < p, [lt,gt) == p, [gt,n) > p. */
static void partition3(uint32_t *a, size_t n, uint32_t p, size_t *lt_out, size_t *gt_out)
{
    size_t lt = 0, i = 0, gt = n;
    while (i < gt) {
        uint32_t v = a[i];
        if (v < p) {
            a[i] = a[lt];
            a[lt] = v;
            lt++;
            i++;
        } else if (v > p) {
            gt--;
            a[i] = a[gt];
            a[gt] = v;
        } else {
            i++;
        }
    }
    *lt_out = lt;
    *gt_out = gt;
}

static void intro_rec(uint32_t *a, size_t n, unsigned depth_left)
{
    while (n > SMALL_CUTOFF) {
        if (depth_left == 0) {
            heap_sort(a, n);
            return;
        }
        depth_left--;
        uint32_t p = median_of_three(a, n);
        size_t lt, gt;
        partition3(a, n, p, &lt, &gt);
        /* recurse into the smaller side, loop on the larger */
        if (lt < n - gt) {
            intro_rec(a, lt, depth_left);
            a += gt;
            n -= gt;
        } else {
            intro_rec(a + gt, n - gt, depth_left);
            n = lt;
        }
    }
    insertion_sort(a, n);
}

void quick_sort(uint32_t *a, size_t n)
{
    unsigned depth = 0;
    for (size_t m = n; m > 1; m >>= 1)
        depth += 2;
    intro_rec(a, n, depth + 4);
}
