/* fft: iterative radix-2 complex FFT, inverse, round trip and FFT convolution. */
#ifndef FFT_BENCH_H
#define FFT_BENCH_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    double re, im;
} cpx;

typedef struct {
    size_t n;
    int log2n;
    cpx *tw;         /* n/2 twiddles exp(-2 pi i k / n) */
    uint32_t *rev;   /* bit reversal table */
} fft_plan;

static inline cpx cpx_mul(cpx a, cpx b) {
    cpx r;
    r.re = a.re * b.re - a.im * b.im;
    r.im = a.re * b.im + a.im * b.re;
    return r;
}

static inline cpx cpx_conj(cpx a) {
    a.im = -a.im;
    return a;
}

/* fft.c */
int fft_plan_init(fft_plan *p, int log2n);
void fft_plan_free(fft_plan *p);
void fft_forward(const fft_plan *p, cpx *data);
void fft_inverse(const fft_plan *p, cpx *data);

/* signal.c */
void signal_generate(cpx *x, size_t n, uint64_t seed, int ntones);
double max_abs_diff(const cpx *a, const cpx *b, size_t n);
double spectrum_energy(const cpx *x, size_t n);
uint64_t spectrum_peaks(const cpx *x, size_t n, int npeaks, size_t *first_peak);
uint64_t convolve_digits(const fft_plan *p, size_t len, uint64_t seed, int *verify_ok);

#endif
