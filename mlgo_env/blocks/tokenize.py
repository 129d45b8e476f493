"""Turns blocks into model inputs: per-instruction tokens and the block's dependency graph.

An instruction becomes its opcode (mnemonic with ``rep``/``lock``) and a bag of tokens: operand
forms by position (``0:v256``, ``1:m64``), registers by role (``R:rax`` read, ``W:v3`` written,
``A:rdi`` address), and ``LOAD``/``STORE``. Registers are canonical (eax is rax) so that the
dependency graph is exact: for every pair of instructions it records whether one reads what the
other wrote earlier in the block (``DEP_RAW``), in the previous iteration (``DEP_CARRIED``: the
block runs in a loop, so a value read before it is written comes from the last writer), or
whether a store precedes a load (``DEP_MEMORY``). The model attends along those edges.
"""

from __future__ import annotations

import functools
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mlgo_env.x86 import Instruction, decode

__all__ = ["DEP_CARRIED", "DEP_MEMORY", "DEP_NONE", "DEP_RAW", "EncodedBlock", "Vocabulary", "dependency_matrix"]

DEP_NONE, DEP_RAW, DEP_CARRIED, DEP_MEMORY = 0, 1, 2, 3
N_DEP_KINDS = 4
MAX_INSTRUCTIONS = 96
"""Longer blocks keep their first instructions (under 0.1% of BHive's blocks are longer)."""
MAX_TOKENS = 16
PAD, UNK = 0, 1


def instruction_tokens(insn: Instruction) -> list[str]:
    """The bag of non-opcode tokens of one instruction."""
    tokens = [f"{k}:{form}" for k, form in enumerate(insn.operands)]
    tokens += [f"R:{r}" for r in sorted(insn.reads - insn.mem_regs)]
    tokens += [f"W:{r}" for r in sorted(insn.writes)]
    tokens += [f"A:{r}" for r in sorted(insn.mem_regs)]
    if insn.loads:
        tokens.append("LOAD")
    if insn.stores:
        tokens.append("STORE")
    return tokens[:MAX_TOKENS]


def dependency_matrix(instructions: Sequence[Instruction]) -> np.ndarray:
    """``deps[i, j]``: how instruction i depends on instruction j (a `DEP_*` code).

    RAW through registers within the iteration, RAW carried from the previous iteration (i reads
    r before any write to r in the block, j is the block's last writer of r), and store-to-load
    order through memory (any earlier store; addresses are not compared).
    """
    n = len(instructions)
    deps = np.zeros((n, n), dtype=np.int8)
    last_writer: dict[str, int] = {}
    final_writer: dict[str, int] = {}
    for j, insn in enumerate(instructions):
        for r in insn.writes:
            final_writer[r] = j
    stores: list[int] = []
    for i, insn in enumerate(instructions):
        for r in insn.reads:
            if r in last_writer:
                deps[i, last_writer[r]] = DEP_RAW
            elif r in final_writer:
                deps[i, final_writer[r]] = DEP_CARRIED
        if insn.loads:
            for j in stores:
                if deps[i, j] == DEP_NONE:
                    deps[i, j] = DEP_MEMORY
        if insn.stores:
            stores.append(i)
        for r in insn.writes:
            last_writer[r] = i
    return deps


@dataclass(frozen=True)
class EncodedBlock:
    """A block as token ids: ``opcodes[n]``, ``tokens[n, MAX_TOKENS]`` (PAD-filled), ``deps[n, n]``."""

    opcodes: np.ndarray
    tokens: np.ndarray
    deps: np.ndarray

    def __len__(self) -> int:
        return len(self.opcodes)


class Vocabulary:
    """Opcode and token ids, built from training blocks; unseen names map to UNK.

    Args:
        opcodes: opcode names, in id order from 2 (0 is PAD, 1 is UNK).
        tokens: token names, likewise.
    """

    def __init__(self, opcodes: Sequence[str], tokens: Sequence[str]) -> None:
        self.opcodes = list(opcodes)
        self.tokens = list(tokens)
        self._opcode_id = {name: k + 2 for k, name in enumerate(self.opcodes)}
        self._token_id = {name: k + 2 for k, name in enumerate(self.tokens)}

    @classmethod
    def build(cls, blocks: Iterable[Sequence[Instruction]], min_count: int = 3) -> Vocabulary:
        """The names seen at least `min_count` times in `blocks`."""
        opcodes: Counter[str] = Counter()
        tokens: Counter[str] = Counter()
        for block in blocks:
            for insn in block:
                opcodes[insn.mnemonic] += 1
                tokens.update(instruction_tokens(insn))
        keep = lambda c: sorted(k for k, v in c.items() if v >= min_count)  # noqa: E731
        return cls(keep(opcodes), keep(tokens))

    @property
    def n_opcodes(self) -> int:
        """Embedding rows for opcodes (including PAD and UNK)."""
        return len(self.opcodes) + 2

    @property
    def n_tokens(self) -> int:
        """Embedding rows for tokens (including PAD and UNK)."""
        return len(self.tokens) + 2

    def to_json(self) -> dict[str, list[str]]:
        """A JSON-able form (stored inside the checkpoint)."""
        return {"opcodes": self.opcodes, "tokens": self.tokens}

    @classmethod
    def from_json(cls, data: dict[str, list[str]]) -> Vocabulary:
        """Inverse of `to_json`."""
        return cls(data["opcodes"], data["tokens"])

    def save(self, path: Path) -> None:
        """Writes the vocabulary as JSON."""
        Path(path).write_text(json.dumps(self.to_json()))

    def encode_instructions(self, instructions: Sequence[Instruction]) -> EncodedBlock:
        """Token ids and dependency matrix of decoded instructions."""
        instructions = list(instructions)[:MAX_INSTRUCTIONS]
        n = len(instructions)
        opcodes = np.array([self._opcode_id.get(i.mnemonic, UNK) for i in instructions], dtype=np.int64)
        tokens = np.zeros((n, MAX_TOKENS), dtype=np.int64)
        for k, insn in enumerate(instructions):
            ids = [self._token_id.get(t, UNK) for t in instruction_tokens(insn)]
            tokens[k, : len(ids)] = ids
        return EncodedBlock(opcodes, tokens, dependency_matrix(instructions))

    def encode(self, code: bytes | str) -> EncodedBlock:
        """A block's bytes (or hex) encoded; undecodable bytes give a single UNK instruction."""
        return _encode_cached(self, code if isinstance(code, str) else code.hex())


@functools.lru_cache(maxsize=1 << 16)
def _encode_cached(vocab: Vocabulary, hex_code: str) -> EncodedBlock:
    instructions = decode(bytes.fromhex(hex_code))
    if not instructions:
        return EncodedBlock(np.array([UNK]), np.zeros((1, MAX_TOKENS), dtype=np.int64), np.zeros((1, 1), np.int8))
    return vocab.encode_instructions(instructions)
