/* RFC 4180-style CSV reader with a SWAR fast path for unquoted fields. */
#include "csv.h"
#include <string.h>

void csv_reader_init(csv_reader *r, const char *text, size_t len, char *scratch, size_t cap)
{
    r->p = text;
    r->end = text + len;
    r->scratch = scratch;
    r->scratch_cap = cap;
    r->scratch_len = 0;
    r->line = 1;
    r->error = 0;
}

static inline uint64_t has_byte(uint64_t w, uint64_t pattern)
{
    uint64_t x = w ^ pattern;
    return (x - 0x0101010101010101ull) & ~x & 0x8080808080808080ull;
}

/* Finds the first ',', '\n' or '\r' at or after p; eight bytes at a time. */
static const char *scan_delim(const char *p, const char *end)
{
    const uint64_t comma = 0x2c2c2c2c2c2c2c2cull, nl = 0x0a0a0a0a0a0a0a0aull,
                   cr = 0x0d0d0d0d0d0d0d0dull;
    while (end - p >= 16) {
        uint64_t w0, w1;
        memcpy(&w0, p, 8);
        memcpy(&w1, p + 8, 8);
        uint64_t m0 = has_byte(w0, comma) | has_byte(w0, nl) | has_byte(w0, cr);
        uint64_t m1 = has_byte(w1, comma) | has_byte(w1, nl) | has_byte(w1, cr);
        if (m0 | m1)
            break;
        p += 16;
    }
    while (p < end && *p != ',' && *p != '\n' && *p != '\r')
        p++;
    return p;
}

static int read_quoted(csv_reader *r, csv_field *f)
{
    const char *p = r->p + 1;
    size_t start = r->scratch_len;
    for (;;) {
        const char *q = memchr(p, '"', (size_t)(r->end - p));
        if (!q)
            return 0;
        size_t n = (size_t)(q - p);
        if (r->scratch_len + n + 1 > r->scratch_cap)
            return 0;
        memcpy(r->scratch + r->scratch_len, p, n);
        r->scratch_len += n;
        for (size_t i = 0; i < n; i++)
            r->line += p[i] == '\n';
        if (q + 1 < r->end && q[1] == '"') {
            r->scratch[r->scratch_len++] = '"';
            p = q + 2;
            continue;
        }
        r->p = q + 1;
        break;
    }
    f->ptr = r->scratch + start;
    f->len = r->scratch_len - start;
    f->quoted = 1;
    return 1;
}

/* Reads one record; returns number of fields, 0 at end of input, -1 on error. */
int csv_read_row(csv_reader *r, csv_field *fields, int max_fields)
{
    int n = 0;
    r->scratch_len = 0;
    if (r->p >= r->end)
        return 0;
    for (;;) {
        csv_field f;
        if (r->p < r->end && *r->p == '"') {
            if (!read_quoted(r, &f)) {
                r->error = 1;
                return -1;
            }
        } else {
            const char *e = scan_delim(r->p, r->end);
            f.ptr = r->p;
            f.len = (size_t)(e - r->p);
            f.quoted = 0;
            r->p = e;
        }
        if (n < max_fields)
            fields[n] = f;
        n++;
        if (r->p >= r->end)
            break;
        char c = *r->p++;
        if (c == ',')
            continue;
        if (c == '\r' && r->p < r->end && *r->p == '\n')
            r->p++;
        else if (c != '\n' && c != '\r') {
            r->error = 1;
            return -1;
        }
        r->line++;
        break;
    }
    return n;
}

int csv_parse_int(const char *s, size_t n, int64_t *out)
{
    size_t i = 0;
    int neg = 0;
    uint64_t v = 0;
    if (i < n && (s[i] == '-' || s[i] == '+'))
        neg = s[i++] == '-';
    if (i == n || n - i > 18)
        return 0;
    for (; i < n; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (d > 9)
            return 0;
        v = v * 10u + d;
    }
    *out = neg ? -(int64_t)v : (int64_t)v;
    return 1;
}

/* Parses a decimal with up to two fraction digits into fixed point (x100). */
int csv_parse_decimal(const char *s, size_t n, int64_t *out)
{
    const char *dot = memchr(s, '.', n);
    int64_t ip = 0, fp = 0;
    int neg = n > 0 && s[0] == '-';
    size_t ilen = dot ? (size_t)(dot - s) : n;
    if (ilen == (size_t)neg) {
        ip = 0;
    } else if (!csv_parse_int(s, ilen, &ip)) {
        return 0;
    }
    if (dot) {
        size_t flen = n - ilen - 1;
        if (flen == 0 || flen > 2 || !csv_parse_int(dot + 1, flen, &fp) || fp < 0 || dot[1] == '-' || dot[1] == '+')
            return 0;
        if (flen == 1)
            fp *= 10;
    }
    int64_t a = (ip < 0 ? -ip : ip) * 100 + fp;
    *out = neg ? -a : a;
    return 1;
}
