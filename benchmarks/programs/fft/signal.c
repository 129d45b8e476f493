#include <stdlib.h>
#include <string.h>
#include <math.h>
#include "fft.h"

static uint64_t rng_state;

static uint64_t rng_next(void) {
    /* 64-bit LCG, top bits used */
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return rng_state >> 16;
}

static double rng_sym(void) {
    return (double)(rng_next() & 0xFFFFFu) / 524288.0 - 1.0;
}

void signal_generate(cpx *x, size_t n, uint64_t seed, int ntones) {
    const double pi = 3.14159265358979323846;
    rng_state = seed;
    memset(x, 0, n * sizeof(cpx));
    for (int t = 0; t < ntones; t++) {
        size_t bin = (size_t)(rng_next() % (n / 4)) + 1;
        double amp = 1.0 + (double)(t % 5);
        for (size_t i = 0; i < n; i++) {
            size_t ph = (bin * i) & (n - 1);
            double ang = 2.0 * pi * (double)ph / (double)n;
            x[i].re += amp * cos(ang);
            x[i].im += amp * sin(ang);
        }
    }
    for (size_t i = 0; i < n; i++) {
        x[i].re += 0.05 * rng_sym();
        x[i].im += 0.05 * rng_sym();
    }
}

double max_abs_diff(const cpx *a, const cpx *b, size_t n) {
    double m = 0.0;
    for (size_t i = 0; i < n; i++) {
        double dr = fabs(a[i].re - b[i].re);
        double di = fabs(a[i].im - b[i].im);
        if (dr > m) m = dr;
        if (di > m) m = di;
    }
    return m;
}

static inline double mag2(cpx a) {
    return a.re * a.re + a.im * a.im;
}

double spectrum_energy(const cpx *x, size_t n) {
    double s0 = 0.0, s1 = 0.0;
    for (size_t i = 0; i + 1 < n; i += 2) {
        s0 += mag2(x[i]);
        s1 += mag2(x[i + 1]);
    }
    return (s0 + s1) / (double)n;
}

/* indices of the npeaks largest bins (distinct tones dominate noise by far) */
uint64_t spectrum_peaks(const cpx *x, size_t n, int npeaks, size_t *first_peak) {
    uint64_t h = 0;
    double last = INFINITY;
    *first_peak = 0;
    for (int p = 0; p < npeaks; p++) {
        double best = -1.0;
        size_t bi = 0;
        for (size_t i = 0; i < n; i++) {
            double m = mag2(x[i]);
            if (m < last * 0.999 && m > best) {
                best = m;
                bi = i;
            }
        }
        if (p == 0)
            *first_peak = bi;
        last = best;
        h = h * 1000003u + (uint64_t)bi;
    }
    return h;
}

/* multiply two random digit strings with FFT; coefficients are exact after rounding */
uint64_t convolve_digits(const fft_plan *p, size_t len, uint64_t seed, int *verify_ok) {
    size_t n = p->n;
    cpx *a = calloc(n, sizeof(cpx));
    cpx *b = calloc(n, sizeof(cpx));
    int *da = malloc(len * sizeof(int));
    int *db = malloc(len * sizeof(int));
    long long *c = malloc(n * sizeof(long long));
    uint64_t h = 0;
    *verify_ok = 0;
    if (!a || !b || !da || !db || !c)
        goto out;
    rng_state = seed;
    for (size_t i = 0; i < len; i++) {
        da[i] = (int)(rng_next() % 10u);
        db[i] = (int)(rng_next() % 10u);
        a[i].re = da[i];
        b[i].re = db[i];
    }
    fft_forward(p, a);
    fft_forward(p, b);
    for (size_t i = 0; i < n; i++)
        a[i] = cpx_mul(a[i], b[i]);
    fft_inverse(p, a);
    for (size_t i = 0; i < n; i++)
        c[i] = llround(a[i].re);
    /* spot-check a few coefficients directly */
    int ok = 1;
    for (size_t k = 0; k < 2 * len - 1; k += (len / 7) + 1) {
        long long s = 0;
        size_t lo = k >= len ? k - len + 1 : 0;
        for (size_t i = lo; i <= k && i < len; i++)
            s += (long long)da[i] * db[k - i];
        if (s != c[k])
            ok = 0;
    }
    *verify_ok = ok;
    /* carry propagation: decimal digits of the product */
    long long carry = 0;
    for (size_t i = 0; i < n; i++) {
        long long v = c[i] + carry;
        carry = v / 10;
        h = h * 31u + (uint64_t)(v % 10);
    }
out:
    free(a); free(b); free(da); free(db); free(c);
    return h;
}
