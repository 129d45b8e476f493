#include <stdlib.h>
#include <string.h>
#include "vm.h"

/* ---------- builder ---------- */

void prog_init(program_t *p) {
    memset(p, 0, sizeof(*p));
    p->cap = 1024;
    p->code = malloc((size_t)p->cap * sizeof(int32_t));
    if (!p->code)
        p->error = 1;
}

void prog_free(program_t *p) {
    free(p->code);
    p->code = NULL;
}

static void put(program_t *p, int32_t w) {
    if (p->error)
        return;
    if (p->len == p->cap) {
        int ncap = p->cap * 2;
        int32_t *nc = realloc(p->code, (size_t)ncap * sizeof(int32_t));
        if (!nc) {
            p->error = 1;
            return;
        }
        p->code = nc;
        p->cap = ncap;
    }
    p->code[p->len++] = w;
}

static void emit(program_t *p, int op) { put(p, op); }

static void emit1(program_t *p, int op, int32_t a) {
    put(p, op);
    put(p, a);
}

static int label_new(program_t *p) {
    if (p->nlabels >= VM_MAX_LABELS) {
        p->error = 1;
        return 0;
    }
    p->label_pos[p->nlabels] = -1;
    return p->nlabels++;
}

static void label_bind(program_t *p, int l) {
    p->label_pos[l] = p->len;
}

static void emit_jump(program_t *p, int op, int label) {
    put(p, op);
    if (p->npatches >= VM_MAX_PATCHES) {
        p->error = 1;
        return;
    }
    p->patch_at[p->npatches] = p->len;
    p->patch_label[p->npatches] = label;
    p->npatches++;
    put(p, 0);
}

static int func_begin(program_t *p, int nargs, int nlocals) {
    if (p->nfuncs >= VM_MAX_FUNCS) {
        p->error = 1;
        return 0;
    }
    vm_func *f = &p->funcs[p->nfuncs];
    f->entry = p->len;
    f->nargs = nargs;
    f->nlocals = nlocals;
    return p->nfuncs++;
}

int prog_finish(program_t *p) {
    for (int i = 0; i < p->npatches; i++) {
        int pos = p->label_pos[p->patch_label[i]];
        if (pos < 0)
            p->error = 1;
        else
            p->code[p->patch_at[i]] = pos;
    }
    p->npatches = 0;
    return !p->error;
}

/* ---------- generated programs ---------- */

int gen_fib(program_t *p) {
    int f = func_begin(p, 1, 1);
    int rec = label_new(p);
    emit1(p, OP_LOAD, 0); emit1(p, OP_PUSH, 2); emit(p, OP_LTU);
    emit_jump(p, OP_JZ, rec);
    emit1(p, OP_LOAD, 0); emit(p, OP_RET);
    label_bind(p, rec);
    emit1(p, OP_LOAD, 0); emit1(p, OP_PUSH, 1); emit(p, OP_SUB); emit1(p, OP_CALL, f);
    emit1(p, OP_LOAD, 0); emit1(p, OP_PUSH, 2); emit(p, OP_SUB); emit1(p, OP_CALL, f);
    emit(p, OP_ADD); emit(p, OP_RET);
    return f;
}

/* emits: local += k */
static void emit_inc(program_t *p, int local, int k) {
    emit1(p, OP_LOAD, local); emit1(p, OP_PUSH, k); emit(p, OP_ADD); emit1(p, OP_STORE, local);
}

/* sum_{i=1..n} gcd(i, 7i+3 mod 1000 + 1), gcd as a separate function */
int gen_gcd_sum(program_t *p) {
    int g = func_begin(p, 2, 3);       /* gcd(a, b), local 2 = t */
    int top = label_new(p), done = label_new(p);
    label_bind(p, top);
    emit1(p, OP_LOAD, 1); emit_jump(p, OP_JZ, done);
    emit1(p, OP_LOAD, 0); emit1(p, OP_LOAD, 1); emit(p, OP_MODU); emit1(p, OP_STORE, 2);
    emit1(p, OP_LOAD, 1); emit1(p, OP_STORE, 0);
    emit1(p, OP_LOAD, 2); emit1(p, OP_STORE, 1);
    emit_jump(p, OP_JMP, top);
    label_bind(p, done);
    emit1(p, OP_LOAD, 0); emit(p, OP_RET);

    int s = func_begin(p, 1, 3);       /* sum(n): locals i=1, acc=2 */
    int loop = label_new(p), out = label_new(p);
    emit1(p, OP_PUSH, 1); emit1(p, OP_STORE, 1);
    emit1(p, OP_PUSH, 0); emit1(p, OP_STORE, 2);
    label_bind(p, loop);
    emit1(p, OP_LOAD, 0); emit1(p, OP_LOAD, 1); emit(p, OP_LTU); emit_jump(p, OP_JNZ, out);
    emit1(p, OP_LOAD, 1);
    emit1(p, OP_LOAD, 1); emit1(p, OP_PUSH, 7); emit(p, OP_MUL); emit1(p, OP_PUSH, 3); emit(p, OP_ADD);
    emit1(p, OP_PUSH, 1000); emit(p, OP_MODU); emit1(p, OP_PUSH, 1); emit(p, OP_ADD);
    emit1(p, OP_CALL, g);
    emit1(p, OP_LOAD, 2); emit(p, OP_ADD); emit1(p, OP_STORE, 2);
    emit_inc(p, 1, 1);
    emit_jump(p, OP_JMP, loop);
    label_bind(p, out);
    emit1(p, OP_LOAD, 2); emit(p, OP_RET);
    return s;
}

/* collatz(x) returns step count; collatz_sum(n) sums it for 1..n */
int gen_collatz(program_t *p, int *sum_fn) {
    int c = func_begin(p, 1, 2);
    int top = label_new(p), odd = label_new(p), next = label_new(p), done = label_new(p);
    emit1(p, OP_PUSH, 0); emit1(p, OP_STORE, 1);
    label_bind(p, top);
    emit1(p, OP_LOAD, 0); emit1(p, OP_PUSH, 1); emit(p, OP_EQ); emit_jump(p, OP_JNZ, done);
    emit1(p, OP_LOAD, 0); emit1(p, OP_PUSH, 1); emit(p, OP_AND); emit_jump(p, OP_JNZ, odd);
    emit1(p, OP_LOAD, 0); emit1(p, OP_PUSH, 1); emit(p, OP_SHR); emit1(p, OP_STORE, 0);
    emit_jump(p, OP_JMP, next);
    label_bind(p, odd);
    emit1(p, OP_LOAD, 0); emit(p, OP_DUP); emit(p, OP_ADD); emit1(p, OP_LOAD, 0); emit(p, OP_ADD);
    emit1(p, OP_PUSH, 1); emit(p, OP_ADD); emit1(p, OP_STORE, 0);
    label_bind(p, next);
    emit_inc(p, 1, 1);
    emit_jump(p, OP_JMP, top);
    label_bind(p, done);
    emit1(p, OP_LOAD, 1); emit(p, OP_RET);

    int s = func_begin(p, 1, 3);
    int loop = label_new(p), out = label_new(p);
    emit1(p, OP_PUSH, 1); emit1(p, OP_STORE, 1);
    emit1(p, OP_PUSH, 0); emit1(p, OP_STORE, 2);
    label_bind(p, loop);
    emit1(p, OP_LOAD, 0); emit1(p, OP_LOAD, 1); emit(p, OP_LTU); emit_jump(p, OP_JNZ, out);
    emit1(p, OP_LOAD, 1); emit1(p, OP_CALL, c);
    emit1(p, OP_LOAD, 2); emit(p, OP_ADD); emit1(p, OP_STORE, 2);
    emit_inc(p, 1, 1);
    emit_jump(p, OP_JMP, loop);
    label_bind(p, out);
    emit1(p, OP_LOAD, 2); emit(p, OP_RET);
    *sum_fn = s;
    return c;
}

/* sieve(n): counts primes below n using VM memory as the flag array */
int gen_sieve(program_t *p) {
    int f = func_begin(p, 1, 4);   /* n, i, j, count */
    int clr = label_new(p), clr_end = label_new(p);
    int outer = label_new(p), outer_end = label_new(p), skip = label_new(p);
    int inner = label_new(p), inner_end = label_new(p);
    emit1(p, OP_PUSH, 0); emit1(p, OP_STORE, 1);
    label_bind(p, clr);                       /* for i < n: mem[i] = 0 */
    emit1(p, OP_LOAD, 1); emit1(p, OP_LOAD, 0); emit(p, OP_LTU); emit_jump(p, OP_JZ, clr_end);
    emit1(p, OP_LOAD, 1); emit1(p, OP_PUSH, 0); emit(p, OP_MSTORE);
    emit_inc(p, 1, 1);
    emit_jump(p, OP_JMP, clr);
    label_bind(p, clr_end);
    emit1(p, OP_PUSH, 2); emit1(p, OP_STORE, 1);
    emit1(p, OP_PUSH, 0); emit1(p, OP_STORE, 3);
    label_bind(p, outer);
    emit1(p, OP_LOAD, 1); emit1(p, OP_LOAD, 0); emit(p, OP_LTU); emit_jump(p, OP_JZ, outer_end);
    emit1(p, OP_LOAD, 1); emit(p, OP_MLOAD); emit_jump(p, OP_JNZ, skip);
    emit_inc(p, 3, 1);
    emit1(p, OP_LOAD, 1); emit(p, OP_DUP); emit(p, OP_MUL); emit1(p, OP_STORE, 2);
    label_bind(p, inner);
    emit1(p, OP_LOAD, 2); emit1(p, OP_LOAD, 0); emit(p, OP_LTU); emit_jump(p, OP_JZ, inner_end);
    emit1(p, OP_LOAD, 2); emit1(p, OP_PUSH, 1); emit(p, OP_MSTORE);
    emit1(p, OP_LOAD, 2); emit1(p, OP_LOAD, 1); emit(p, OP_ADD); emit1(p, OP_STORE, 2);
    emit_jump(p, OP_JMP, inner);
    label_bind(p, inner_end);
    label_bind(p, skip);
    emit_inc(p, 1, 1);
    emit_jump(p, OP_JMP, outer);
    label_bind(p, outer_end);
    emit1(p, OP_LOAD, 3); emit(p, OP_RET);
    return f;
}

static uint64_t gen_rng;

static uint32_t gen_rand(void) {
    gen_rng ^= gen_rng << 7;
    gen_rng ^= gen_rng >> 9;
    return (uint32_t)(gen_rng >> 20);
}

static void gen_expr(program_t *p, int depth) {
    if (depth == 0 || gen_rand() % 4u == 0) {
        uint32_t r = gen_rand() % 8u;
        if (r < 6)
            emit1(p, OP_LOAD, (int32_t)r);
        else
            emit1(p, OP_PUSH, (int32_t)(gen_rand() % 1000u) + 1);
        return;
    }
    static const int ops[] = {OP_ADD, OP_SUB, OP_MUL, OP_XOR, OP_AND, OP_OR, OP_SHL, OP_SHR,
                              OP_ADD, OP_XOR, OP_DIVU, OP_MODU};
    gen_expr(p, depth - 1);
    gen_expr(p, depth - 1);
    emit(p, ops[gen_rand() % (sizeof ops / sizeof ops[0])]);
}

/* kernel(n): locals a,b,c,d updated by random expressions n times */
int gen_random_kernel(program_t *p, uint64_t seed, int depth) {
    gen_rng = seed | 1u;
    int f = func_begin(p, 1, 6);
    int loop = label_new(p), out = label_new(p);
    for (int v = 1; v <= 4; v++) {
        emit1(p, OP_PUSH, (int32_t)(gen_rand() % 100000u));
        emit1(p, OP_STORE, v);
    }
    emit1(p, OP_PUSH, 0); emit1(p, OP_STORE, 5);
    label_bind(p, loop);
    emit1(p, OP_LOAD, 5); emit1(p, OP_LOAD, 0); emit(p, OP_LTU); emit_jump(p, OP_JZ, out);
    for (int v = 1; v <= 4; v++) {
        gen_expr(p, depth);
        emit1(p, OP_STORE, v);
    }
    emit_inc(p, 5, 1);
    emit_jump(p, OP_JMP, loop);
    label_bind(p, out);
    emit1(p, OP_LOAD, 1); emit1(p, OP_LOAD, 2); emit(p, OP_XOR);
    emit1(p, OP_LOAD, 3); emit(p, OP_XOR); emit1(p, OP_LOAD, 4); emit(p, OP_XOR);
    emit(p, OP_RET);
    return f;
}

/* ---------- peephole optimiser ---------- */

static int is_jump(int op) {
    return op == OP_JMP || op == OP_JZ || op == OP_JNZ || op == OP_JGEU;
}

static void mark_targets(const program_t *in, uint8_t *target) {
    for (int i = 0; i < in->nfuncs; i++)
        target[in->funcs[i].entry] = 1;
    for (int pc = 0; pc < in->len; pc += op_length(in->code[pc]))
        if (is_jump(in->code[pc]))
            target[in->code[pc + 1]] = 1;
}

/* returns how many old words were consumed, writing the fused form into out */
static int try_fuse(const program_t *in, int pc, const uint8_t *target, program_t *out) {
    const int32_t *c = in->code + pc;
    int rem = in->len - pc;
    if (rem >= 7 && c[0] == OP_LOAD && c[2] == OP_PUSH && c[4] == OP_ADD && c[5] == OP_STORE &&
        c[1] == c[6] && !target[pc + 2] && !target[pc + 4] && !target[pc + 5]) {
        put(out, OP_INC); put(out, c[1]); put(out, c[3]);
        return 7;
    }
    if (rem >= 3 && c[0] == OP_PUSH && c[2] == OP_ADD && !target[pc + 2]) {
        put(out, OP_ADDI); put(out, c[1]);
        return 3;
    }
    if (rem >= 4 && c[0] == OP_LOAD && c[2] == OP_LOAD && !target[pc + 2]) {
        put(out, OP_LOAD2); put(out, c[1]); put(out, c[3]);
        return 4;
    }
    if (rem >= 3 && c[0] == OP_LTU && c[1] == OP_JZ && !target[pc + 1]) {
        put(out, OP_JGEU); put(out, c[2]);
        return 3;
    }
    return 0;
}

int peephole(const program_t *in, program_t *out) {
    uint8_t *target = calloc((size_t)in->len + 1, 1);
    int *map = malloc(((size_t)in->len + 1) * sizeof(int));
    if (!target || !map) {
        free(target); free(map);
        return 0;
    }
    mark_targets(in, target);
    prog_init(out);
    for (int i = 0; i <= in->len; i++)
        map[i] = -1;
    int pc = 0;
    while (pc < in->len) {
        map[pc] = out->len;
        int used = try_fuse(in, pc, target, out);
        if (!used) {
            used = op_length(in->code[pc]);
            for (int k = 0; k < used; k++)
                put(out, in->code[pc + k]);
        }
        pc += used;
    }
    map[in->len] = out->len;
    /* relocate jump targets and function entries */
    for (int q = 0; q < out->len; q += op_length(out->code[q]))
        if (is_jump(out->code[q]))
            out->code[q + 1] = map[out->code[q + 1]];
    out->nfuncs = in->nfuncs;
    for (int i = 0; i < in->nfuncs; i++) {
        out->funcs[i] = in->funcs[i];
        out->funcs[i].entry = map[in->funcs[i].entry];
    }
    free(target);
    free(map);
    return !out->error;
}
