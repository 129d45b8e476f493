#include <stdio.h>
#include <inttypes.h>
#include "particles.h"

#define NPART 40000
#define STEPS 150

int main(void) {
    system_t s;
    if (!system_alloc(&s, NPART)) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    system_init(&s, 0xFACEFEEDull);
    int64_t e0 = kinetic_energy(&s);
    uint32_t maxocc = 0;
    for (int step = 0; step < STEPS; step++) {
        integrate(&s, 1);
        grid_build(&s);
        uint32_t m = grid_max_occupancy(&s);
        if (m > maxocc)
            maxocc = m;
        collide_all(&s);
    }
    printf("collisions %" PRIu64 " wall_hits %" PRIu64 " max_cell %" PRIu32 "\n",
           s.collisions, s.wall_hits, maxocc);
    printf("energy %" PRId64 " -> %" PRId64 " state %016" PRIx64 "\n",
           e0, kinetic_energy(&s), state_hash(&s));
    system_free(&s);
    return 0;
}
