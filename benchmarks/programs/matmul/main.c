/* Matrix multiply benchmark driver: several shapes, all variants compared. */
#include "matmul.h"
#include <stdio.h>

typedef struct {
    size_t n, k, m;
    unsigned blocked_reps;
} shape;

static const shape shapes[] = {
    { 256, 256, 256, 10 },
    { 301, 257, 283, 10 },
    { 128, 640, 96, 12 },
};

int main(void)
{
    uint64_t digest = 0;
    double trace = 0.0;
    int ok = 1;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const shape *sh = &shapes[s];
        matrix a, b, bt, c1, c2, c3, c4;
        if (!mat_alloc(&a, sh->n, sh->k) || !mat_alloc(&b, sh->k, sh->m) ||
            !mat_alloc(&bt, sh->m, sh->k) || !mat_alloc(&c1, sh->n, sh->m) ||
            !mat_alloc(&c2, sh->n, sh->m) || !mat_alloc(&c3, sh->n, sh->m) ||
            !mat_alloc(&c4, sh->n, sh->m))
            return 1;
        mat_fill(&a, 0xa0a0u + s);
        mat_fill(&b, 0xb0b0u + s * 3);
        mat_transpose(&b, &bt);
        matmul_ijk(&a, &b, &c1);
        matmul_ikj(&a, &b, &c2);
        matmul_transposed(&a, &bt, &c3);
        for (unsigned r = 0; r < sh->blocked_reps; r++)
            matmul_blocked(&a, &b, &c4);
        ok &= mat_equal(&c1, &c2) && mat_equal(&c1, &c3) && mat_equal(&c1, &c4);
        digest = digest * 0x9e3779b97f4a7c15ull ^ mat_checksum(&c4);
        size_t d = sh->n < sh->m ? sh->n : sh->m;
        for (size_t i = 0; i < d; i++)
            trace += *mat_at(&c4, i, i);
        mat_free(&a);
        mat_free(&b);
        mat_free(&bt);
        mat_free(&c1);
        mat_free(&c2);
        mat_free(&c3);
        mat_free(&c4);
    }
    printf("matmul shapes=%zu variants_agree=%s trace=%.6e\n", sizeof shapes / sizeof shapes[0],
           ok ? "ok" : "FAIL", trace);
    printf("checksum=%016llx\n", (unsigned long long)digest);
    return ok ? 0 : 1;
}
