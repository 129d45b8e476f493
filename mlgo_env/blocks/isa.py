"""Which decoded blocks the timing harness can measure (decoding itself is `mlgo_env.x86`)."""

from __future__ import annotations

from capstone import x86

from mlgo_env.x86 import Instruction

__all__ = ["reject_reason"]

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
