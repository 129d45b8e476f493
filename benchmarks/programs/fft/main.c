#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <inttypes.h>
#include "fft.h"

#define LOG2N 16
#define ROUNDS 100

int main(void) {
    fft_plan plan;
    if (!fft_plan_init(&plan, LOG2N)) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    size_t n = plan.n;
    cpx *x = malloc(n * sizeof(cpx));
    cpx *orig = malloc(n * sizeof(cpx));
    if (!x || !orig)
        return 1;
    signal_generate(orig, n, 42u, 6);
    double worst = 0.0, energy = 0.0;
    uint64_t peak_hash = 0;
    size_t first = 0;
    for (int r = 0; r < ROUNDS; r++) {
        memcpy(x, orig, n * sizeof(cpx));
        fft_forward(&plan, x);
        if (r == 0) {
            energy = spectrum_energy(x, n);
            peak_hash = spectrum_peaks(x, n, 6, &first);
        }
        fft_inverse(&plan, x);
        double d = max_abs_diff(x, orig, n);
        if (d > worst)
            worst = d;
        /* perturb the input so each round differs */
        orig[(size_t)r * 977u % n].re += 0.5;
    }
    int conv_ok = 0;
    uint64_t conv_hash = convolve_digits(&plan, n / 2, 7u, &conv_ok);
    printf("roundtrip %s (tol 1e-9)\n", worst < 1e-9 ? "ok" : "FAILED");
    printf("energy %.6e peaks %016" PRIx64 " first %zu\n", energy, peak_hash, first);
    printf("convolution %s digits-hash %016" PRIx64 "\n", conv_ok ? "ok" : "FAILED", conv_hash);
    free(x);
    free(orig);
    fft_plan_free(&plan);
    return 0;
}
