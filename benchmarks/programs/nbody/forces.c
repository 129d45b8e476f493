#include <math.h>
#include <string.h>
#include "nbody.h"

static inline double inv_r3(double dx, double dy, double dz, double eps2) {
    double r2 = dx * dx + dy * dy + dz * dz + eps2;
    double r = sqrt(r2);
    return 1.0 / (r2 * r);
}

static void zero_acc(system_t *s) {
    size_t bytes = (size_t)s->n * sizeof(double);
    memset(s->ax, 0, bytes);
    memset(s->ay, 0, bytes);
    memset(s->az, 0, bytes);
}

/* pairwise forces, each pair once; j loop unrolled by two with symmetric updates */
void compute_accelerations(system_t *s) {
    int n = s->n;
    const double *x = s->x, *y = s->y, *z = s->z, *m = s->m;
    double *ax = s->ax, *ay = s->ay, *az = s->az;
    double eps2 = s->eps2;
    zero_acc(s);
    for (int i = 0; i < n; i++) {
        double xi = x[i], yi = y[i], zi = z[i], mi = m[i];
        double axi = 0.0, ayi = 0.0, azi = 0.0;
        double axi2 = 0.0, ayi2 = 0.0, azi2 = 0.0;
        int j = i + 1;
        for (; j + 1 < n; j += 2) {
            double dx0 = x[j] - xi, dy0 = y[j] - yi, dz0 = z[j] - zi;
            double dx1 = x[j + 1] - xi, dy1 = y[j + 1] - yi, dz1 = z[j + 1] - zi;
            double f0 = inv_r3(dx0, dy0, dz0, eps2);
            double f1 = inv_r3(dx1, dy1, dz1, eps2);
            double s0 = m[j] * f0, s1 = m[j + 1] * f1;
            double t0 = mi * f0, t1 = mi * f1;
            axi += dx0 * s0; ayi += dy0 * s0; azi += dz0 * s0;
            axi2 += dx1 * s1; ayi2 += dy1 * s1; azi2 += dz1 * s1;
            ax[j] -= dx0 * t0; ay[j] -= dy0 * t0; az[j] -= dz0 * t0;
            ax[j + 1] -= dx1 * t1; ay[j + 1] -= dy1 * t1; az[j + 1] -= dz1 * t1;
        }
        for (; j < n; j++) {
            double dx = x[j] - xi, dy = y[j] - yi, dz = z[j] - zi;
            double f = inv_r3(dx, dy, dz, eps2);
            double sj = m[j] * f, ti = mi * f;
            axi += dx * sj; ayi += dy * sj; azi += dz * sj;
            ax[j] -= dx * ti; ay[j] -= dy * ti; az[j] -= dz * ti;
        }
        ax[i] += axi + axi2;
        ay[i] += ayi + ayi2;
        az[i] += azi + azi2;
    }
}

static inline double pair_potential(const system_t *s, int i, int j) {
    double dx = s->x[j] - s->x[i];
    double dy = s->y[j] - s->y[i];
    double dz = s->z[j] - s->z[i];
    return -s->m[i] * s->m[j] / sqrt(dx * dx + dy * dy + dz * dz + s->eps2);
}

double potential_energy(const system_t *s) {
    double e = 0.0;
    for (int i = 0; i < s->n; i++) {
        double row = 0.0;
        for (int j = i + 1; j < s->n; j++)
            row += pair_potential(s, i, j);
        e += row;
    }
    return e;
}

int closest_pair(const system_t *s, double *dist) {
    double best = INFINITY;
    int bi = -1;
    for (int i = 0; i < s->n; i++) {
        for (int j = i + 1; j < s->n; j++) {
            double dx = s->x[j] - s->x[i];
            double dy = s->y[j] - s->y[i];
            double dz = s->z[j] - s->z[i];
            double d2 = dx * dx + dy * dy + dz * dz;
            if (d2 < best) {
                best = d2;
                bi = i;
            }
        }
    }
    *dist = sqrt(best);
    return bi;
}
