"""x86-64 decoding with capstone, in one place: instructions, register effects, AT&T text, terminators.

Every analysis that reads machine code (llvm-mca's input, the performance model's memory
instructions, the block dataset and the harness) decodes through this module, so they agree on
what an instruction is and where a block's body ends.
"""

from __future__ import annotations

import ctypes
import functools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import capstone
import numpy as np
from capstone import x86

from mlgo_env._native import optional

_native_blocks = optional("_blocks")  # None where not built: NumPy does the same

__all__ = [
    "MNEMONIC_SIZE",
    "ZEROABLE",
    "BlockExits",
    "Instruction",
    "LiteBatch",
    "att_lines",
    "block_exits",
    "canonical_register",
    "decode",
    "decode_lite_batch",
    "instruction_count",
    "is_zero_idiom",
    "lite_strings",
    "strip_terminators",
    "zero_idioms",
]

_GPR = re.compile(r"^(?:r(?P<n>\d+)[dwb]?|[re]?(?P<x>[abcd])[xlh]|[re]?(?P<i>si|di|bp|sp)l?)$")
_TERMINATORS = frozenset({x86.X86_GRP_JUMP, x86.X86_GRP_RET})


@dataclass(frozen=True)
class Instruction:
    """One decoded instruction and the registers it reads and writes.

    Attributes:
        mnemonic: capstone's mnemonic, with its ``rep``/``lock`` prefix (``rep movsd``).
        op_str: operands in Intel syntax.
        operands: one form per operand: ``r64``, ``v256`` (vector), ``m64``, ``i``, ...
        reads: canonical registers read (explicit and implicit; ``flags`` for rflags).
        writes: canonical registers written.
        loads: the instruction reads memory.
        stores: the instruction writes memory.
        mem_regs: canonical registers used in address computation.
        segment: a segment override (fs/gs) is present.
        size: encoded length in bytes.
    """

    mnemonic: str
    op_str: str
    operands: tuple[str, ...]
    reads: frozenset[str]
    writes: frozenset[str]
    loads: bool
    stores: bool
    mem_regs: frozenset[str]
    segment: bool
    groups: frozenset[int]
    size: int

    @property
    def touches_memory(self) -> bool:
        """The instruction reads or writes memory (an address computation alone does not)."""
        base = self.mnemonic.split()[-1]
        return base not in ("lea", "nop") and any(form.startswith("m") for form in self.operands)

    @property
    def text(self) -> str:
        """Intel-syntax text of the instruction."""
        return f"{self.mnemonic} {self.op_str}".strip()


@functools.cache
def canonical_register(name: str) -> str:
    """The architectural register `name` is part of: eax -> rax, ymm3 -> v3, eflags -> flags.

    Dependencies go through whole registers, so every alias of one maps to the same name.
    """
    name = name.lower()
    if name in ("rflags", "eflags", "flags"):
        return "flags"
    match = re.fullmatch(r"[xyz]mm(\d+)", name)
    if match:
        return f"v{match.group(1)}"
    match = _GPR.match(name)
    if match:
        if match.group("n"):
            return f"r{match.group('n')}"
        if match.group("x"):
            return f"r{match.group('x')}x"
        return f"r{match.group('i')}"
    return name


@functools.cache
def _disassembler() -> capstone.Cs:
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    md.detail = True
    return md


def _operand_form(insn: capstone.CsInsn, op: x86.X86Op) -> str:
    bits = op.size * 8
    if op.type == x86.X86_OP_REG:
        name = insn.reg_name(op.reg)
        if name.startswith(("xmm", "ymm", "zmm")):
            return f"v{bits}"
        if name.startswith("k"):
            return "k"
        if name.startswith("st"):
            return "st"
        return f"r{bits}"
    if op.type == x86.X86_OP_MEM:
        return f"m{bits}"
    return "i"


def _instruction(insn: capstone.CsInsn) -> Instruction:
    reads, writes = insn.regs_access()
    loads = stores = segment = False
    mem_regs: set[str] = set()
    for op in insn.operands:
        if op.type != x86.X86_OP_MEM:
            continue
        loads |= bool(op.access & capstone.CS_AC_READ)
        stores |= bool(op.access & capstone.CS_AC_WRITE)
        segment |= op.mem.segment != 0
        for reg in (op.mem.base, op.mem.index):
            if reg != 0:
                mem_regs.add(canonical_register(insn.reg_name(reg)))
    return Instruction(
        mnemonic=insn.mnemonic,
        op_str=insn.op_str,
        operands=tuple(_operand_form(insn, op) for op in insn.operands),
        reads=frozenset(canonical_register(insn.reg_name(r)) for r in reads),
        writes=frozenset(canonical_register(insn.reg_name(r)) for r in writes),
        loads=loads,
        stores=stores,
        mem_regs=frozenset(mem_regs),
        segment=segment,
        groups=frozenset(insn.groups),
        size=insn.size,
    )


def decode(code: bytes, partial: bool = False) -> list[Instruction] | None:
    """The instructions of `code`, or None when some bytes do not decode.

    With `partial`, the instructions decoded before the first failure instead of None.
    Instruction boundaries come from capstone's fast mode; each instruction's details are
    decoded once per distinct encoding (real code repeats encodings a lot), which makes decoding
    several times faster than a detailed pass over every block.
    """
    out = []
    total = 0
    for address, size, _, _ in _disassembler().disasm_lite(code, 0):
        instruction = _decode_one(code[address : address + size])
        if instruction is None:
            break
        out.append(instruction)
        total += size
    return out if partial or total == len(code) else None


@functools.lru_cache(maxsize=1 << 18)
def _decode_one(encoding: bytes) -> Instruction | None:
    insn = next(_disassembler().disasm(encoding, 0, 1), None)
    return _instruction(insn) if insn is not None and insn.size == len(encoding) else None


def strip_terminators(code: bytes) -> bytes:
    """`code` without its trailing jumps and returns (b"" if nothing else is left).

    BHive's blocks and llvm-mca's loop bodies exclude the final branch. Code that does not
    decode is returned unchanged.
    """
    instructions = decode(code)
    if instructions is None:
        return code
    end = len(code)
    for insn in reversed(instructions):
        if not insn.groups & _TERMINATORS:
            break
        end -= insn.size
    return code[:end]


class BlockExits(NamedTuple):
    """Where control leaves a block: its direct branches' targets, and whether it can fall through."""

    targets: tuple[int, ...]
    falls_through: bool


def block_exits(code: bytes, address: int) -> BlockExits:
    """The exits of the block `code` placed at `address` (targets are addresses in the same space).

    Only the trailing terminators (those `strip_terminators` drops) are decoded with their operands.
    """
    end = len(strip_terminators(code))
    terminators = list(_disassembler().disasm(code[end:], address + end))
    targets = tuple(op.imm for insn in terminators for op in insn.operands[:1] if op.type == x86.X86_OP_IMM)
    last = terminators[-1] if terminators else None
    ends = last is not None and (last.mnemonic in ("jmp", "ljmp") or x86.X86_GRP_RET in last.groups)
    return BlockExits(targets, not ends)


# Registers a zero idiom can cut a chain of: the general-purpose ones but the stack pointer (the
# stack engine's), and the 16 vector registers a VEX encoding reaches.
_GPR_NUMBERS = {name: n for n, name in enumerate(
    ("rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", *(f"r{k}" for k in range(8, 16)))
)}  # fmt: skip
ZEROABLE = frozenset({*_GPR_NUMBERS.keys() - {"rsp"}, *(f"v{k}" for k in range(16))})
_ZERO_MNEMONICS = frozenset({"xor", "sub", "pxor", "xorps", "xorpd", "vpxor", "vxorps", "vxorpd", "vpxord", "vpxorq"})


def zero_idioms(registers: frozenset[str] | set[str]) -> bytes:
    """Machine code that zeroes each of `registers` (canonical names, within `ZEROABLE`).

    Idioms every x86-64 core recognises as independent of the register's old value (``xor r32,
    r32``, ``vxorps xmm, xmm, xmm``), in a fixed order: equal sets give equal bytes.
    """
    out = bytearray()
    for name in sorted(registers):
        if name in _GPR_NUMBERS and name != "rsp":
            n = _GPR_NUMBERS[name]
            out += bytes([0x45] if n >= 8 else []) + bytes([0x31, 0xC0 | (n & 7) << 3 | (n & 7)])
        elif name.startswith("v") and name[1:].isdigit() and int(name[1:]) < 16:
            n, inverted = int(name[1:]), 0 if int(name[1:]) >= 8 else 1
            out += bytes(
                [
                    0xC4,
                    inverted << 7 | 1 << 6 | inverted << 5 | 0x01,
                    (~n & 0xF) << 3,
                    0x57,
                    0xC0 | (n & 7) << 3 | (n & 7),
                ]
            )
        else:
            raise ValueError(f"no zero idiom for {name!r}: only {sorted(ZEROABLE)}")
    return bytes(out)


def is_zero_idiom(insn: Instruction) -> bool:
    """``xor eax, eax`` and its kind: a register combined with itself into zero, whatever it held."""
    if (
        insn.mnemonic not in _ZERO_MNEMONICS
        or not insn.operands
        or not all(f.startswith(("r", "v")) for f in insn.operands)
    ):
        return False
    names = [name.strip() for name in insn.op_str.split(",")]
    return len(set(names)) == 1


@functools.cache
def _att_disassembler() -> capstone.Cs:
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    md.syntax = capstone.CS_OPT_SYNTAX_ATT
    return md


def att_lines(code: bytes, partial: bool = False) -> list[str] | None:
    """AT&T assembly lines of `code` (the syntax llvm-mca and OSACA parse).

    None when some bytes do not decode (capstone lacks some AVX-512 extensions), unless
    `partial`, which returns the lines decoded before the first failure.
    """
    lines, total = [], 0
    for _, size, mnemonic, op_str in _att_disassembler().disasm_lite(code, 0):
        lines.append(f"{mnemonic} {op_str}".strip())
        total += size
    return lines if partial or total == len(code) else None


def instruction_count(code: bytes) -> int:
    """Instructions in `code`; bytes that do not decode count one per 4 (the mean x86 length)."""
    count = total = 0
    for _, size, _, _ in _disassembler().disasm_lite(code, 0):
        count += 1
        total += size
    return count + math.ceil((len(code) - total) / 4)


@dataclass(frozen=True)
class LiteBatch:
    """The instructions of many blocks, decoded in one capstone call per run of decodable blocks.

    Attributes:
        block: [I] index of each instruction's block.
        text: [I] each instruction's mnemonic and Intel-syntax operands as one NUL-padded record
            (``numpy.void``; equal instructions have equal records, see `lite_strings`).
        ok: [B] the block decoded completely (instructions of other blocks are absent).
    """

    block: np.ndarray
    text: np.ndarray
    ok: np.ndarray


_MNEMONIC = capstone._cs_insn.mnemonic
_OP_STR = capstone._cs_insn.op_str
_LITE = np.dtype(
    {
        "names": ["address", "size", "text"],
        "formats": ["<u8", "<u2", f"V{_MNEMONIC.size + _OP_STR.size}"],
        "offsets": [capstone._cs_insn.address.offset, capstone._cs_insn.size.offset, _MNEMONIC.offset],
        "itemsize": ctypes.sizeof(capstone._cs_insn),
    }
)
"""capstone's ``cs_insn`` as a NumPy record, laid out by capstone's own ctypes definition (its
mnemonic and operand strings are adjacent: one ``text`` field)."""
if _OP_STR.offset != _MNEMONIC.offset + _MNEMONIC.size:
    raise ImportError("capstone's cs_insn no longer holds op_str right after mnemonic: update decode_lite_batch")


MNEMONIC_SIZE = _MNEMONIC.size
"""Bytes of a `LiteBatch.text` record's mnemonic field (NUL-padded); the operand string follows."""
_LITE_STRINGS = np.dtype({"names": ["mnemonic", "op_str"], "formats": [f"S{_MNEMONIC.size}", f"S{_OP_STR.size}"]})


def lite_strings(text: np.ndarray) -> list[tuple[bytes, bytes]]:
    """The (mnemonic, operand string) bytes of each `LiteBatch.text` record, NUL padding left out."""
    return np.ascontiguousarray(text).view(_LITE_STRINGS).tolist()


@functools.cache
def _lite_disassembler() -> capstone.Cs:
    return capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)


def _disasm_records(code: bytes, address: int) -> np.ndarray:
    """``cs_disasm`` of `code` (fast mode) straight into `_LITE` records: no Python object per instruction."""
    insns = ctypes.POINTER(capstone._cs_insn)()
    count = capstone._cs.cs_disasm(_lite_disassembler().csh, code, len(code), address, 0, ctypes.byref(insns))
    if count <= 0:
        return np.zeros(0, dtype=_LITE)
    try:
        raw = ctypes.string_at(insns, count * _LITE.itemsize)
        return np.frombuffer(raw, dtype=_LITE).copy()
    finally:
        capstone._cs.cs_free(insns, count)


def decode_lite_batch(blocks: Sequence[bytes]) -> LiteBatch:
    """Mnemonics and operand text of every instruction of `blocks`, vectorised (no register details).

    The blocks are decoded back to back as one buffer; a block whose bytes do not decode, or
    whose last instruction runs into the next block, is marked not `ok` and decoding restarts at
    the next block. Far faster than `decode` on blocks never seen before (no Python object, no
    detail decoding per instruction).
    """
    starts = np.zeros(len(blocks) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in blocks], out=starts[1:])
    buffer = b"".join(blocks)
    ok = starts[1:] > starts[:-1]  # empty blocks have no instructions
    owners, records, pos = [], [], 0
    while pos < len(buffer):
        recs = _disasm_records(buffer[pos:], pos)
        address = recs["address"].astype(np.int64)
        ends = address + recs["size"]
        owner = np.searchsorted(starts, address, side="right") - 1
        crossing = np.flatnonzero(ends > starts[owner + 1])
        stop = int(crossing[0]) if len(crossing) else len(recs)
        good_end = int(ends[stop - 1]) if stop else pos
        if stop == len(recs) and good_end == len(buffer):
            owners.append(owner)
            records.append(recs)
            break
        broken = int(np.searchsorted(starts, good_end, side="right") - 1)  # the block decoding stopped in
        ok[broken] = False
        owners.append(owner[:stop])
        records.append(recs[:stop])
        pos = int(starts[broken + 1])
    owner = np.concatenate(owners) if owners else np.zeros(0, dtype=np.int64)
    text = np.concatenate(records)["text"] if records else np.zeros(0, dtype=_LITE)["text"]
    keep = ok[owner]
    return LiteBatch(owner[keep], _clear_after_nul(text[keep]), ok)


def _clear_after_nul(text: np.ndarray, native: bool = True) -> np.ndarray:
    """`text` records with every byte after each string's terminating NUL zeroed.

    capstone leaves whatever was in its buffers there; cleared, equal instructions have equal
    records. In C where `mlgo_env._native._blocks` was built (and `native`), else NumPy.
    """
    if native and _native_blocks is not None:
        cleared = np.array(text, copy=True, order="C")
        _native_blocks.clear_after_nul(cleared.view(np.uint8), cleared.itemsize, _MNEMONIC.size)
        return cleared
    chars = np.ascontiguousarray(text).view(np.uint8).reshape(len(text), -1).copy()
    for field in (slice(0, _MNEMONIC.size), slice(_MNEMONIC.size, None)):
        part = chars[:, field]
        part[np.logical_or.accumulate(part == 0, axis=1)] = 0
    return chars.view(text.dtype).reshape(-1)
