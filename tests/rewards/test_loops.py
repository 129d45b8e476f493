"""Loop-carried chains from the control flow (`mlgo_env.loops`) and the zero idioms that cut the others."""

from __future__ import annotations

import pytest

from mlgo_env import loops, x86
from mlgo_env.bbaddrmap import MachineBlock, read_blocks
from mlgo_env.mca import McaBlockModel, McaCache


def _blocks(*hexes: str, function: str = "f") -> list[MachineBlock]:
    """Blocks laid out one after another from offset 0, in one function."""
    out, offset = [], 0
    for k, hex_code in enumerate(hexes):
        code = bytes.fromhex(hex_code)
        out.append(MachineBlock(function, k, offset, len(code), code, 1.0, 1))
        offset += len(code)
    return out


# 0: mov rax, rcx (falls through) | 3: xor edx, edx; div r13; jmp 0 | a division whose dividend another block writes
DIVISION = ("4889c8", "31d249f7f5" + "eb" + f"{(0 - 10) & 0xFF:02x}")
# 0: mov rax, [rax]; test rax, rax; jne 0 | a pointer chase that is its own loop
CHASE = ("488b004885c075" + f"{(0 - 8) & 0xFF:02x}",)
# 0: add rax, rbx; ret | on no cycle
STRAIGHT = ("4801d8c3",)


def test_successors_follow_branches_and_fall_through() -> None:
    assert loops.successors(_blocks(*DIVISION)) == [[1], [0]]
    assert loops.successors(_blocks(*CHASE)) == [[0]]
    assert loops.successors(_blocks(*STRAIGHT)) == [[]]
    # a block that may fall through into the next function's first block does not
    two = _blocks("4801d8", function="f") + [
        MachineBlock("g", 0, 3, 3, bytes.fromhex("4801d8"), 1.0, 1),
    ]
    assert loops.successors(two) == [[], []]


def test_only_the_chains_a_cycle_carries_are_kept() -> None:
    # rax reaches the division from the other block: cut; rdx is zeroed in the block: no chain
    assert loops.fresh_registers(_blocks(*DIVISION)) == [frozenset(), frozenset({"rax"})]
    assert loops.fresh_registers(_blocks(*CHASE)) == [frozenset()]  # its own loop: the chase is real
    assert loops.fresh_registers(_blocks(*STRAIGHT)) == [frozenset({"rax"})]  # no loop: nothing carried


def test_zero_idioms_decode_as_such_and_cut_only_what_they_name() -> None:
    registers = frozenset({"rax", "r9", "rbp", "v0", "v8", "v15"})
    decoded = x86.decode(x86.zero_idioms(registers))
    assert decoded is not None and all(x86.is_zero_idiom(i) for i in decoded)
    assert frozenset().union(*(i.writes for i in decoded)) - {"flags"} == registers
    assert x86.zero_idioms(registers) == x86.zero_idioms(set(registers))  # one text per set: one cache key
    assert not x86.is_zero_idiom(x86.decode(bytes.fromhex("4831d8"))[0])  # type: ignore[index]  # xor rax, rbx
    with pytest.raises(ValueError, match="no zero idiom"):
        x86.zero_idioms(frozenset({"rsp"}))


def test_in_context_a_division_does_not_wait_for_the_previous_one(toolchain) -> None:
    """LLVM's Skylake model, not this machine: a 64-bit division's latency exceeds its throughput,
    so alone as a loop, waiting for its own result, it costs more than in its program."""
    model = McaBlockModel(mcpu="skylake", toolchain=toolchain, cache=McaCache(None))
    blocks = _blocks(*DIVISION)
    alone = model.cycles([blocks[1].code])[0]
    in_context = loops.cycles_in_context(blocks, [1], model.cycles)[0]
    assert 0 < in_context < alone / 2
    chase = _blocks(*CHASE)
    assert loops.cycles_in_context(chase, [0], model.cycles)[0] == model.cycles([chase[0].code])[0]


def test_a_compiled_loop_keeps_its_own_chains(compile_c) -> None:
    """A reduction loop of one block carries its accumulator; the code around it carries nothing."""
    obj = compile_c(
        "long sum(const long *a, long n) { long s = 0; for (long i = 0; i < n; i++) s += a[i]; return s; }",
        name="reduce",
        flags=("-O1",),
    )
    blocks = read_blocks(obj)
    graph = loops.successors(blocks)
    fresh = loops.fresh_registers(blocks)
    looping = [k for k in range(len(blocks)) if k in graph[k]]
    assert len(looping) == 1, [b.code.hex() for b in blocks]
    assert fresh[looping[0]] == frozenset()
    assert all(not fresh[k] or k not in graph[k] for k in range(len(blocks)))
