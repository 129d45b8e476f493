"""Vectorised block features for the fast cost model: a bag of instruction tokens and data-flow chains.

Blocks are decoded together (`mlgo_env.x86.decode_lite_batch`: one capstone call, no Python object
per instruction); instructions that differ only in numbers are one shape (`_shape_hash`), and
each new shape is parsed once per featuriser: its operands split apart in Python, each distinct
mnemonic and operand parsed once per process, the rules that combine them NumPy over all new
shapes (`_Parser`); then every step is NumPy over all instructions at once. Per instruction: two
tokens, its mnemonic and its mnemonic with operand forms (``add r64,m64``). Per block: its length,
loads, stores, the longest chain of register dependencies within one iteration and the growth of
that chain per iteration when the block runs in a loop (the loop-carried chain), counted in
instructions, and the forms of the instructions on that loop-carried critical chain (a second
bag, summed: a learned latency per form adds up along the chain).

The register effects are read from the Intel-syntax text (destination first), with the implicit
operands that matter for chains (flags, ``rdx:rax``, the stack pointer) added by mnemonic: an
approximation of `mlgo_env.x86.decode`'s exact effects, at a small fraction of its cost.

This module is the reference. `mlgo_env._native._blocks` (C, built by the install) does the
per-instruction work (shape hashes, parsing new shapes, chains) by the same rules, several times
faster; `Featuriser` uses it where it was built (`NATIVE`), and tests check that both give
identical features.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mlgo_env._native import optional
from mlgo_env.x86 import MNEMONIC_SIZE as _MNEMONIC_SIZE
from mlgo_env.x86 import canonical_register, decode_lite_batch, lite_strings

_native = optional("_blocks")  # None where not built: the same rules in Python

__all__ = [
    "FALLBACK",
    "NATIVE",
    "N_DENSE",
    "BlockFeatures",
    "Featuriser",
    "InstructionInfo",
    "clear_caches",
    "instruction_info",
]

NATIVE = _native is not None
"""The C featuriser (`mlgo_env._native._blocks`) was built."""
FALLBACK = "Python reference, several times slower: reinstall with a C compiler (pip install -e .) to build it"
"""What runs where the C featuriser was not built, and what to do (``mlgo-env doctor``)."""

_REGISTERS = (
    "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", *(f"r{k}" for k in range(8, 16)),
    *(f"v{k}" for k in range(32)), "flags", *(f"k{k}" for k in range(8)),
)  # fmt: skip
_REGISTER_BIT = {name: k for k, name in enumerate(_REGISTERS)}
_SIZES = {"byte": 8, "word": 16, "dword": 32, "qword": 64, "tbyte": 80, "xmmword": 128, "ymmword": 256, "zmmword": 512}
_REGISTER_WORD = re.compile(r"(?<![0-9a-z])[a-z][a-z0-9]*")
"""A word that can name a register: not the ``x1f`` of a number ``0x1f``."""
_NO_DEST_WRITE = ("cmp", "test", "bt", "ucomis", "comis", "vucomis", "vcomis", "ptest", "vptest", "push")
_DEST_NOT_READ = ("mov", "vmov", "lea", "set", "cvt", "vcvt", "pop", "vbroadcast", "vpbroadcast", "pmovzx", "pmovsx",
                  "vpmovzx", "vpmovsx", "bsf", "bsr", "lzcnt", "tzcnt", "popcnt", "pshufd", "vpshufd", "sqrt",
                  "vsqrt", "rcp", "vrcp", "rsqrt", "vrsqrt", "cmov")  # fmt: skip
_ZERO_IDIOMS = ("xor", "sub", "pxor", "xorps", "xorpd", "vpxor", "vxorps", "vxorpd", "psub", "vpsub", "sbb")
_FLAG_READERS = ("adc", "sbb", "cmov", "set", "rcl", "rcr")
_FLAG_WRITERS = ("add", "sub", "and", "or", "xor", "inc", "dec", "neg", "cmp", "test", "imul", "mul", "shl",
                 "shr", "sar", "sal", "rol", "ror", "adc", "sbb", "bt", "bsf", "bsr", "lzcnt", "tzcnt", "popcnt",
                 "ucomis", "comis", "vucomis", "vcomis", "ptest", "vptest", "andn", "blsr", "bzhi")  # fmt: skip
_RDX_RAX = ("mul", "imul", "div", "idiv", "cqo", "cdq", "cwd", "cdqe", "cwde")

N_DENSE = 6
"""Block-level features: log length, loads, stores, chain in one iteration, chain growth per
iteration, and the count of instructions that write flags read later (all log1p-scaled)."""


@dataclass(frozen=True)
class InstructionInfo:
    """What the fast model uses of one instruction text.

    Attributes:
        mnemonic: the mnemonic (with ``rep``/``lock``).
        form: the mnemonic and its operand forms, ``"add r64,m64"``.
        reads: bitmask of the registers read (bit k: ``_REGISTERS[k]``).
        writes: bitmask of the registers written.
        loads: reads memory.
        stores: writes memory.
    """

    mnemonic: str
    form: str
    reads: int
    writes: int
    loads: bool
    stores: bool


def _mask(names: frozenset[str]) -> int:
    return sum(1 << _REGISTER_BIT[n] for n in names if n in _REGISTER_BIT)


@functools.lru_cache(maxsize=1 << 16)
def _operand(text: str) -> tuple[str, int, frozenset[str], bool]:
    """(form, register mask, registers, is memory) of one Intel-syntax operand (memoised: operands repeat)."""
    if "[" in text:
        size = _SIZES.get(text.split(" ", 1)[0], 0)
        inside = text[text.index("[") :]
        registers = frozenset(canonical_register(w) for w in _REGISTER_WORD.findall(inside))
        return f"m{size}", _mask(registers), registers, True
    name = text.strip()
    if name[:1].isdigit() or name[:1] == "-":
        return "i", 0, frozenset(), False
    register = canonical_register(name)
    one = frozenset({register})
    if register.startswith("v"):
        return f"v{ {'x': 128, 'y': 256, 'z': 512}.get(name[0], 128) }", _mask(one), one, False
    if register.startswith("k") and register[1:].isdigit():
        return "k", _mask(one), one, False
    bits = 64 if name.startswith("r") else 32 if name.startswith("e") else 16 if len(name) == 2 else 8
    if name[-1] in "dwb" and name.startswith("r") and name[1:2].isdigit():
        bits = {"d": 32, "w": 16, "b": 8}[name[-1]]
    return f"r{bits}", _mask(one), one, False


def _mnemonic_rules(mnemonic: str) -> tuple[tuple[bool, ...], int, int]:
    """How one mnemonic uses its operands and implicit registers: its `_RULES` flags, implicit reads and writes."""
    base = mnemonic.split()[-1]
    stack = base in ("push", "pop", "call", "ret")
    flags = 1 << _REGISTER_BIT["flags"]
    rsp = 1 << _REGISTER_BIT["rsp"] if stack else 0
    rules = (
        not base.startswith(_NO_DEST_WRITE),
        not base.startswith(_DEST_NOT_READ),
        base.startswith("v") and not base.startswith("vfm"),
        base.startswith(_ZERO_IDIOMS),
        base == "lea",
        base in _RDX_RAX,
        base == "pop",
        base == "push",
    )
    reads = (flags if base.startswith(_FLAG_READERS) else 0) | rsp
    return rules, reads, (flags if base.startswith(_FLAG_WRITERS) else 0) | rsp


_RULES = ("writes_first", "reads_first", "vex_three_operand", "zero_idiom", "lea", "rdx_rax", "loads", "stores")
"""A mnemonic's rules: the first operand is a destination; ... and is read too (``add``); a ``v``
form whose three operands leave the destination unread (not FMA); a zero idiom with two equal
registers; ``lea`` (its memory operand is only an address); reads and writes ``rdx:rax`` when it
has at most one operand; loads; stores (``pop``, ``push``)."""
_RDX_RAX_MASK = np.uint64(_mask(frozenset({"rax", "rdx"})))


@dataclass(frozen=True)
class _Parsed:
    """Effects of U instruction texts (`_Parser.parse`)."""

    mnemonic: np.ndarray
    """[U] index in `_Parser.mnemonics`."""
    form: np.ndarray
    """[U] index in `_Parser.forms` (the mnemonic with its operand forms)."""
    reads: np.ndarray
    writes: np.ndarray
    loads: np.ndarray
    stores: np.ndarray


class _Parser:
    """Parses instruction texts into their effects, vectorised over texts.

    Each distinct mnemonic and operand is parsed once in Python (`_mnemonic_rules`, `_operand`);
    the rules that combine them into an instruction's reads, writes, loads and stores are NumPy
    over all texts at once. Registries grow for the life of the process (`clear_caches` resets).
    """

    def __init__(self) -> None:
        self.mnemonics: dict[bytes, int] = {}
        self.mnemonic_names: list[str] = []
        self._rules: list[tuple[bool, ...]] = []
        self._implicit: list[tuple[int, int]] = []
        self.operands: dict[bytes, int] = {}
        self._operand_rows: list[tuple[int, int, int, bool]] = []  # form, mask, register set, memory
        self._operand_forms: dict[str, int] = {"": 0}
        self._register_sets: dict[frozenset[str], int] = {}
        self.forms: dict[tuple[int, ...], int] = {}
        self.form_names: list[str] = []

    def _add_mnemonic(self, mnemonic: bytes) -> None:
        self.mnemonics[mnemonic] = len(self.mnemonic_names)
        self.mnemonic_names.append(mnemonic.decode())
        rules, reads, writes = _mnemonic_rules(self.mnemonic_names[-1])
        self._rules.append(rules)
        self._implicit.append((reads, writes))

    def _add_operand(self, text: bytes) -> None:
        form, mask, registers, memory = _operand(text.decode())
        self.operands[text] = len(self._operand_rows)
        form_id = self._operand_forms.setdefault(form, len(self._operand_forms))
        register_set = self._register_sets.setdefault(registers, len(self._register_sets))
        self._operand_rows.append((form_id, mask, register_set, memory))

    def parse(self, strings: Sequence[tuple[bytes, bytes]]) -> _Parsed:
        """The effects of each (mnemonic, operand string) text, as `instruction_info` defines them."""
        for name in {m for m, _ in strings}.difference(self.mnemonics):
            self._add_mnemonic(name)
        split = [o.split(b", ") if o else [] for _, o in strings]
        flat = [x for parts in split for x in parts]
        for text in set(flat).difference(self.operands):
            self._add_operand(text)
        n = len(strings)
        mnemonic = np.array([self.mnemonics[m] for m, _ in strings], dtype=np.int64)
        count = np.array([len(parts) for parts in split], dtype=np.int64)
        width = max(int(count.max(initial=0)), 2)
        ops = np.full((n, width), -1, dtype=np.int64)
        owner = np.repeat(np.arange(n), count)
        ops[owner, np.arange(len(flat)) - np.repeat(np.cumsum(count) - count, count)] = [self.operands[x] for x in flat]

        table = np.array(self._operand_rows or [(0, 0, 0, False)], dtype=np.uint64)
        valid = ops >= 0
        index = np.where(valid, ops, 0)
        mask = np.where(valid, table[index, 1], np.uint64(0))
        memory = valid & table[index, 3].astype(bool)
        register = valid & ~memory
        rules = np.array(self._rules, dtype=bool)[mnemonic]
        writes_first, reads_first, vex3, zero, lea, rdx_rax, pops, pushes = rules.T
        dest = np.zeros_like(valid)
        dest[:, 0] = writes_first

        def union(where: np.ndarray) -> np.ndarray:
            return np.bitwise_or.reduce(np.where(where, mask, np.uint64(0)), axis=1)

        keeps_dest = reads_first & ~(vex3 & (count >= 3))
        reads = union(memory | (register & (~dest | keeps_dest[:, None])))  # addresses, sources, read destinations
        writes = union(register & dest)
        stores = pushes | (memory & dest & ~lea[:, None]).any(axis=1)
        loads = pops | (memory & ~lea[:, None] & (~dest | reads_first[:, None])).any(axis=1)
        rows = np.arange(n)
        last, second = index[rows, np.maximum(count - 1, 0)], index[rows, np.maximum(count - 2, 0)]
        same = (table[last, 2] == table[second, 2]) & ~table[last, 3].astype(bool) & ~table[second, 3].astype(bool)
        reads = np.where(zero & (count >= 2) & same, reads & ~table[last, 1], reads)
        implicit = np.array(self._implicit, dtype=np.uint64)[mnemonic]
        reads |= implicit[:, 0]
        writes |= implicit[:, 1]
        one_operand = rdx_rax & (count <= 1)
        reads = np.where(one_operand, reads | _RDX_RAX_MASK, reads)
        writes = np.where(one_operand, writes | _RDX_RAX_MASK, writes)
        return _Parsed(mnemonic, self._forms(mnemonic, table[index, 0].astype(np.int64) * valid), reads, writes,
                       loads, stores)  # fmt: skip

    def _forms(self, mnemonic: np.ndarray, operand_forms: np.ndarray) -> np.ndarray:
        """[U] form indices of mnemonics with operand forms (0: none), naming new forms ``"add r64,m64"``."""
        keys = np.concatenate([mnemonic[:, None], operand_forms], axis=1)
        unique, inverse = np.unique(keys, axis=0, return_inverse=True)
        names = list(self._operand_forms)
        ids = []
        for key in map(tuple, unique.tolist()):
            form = self.forms.get(key)
            if form is None:
                form = self.forms[key] = len(self.form_names)
                operands = ",".join(names[f] for f in key[1:] if f)
                self.form_names.append(f"{self.mnemonic_names[key[0]]} {operands}")
            ids.append(form)
        return np.array(ids, dtype=np.int64)[inverse.reshape(-1)]


_PARSER = _Parser()


@functools.lru_cache(maxsize=1 << 18)
def instruction_info(mnemonic: str, op_str: str) -> InstructionInfo:
    """Parses one instruction's text (memoised per distinct text)."""
    parsed = _PARSER.parse([(mnemonic.encode(), op_str.encode())])
    return InstructionInfo(
        mnemonic, _PARSER.form_names[int(parsed.form[0])], int(parsed.reads[0]), int(parsed.writes[0]),
        bool(parsed.loads[0]), bool(parsed.stores[0]),
    )  # fmt: skip


@dataclass(frozen=True)
class BlockFeatures:
    """Features of B blocks.

    Attributes:
        tokens: [T] token ids of every instruction (mnemonic, form), block after block.
        token_block: [T] the block of each token.
        chain_tokens: [C] the form ids of the instructions on each block's loop-carried critical
            chain (their chain grows by the block's chain growth per iteration), block after block.
        chain_block: [C] the block of each.
        dense: [B, N_DENSE] block-level features.
        length: [B] instructions per block (0: the block did not decode).
    """

    tokens: np.ndarray
    token_block: np.ndarray
    chain_tokens: np.ndarray
    chain_block: np.ndarray
    dense: np.ndarray
    length: np.ndarray


def _chains(
    block: np.ndarray, position: np.ndarray, reads: np.ndarray, writes: np.ndarray, n_blocks: int
) -> tuple[np.ndarray, np.ndarray]:
    """Register-dependency chains (in instructions) of blocks run twice in a row.

    A wavefront over instruction positions, vectorised over blocks: ``depth[b, r]`` is the
    length of the chain that produced register r so far (only registers the blocks use). Blocks
    are ranked longest first, so the blocks still running at a position are a prefix of the
    ranks and each step works on views, not gathered copies.

    Returns:
        [B, 2]: each block's longest chain after one and after two iterations; and [I, 2]: the
        chain ending at each instruction in the first and in the second iteration.
    """
    used = np.flatnonzero((reads | writes).any(axis=0))
    length = np.bincount(block, minlength=n_blocks)
    rank = np.empty(n_blocks, dtype=np.int64)
    rank[np.argsort(-length, kind="stable")] = np.arange(n_blocks)
    order = np.lexsort((rank[block], position))  # by position, then by rank
    reads, writes = reads[order][:, used], writes[order][:, used]
    running = np.bincount(position, minlength=int(position.max(initial=-1)) + 1)  # blocks at each position
    starts = np.cumsum(running) - running
    depth = np.zeros((n_blocks, len(used)), dtype=np.int16)
    out = np.zeros((n_blocks, 2), dtype=np.float32)
    at = np.zeros((len(block), 2), dtype=np.float32)
    for iteration in range(2):
        for start, count in zip(starts.tolist(), running.tolist(), strict=True):
            rows = slice(start, start + count)
            d = depth[:count]
            chain = 1 + (d * reads[rows]).max(axis=1, initial=0)
            np.copyto(d, chain[:, None], where=writes[rows])
            at[rows, iteration] = chain
        out[:, iteration] = depth.max(axis=1, initial=0)[rank]
    unsorted = np.empty_like(at)
    unsorted[order] = at
    return out, unsorted


def _bits(masks: np.ndarray) -> np.ndarray:
    """[I] uint64 bitmasks -> [I, len(_REGISTERS)] booleans."""
    as_bytes = masks.astype("<u8").view(np.uint8).reshape(-1, 8)
    return np.unpackbits(as_bytes, axis=1, bitorder="little")[:, : len(_REGISTERS)].astype(bool)


_HASH_BASE = np.uint64(0x100000001B3)
_DIGITS = np.zeros(256, dtype=bool)
_DIGITS[list(b"0123456789")] = True
_NUMBER_CHARS = np.zeros(256, dtype=bool)
_NUMBER_CHARS[list(b"0123456789abcdefx")] = True
_WORD_CHARS = np.zeros(256, dtype=bool)
_WORD_CHARS[list(b"0123456789abcdefghijklmnopqrstuvwxyz")] = True


def _shape_hash(text: np.ndarray) -> np.ndarray:
    """[I] 64-bit hashes of instruction texts with their numbers (immediates, displacements) left out.

    Instructions that differ only in numbers have one shape: parsed once, same tokens. A number
    is a run of ``[0-9a-fx]`` starting with a digit that does not follow a letter or digit
    (``r8`` and ``xmm1`` are registers). One pass over the text's columns, vectorised over
    instructions; the hash is a polynomial over the characters kept. The operands' NUL padding
    is left out too: it is longer where a number was shorter.
    """
    chars = np.ascontiguousarray(text).view(np.uint8).reshape(len(text), -1)
    used = np.asarray(chars.any(axis=0))
    used[_MNEMONIC_SIZE] = True  # keeps the operands apart from the mnemonic
    chars = chars[:, used]  # a column of NULs everywhere would only scale every hash alike
    digit, number_char, word_char = _DIGITS[chars], _NUMBER_CHARS[chars], _WORD_CHARS[chars]
    padding: np.ndarray = chars == 0
    padding[:, : int(used[:_MNEMONIC_SIZE].sum())] = False  # the mnemonic's padding keeps the operands in place
    hashes = np.zeros(len(chars), dtype=np.uint64)
    in_number = np.zeros(len(chars), dtype=bool)
    previous_word = np.zeros(len(chars), dtype=bool)
    with np.errstate(over="ignore"):
        for j in range(chars.shape[1]):
            in_number = number_char[:, j] & (in_number | (digit[:, j] & ~previous_word))
            previous_word = word_char[:, j]
            hashes = np.where(in_number | padding[:, j], hashes, hashes * _HASH_BASE + chars[:, j])
    return hashes


class Featuriser:
    """Computes `BlockFeatures`, remembering each distinct instruction text it has parsed.

    Args:
        token_ids: token name -> id (mnemonics and forms); others get `unknown`.
        unknown: the id of unknown tokens.
        native: use the C featuriser (default: where it was built); False: the Python reference.

    Raises:
        RuntimeError: `native` is True but the extension was not built.
    """

    def __init__(self, token_ids: dict[str, int], unknown: int = 1, native: bool | None = None) -> None:
        if native and not NATIVE:
            raise RuntimeError(f"mlgo_env._native._blocks was not built; the {FALLBACK}")
        self.token_ids = token_ids
        self.unknown = unknown
        self._c = _native if (NATIVE if native is None else native) else None  # the C featuriser, or None
        self._token_bytes = {name.encode(): k for name, k in token_ids.items()} if self._c else {}
        self._row: dict[int, int] = {}
        self._table = np.zeros((0, 6), dtype=np.uint64)

    @property
    def native(self) -> bool:
        """The C featuriser computes the features (else the Python reference)."""
        return self._c is not None

    def _hashes(self, text: np.ndarray) -> np.ndarray:
        if self._c is None:
            return _shape_hash(text)
        out = np.empty(len(text), dtype=np.uint64)
        self._c.shape_hash(np.ascontiguousarray(text), out, text.itemsize, _MNEMONIC_SIZE)
        return out

    def _parse(self, texts: np.ndarray) -> np.ndarray:
        """[U, 6] rows (mnemonic token, form token, reads, writes, loads, stores) of instruction texts."""
        table = np.empty((len(texts), 6), dtype=np.uint64)
        if self._c is not None:
            self._c.parse_rows(np.ascontiguousarray(texts), table, texts.itemsize, _MNEMONIC_SIZE,
                               self._token_bytes, self.unknown)  # fmt: skip
            return table
        parsed = _PARSER.parse(lite_strings(texts))
        table[:, 0] = self._token_ids(parsed.mnemonic, _PARSER.mnemonic_names)
        table[:, 1] = self._token_ids(parsed.form, _PARSER.form_names)
        table[:, 2], table[:, 3] = parsed.reads, parsed.writes
        table[:, 4], table[:, 5] = parsed.loads, parsed.stores
        return table

    def _rows(self, hashes: np.ndarray, texts: np.ndarray) -> np.ndarray:
        """Table rows (mnemonic id, form id, reads, writes, loads, stores) of distinct texts."""
        rows = np.array([self._row.get(h, -1) for h in hashes.tolist()], dtype=np.int64)
        new = np.flatnonzero(rows < 0)
        if len(new):
            rows[new] = len(self._table) + np.arange(len(new))
            self._row.update(zip(hashes[new].tolist(), rows[new].tolist(), strict=True))
            self._table = np.concatenate([self._table, self._parse(texts[new])])
        return self._table[rows]

    def _token_ids(self, index: np.ndarray, names: list[str]) -> np.ndarray:
        """Token ids of `names[index]` (each distinct name looked up once)."""
        unique, inverse = np.unique(index, return_inverse=True)
        ids = [self.token_ids.get(names[k], self.unknown) for k in unique.tolist()]
        return np.array(ids, dtype=np.uint64)[inverse.reshape(-1)]

    def _chains(self, block: np.ndarray, rows: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`_chains` of the instructions of `rows` (their reads and writes); `block` ascending, `length` per block."""
        n = len(length)
        if self._c is None:
            position = np.arange(len(block)) - (np.cumsum(length) - length)[block]
            return _chains(block, position, _bits(rows[:, 2]), _bits(rows[:, 3]), n)
        out, at = np.empty((n, 2), dtype=np.float32), np.empty((len(block), 2), dtype=np.float32)
        self._c.chains(block.astype(np.int64, copy=False), np.ascontiguousarray(rows[:, 2]),
                       np.ascontiguousarray(rows[:, 3]), out, at)  # fmt: skip
        return out, at

    def __call__(self, blocks: Sequence[bytes]) -> BlockFeatures:
        """Features of `blocks` (bytes)."""
        lite = decode_lite_batch(blocks)
        hashes = self._hashes(lite.text)
        unique, first, inverse = np.unique(hashes, return_index=True, return_inverse=True)
        rows = self._rows(unique, lite.text[first])[inverse.reshape(-1)]
        n = len(blocks)
        length = np.bincount(lite.block, minlength=n)
        chains, at = self._chains(lite.block, rows, length)
        growth = chains[:, 1] - chains[:, 0]
        critical = np.flatnonzero((at[:, 1] - at[:, 0] == growth[lite.block]) & (growth[lite.block] > 0))
        flag_writes = ((rows[:, 3] >> np.uint64(_REGISTER_BIT["flags"])) & np.uint64(1)).astype(np.float32)
        count = lambda values: np.bincount(lite.block, values.astype(np.float32), minlength=n)  # noqa: E731
        dense = np.stack(
            [np.log(np.maximum(length, 1)), np.log1p(count(rows[:, 4])), np.log1p(count(rows[:, 5])),
             np.log1p(chains[:, 0]), np.log1p(np.maximum(chains[:, 1] - chains[:, 0], 0.0)),
             np.log1p(count(flag_writes))],
            axis=1,
        ).astype(np.float32)  # fmt: skip
        tokens = rows[:, :2].astype(np.int64).reshape(-1)
        chain_tokens = rows[critical, 1].astype(np.int64)
        return BlockFeatures(tokens, np.repeat(lite.block, 2), chain_tokens, lite.block[critical], dense, length)


def clear_caches() -> None:
    """Forgets every parsed instruction text (to time first-sight speed)."""
    global _PARSER
    instruction_info.cache_clear()
    _operand.cache_clear()
    _PARSER = _Parser()
