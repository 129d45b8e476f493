from __future__ import annotations

import numpy as np

from mlgo_env.blocks.isa import reject_reason
from mlgo_env.blocks.tokenize import DEP_CARRIED, DEP_MEMORY, DEP_NONE, DEP_RAW, Vocabulary, dependency_matrix
from mlgo_env.x86 import canonical_register, decode


def test_canonical_registers():
    assert [canonical_register(r) for r in ("eax", "al", "r8d", "ymm3", "zmm3", "rflags", "sp")] == [
        "rax",
        "rax",
        "r8",
        "v3",
        "v3",
        "flags",
        "rsp",
    ]


def test_decode_folds_prefixes_and_sees_memory():
    (movs,) = decode(bytes.fromhex("f3a5"))
    assert movs.mnemonic == "rep movsd"
    (load,) = decode(bytes.fromhex("498b04c8"))  # mov rax, [r8 + rcx*8]
    assert load.loads and not load.stores and load.mem_regs == {"r8", "rcx"}
    assert decode(bytes.fromhex("ffff")) is None


def test_stack_blocks_are_measurable():
    assert reject_reason(decode(bytes.fromhex("5350"))) is None  # push rbx; push rax


def test_dependency_matrix():
    # imul rax, rbx ; add rcx, rax ; mov [rdi], rcx ; mov rbx, [rsi]
    insns = decode(bytes.fromhex("480fafc34801c148890f488b1e"))
    deps = dependency_matrix(insns)
    assert deps[1, 0] == DEP_RAW  # add reads the imul's rax
    assert deps[0, 3] == DEP_CARRIED  # imul reads rbx written by the last load, one iteration ago
    assert deps[2, 1] == DEP_RAW
    assert deps[3, 2] == DEP_MEMORY  # the load follows a store
    assert deps[0, 1] == DEP_NONE


def test_vocabulary_encodes_unknowns():
    insns = decode(bytes.fromhex("4801d8"))
    vocab = Vocabulary.build([insns], min_count=1)
    block = vocab.encode_instructions(decode(bytes.fromhex("4801d8c5fc58c1")))
    assert block.opcodes[0] >= 2 and block.opcodes[1] == 1  # vaddps unseen: UNK
    assert block.deps.shape == (2, 2)
    assert np.all(block.tokens[0][: len(block.tokens[0])] >= 0)
