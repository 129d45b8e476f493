#include <stdlib.h>
#include <math.h>
#include "fft.h"

static uint32_t reverse_bits(uint32_t v, int bits) {
    uint32_t r = 0;
    for (int i = 0; i < bits; i++) {
        r = (r << 1) | (v & 1u);
        v >>= 1;
    }
    return r;
}

int fft_plan_init(fft_plan *p, int log2n) {
    size_t n = (size_t)1 << log2n;
    p->n = n;
    p->log2n = log2n;
    p->tw = malloc((n / 2) * sizeof(cpx));
    p->rev = malloc(n * sizeof(uint32_t));
    if (!p->tw || !p->rev)
        return 0;
    const double pi = 3.14159265358979323846;
    for (size_t k = 0; k < n / 2; k++) {
        double ang = -2.0 * pi * (double)k / (double)n;
        p->tw[k].re = cos(ang);
        p->tw[k].im = sin(ang);
    }
    for (size_t i = 0; i < n; i++)
        p->rev[i] = reverse_bits((uint32_t)i, log2n);
    return 1;
}

void fft_plan_free(fft_plan *p) {
    free(p->tw);
    free(p->rev);
    p->tw = NULL;
    p->rev = NULL;
}

static void bit_reverse_permute(const fft_plan *p, cpx *d) {
    for (size_t i = 0; i < p->n; i++) {
        size_t j = p->rev[i];
        if (j > i) {
            cpx t = d[i];
            d[i] = d[j];
            d[j] = t;
        }
    }
}

static inline void butterfly(cpx *a, cpx *b, cpx w) {
    cpx t = cpx_mul(*b, w);
    cpx u = *a;
    a->re = u.re + t.re;
    a->im = u.im + t.im;
    b->re = u.re - t.re;
    b->im = u.im - t.im;
}

/* first two stages fused: radix-4 style with trivial twiddles (1, -i) */
static void first_stages(cpx *d, size_t n) {
    for (size_t i = 0; i + 4 <= n; i += 4) {
        double a0r = d[i].re, a0i = d[i].im;
        double a1r = d[i + 1].re, a1i = d[i + 1].im;
        double a2r = d[i + 2].re, a2i = d[i + 2].im;
        double a3r = d[i + 3].re, a3i = d[i + 3].im;
        double s01r = a0r + a1r, s01i = a0i + a1i;
        double d01r = a0r - a1r, d01i = a0i - a1i;
        double s23r = a2r + a3r, s23i = a2i + a3i;
        double d23r = a2r - a3r, d23i = a2i - a3i;
        d[i].re = s01r + s23r;
        d[i].im = s01i + s23i;
        d[i + 2].re = s01r - s23r;
        d[i + 2].im = s01i - s23i;
        /* twiddle -i applied to d23 */
        d[i + 1].re = d01r + d23i;
        d[i + 1].im = d01i - d23r;
        d[i + 3].re = d01r - d23i;
        d[i + 3].im = d01i + d23r;
    }
}

/* generic stage, two butterfly groups handled together to keep many values live */
static void stage(cpx *d, size_t n, size_t half, const cpx *tw, size_t twstride) {
    size_t span = half * 2;
    for (size_t base = 0; base < n; base += 2 * span) {
        cpx *p0 = d + base;
        cpx *p1 = p0 + half;
        cpx *q0 = p0 + span;
        cpx *q1 = q0 + half;
        const cpx *w = tw;
        for (size_t k = 0; k < half; k += 2) {
            cpx w0 = w[0], w1 = w[twstride];
            double b0r = p1[k].re * w0.re - p1[k].im * w0.im;
            double b0i = p1[k].re * w0.im + p1[k].im * w0.re;
            double b1r = p1[k + 1].re * w1.re - p1[k + 1].im * w1.im;
            double b1i = p1[k + 1].re * w1.im + p1[k + 1].im * w1.re;
            double c0r = q1[k].re * w0.re - q1[k].im * w0.im;
            double c0i = q1[k].re * w0.im + q1[k].im * w0.re;
            double c1r = q1[k + 1].re * w1.re - q1[k + 1].im * w1.im;
            double c1i = q1[k + 1].re * w1.im + q1[k + 1].im * w1.re;
            double a0r = p0[k].re, a0i = p0[k].im;
            double a1r = p0[k + 1].re, a1i = p0[k + 1].im;
            double e0r = q0[k].re, e0i = q0[k].im;
            double e1r = q0[k + 1].re, e1i = q0[k + 1].im;
            p0[k].re = a0r + b0r; p0[k].im = a0i + b0i;
            p1[k].re = a0r - b0r; p1[k].im = a0i - b0i;
            p0[k + 1].re = a1r + b1r; p0[k + 1].im = a1i + b1i;
            p1[k + 1].re = a1r - b1r; p1[k + 1].im = a1i - b1i;
            q0[k].re = e0r + c0r; q0[k].im = e0i + c0i;
            q1[k].re = e0r - c0r; q1[k].im = e0i - c0i;
            q0[k + 1].re = e1r + c1r; q0[k + 1].im = e1i + c1i;
            q1[k + 1].re = e1r - c1r; q1[k + 1].im = e1i - c1i;
            w += 2 * twstride;
        }
    }
}

/* last stage has a single group: plain butterflies */
static void last_stage(cpx *d, size_t n, const cpx *tw) {
    size_t half = n / 2;
    for (size_t k = 0; k < half; k++)
        butterfly(&d[k], &d[k + half], tw[k]);
}

static void transform(const fft_plan *p, cpx *d) {
    size_t n = p->n;
    bit_reverse_permute(p, d);
    if (n < 8) {
        for (size_t half = 1; half < n; half *= 2)
            for (size_t base = 0; base < n; base += 2 * half)
                for (size_t k = 0; k < half; k++)
                    butterfly(&d[base + k], &d[base + k + half], p->tw[k * (n / (2 * half))]);
        return;
    }
    first_stages(d, n);
    for (size_t half = 4; half < n / 2; half *= 2)
        stage(d, n, half, p->tw, n / (2 * half));
    last_stage(d, n, p->tw);
}

void fft_forward(const fft_plan *p, cpx *data) {
    transform(p, data);
}

void fft_inverse(const fft_plan *p, cpx *data) {
    size_t n = p->n;
    for (size_t i = 0; i < n; i++)
        data[i] = cpx_conj(data[i]);
    transform(p, data);
    double s = 1.0 / (double)n;   /* power of two: exact scaling */
    for (size_t i = 0; i < n; i++) {
        data[i].re = data[i].re * s;
        data[i].im = -data[i].im * s;
    }
}
