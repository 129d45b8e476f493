#include <stdlib.h>
#include <math.h>
#include "nbody.h"

static uint64_t seed_state;

static uint64_t next_u64(void) {
    /* splitmix64 */
    uint64_t z = (seed_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double uniform(double lo, double hi) {
    double u = (double)(next_u64() >> 11) * (1.0 / 9007199254740992.0);
    return lo + (hi - lo) * u;
}

static double *alloc_zero(int n) {
    return calloc((size_t)n, sizeof(double));
}

int system_alloc(system_t *s, int n, double eps) {
    s->n = n;
    s->eps2 = eps * eps;
    s->x = alloc_zero(n); s->y = alloc_zero(n); s->z = alloc_zero(n);
    s->vx = alloc_zero(n); s->vy = alloc_zero(n); s->vz = alloc_zero(n);
    s->ax = alloc_zero(n); s->ay = alloc_zero(n); s->az = alloc_zero(n);
    s->m = alloc_zero(n);
    return s->x && s->y && s->z && s->vx && s->vy && s->vz &&
           s->ax && s->ay && s->az && s->m;
}

void system_free(system_t *s) {
    free(s->x); free(s->y); free(s->z);
    free(s->vx); free(s->vy); free(s->vz);
    free(s->ax); free(s->ay); free(s->az);
    free(s->m);
}

static void remove_drift(system_t *s) {
    double px = 0.0, py = 0.0, pz = 0.0, mt = 0.0;
    for (int i = 0; i < s->n; i++) {
        px += s->m[i] * s->vx[i];
        py += s->m[i] * s->vy[i];
        pz += s->m[i] * s->vz[i];
        mt += s->m[i];
    }
    for (int i = 0; i < s->n; i++) {
        s->vx[i] -= px / mt;
        s->vy[i] -= py / mt;
        s->vz[i] -= pz / mt;
    }
}

void system_init(system_t *s, uint64_t seed) {
    seed_state = seed;
    for (int i = 0; i < s->n; i++) {
        double x, y, z, r2;
        do {   /* rejection sampling inside the unit ball */
            x = uniform(-1.0, 1.0);
            y = uniform(-1.0, 1.0);
            z = uniform(-1.0, 1.0);
            r2 = x * x + y * y + z * z;
        } while (r2 > 1.0 || r2 < 0.01);
        s->x[i] = 10.0 * x;
        s->y[i] = 10.0 * y;
        s->z[i] = 10.0 * z;
        /* slow rotation about the z axis plus noise */
        s->vx[i] = -0.05 * y + uniform(-0.02, 0.02);
        s->vy[i] = 0.05 * x + uniform(-0.02, 0.02);
        s->vz[i] = uniform(-0.02, 0.02);
        s->m[i] = uniform(0.5, 1.5) / (double)s->n;
    }
    remove_drift(s);
    compute_accelerations(s);
}

static void kick(system_t *s, double h) {
    for (int i = 0; i < s->n; i++) {
        s->vx[i] += h * s->ax[i];
        s->vy[i] += h * s->ay[i];
        s->vz[i] += h * s->az[i];
    }
}

static void drift(system_t *s, double h) {
    for (int i = 0; i < s->n; i++) {
        s->x[i] += h * s->vx[i];
        s->y[i] += h * s->vy[i];
        s->z[i] += h * s->vz[i];
    }
}

void leapfrog_step(system_t *s, double dt) {
    kick(s, 0.5 * dt);
    drift(s, dt);
    compute_accelerations(s);
    kick(s, 0.5 * dt);
}

void system_diagnostics(const system_t *s, diag_t *d) {
    double ke = 0.0, cx = 0.0, cy = 0.0, cz = 0.0, mt = 0.0;
    for (int i = 0; i < s->n; i++) {
        double v2 = s->vx[i] * s->vx[i] + s->vy[i] * s->vy[i] + s->vz[i] * s->vz[i];
        ke += 0.5 * s->m[i] * v2;
        cx += s->m[i] * s->x[i];
        cy += s->m[i] * s->y[i];
        cz += s->m[i] * s->z[i];
        mt += s->m[i];
    }
    d->kinetic = ke;
    d->potential = potential_energy(s);
    d->cx = cx / mt;
    d->cy = cy / mt;
    d->cz = cz / mt;
}
