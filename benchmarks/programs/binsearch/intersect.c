/* Sorted-set intersection: linear merge and galloping variants. */
#include "search.h"

/* Linear merge: both arrays are streamed; four-way unrolled comparisons on b. */
size_t intersect_merge(const uint32_t *a, size_t na, const uint32_t *b, size_t nb, uint32_t *out)
{
    size_t i = 0, j = 0, k = 0;
    while (i < na && j < nb) {
        uint32_t x = a[i], y = b[j];
        if (x < y) {
            i++;
            /* skip ahead in a while it is far behind */
            while (i + 4 <= na && a[i + 3] < y)
                i += 4;
        } else if (x > y) {
            j++;
        } else {
            out[k++] = x;
            i++;
            j++;
        }
    }
    return k;
}

/* For each element of the small array b, gallop forward in the large array a. */
size_t intersect_gallop(const uint32_t *a, size_t na, const uint32_t *b, size_t nb, uint32_t *out)
{
    size_t pos = 0, k = 0;
    for (size_t j = 0; j < nb && pos < na; j++) {
        pos = gallop_from(a, pos, na, b[j]);
        if (pos < na && a[pos] == b[j])
            out[k++] = b[j];
    }
    return k;
}
