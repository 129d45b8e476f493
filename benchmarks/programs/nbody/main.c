#include <stdio.h>
#include <math.h>
#include "nbody.h"

#define NBODIES 300
#define STEPS 800
#define DT 0.05

/* prints a value rounded to a fixed number of decimals, avoiding "-0.000" */
static void print_fixed(const char *label, double v, double scale) {
    long long q = llround(v * scale);
    printf("%s %lld", label, q);
}

int main(void) {
    system_t s;
    if (!system_alloc(&s, NBODIES, 0.5)) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    system_init(&s, 2024u);
    diag_t d0, d1;
    system_diagnostics(&s, &d0);
    for (int step = 0; step < STEPS; step++)
        leapfrog_step(&s, DT);
    system_diagnostics(&s, &d1);
    double dist = 0.0;
    int cp = closest_pair(&s, &dist);
    (void)cp;
    printf("energy start %.6e end %.5e\n", d0.kinetic + d0.potential, d1.kinetic + d1.potential);
    printf("kinetic end %.3e potential end %.3e\n", d1.kinetic, d1.potential);
    print_fixed("com(1e-6)", fabs(d1.cx) + fabs(d1.cy) + fabs(d1.cz), 1e6);
    printf("\n");
    system_free(&s);
    return 0;
}
