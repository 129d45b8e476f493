#include <stdio.h>
#include <stdlib.h>
#include "spmv.h"

#define GRID_M 800
#define EXTRA_PAIRS 700000u
#define CG_ITERS 4
#define PCG_ITERS 4

int main(void) {
    csr_t a;
    if (!csr_build_grid_plus_random(&a, GRID_M, EXTRA_PAIRS, 0x5EEDull)) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    int n = a.n;
    double *x_true = malloc((size_t)n * sizeof(double));
    double *b = malloc((size_t)n * sizeof(double));
    double *x = malloc((size_t)n * sizeof(double));
    double *work = malloc(5 * (size_t)n * sizeof(double));
    if (!x_true || !b || !x || !work)
        return 1;
    for (int i = 0; i < n; i++)
        x_true[i] = (double)((i * 37) % 101) / 64.0 - 0.75;
    spmv(&a, x_true, b);
    cg_report r1, r2;
    conjugate_gradient(&a, b, x, CG_ITERS, 0, work);
    cg_evaluate(&a, b, x, x_true, work, &r1);
    conjugate_gradient(&a, b, x, PCG_ITERS, 1, work);
    cg_evaluate(&a, b, x, x_true, work, &r2);
    printf("n %d nnz %zu matrix %.6e\n", n, a.nnz, csr_checksum(&a));
    printf("cg  residual %.4e error %.4e\n", r1.res_norm, r1.err_norm);
    printf("pcg residual %.4e error %.4e\n", r2.res_norm, r2.err_norm);
    free(x_true); free(b); free(x); free(work);
    csr_free(&a);
    return 0;
}
