/* bytecode_vm: stack-based bytecode interpreter running generated programs. */
#ifndef BYTECODE_VM_H
#define BYTECODE_VM_H

#include <stddef.h>
#include <stdint.h>

enum {
    OP_HALT, OP_PUSH, OP_LOAD, OP_STORE,
    OP_ADD, OP_SUB, OP_MUL, OP_DIVU, OP_MODU,
    OP_AND, OP_OR, OP_XOR, OP_SHL, OP_SHR,
    OP_LTU, OP_EQ, OP_DUP, OP_POP,
    OP_JMP, OP_JZ, OP_JNZ, OP_CALL, OP_RET,
    OP_MLOAD, OP_MSTORE,
    /* super-instructions produced by the peephole pass */
    OP_ADDI, OP_LOAD2, OP_INC, OP_JGEU,
    OP_COUNT
};

#define VM_MAX_FUNCS 32
#define VM_MAX_LABELS 256
#define VM_MAX_PATCHES 512
#define VM_MEM_WORDS (1u << 18)

typedef struct {
    int entry;    /* pc of first instruction */
    int nargs;
    int nlocals;  /* includes arguments */
} vm_func;

typedef struct {
    int32_t *code;
    int len, cap;
    vm_func funcs[VM_MAX_FUNCS];
    int nfuncs;
    int label_pos[VM_MAX_LABELS];
    int nlabels;
    int patch_at[VM_MAX_PATCHES];
    int patch_label[VM_MAX_PATCHES];
    int npatches;
    int error;
} program_t;

typedef struct {
    uint64_t executed;   /* instructions dispatched */
    uint64_t calls;
    int max_depth;
} vm_stats;

/* number of int32 words an instruction occupies */
int op_length(int op);

/* asm.c: builder, generators and peephole optimiser */
void prog_init(program_t *p);
void prog_free(program_t *p);
int prog_finish(program_t *p);
int gen_fib(program_t *p);
int gen_gcd_sum(program_t *p);
int gen_collatz(program_t *p, int *sum_fn);
int gen_sieve(program_t *p);
int gen_random_kernel(program_t *p, uint64_t seed, int depth);
int peephole(const program_t *in, program_t *out);

/* vm.c: interpreter */
uint64_t vm_call(const program_t *p, int fn, const uint64_t *args, int nargs,
                 uint64_t *mem, vm_stats *st);

#endif
