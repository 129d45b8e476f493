#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <inttypes.h>
#include "strops.h"

#define TEXT_BYTES (3u << 20)

static const char *const needles[] = {
    "the", "tion", "ing", "quiraxy", "maneor", "stthe", "kalu", "zeze", "berberber",
    "co di", ". the", "untion", "fa", "ingtion", "yo", "xyxyxy", "pewa", "ve's", "nejo"};

int main(void) {
    char *raw = malloc(TEXT_BYTES + 1);
    char *folded = malloc(TEXT_BYTES + 1);
    token_t *toks = malloc(sizeof(token_t) * (TEXT_BYTES / 2));
    if (!raw || !folded || !toks)
        return 1;
    size_t n = text_generate(raw, TEXT_BYTES, 99u);
    size_t nt_raw = tokenize(raw, n, toks, TEXT_BYTES / 2);
    uint64_t shapes = token_shape_stats(raw, toks, nt_raw);
    case_fold(raw, folded, n);
    size_t nt = tokenize(folded, n, toks, TEXT_BYTES / 2);

    size_t total = 0;
    int mismatch = 0;
    uint64_t hits_hash = 0;
    for (size_t k = 0; k < sizeof needles / sizeof needles[0]; k++) {
        size_t m = strlen(needles[k]);
        size_t a = count_naive(folded, n, needles[k], m);
        size_t b = count_kmp(folded, n, needles[k], m);
        size_t c = count_bmh(folded, n, needles[k], m);
        if (a != b || a != c)
            mismatch++;
        total += a;
        hits_hash = hits_hash * 131u + a;
    }

    freq_table ft;
    if (!freq_init(&ft, 1024))
        return 1;
    freq_add_tokens(&ft, folded, toks, nt);
    freq_entry top[10];
    size_t ntop = freq_top(&ft, top, 10);
    printf("bytes %zu tokens %zu distinct %zu shapes %016" PRIx64 "\n", n, nt, ft.used, shapes);
    printf("search hits %zu hash %016" PRIx64 " mismatches %d\n", total, hits_hash, mismatch);
    printf("top:");
    for (size_t i = 0; i < ntop && i < 5; i++)
        printf(" %.*s=%" PRIu32, (int)top[i].len, top[i].word, top[i].count);
    printf("\n");
    freq_free(&ft);
    free(raw); free(folded); free(toks);
    return 0;
}
