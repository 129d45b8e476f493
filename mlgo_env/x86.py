"""x86-64 decoding with capstone, in one place: instructions, register effects, AT&T text, terminators.

Every analysis that reads machine code (llvm-mca's input, the performance model's memory
instructions, the block dataset and the harness) decodes through this module, so they agree on
what an instruction is and where a block's body ends.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass

import capstone
from capstone import x86

__all__ = [
    "Instruction",
    "att_lines",
    "canonical_register",
    "decode",
    "instruction_count",
    "strip_terminators",
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
