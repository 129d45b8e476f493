/* LZ77 benchmark driver: generate text, compress, decompress, verify. */
#include "lz77.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEXT_SIZE (1u << 20)
#define ROUNDS 3

static lz_state g_state;

static int run_round(unsigned round, uint8_t *text, uint8_t *comp, uint8_t *back,
                     size_t *comp_total, uint32_t *hash)
{
    size_t n = lz_generate_text(text, TEXT_SIZE, 0x9e3779b97f4a7c15ull + round * 7919u);
    g_state.max_chain = 16u << round;
    size_t cap = n + n / 64 + 16;
    size_t clen = lz_compress(&g_state, text, n, comp, cap);
    if (clen == 0)
        return 0;
    size_t dlen = lz_decompress(comp, clen, back, n);
    if (dlen != n || memcmp(text, back, n) != 0)
        return 0;
    *comp_total += clen;
    *hash = lz_fnv1a(comp, clen, *hash);
    *hash = lz_fnv1a(back, dlen, *hash);
    return 1;
}

int main(void)
{
    uint8_t *text = malloc(TEXT_SIZE);
    uint8_t *comp = malloc(TEXT_SIZE + TEXT_SIZE / 64 + 16);
    uint8_t *back = malloc(TEXT_SIZE);
    if (!text || !comp || !back)
        return 1;
    size_t comp_total = 0;
    uint32_t hash = 2166136261u;
    int ok = 1;
    for (unsigned r = 0; r < ROUNDS; r++)
        ok &= run_round(r, text, comp, back, &comp_total, &hash);
    printf("lz77 rounds=%u input=%u compressed=%zu roundtrip=%s\n", ROUNDS,
           (unsigned)(ROUNDS * TEXT_SIZE), comp_total, ok ? "ok" : "FAIL");
    printf("checksum=%08x\n", (unsigned)hash);
    free(text);
    free(comp);
    free(back);
    return ok ? 0 : 1;
}
