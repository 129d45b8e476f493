/* Per-column statistics: min/max/sum, histogram, categorical distinct counts. */
#include "csv.h"
#include <string.h>

static inline uint64_t fnv64(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

void stats_init(col_stats *c, col_kind kind)
{
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->min = INT64_MAX;
    c->max = INT64_MIN;
    c->text_hash = 0xcbf29ce484222325ull;
}

static inline unsigned bucket_of(int64_t v)
{
    uint64_t u = (uint64_t)v ^ 0x8000000000000000ull; /* order-preserving */
    uint64_t h = (u >> 7) * 0x9e3779b97f4a7c15ull;
    return (unsigned)(h >> 60);
}

static void add_number(col_stats *c, int64_t v)
{
    c->present++;
    if (v < c->min)
        c->min = v;
    if (v > c->max)
        c->max = v;
    c->sum += v;
    c->sum_sq += (uint64_t)v * (uint64_t)v;
    c->hist[bucket_of(v)]++;
}

static void add_category(col_stats *c, const char *s, size_t n)
{
    uint64_t h = fnv64(s, n) | 1u;
    size_t i = (size_t)(h >> 40) & (CSV_CAT_SLOTS - 1);
    c->present++;
    for (size_t probe = 0; probe < CSV_CAT_SLOTS; probe++) {
        cat_slot *s2 = &c->cats[i];
        if (s2->hash == h) {
            s2->count++;
            return;
        }
        if (s2->hash == 0) {
            s2->hash = h;
            s2->count = 1;
            c->distinct++;
            return;
        }
        i = (i + 1) & (CSV_CAT_SLOTS - 1);
    }
    c->invalid++;
}

void stats_add_field(col_stats *c, const csv_field *f)
{
    if (f->len == 0) {
        c->missing++;
        return;
    }
    int64_t v;
    switch (c->kind) {
    case COL_INT:
        if (csv_parse_int(f->ptr, f->len, &v))
            add_number(c, v);
        else
            c->invalid++;
        break;
    case COL_DECIMAL:
        if (csv_parse_decimal(f->ptr, f->len, &v))
            add_number(c, v);
        else
            c->invalid++;
        break;
    case COL_CATEGORY:
        add_category(c, f->ptr, f->len);
        break;
    case COL_TEXT:
        c->present++;
        c->text_bytes += f->len;
        c->text_hash = (c->text_hash ^ fnv64(f->ptr, f->len)) * 0x100000001b3ull;
        break;
    }
}

uint64_t stats_digest(const col_stats *c)
{
    uint64_t h = c->present * 31u + c->missing * 17u + c->invalid;
    h = h * 0x9e3779b97f4a7c15ull ^ (uint64_t)c->min;
    h = h * 0x9e3779b97f4a7c15ull ^ (uint64_t)c->max;
    h = h * 0x9e3779b97f4a7c15ull ^ (uint64_t)c->sum;
    h = h * 0x9e3779b97f4a7c15ull ^ c->sum_sq;
    for (int i = 0; i < CSV_HIST_BUCKETS; i++)
        h = h * 31u + c->hist[i];
    uint64_t cat = 0;
    for (int i = 0; i < CSV_CAT_SLOTS; i++)
        cat += c->cats[i].hash * c->cats[i].count; /* order independent */
    return h ^ cat ^ c->text_hash ^ (c->text_bytes << 20) ^ c->distinct;
}
