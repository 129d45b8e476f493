/* particles: 2D particle system with elastic collisions found through a uniform cell grid.
   All arithmetic is fixed-point integer so results are bit-reproducible. */
#ifndef PARTICLES_H
#define PARTICLES_H

#include <stddef.h>
#include <stdint.h>

#define BOX_BITS 20
#define BOX (1 << BOX_BITS)          /* box side in fixed-point units */
#define RADIUS 1600
#define CELL_BITS 12                 /* cell side 4096 >= particle diameter */
#define GRID (BOX >> CELL_BITS)      /* cells per side */

typedef struct {
    int n;
    int32_t *x, *y, *vx, *vy;
    /* cell binning */
    uint32_t *cell_of;     /* per particle */
    uint32_t *cell_start;  /* GRID*GRID + 1 prefix sums */
    uint32_t *order;       /* particle indices sorted by cell */
    uint64_t collisions, wall_hits;
} system_t;

static inline uint32_t cell_index(int32_t x, int32_t y) {
    return (uint32_t)(y >> CELL_BITS) * GRID + (uint32_t)(x >> CELL_BITS);
}

/* grid.c */
int grid_alloc(system_t *s);
void grid_free(system_t *s);
void grid_build(system_t *s);
uint32_t grid_max_occupancy(const system_t *s);

/* physics.c */
int system_alloc(system_t *s, int n);
void system_free(system_t *s);
void system_init(system_t *s, uint64_t seed);
void integrate(system_t *s, int32_t gravity);
void collide_all(system_t *s);
int64_t kinetic_energy(const system_t *s);
uint64_t state_hash(const system_t *s);

#endif
