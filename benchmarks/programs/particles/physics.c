#include <stdlib.h>
#include "particles.h"

static uint64_t prng;

static uint32_t prng_next(void) {
    prng = prng * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(prng >> 33);
}

int system_alloc(system_t *s, int n) {
    s->n = n;
    s->x = malloc((size_t)n * sizeof(int32_t));
    s->y = malloc((size_t)n * sizeof(int32_t));
    s->vx = malloc((size_t)n * sizeof(int32_t));
    s->vy = malloc((size_t)n * sizeof(int32_t));
    s->collisions = s->wall_hits = 0;
    return s->x && s->y && s->vx && s->vy && grid_alloc(s);
}

void system_free(system_t *s) {
    free(s->x); free(s->y); free(s->vx); free(s->vy);
    grid_free(s);
}

void system_init(system_t *s, uint64_t seed) {
    prng = seed;
    for (int i = 0; i < s->n; i++) {
        s->x[i] = RADIUS + (int32_t)(prng_next() % (uint32_t)(BOX - 2 * RADIUS));
        s->y[i] = RADIUS + (int32_t)(prng_next() % (uint32_t)(BOX - 2 * RADIUS));
        s->vx[i] = (int32_t)(prng_next() % 401u) - 200;
        s->vy[i] = (int32_t)(prng_next() % 401u) - 200;
    }
}

static inline int32_t clamp_speed(int32_t v) {
    const int32_t vmax = RADIUS - 1;
    return v > vmax ? vmax : (v < -vmax ? -vmax : v);
}

/* reflect at the walls, keeping the particle fully inside */
static inline int reflect(int32_t *p, int32_t *v) {
    if (*p < RADIUS) {
        *p = 2 * RADIUS - *p;
        *v = -*v;
        return 1;
    }
    if (*p > BOX - 1 - RADIUS) {
        *p = 2 * (BOX - 1 - RADIUS) - *p;
        *v = -*v;
        return 1;
    }
    return 0;
}

void integrate(system_t *s, int32_t gravity) {
    uint64_t hits = 0;
    for (int i = 0; i < s->n; i++) {
        int32_t vx = clamp_speed(s->vx[i]);
        int32_t vy = clamp_speed(s->vy[i] - gravity);
        int32_t x = s->x[i] + vx, y = s->y[i] + vy;
        hits += (uint64_t)reflect(&x, &vx);
        hits += (uint64_t)reflect(&y, &vy);
        s->x[i] = x; s->y[i] = y;
        s->vx[i] = vx; s->vy[i] = vy;
    }
    s->wall_hits += hits;
}

/* equal-mass elastic collision: exchange the velocity component along the normal */
static inline int collide_pair(system_t *s, uint32_t i, uint32_t j) {
    int64_t dx = (int64_t)s->x[j] - s->x[i];
    int64_t dy = (int64_t)s->y[j] - s->y[i];
    int64_t d2 = dx * dx + dy * dy;
    const int64_t min2 = (int64_t)(2 * RADIUS) * (2 * RADIUS);
    if (d2 >= min2 || d2 == 0)
        return 0;
    int64_t dvx = (int64_t)s->vx[j] - s->vx[i];
    int64_t dvy = (int64_t)s->vy[j] - s->vy[i];
    int64_t dot = dvx * dx + dvy * dy;
    if (dot >= 0)
        return 0;   /* already separating */
    int64_t ix = dot * dx / d2, iy = dot * dy / d2;
    s->vx[i] += (int32_t)ix; s->vy[i] += (int32_t)iy;
    s->vx[j] -= (int32_t)ix; s->vy[j] -= (int32_t)iy;
    return 1;
}

/* for every cell, test its particles against this cell and four forward neighbours */
void collide_all(system_t *s) {
    static const int nbr[4][2] = {{1, 0}, {-1, 1}, {0, 1}, {1, 1}};
    uint64_t hits = 0;
    const uint32_t *start = s->cell_start, *order = s->order;
    for (int cy = 0; cy < GRID; cy++) {
        for (int cx = 0; cx < GRID; cx++) {
            uint32_t c = (uint32_t)cy * GRID + (uint32_t)cx;
            uint32_t a0 = start[c], a1 = start[c + 1];
            if (a0 == a1)
                continue;
            for (uint32_t a = a0; a < a1; a++)
                for (uint32_t b = a + 1; b < a1; b++)
                    hits += (uint64_t)collide_pair(s, order[a], order[b]);
            for (int k = 0; k < 4; k++) {
                int nx = cx + nbr[k][0], ny = cy + nbr[k][1];
                if (nx < 0 || nx >= GRID || ny >= GRID)
                    continue;
                uint32_t d = (uint32_t)ny * GRID + (uint32_t)nx;
                uint32_t b0 = start[d], b1 = start[d + 1];
                for (uint32_t a = a0; a < a1; a++)
                    for (uint32_t b = b0; b < b1; b++)
                        hits += (uint64_t)collide_pair(s, order[a], order[b]);
            }
        }
    }
    s->collisions += hits;
}

int64_t kinetic_energy(const system_t *s) {
    int64_t e0 = 0, e1 = 0;
    int i = 0;
    for (; i + 2 <= s->n; i += 2) {
        e0 += (int64_t)s->vx[i] * s->vx[i] + (int64_t)s->vy[i] * s->vy[i];
        e1 += (int64_t)s->vx[i + 1] * s->vx[i + 1] + (int64_t)s->vy[i + 1] * s->vy[i + 1];
    }
    for (; i < s->n; i++)
        e0 += (int64_t)s->vx[i] * s->vx[i] + (int64_t)s->vy[i] * s->vy[i];
    return (e0 + e1) / 2;
}

uint64_t state_hash(const system_t *s) {
    uint64_t h = 0x243F6A8885A308D3ull;
    for (int i = 0; i < s->n; i++) {
        uint64_t v = ((uint64_t)(uint32_t)s->x[i] << 32) | (uint32_t)s->y[i];
        h = (h ^ v) * 0x100000001B3ull;
        h ^= (uint64_t)(uint32_t)(s->vx[i] * 65599 + s->vy[i]);
    }
    return h;
}
