/* Precedence-climbing parser producing an array-based AST, plus constant folding. */
#include "expr.h"
#include <stdlib.h>

typedef struct {
    const token *t;
    size_t pos, n;
    program *prog;
    int error;
} pstate;

void program_init(program *p)
{
    p->nodes = NULL;
    p->nnodes = p->cap_nodes = 0;
    p->stmts = NULL;
    p->nstmts = p->cap_stmts = 0;
}

void program_free(program *p)
{
    free(p->nodes);
    free(p->stmts);
    program_init(p);
}

static uint32_t add_node(program *p, node_kind k, uint32_t a, uint32_t b, uint64_t v)
{
    if (p->nnodes == p->cap_nodes) {
        p->cap_nodes = p->cap_nodes ? p->cap_nodes * 2 : 4096;
        p->nodes = realloc(p->nodes, p->cap_nodes * sizeof *p->nodes);
        if (!p->nodes)
            abort();
    }
    ast_node *nd = &p->nodes[p->nnodes];
    nd->kind = (uint8_t)k;
    nd->a = a;
    nd->b = b;
    nd->c = 0;
    nd->value = v;
    return (uint32_t)p->nnodes++;
}

static inline tok_type peek(const pstate *s)
{
    return s->pos < s->n ? (tok_type)s->t[s->pos].type : T_EOF;
}

static int expect(pstate *s, tok_type t)
{
    if (peek(s) != t) {
        s->error = 1;
        return 0;
    }
    s->pos++;
    return 1;
}

/* Binding power of binary operators; 0 = not a binary operator. */
static int binary_prec(tok_type t, node_kind *k)
{
    switch (t) {
    case T_PIPE: *k = N_OR; return 1;
    case T_CARET: *k = N_XOR; return 2;
    case T_AMP: *k = N_AND; return 3;
    case T_EQ: *k = N_EQ; return 4;
    case T_NE: *k = N_NE; return 4;
    case T_LT: *k = N_LT; return 5;
    case T_GT: *k = N_GT; return 5;
    case T_SHL: *k = N_SHL; return 6;
    case T_SHR: *k = N_SHR; return 6;
    case T_PLUS: *k = N_ADD; return 7;
    case T_MINUS: *k = N_SUB; return 7;
    case T_STAR: *k = N_MUL; return 8;
    case T_SLASH: *k = N_DIV; return 8;
    case T_PERCENT: *k = N_MOD; return 8;
    default: return 0;
    }
}

static uint32_t parse_expr(pstate *s, int min_prec);

static uint32_t parse_primary(pstate *s)
{
    const token *t = &s->t[s->pos < s->n ? s->pos : s->n - 1];
    switch (peek(s)) {
    case T_NUM:
        s->pos++;
        return add_node(s->prog, N_NUM, 0, 0, t->num);
    case T_IDENT:
        s->pos++;
        return add_node(s->prog, N_VAR, 0, 0, t->var);
    case T_MIN:
    case T_MAX: {
        /* builtin call: min(a, b) / max(a, b) */
        node_kind k = peek(s) == T_MIN ? N_MIN : N_MAX;
        s->pos++;
        expect(s, T_LPAREN);
        uint32_t a = parse_expr(s, 1);
        expect(s, T_COMMA);
        uint32_t b = parse_expr(s, 1);
        expect(s, T_RPAREN);
        return add_node(s->prog, k, a, b, 0);
    }
    case T_LPAREN: {
        s->pos++;
        uint32_t e = parse_expr(s, 1);
        if (peek(s) == T_QUEST) {
            s->pos++;
            uint32_t x = parse_expr(s, 1);
            expect(s, T_COLON);
            uint32_t y = parse_expr(s, 1);
            uint32_t id = add_node(s->prog, N_COND, e, x, 0);
            s->prog->nodes[id].c = y;
            e = id;
        }
        expect(s, T_RPAREN);
        return e;
    }
    case T_MINUS:
        s->pos++;
        return add_node(s->prog, N_NEG, parse_primary(s), 0, 0);
    case T_TILDE:
        s->pos++;
        return add_node(s->prog, N_NOT, parse_primary(s), 0, 0);
    default:
        s->error = 1;
        s->pos++;
        return add_node(s->prog, N_NUM, 0, 0, 0);
    }
}

static uint32_t parse_expr(pstate *s, int min_prec)
{
    uint32_t lhs = parse_primary(s);
    for (;;) {
        node_kind k;
        int prec = binary_prec(peek(s), &k);
        if (prec == 0 || prec < min_prec || s->error)
            return lhs;
        s->pos++;
        uint32_t rhs = parse_expr(s, prec + 1);
        lhs = add_node(s->prog, k, lhs, rhs, 0);
    }
}

static void add_statement(program *p, uint32_t target, uint32_t expr)
{
    if (p->nstmts == p->cap_stmts) {
        p->cap_stmts = p->cap_stmts ? p->cap_stmts * 2 : 256;
        p->stmts = realloc(p->stmts, p->cap_stmts * sizeof *p->stmts);
        if (!p->stmts)
            abort();
    }
    p->stmts[p->nstmts].target = target;
    p->stmts[p->nstmts].expr = expr;
    p->nstmts++;
}

int parse_program(const token *toks, size_t ntoks, program *prog)
{
    pstate s = { toks, 0, ntoks, prog, 0 };
    while (peek(&s) != T_EOF && !s.error) {
        if (peek(&s) != T_IDENT) {
            s.error = 1;
            break;
        }
        uint32_t target = toks[s.pos].var;
        s.pos++;
        expect(&s, T_ASSIGN);
        uint32_t e = parse_expr(&s, 1);
        expect(&s, T_SEMI);
        add_statement(prog, target, e);
    }
    return !s.error;
}

/* Folds operators whose operands are constants; returns number of folds. */
static size_t fold_node(program *p, uint32_t id)
{
    ast_node *n = &p->nodes[id];
    size_t folds = 0;
    switch (n->kind) {
    case N_NUM:
    case N_VAR:
        return 0;
    case N_NEG:
    case N_NOT:
        folds += fold_node(p, n->a);
        n = &p->nodes[id];
        if (p->nodes[n->a].kind == N_NUM) {
            uint64_t v = p->nodes[n->a].value;
            n->value = n->kind == N_NEG ? (uint64_t)0 - v : ~v;
            n->kind = N_NUM;
            folds++;
        }
        return folds;
    case N_COND:
        folds += fold_node(p, n->a) + fold_node(p, n->b) + fold_node(p, n->c);
        return folds;
    default:
        folds += fold_node(p, n->a) + fold_node(p, n->b);
        n = &p->nodes[id];
        if (p->nodes[n->a].kind == N_NUM && p->nodes[n->b].kind == N_NUM) {
            n->value = apply_binary(n->kind, p->nodes[n->a].value, p->nodes[n->b].value);
            n->kind = N_NUM;
            folds++;
        }
        return folds;
    }
}

size_t fold_constants(program *p)
{
    size_t folds = 0;
    for (size_t i = 0; i < p->nstmts; i++)
        folds += fold_node(p, p->stmts[i].expr);
    return folds;
}
