/* Generates pseudo-random but deterministic JSON text. */
#include "json.h"

typedef struct {
    uint64_t s;
} gen_rng;

static uint32_t rnd(gen_rng *r, uint32_t bound)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return (uint32_t)((r->s >> 33) % bound);
}

static const char *const key_pool[] = {
    "id", "name", "value", "price", "tags", "items", "enabled", "owner", "children",
    "weight", "x", "y", "z", "label", "meta", "count", "description", "score",
};
#define NKEYS (sizeof key_pool / sizeof key_pool[0])

static void gen_string(jbuf *out, gen_rng *r)
{
    unsigned len = rnd(r, 24);
    jb_putc(out, '"');
    for (unsigned i = 0; i < len; i++) {
        uint32_t k = rnd(r, 64);
        if (k == 0) {
            jb_puts(out, "\\\"", 2);
        } else if (k == 1) {
            jb_puts(out, "\\\\", 2);
        } else if (k == 2) {
            jb_puts(out, "\\n", 2);
        } else if (k == 3) {
            static const char hex[] = "0123456789abcdef";
            unsigned cp = 0x20 + rnd(r, 0x5f);
            jb_puts(out, "\\u00", 4);
            jb_putc(out, hex[cp >> 4]);
            jb_putc(out, hex[cp & 15u]);
        } else {
            jb_putc(out, (char)('a' + (k % 26)));
        }
    }
    jb_putc(out, '"');
}

static void gen_number(jbuf *out, gen_rng *r)
{
    unsigned ip = rnd(r, 4) == 0 ? rnd(r, 100000) : rnd(r, 1000);
    unsigned fd = rnd(r, 5); /* fraction digits */
    if (rnd(r, 3) == 0)
        jb_putc(out, '-');
    jb_put_uint(out, ip, 1);
    if (fd != 0) {
        static const unsigned pow10[] = { 1, 10, 100, 1000, 10000 };
        jb_putc(out, '.');
        jb_put_uint(out, rnd(r, pow10[fd]), fd);
    }
    uint32_t e = rnd(r, 12);
    if (e == 0)
        jb_puts(out, "e2", 2);
    else if (e == 1)
        jb_puts(out, "E-2", 3);
    else if (e == 2)
        jb_puts(out, "e+1", 3);
}

static void gen_value(jbuf *out, gen_rng *r, unsigned depth);

static void gen_container(jbuf *out, gen_rng *r, unsigned depth, int object)
{
    unsigned n = rnd(r, depth < 2 ? 40 : 9);
    jb_putc(out, object ? '{' : '[');
    for (unsigned i = 0; i < n; i++) {
        if (i > 0) {
            if (rnd(r, 4) == 0)
                jb_puts(out, ", ", 2);
            else
                jb_putc(out, ',');
        }
        if (rnd(r, 8) == 0)
            jb_puts(out, "\n  ", 3);
        if (object) {
            const char *k = key_pool[rnd(r, NKEYS)];
            jb_putc(out, '"');
            for (const char *c = k; *c; c++)
                jb_putc(out, *c);
            jb_puts(out, "\": ", 2 + rnd(r, 2));
        }
        gen_value(out, r, depth + 1);
    }
    jb_putc(out, object ? '}' : ']');
}

static void gen_value(jbuf *out, gen_rng *r, unsigned depth)
{
    uint32_t k = rnd(r, depth > 6 ? 6 : 10);
    switch (k) {
    case 0:
        jb_puts(out, "null", 4);
        break;
    case 1:
        if (rnd(r, 2))
            jb_puts(out, "true", 4);
        else
            jb_puts(out, "false", 5);
        break;
    case 2:
    case 3:
        gen_string(out, r);
        break;
    case 4:
    case 5:
        gen_number(out, r);
        break;
    case 6:
    case 7:
        gen_container(out, r, depth, 0);
        break;
    default:
        gen_container(out, r, depth, 1);
        break;
    }
}

void json_generate(jbuf *out, uint64_t seed, size_t target_size)
{
    gen_rng r = { seed | 1u };
    jb_putc(out, '[');
    unsigned first = 1;
    while (out->len < target_size) {
        if (!first)
            jb_puts(out, ",\n", 2);
        first = 0;
        gen_container(out, &r, 1, 1);
    }
    jb_puts(out, "]\n", 2);
}
