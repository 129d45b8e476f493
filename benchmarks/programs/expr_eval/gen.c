/* Generates a random but well-formed program in the expression language. */
#include "expr.h"
#include <string.h>

typedef struct {
    uint64_t s;
    char *buf;
    size_t pos, cap;
} gen_state;

static uint32_t rnd(gen_state *g, uint32_t bound)
{
    g->s ^= g->s >> 12;
    g->s ^= g->s << 25;
    g->s ^= g->s >> 27;
    return (uint32_t)(((g->s * 0x2545f4914f6cdd1dull) >> 33) % bound);
}

static void put(gen_state *g, const char *s)
{
    size_t n = strlen(s);
    if (g->pos + n < g->cap) {
        memcpy(g->buf + g->pos, s, n);
        g->pos += n;
    }
}

static void put_uint(gen_state *g, uint64_t v, int hex)
{
    char tmp[24];
    int n = 0;
    unsigned base = hex ? 16u : 10u;
    do {
        tmp[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    if (hex)
        put(g, "0x");
    while (n > 0 && g->pos + 1 < g->cap)
        g->buf[g->pos++] = tmp[--n];
}

static const char *const var_names[] = {
    "a", "b", "c", "d", "acc", "tmp", "x0", "x1", "x2", "x3", "y0", "y1",
    "count", "total", "mask", "seed", "hi", "lo", "k", "n",
};
#define NVARS (sizeof var_names / sizeof var_names[0])
static const char *const binops[] = { "+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>",
                                      "<", ">", "==", "!=", "+", "*", "^", "-" };
#define NBINOPS (sizeof binops / sizeof binops[0])

static void gen_expr(gen_state *g, unsigned depth)
{
    uint32_t k = rnd(g, depth >= 5 ? 3 : 10);
    switch (k) {
    case 0: {
        /* separate statements: argument evaluation order is unspecified in C */
        uint64_t v = rnd(g, 4) == 0 ? ((uint64_t)rnd(g, 1u << 30) << 20) : rnd(g, 1000);
        int hex = rnd(g, 5) == 0;
        put_uint(g, v, hex);
        break;
    }
    case 1:
    case 2:
        put(g, var_names[rnd(g, NVARS)]);
        break;
    case 3:
        put(g, rnd(g, 2) ? "-" : "~");
        gen_expr(g, depth + 1);
        break;
    case 4:
        put(g, rnd(g, 2) ? "min(" : "max(");
        gen_expr(g, depth + 1);
        put(g, ", ");
        gen_expr(g, depth + 1);
        put(g, ")");
        break;
    case 5:
        put(g, "(");
        gen_expr(g, depth + 1);
        put(g, " ? ");
        gen_expr(g, depth + 1);
        put(g, " : ");
        gen_expr(g, depth + 1);
        put(g, ")");
        break;
    default:
        put(g, "(");
        gen_expr(g, depth + 1);
        put(g, " ");
        put(g, binops[rnd(g, NBINOPS)]);
        put(g, " ");
        gen_expr(g, depth + 1);
        put(g, ")");
        break;
    }
}

size_t generate_source(char *buf, size_t cap, unsigned nstmts, uint64_t seed)
{
    gen_state g = { seed | 1u, buf, 0, cap };
    for (unsigned i = 0; i < nstmts; i++) {
        put(&g, var_names[rnd(&g, NVARS)]);
        put(&g, " = ");
        gen_expr(&g, 0);
        put(&g, ";\n");
    }
    return g.pos;
}
