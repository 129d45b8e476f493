#include <stdlib.h>
#include "life.h"

int plain_alloc(plain_grid *g, int w, int h) {
    g->w = w;
    g->h = h;
    g->cells = calloc((size_t)w * (size_t)h, 1);
    return g->cells != NULL;
}

void plain_free(plain_grid *g) {
    free(g->cells);
    g->cells = NULL;
}

void plain_randomize(plain_grid *g, uint64_t seed, unsigned density_pct) {
    uint64_t s = seed;
    size_t n = (size_t)g->w * g->h;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        g->cells[i] = (uint8_t)((s >> 33) % 100u < density_pct);
    }
}

static inline void set_cell(plain_grid *g, int x, int y, int v) {
    g->cells[(size_t)wrap(y, g->h) * g->w + wrap(x, g->w)] = (uint8_t)v;
}

void plain_add_glider(plain_grid *g, int x, int y) {
    for (int dy = -1; dy <= 3; dy++)
        for (int dx = -1; dx <= 3; dx++)
            set_cell(g, x + dx, y + dy, 0);
    set_cell(g, x + 1, y, 1);
    set_cell(g, x + 2, y + 1, 1);
    set_cell(g, x, y + 2, 1);
    set_cell(g, x + 1, y + 2, 1);
    set_cell(g, x + 2, y + 2, 1);
}

static inline uint8_t rule(uint8_t alive, int n) {
    return (uint8_t)(n == 3 || (alive && n == 2));
}

/* column sums slide along the row: three column totals live at once, unrolled by 2 */
static void step_row(const uint8_t *up, const uint8_t *mid, const uint8_t *dn, uint8_t *out, int w) {
    int c_left = up[w - 1] + mid[w - 1] + dn[w - 1];
    int c_mid = up[0] + mid[0] + dn[0];
    int x = 0;
    for (; x + 2 < w; x += 2) {
        int c_r1 = up[x + 1] + mid[x + 1] + dn[x + 1];
        int c_r2 = up[x + 2] + mid[x + 2] + dn[x + 2];
        out[x] = rule(mid[x], c_left + c_mid + c_r1 - mid[x]);
        out[x + 1] = rule(mid[x + 1], c_mid + c_r1 + c_r2 - mid[x + 1]);
        c_left = c_r1;
        c_mid = c_r2;
    }
    for (; x < w; x++) {
        int xr = x + 1 < w ? x + 1 : 0;
        int c_r = up[xr] + mid[xr] + dn[xr];
        out[x] = rule(mid[x], c_left + c_mid + c_r - mid[x]);
        c_left = c_mid;
        c_mid = c_r;
    }
}

void plain_step(const plain_grid *in, plain_grid *out) {
    int w = in->w, h = in->h;
    for (int y = 0; y < h; y++) {
        const uint8_t *up = in->cells + (size_t)wrap(y - 1, h) * w;
        const uint8_t *mid = in->cells + (size_t)y * w;
        const uint8_t *dn = in->cells + (size_t)wrap(y + 1, h) * w;
        step_row(up, mid, dn, out->cells + (size_t)y * w, w);
    }
}

uint64_t plain_population(const plain_grid *g) {
    size_t n = (size_t)g->w * g->h;
    uint64_t p = 0;
    for (size_t i = 0; i < n; i++)
        p += g->cells[i];
    return p;
}
