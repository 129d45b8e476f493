/* Tree-walking evaluator, bytecode compiler and stack virtual machine. */
#include "expr.h"
#include <stdlib.h>

uint64_t apply_binary(int kind, uint64_t x, uint64_t y)
{
    switch (kind) {
    case N_ADD: return x + y;
    case N_SUB: return x - y;
    case N_MUL: return x * y;
    case N_DIV: return y ? x / y : 0;
    case N_MOD: return y ? x % y : 0;
    case N_AND: return x & y;
    case N_OR: return x | y;
    case N_XOR: return x ^ y;
    case N_SHL: return x << (y & 63u);
    case N_SHR: return x >> (y & 63u);
    case N_LT: return x < y;
    case N_GT: return x > y;
    case N_EQ: return x == y;
    case N_NE: return x != y;
    case N_MIN: return x < y ? x : y;
    case N_MAX: return x > y ? x : y;
    default: return 0;
    }
}

static uint64_t eval_node(const ast_node *nodes, uint32_t id, const uint64_t *vars)
{
    const ast_node *n = &nodes[id];
    switch (n->kind) {
    case N_NUM: return n->value;
    case N_VAR: return vars[n->value];
    case N_NEG: return (uint64_t)0 - eval_node(nodes, n->a, vars);
    case N_NOT: return ~eval_node(nodes, n->a, vars);
    case N_COND:
        return eval_node(nodes, n->a, vars) ? eval_node(nodes, n->b, vars) : eval_node(nodes, n->c, vars);
    default: {
        uint64_t x = eval_node(nodes, n->a, vars);
        uint64_t y = eval_node(nodes, n->b, vars);
        return apply_binary(n->kind, x, y);
    }
    }
}

void eval_tree(const program *p, uint64_t *vars)
{
    for (size_t i = 0; i < p->nstmts; i++)
        vars[p->stmts[i].target] = eval_node(p->nodes, p->stmts[i].expr, vars);
}

static void emit(bytecode *bc, opcode op, uint64_t operand)
{
    if (bc->len == bc->cap) {
        bc->cap = bc->cap ? bc->cap * 2 : 4096;
        bc->code = realloc(bc->code, bc->cap * sizeof *bc->code);
        if (!bc->code)
            abort();
    }
    bc->code[bc->len++] = (operand << 8) | (uint64_t)op;
}

static uint64_t add_const(bytecode *bc, uint64_t v)
{
    if (bc->nconsts == bc->cap_consts) {
        bc->cap_consts = bc->cap_consts ? bc->cap_consts * 2 : 1024;
        bc->consts = realloc(bc->consts, bc->cap_consts * sizeof *bc->consts);
        if (!bc->consts)
            abort();
    }
    bc->consts[bc->nconsts] = v;
    return bc->nconsts++;
}

static int compile_node(const ast_node *nodes, uint32_t id, bytecode *bc, int depth)
{
    const ast_node *n = &nodes[id];
    if (depth > 200)
        return 0;
    switch (n->kind) {
    case N_NUM: emit(bc, OP_PUSH, add_const(bc, n->value)); return 1;
    case N_VAR: emit(bc, OP_LOAD, n->value); return 1;
    case N_NEG:
    case N_NOT:
        if (!compile_node(nodes, n->a, bc, depth + 1))
            return 0;
        emit(bc, n->kind == N_NEG ? OP_NEG : OP_NOT, 0);
        return 1;
    case N_COND:
        /* both arms are evaluated (no side effects), then selected */
        if (!compile_node(nodes, n->a, bc, depth + 1) || !compile_node(nodes, n->b, bc, depth + 1) ||
            !compile_node(nodes, n->c, bc, depth + 1))
            return 0;
        emit(bc, OP_SELECT, 0);
        return 1;
    default:
        if (!compile_node(nodes, n->a, bc, depth + 1) || !compile_node(nodes, n->b, bc, depth + 1))
            return 0;
        emit(bc, (opcode)(OP_ADD + (n->kind - N_ADD)), 0);
        return 1;
    }
}

int compile_program(const program *p, bytecode *bc)
{
    bc->code = NULL;
    bc->len = bc->cap = 0;
    bc->consts = NULL;
    bc->nconsts = bc->cap_consts = 0;
    for (size_t i = 0; i < p->nstmts; i++) {
        if (!compile_node(p->nodes, p->stmts[i].expr, bc, 0))
            return 0;
        emit(bc, OP_STORE, p->stmts[i].target);
    }
    emit(bc, OP_HALT, 0);
    return 1;
}

void bytecode_free(bytecode *bc)
{
    free(bc->code);
    free(bc->consts);
}

/* Stack VM with the top of stack cached in a local; many live values in the loop. */
void run_bytecode(const bytecode *bc, uint64_t *vars)
{
    uint64_t stack[256];
    const uint64_t *pc = bc->code;
    const uint64_t *consts = bc->consts;
    uint64_t *sp = stack; /* points at next free slot below tos */
    uint64_t tos = 0, x;
    for (;;) {
        uint64_t ins = *pc++;
        uint64_t arg = ins >> 8;
        switch ((opcode)(ins & 0xffu)) {
        case OP_PUSH: *sp++ = tos; tos = consts[arg]; break;
        case OP_LOAD: *sp++ = tos; tos = vars[arg]; break;
        case OP_STORE: vars[arg] = tos; tos = *--sp; break;
        case OP_NEG: tos = (uint64_t)0 - tos; break;
        case OP_NOT: tos = ~tos; break;
        case OP_ADD: x = *--sp; tos = x + tos; break;
        case OP_SUB: x = *--sp; tos = x - tos; break;
        case OP_MUL: x = *--sp; tos = x * tos; break;
        case OP_DIV: x = *--sp; tos = tos ? x / tos : 0; break;
        case OP_MOD: x = *--sp; tos = tos ? x % tos : 0; break;
        case OP_AND: x = *--sp; tos = x & tos; break;
        case OP_OR: x = *--sp; tos = x | tos; break;
        case OP_XOR: x = *--sp; tos = x ^ tos; break;
        case OP_SHL: x = *--sp; tos = x << (tos & 63u); break;
        case OP_SHR: x = *--sp; tos = x >> (tos & 63u); break;
        case OP_LT: x = *--sp; tos = x < tos; break;
        case OP_GT: x = *--sp; tos = x > tos; break;
        case OP_EQ: x = *--sp; tos = x == tos; break;
        case OP_NE: x = *--sp; tos = x != tos; break;
        case OP_MIN: x = *--sp; tos = x < tos ? x : tos; break;
        case OP_MAX: x = *--sp; tos = x > tos ? x : tos; break;
        case OP_SELECT: {
            uint64_t b = *--sp, c = *--sp;
            tos = c ? b : tos;
            break;
        }
        case OP_HALT:
        default:
            return;
        }
    }
}
