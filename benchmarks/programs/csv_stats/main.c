/* CSV benchmark driver: generate a document, parse it, print column statistics. */
#include "csv.h"
#include <stdio.h>
#include <stdlib.h>

#define ROWS 150000
#define ROUNDS 2
#define PARSES 2
#define BUF_CAP ((size_t)ROWS * 160)

static col_stats g_cols[CSV_MAX_COLS];

static int process(const char *text, size_t len, const col_kind *kinds, int ncols, char *scratch,
                   size_t *rows_out)
{
    csv_reader rd;
    csv_field fields[CSV_MAX_COLS];
    csv_reader_init(&rd, text, len, scratch, 1u << 16);
    for (int c = 0; c < ncols; c++)
        stats_init(&g_cols[c], kinds[c]);
    int n = csv_read_row(&rd, fields, CSV_MAX_COLS); /* header */
    if (n != ncols)
        return 0;
    size_t rows = 0;
    while ((n = csv_read_row(&rd, fields, CSV_MAX_COLS)) > 0) {
        if (n != ncols)
            return 0;
        for (int c = 0; c < ncols; c++)
            stats_add_field(&g_cols[c], &fields[c]);
        rows++;
    }
    *rows_out = rows;
    return n == 0 && !rd.error;
}

int main(void)
{
    char *buf = malloc(BUF_CAP);
    char *scratch = malloc(1u << 16);
    if (!buf || !scratch)
        return 1;
    col_kind kinds[CSV_MAX_COLS];
    int ncols = 0, ok = 1;
    uint64_t digest = 0;
    size_t total_rows = 0, total_bytes = 0;
    int64_t price_sum = 0, qty_min = 0, qty_max = 0;
    for (unsigned r = 0; r < ROUNDS; r++) {
        size_t len = csv_generate(buf, BUF_CAP, ROWS, 0xc5u + r * 0x1000193u, kinds, &ncols);
        size_t rows = 0;
        uint64_t first = 0;
        for (unsigned p = 0; p < PARSES; p++) {
            uint64_t d = 0;
            ok &= process(buf, len, kinds, ncols, scratch, &rows);
            for (int c = 0; c < ncols; c++)
                d = d * 0x100000001b3ull ^ stats_digest(&g_cols[c]);
            if (p == 0)
                first = d;
            else if (d != first)
                ok = 0; /* repeated parses must agree */
        }
        digest = digest * 0x9e3779b97f4a7c15ull ^ first;
        price_sum += g_cols[2].sum;
        qty_min = g_cols[3].min;
        qty_max = g_cols[3].max;
        total_rows += rows;
        total_bytes += len;
    }
    printf("csv_stats rounds=%u rows=%zu bytes=%zu parse=%s\n", ROUNDS, total_rows, total_bytes,
           ok ? "ok" : "FAIL");
    printf("price_sum_cents=%lld qty_range=[%lld,%lld] region_distinct=%u\n", (long long)price_sum,
           (long long)qty_min, (long long)qty_max, (unsigned)g_cols[1].distinct);
    printf("checksum=%016llx\n", (unsigned long long)digest);
    free(buf);
    free(scratch);
    return ok ? 0 : 1;
}
