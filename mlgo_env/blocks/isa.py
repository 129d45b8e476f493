"""Decodes x86-64 basic blocks with capstone: instructions, register effects and measurability."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import capstone
from capstone import x86

__all__ = ["Instruction", "decode", "reject_reason", "canonical_register"]

_UNSUPPORTED = frozenset(
    {
        "syscall", "sysenter", "sysexit", "sysret", "int", "int1", "int3", "into", "hlt", "cpuid",
        "rdtsc", "rdtscp", "rdpmc", "rdrand", "rdseed", "rdpid", "xgetbv", "xsetbv", "ud0", "ud1",
        "ud2", "in", "out", "insb", "insw", "insd", "outsb", "outsw", "outsd", "cli", "sti",
        "wait", "fwait", "xbegin", "xend", "xabort", "xtest", "rdfsbase", "rdgsbase", "wrfsbase",
        "wrgsbase", "swapgs", "monitor", "mwait", "umonitor", "umwait", "tpause", "xsave",
        "xsave64", "xrstor", "xrstor64", "xsaveopt", "xsaveopt64", "xsavec", "xsavec64", "xsaves",
        "xrstors", "fxsave", "fxsave64", "fxrstor", "fxrstor64", "enter", "vzeroall",
    }
)  # fmt: skip
"""Instructions a timing loop cannot run meaningfully: system, serialising, TSX, or random."""

_BRANCH_GROUPS = frozenset({x86.X86_GRP_JUMP, x86.X86_GRP_CALL, x86.X86_GRP_RET, x86.X86_GRP_IRET, x86.X86_GRP_INT})
_GPR = re.compile(r"^(?:r(?P<n>\d+)[dwb]?|[re]?(?P<x>[abcd])[xlh]|[re]?(?P<i>si|di|bp|sp)l?)$")


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


def decode(code: bytes) -> list[Instruction] | None:
    """The instructions of `code`, or None when some bytes do not decode.

    Instruction boundaries come from capstone's fast mode; each instruction's details are
    decoded once per distinct encoding (real code repeats encodings a lot), which makes decoding
    several times faster than a detailed pass over every block.
    """
    out = []
    total = 0
    for address, size, _, _ in _disassembler().disasm_lite(code, 0):
        out.append(_decode_one(code[address : address + size]))
        total += size
    decoded = [i for i in out if i is not None]
    if total != len(code) or len(decoded) != len(out):
        return None
    return decoded


@functools.lru_cache(maxsize=1 << 18)
def _decode_one(encoding: bytes) -> Instruction | None:
    insn = next(_disassembler().disasm(encoding, 0, 1), None)
    return _instruction(insn) if insn is not None and insn.size == len(encoding) else None


def reject_reason(instructions: list[Instruction] | None) -> str | None:
    """Why a block cannot be timed by the harness, or None when it can.

    Reasons: "unsupported instruction" (undecodable, system or serialising instruction),
    "branch", "divide" (integer division
    faults on the harness's fixed register values and its latency depends on them), "segment"
    (fs/gs would reach the harness's thread-local storage), "empty". Blocks that use the stack
    pointer are measured: the harness gives rsp a fixed value like the other registers.
    """
    if instructions is None:
        return "unsupported instruction"
    if not instructions:
        return "empty"
    for insn in instructions:
        base = insn.mnemonic.split()[-1]
        if base in _UNSUPPORTED or x86.X86_GRP_PRIVILEGE in insn.groups:
            return "unsupported instruction"
        if insn.groups & _BRANCH_GROUPS or base.startswith(("j", "loop")):
            return "branch"
        if base in ("div", "idiv"):
            return "divide"
        if insn.segment:
            return "segment"
    return None
