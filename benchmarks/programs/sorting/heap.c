/* Binary max-heap sort with Floyd's bottom-up sift. */
#include "sort.h"

static void sift_down(uint32_t *a, size_t i, size_t n)
{
    uint32_t v = a[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && a[c + 1] > a[c])
            c++;
        if (a[c] <= v)
            break;
        a[i] = a[c];
        i = c;
    }
    a[i] = v;
}

/* Floyd: walk down to a leaf along larger children, then sift the value up. */
static void pop_max(uint32_t *a, size_t n)
{
    uint32_t v = a[n - 1];
    a[n - 1] = a[0];
    n--;
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && a[c + 1] > a[c])
            c++;
        a[i] = a[c];
        i = c;
    }
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (a[p] >= v)
            break;
        a[i] = a[p];
        i = p;
    }
    a[i] = v;
}

void heap_sort(uint32_t *a, size_t n)
{
    if (n < 2)
        return;
    for (size_t i = n / 2; i-- > 0;)
        sift_down(a, i, n);
    for (size_t end = n; end > 1; end--)
        pop_max(a, end);
}
