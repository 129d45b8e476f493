/* nbody: softened gravitational N-body simulation with a leapfrog integrator. */
#ifndef NBODY_H
#define NBODY_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int n;
    double *x, *y, *z;
    double *vx, *vy, *vz;
    double *ax, *ay, *az;
    double *m;
    double eps2;   /* softening squared */
} system_t;

typedef struct {
    double kinetic, potential;
    double cx, cy, cz;   /* centre of mass */
} diag_t;

/* integrate.c */
int system_alloc(system_t *s, int n, double eps);
void system_free(system_t *s);
void system_init(system_t *s, uint64_t seed);
void leapfrog_step(system_t *s, double dt);
void system_diagnostics(const system_t *s, diag_t *d);

/* forces.c */
void compute_accelerations(system_t *s);
double potential_energy(const system_t *s);
int closest_pair(const system_t *s, double *dist);

#endif
