#include <math.h>
#include <string.h>
#include "spmv.h"

double dot(const double *a, const double *b, int n) {
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    for (; i < n; i++)
        s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

void axpy(double alpha, const double *x, double *y, int n) {
    for (int i = 0; i < n; i++)
        y[i] += alpha * x[i];
}

static void xpby(const double *x, double beta, double *y, int n) {
    for (int i = 0; i < n; i++)
        y[i] = x[i] + beta * y[i];
}

static void apply_jacobi(const double *inv_diag, const double *r, double *z, int n) {
    for (int i = 0; i < n; i++)
        z[i] = inv_diag[i] * r[i];
}

/* (preconditioned) CG from x = 0; work holds 5 vectors of length n */
int conjugate_gradient(const csr_t *a, const double *b, double *x, int max_iter,
                       int jacobi, double *work) {
    int n = a->n;
    double *r = work, *p = work + n, *ap = work + 2 * (size_t)n;
    double *z = work + 3 * (size_t)n, *inv_d = work + 4 * (size_t)n;
    memset(x, 0, (size_t)n * sizeof(double));
    memcpy(r, b, (size_t)n * sizeof(double));
    if (jacobi) {
        csr_diagonal(a, inv_d);
        for (int i = 0; i < n; i++)
            inv_d[i] = 1.0 / inv_d[i];
        apply_jacobi(inv_d, r, z, n);
    } else {
        memcpy(z, r, (size_t)n * sizeof(double));
    }
    memcpy(p, z, (size_t)n * sizeof(double));
    double rz = dot(r, z, n);
    int it = 0;
    for (; it < max_iter; it++) {
        spmv(a, p, ap);
        double alpha = rz / dot(p, ap, n);
        axpy(alpha, p, x, n);
        axpy(-alpha, ap, r, n);
        if (jacobi)
            apply_jacobi(inv_d, r, z, n);
        else
            memcpy(z, r, (size_t)n * sizeof(double));
        double rz_new = dot(r, z, n);
        xpby(z, rz_new / rz, p, n);
        rz = rz_new;
    }
    return it;
}

void cg_evaluate(const csr_t *a, const double *b, const double *x, const double *x_true,
                 double *work, cg_report *rep) {
    int n = a->n;
    spmv(a, x, work);
    double rs = 0.0, es = 0.0;
    for (int i = 0; i < n; i++) {
        double d = b[i] - work[i];
        double e = x[i] - x_true[i];
        rs += d * d;
        es += e * e;
    }
    rep->res_norm = sqrt(rs);
    rep->err_norm = sqrt(es);
}
