/* CSV parsing benchmark: shared declarations. */
#ifndef CSV_BENCH_H
#define CSV_BENCH_H

#include <stddef.h>
#include <stdint.h>

#define CSV_MAX_COLS 10
#define CSV_HIST_BUCKETS 16
#define CSV_CAT_SLOTS 1024

typedef enum { COL_INT, COL_DECIMAL, COL_CATEGORY, COL_TEXT } col_kind;

typedef struct {
    const char *ptr; /* points into the input or into the scratch buffer */
    size_t len;
    int quoted;
} csv_field;

typedef struct {
    const char *p, *end;
    char *scratch;     /* unescaped quoted fields */
    size_t scratch_cap, scratch_len;
    size_t line;
    int error;
} csv_reader;

typedef struct {
    uint64_t hash;
    uint32_t count;
} cat_slot;

typedef struct {
    col_kind kind;
    uint64_t present, missing, invalid;
    int64_t min, max;
    int64_t sum;       /* integer or fixed-point (x100) */
    uint64_t sum_sq;   /* wraps: used only as a checksum */
    uint64_t hist[CSV_HIST_BUCKETS];
    cat_slot cats[CSV_CAT_SLOTS];
    uint32_t distinct;
    uint64_t text_bytes, text_hash;
} col_stats;

/* gen.c */
size_t csv_generate(char *buf, size_t cap, size_t rows, uint64_t seed, col_kind *kinds, int *ncols);

/* parse.c */
void csv_reader_init(csv_reader *r, const char *text, size_t len, char *scratch, size_t cap);
int csv_read_row(csv_reader *r, csv_field *fields, int max_fields);
int csv_parse_int(const char *s, size_t n, int64_t *out);
int csv_parse_decimal(const char *s, size_t n, int64_t *out);

/* stats.c */
void stats_init(col_stats *c, col_kind kind);
void stats_add_field(col_stats *c, const csv_field *f);
uint64_t stats_digest(const col_stats *c);

#endif
