"""Which of a block's register chains its program's loops really carry, from its function's control flow.

Costing a block as the body of a loop (llvm-mca, the learned model: BHive's convention) makes each
register it reads before writing, and writes, a loop-carried chain. In the program such a chain
is real only where a cycle of the control-flow graph leads from the block back to it without
another block writing the register on the way. ``xor edx, edx; div r13``, reached after another
block did ``mov rax, rcx``, does not wait for its previous division in the program; costed alone
as a loop it does (76 cycles per iteration on llvm-mca's Ice Lake model, 11 without the chain).

`fresh_registers` names, per block, the registers whose chains the program breaks;
`cycles_in_context` costs blocks with those chains broken: each body is costed behind zero idioms
of those registers (`x86.zero_idioms`), less the cost of the zero idioms alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from mlgo_env import x86
from mlgo_env.bbaddrmap import MachineBlock

__all__ = ["cycles_in_context", "fresh_registers", "successors"]


def successors(blocks: Sequence[MachineBlock]) -> list[list[int]]:
    """Indices of each block's successors within its function.

    Direct branches' targets, and the next block in layout where the block can fall through; an
    indirect jump's targets are unknown, so it has none.
    """
    where = {(b.function, b.section_index, b.offset): k for k, b in enumerate(blocks)}
    out: list[list[int]] = []
    for k, block in enumerate(blocks):
        exits = x86.block_exits(block.code, block.offset)
        targets = [where.get((block.function, block.section_index, t)) for t in exits.targets]
        following = k + 1 < len(blocks) and blocks[k + 1].function == block.function
        if exits.falls_through and following:
            targets.append(k + 1)
        out.append(sorted({t for t in targets if t is not None}))
    return out


def fresh_registers(blocks: Sequence[MachineBlock], indices: Sequence[int] | None = None) -> list[frozenset[str]]:
    """Per block of `indices` (default: all), the registers whose chains the program breaks.

    Those the block reads before writing and writes, and whose chain no cycle of its function carries.
    A chain through register R is carried when some path leads from the block back to itself
    through blocks that do not write R: a block that is its own loop keeps all its chains, a
    block on no cycle keeps none.
    """
    graph = successors(blocks)
    decoded = [x86.decode(b.code, partial=True) or [] for b in blocks]
    writes = [frozenset().union(*(i.writes for i in insns)) for insns in decoded]
    out = []
    for k in range(len(blocks)) if indices is None else indices:
        chained = _read_before_written(decoded[k]) & writes[k] & x86.ZEROABLE
        out.append(frozenset(r for r in chained if not _returns_without_write(graph, writes, k, r)))
    return out


def cycles_in_context(
    blocks: Sequence[MachineBlock], indices: Sequence[int], cycles: Callable[[list[bytes]], Sequence[float]]
) -> np.ndarray:
    """Cycles per iteration of `blocks[indices]` by `cycles` (a block model), with the chains the program breaks broken.

    Each body is costed behind zero idioms of its `fresh_registers`, less the zero idioms alone.
    """
    prologues = [x86.zero_idioms(fresh) for fresh in fresh_registers(blocks, indices)]
    codes = [prologue + blocks[k].code for prologue, k in zip(prologues, indices, strict=True)]
    alone = sorted({p for p in prologues if p})
    costs = list(cycles(codes + alone))
    idioms = dict(zip(alone, costs[len(codes) :], strict=True))
    body = np.array(costs[: len(codes)], dtype=float)
    return np.maximum(body - np.array([idioms.get(p, 0.0) for p in prologues]), 0.0)


def _read_before_written(insns: Sequence[x86.Instruction]) -> set[str]:
    seen: set[str] = set()
    live_in: set[str] = set()
    for insn in insns:
        if not x86.is_zero_idiom(insn):
            live_in |= insn.reads - seen
        seen |= insn.writes
    return live_in


def _returns_without_write(graph: list[list[int]], writes: list[frozenset[str]], start: int, register: str) -> bool:
    """Whether a path leads from block `start` back to it through blocks that do not write `register`."""
    stack, seen = list(graph[start]), set()
    while stack:
        k = stack.pop()
        if k == start:
            return True
        if k in seen or register in writes[k]:
            continue
        seen.add(k)
        stack.extend(graph[k])
    return False
