/* spmv: CSR sparse matrix-vector products inside conjugate-gradient solvers. */
#ifndef SPMV_H
#define SPMV_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int n;
    size_t nnz;
    uint32_t *row_ptr;   /* n + 1 */
    uint32_t *col;       /* nnz */
    double *val;         /* nnz */
} csr_t;

typedef struct {
    int iterations;
    double res_norm;     /* ||b - A x|| recomputed at the end */
    double err_norm;     /* ||x - x_true|| */
} cg_report;

/* csr.c */
int csr_build_grid_plus_random(csr_t *a, int m, size_t extra_pairs, uint64_t seed);
void csr_free(csr_t *a);
void spmv(const csr_t *a, const double *x, double *y);
void csr_diagonal(const csr_t *a, double *d);
double csr_checksum(const csr_t *a);

/* cg.c */
double dot(const double *a, const double *b, int n);
void axpy(double alpha, const double *x, double *y, int n);
int conjugate_gradient(const csr_t *a, const double *b, double *x, int max_iter,
                       int jacobi, double *work);
void cg_evaluate(const csr_t *a, const double *b, const double *x, const double *x_true,
                 double *work, cg_report *rep);

#endif
