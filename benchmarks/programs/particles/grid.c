#include <stdlib.h>
#include <string.h>
#include "particles.h"

int grid_alloc(system_t *s) {
    s->cell_of = malloc((size_t)s->n * sizeof(uint32_t));
    s->order = malloc((size_t)s->n * sizeof(uint32_t));
    s->cell_start = malloc(((size_t)GRID * GRID + 1) * sizeof(uint32_t));
    return s->cell_of && s->order && s->cell_start;
}

void grid_free(system_t *s) {
    free(s->cell_of);
    free(s->order);
    free(s->cell_start);
}

static void count_cells(system_t *s) {
    uint32_t *cnt = s->cell_start;
    memset(cnt, 0, ((size_t)GRID * GRID + 1) * sizeof(uint32_t));
    int i = 0;
    for (; i + 2 <= s->n; i += 2) {
        uint32_t c0 = cell_index(s->x[i], s->y[i]);
        uint32_t c1 = cell_index(s->x[i + 1], s->y[i + 1]);
        s->cell_of[i] = c0;
        s->cell_of[i + 1] = c1;
        cnt[c0 + 1]++;
        cnt[c1 + 1]++;
    }
    for (; i < s->n; i++) {
        uint32_t c = cell_index(s->x[i], s->y[i]);
        s->cell_of[i] = c;
        cnt[c + 1]++;
    }
}

static void prefix_sum(uint32_t *a, size_t n) {
    uint32_t run = 0;
    for (size_t i = 0; i < n; i++) {
        run += a[i];
        a[i] = run;
    }
}

/* stable counting sort: particles within a cell stay in index order */
void grid_build(system_t *s) {
    count_cells(s);
    prefix_sum(s->cell_start, (size_t)GRID * GRID + 1);
    uint32_t *fill = malloc((size_t)GRID * GRID * sizeof(uint32_t));
    if (!fill)
        abort();
    memcpy(fill, s->cell_start, (size_t)GRID * GRID * sizeof(uint32_t));
    for (int i = 0; i < s->n; i++)
        s->order[fill[s->cell_of[i]]++] = (uint32_t)i;
    free(fill);
}

uint32_t grid_max_occupancy(const system_t *s) {
    uint32_t m = 0;
    for (size_t c = 0; c < (size_t)GRID * GRID; c++) {
        uint32_t k = s->cell_start[c + 1] - s->cell_start[c];
        if (k > m)
            m = k;
    }
    return m;
}
