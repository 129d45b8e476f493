"""The llvm-exegesis back end: counter-based throughput where hardware performance counters work.

Each block becomes a snippet file (``-mode=inverse_throughput``, ``-execution-mode=subprocess``)
with ``LLVM-EXEGESIS-DEFREG`` lines giving every register it reads the harness's start value, and
``LLVM-EXEGESIS-MEM-DEF``/``MEM-MAP`` lines mapping the page its addresses fall in. Without
counters (these VMs: ``perf_event_open`` fails) llvm-exegesis cannot measure anything;
`counters_available` detects that and `require_counters` says so, so callers use the harness.
"""

from __future__ import annotations

import functools
import re
import subprocess
import tempfile

from mlgo_env.errors import MlgoEnvError
from mlgo_env.toolchain import get_toolchain
from mlgo_env.x86 import decode

__all__ = [
    "CountersUnavailable",
    "choose_backend",
    "counters_available",
    "measure_exegesis",
    "require_counters",
    "snippet",
]

REG_INIT = 0x2324000
"""Start value of every register read (the harness's value, so both back ends agree)."""
_MEM_PAGE = REG_INIT & ~0xFFF
_GPRS = ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15")


class CountersUnavailable(MlgoEnvError):
    """llvm-exegesis cannot read hardware performance counters on this machine."""


def snippet(code: bytes) -> str:
    """The llvm-exegesis snippet file of a block.

    Register and memory annotations, then one ``.byte`` line per instruction (so any encoding
    assembles exactly as measured).
    """
    instructions = decode(code) or []
    reads = set().union(*(i.reads for i in instructions)) if instructions else set()
    lines = [f"# LLVM-EXEGESIS-DEFREG {r.upper()} {REG_INIT:x}" for r in _GPRS if r in reads]
    if any(i.loads or i.stores for i in instructions):
        lines.append(f"# LLVM-EXEGESIS-MEM-DEF page 4096 {0x12345600:016x}")
        lines.append(f"# LLVM-EXEGESIS-MEM-MAP page {_MEM_PAGE}")
    offset = 0
    for insn in instructions:
        raw = code[offset : offset + insn.size]
        offset += insn.size
        lines.append(".byte " + ",".join(f"0x{b:02x}" for b in raw))
    return "\n".join(lines) + "\n"


def _run(snippet_text: str, mode: str = "subprocess", timeout: float = 60) -> subprocess.CompletedProcess[str]:
    exegesis = get_toolchain().tool("llvm-exegesis")
    with tempfile.NamedTemporaryFile("w", suffix=".s") as f:
        f.write(snippet_text)
        f.flush()
        cmd = [str(exegesis), "-mode=inverse_throughput", f"-snippets-file={f.name}",
               f"-execution-mode={mode}"]  # fmt: skip
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


@functools.cache
def counters_available() -> tuple[bool, str]:
    """Whether llvm-exegesis can read cycle counters here, and its message when it cannot.

    Checked in-process: without counters that fails at once, where the subprocess mode can hang.
    """
    try:
        result = _run(snippet(bytes.fromhex("4801d8")), mode="inprocess", timeout=30)
    except (subprocess.TimeoutExpired, MlgoEnvError) as exc:
        return False, str(exc)
    ok = result.returncode == 0 and "measurements" in result.stdout
    return ok, "" if ok else (result.stderr or result.stdout).strip().splitlines()[0]


def require_counters() -> None:
    """Raises `CountersUnavailable` (with llvm-exegesis's reason) if counters do not work."""
    ok, why = counters_available()
    if not ok:
        raise CountersUnavailable(
            f"llvm-exegesis cannot read hardware performance counters on this machine ({why}). "
            "Use the counter-free timing harness instead: `mlgo-env blocks measure --backend harness`."
        )


def choose_backend(backend: str) -> str:
    """The measuring back end to use: ``"exegesis"`` or ``"harness"``.

    ``"auto"`` picks llvm-exegesis where hardware counters work and the timing harness elsewhere.

    Raises:
        CountersUnavailable: ``"exegesis"`` was asked for and there are no counters.
        ValueError: an unknown back end.
    """
    if backend == "auto":
        return "exegesis" if counters_available()[0] else "harness"
    if backend == "exegesis":
        require_counters()
        return backend
    if backend == "harness":
        return backend
    raise ValueError(f"unknown backend {backend!r}: use 'auto', 'harness' or 'exegesis'")


def measure_exegesis(code: bytes) -> float:
    """Cycles per 100 iterations of one block with llvm-exegesis (needs counters).

    Raises:
        CountersUnavailable: no counters on this machine.
        MlgoEnvError: llvm-exegesis failed on the block.
    """
    require_counters()
    result = _run(snippet(code))
    match = re.search(r"inverse_throughput\s*\n?\s*value:\s*([0-9.eE+-]+)", result.stdout)
    if result.returncode != 0 or match is None:
        raise MlgoEnvError(f"llvm-exegesis failed on {code.hex()}: {result.stderr.strip()[:300]}")
    return 100.0 * float(match.group(1))
