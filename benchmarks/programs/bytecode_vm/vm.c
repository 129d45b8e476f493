#include <stdio.h>
#include <stdlib.h>
#include "vm.h"

#define STACK_WORDS 4096
#define LOCAL_WORDS 65536
#define MAX_FRAMES 8192

typedef struct {
    const int32_t *ret_ip;
    uint64_t *locals;
    uint64_t *sp_base;
} frame_t;

int op_length(int op) {
    switch (op) {
    case OP_PUSH: case OP_LOAD: case OP_STORE: case OP_JMP: case OP_JZ:
    case OP_JNZ: case OP_CALL: case OP_ADDI: case OP_JGEU:
        return 2;
    case OP_LOAD2: case OP_INC:
        return 3;
    default:
        return 1;
    }
}

static inline uint64_t imm(int32_t v) {
    return (uint64_t)(int64_t)v;
}

static inline uint64_t div_safe(uint64_t a, uint64_t b) {
    return b ? a / b : 0;
}

static inline uint64_t mod_safe(uint64_t a, uint64_t b) {
    return b ? a % b : a;
}

static void vm_fail(const char *msg) {
    fprintf(stderr, "vm error: %s\n", msg);
    exit(2);
}

uint64_t vm_call(const program_t *p, int fn, const uint64_t *args, int nargs,
                 uint64_t *mem, vm_stats *st) {
    static uint64_t stack[STACK_WORDS];
    static uint64_t local_store[LOCAL_WORDS];
    static frame_t frames[MAX_FRAMES];
    const int32_t *code = p->code;
    const vm_func *f = &p->funcs[fn];
    uint64_t *locals = local_store;
    uint64_t *sp = stack;          /* points at next free slot */
    uint64_t *local_top = locals + f->nlocals;
    int depth = 0;
    uint64_t executed = 0, calls = 1;
    int max_depth = 0;
    for (int i = 0; i < f->nlocals; i++)
        locals[i] = i < nargs ? args[i] : 0;
    frames[0].ret_ip = NULL;
    frames[0].locals = locals;
    frames[0].sp_base = sp;
    const int32_t *ip = code + f->entry;
    for (;;) {
        int32_t op = *ip;
        executed++;
        switch (op) {
        case OP_HALT: vm_fail("halt"); break;
        case OP_PUSH: *sp++ = imm(ip[1]); ip += 2; break;
        case OP_LOAD: *sp++ = locals[ip[1]]; ip += 2; break;
        case OP_STORE: locals[ip[1]] = *--sp; ip += 2; break;
        case OP_ADD: sp--; sp[-1] += sp[0]; ip++; break;
        case OP_SUB: sp--; sp[-1] -= sp[0]; ip++; break;
        case OP_MUL: sp--; sp[-1] *= sp[0]; ip++; break;
        case OP_DIVU: sp--; sp[-1] = div_safe(sp[-1], sp[0]); ip++; break;
        case OP_MODU: sp--; sp[-1] = mod_safe(sp[-1], sp[0]); ip++; break;
        case OP_AND: sp--; sp[-1] &= sp[0]; ip++; break;
        case OP_OR: sp--; sp[-1] |= sp[0]; ip++; break;
        case OP_XOR: sp--; sp[-1] ^= sp[0]; ip++; break;
        case OP_SHL: sp--; sp[-1] <<= (sp[0] & 63u); ip++; break;
        case OP_SHR: sp--; sp[-1] >>= (sp[0] & 63u); ip++; break;
        case OP_LTU: sp--; sp[-1] = sp[-1] < sp[0]; ip++; break;
        case OP_EQ: sp--; sp[-1] = sp[-1] == sp[0]; ip++; break;
        case OP_DUP: sp[0] = sp[-1]; sp++; ip++; break;
        case OP_POP: sp--; ip++; break;
        case OP_JMP: ip = code + ip[1]; break;
        case OP_JZ: ip = *--sp == 0 ? code + ip[1] : ip + 2; break;
        case OP_JNZ: ip = *--sp != 0 ? code + ip[1] : ip + 2; break;
        case OP_JGEU: sp -= 2; ip = !(sp[0] < sp[1]) ? code + ip[1] : ip + 2; break;
        case OP_ADDI: sp[-1] += imm(ip[1]); ip += 2; break;
        case OP_LOAD2: sp[0] = locals[ip[1]]; sp[1] = locals[ip[2]]; sp += 2; ip += 3; break;
        case OP_INC: locals[ip[1]] += imm(ip[2]); ip += 3; break;
        case OP_MLOAD: sp[-1] = mem[sp[-1] & (VM_MEM_WORDS - 1)]; ip++; break;
        case OP_MSTORE: sp -= 2; mem[sp[0] & (VM_MEM_WORDS - 1)] = sp[1]; ip++; break;
        case OP_CALL: {
            const vm_func *callee = &p->funcs[ip[1]];
            if (depth + 1 >= MAX_FRAMES || local_top + callee->nlocals > local_store + LOCAL_WORDS)
                vm_fail("call stack overflow");
            depth++;
            calls++;
            if (depth > max_depth)
                max_depth = depth;
            sp -= callee->nargs;
            uint64_t *nl = local_top;
            for (int i = 0; i < callee->nlocals; i++)
                nl[i] = i < callee->nargs ? sp[i] : 0;
            frames[depth].ret_ip = ip + 2;
            frames[depth].locals = nl;
            frames[depth].sp_base = sp;
            locals = nl;
            local_top = nl + callee->nlocals;
            ip = code + callee->entry;
            break;
        }
        case OP_RET: {
            uint64_t rv = sp[-1];
            if (depth == 0) {
                st->executed += executed;
                st->calls += calls;
                if (max_depth > st->max_depth)
                    st->max_depth = max_depth;
                return rv;
            }
            sp = frames[depth].sp_base;
            *sp++ = rv;
            ip = frames[depth].ret_ip;
            local_top = frames[depth].locals;
            depth--;
            locals = frames[depth].locals;
            break;
        }
        default: vm_fail("bad opcode"); break;
        }
        if (sp >= stack + STACK_WORDS - 4)
            vm_fail("operand stack overflow");
    }
}
