/* stencil2d: 2D 5-point Jacobi iterations on a large grid (memory-bound). */
#ifndef STENCIL2D_H
#define STENCIL2D_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int nx;       /* columns including the two boundary columns */
    int ny;       /* rows including the two boundary rows */
    double *v;    /* row-major, nx * ny values */
} grid_t;

static inline double *grid_row(const grid_t *g, int y) {
    return g->v + (size_t)y * (size_t)g->nx;
}

/* grid.c */
int grid_alloc(grid_t *g, int nx, int ny);
void grid_free(grid_t *g);
void grid_init(grid_t *g, uint64_t seed);
void grid_copy_boundary(grid_t *dst, const grid_t *src);
double grid_checksum(const grid_t *g);
uint64_t grid_hash(const grid_t *g, double scale);

/* sweep.c */
void jacobi_sweep_simple(const grid_t *in, grid_t *out);
void jacobi_sweep_unrolled(const grid_t *in, grid_t *out);
double residual_l1(const grid_t *g, double *max_abs);
int run_jacobi(grid_t *a, grid_t *b, int iters, int unrolled, grid_t **result);

#endif
