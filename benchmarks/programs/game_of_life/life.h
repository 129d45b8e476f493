/* game_of_life: Conway's life on a torus, byte-per-cell and bit-packed implementations. */
#ifndef GAME_OF_LIFE_H
#define GAME_OF_LIFE_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int w, h;          /* w is a multiple of 64 */
    uint8_t *cells;    /* 0 or 1 */
} plain_grid;

typedef struct {
    int w, h, words;   /* words per row = w / 64 */
    uint64_t *bits;
} packed_grid;

static inline int wrap(int i, int n) {
    return i < 0 ? i + n : (i >= n ? i - n : i);
}

/* plain.c */
int plain_alloc(plain_grid *g, int w, int h);
void plain_free(plain_grid *g);
void plain_randomize(plain_grid *g, uint64_t seed, unsigned density_pct);
void plain_add_glider(plain_grid *g, int x, int y);
void plain_step(const plain_grid *in, plain_grid *out);
uint64_t plain_population(const plain_grid *g);

/* packed.c */
int packed_alloc(packed_grid *g, int w, int h);
void packed_free(packed_grid *g);
void pack_grid(const plain_grid *src, packed_grid *dst);
int packed_equals_plain(const packed_grid *p, const plain_grid *g);
void packed_step(const packed_grid *in, packed_grid *out);
uint64_t packed_population(const packed_grid *g);
uint64_t packed_hash(const packed_grid *g);

#endif
