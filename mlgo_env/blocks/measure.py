"""Measures basic-block throughput with the counter-free timing harness in ``harness/harness.c``.

The harness is compiled on first use into a cache directory. One harness process runs one pass
over a chunk of blocks; each block gets ``passes`` passes spaced by the time a pass over the chunk
takes (seconds), because noise from the other hyperthread lasts milliseconds to seconds and only
the minimum over passes that far apart escapes it. Even and odd passes give two independent
estimates of each block; their relative difference is the measurement's repeatability.

A figure is kept only when it is credible (`Judge`): the two estimates agree within
`MAX_DISAGREEMENT`, and neither is below the issue-width bound of the CPU (`IssueBound`), which no
real execution beats. A block that fails either is measured again with more passes, spaced as
before, and rejected with the reason if it fails again.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import hashlib
import logging
import os
import queue
import subprocess
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mlgo_env.blocks.isa import reject_reason
from mlgo_env.cache import cache_dir
from mlgo_env.errors import ToolNotFound
from mlgo_env.machine import MICROARCHITECTURES, CpuInfo, CpuMismatch, host, microarchitecture
from mlgo_env.toolchain import get_toolchain
from mlgo_env.x86 import Instruction, decode

__all__ = [
    "BACKEND",
    "EXEGESIS_BACKEND",
    "MAX_DISAGREEMENT",
    "Harness",
    "IssueBound",
    "Judge",
    "MeasuredWriter",
    "Measurement",
    "PassResult",
    "Rejection",
    "measure_blocks",
    "missing_extension",
]

logger = logging.getLogger(__name__)

BACKEND = "tsc-harness"
"""Name of this back end in measured rows."""
EXEGESIS_BACKEND = "llvm-exegesis"
"""Name of the counter-based back end (`exegesis`) in measured rows."""
_SOURCE = Path(__file__).with_name("harness") / "harness.c"
HARNESS_FEATURES = frozenset({"avx", "avx512", "rdtscp"})
"""Features the harness uses when the CPU has them, and can be told to avoid."""

MAX_DISAGREEMENT = 0.10
"""Largest relative difference of a block's two estimates for its figure to be kept.

On a quiet machine two estimates of a register-only block agree within 0.1% for 90% of blocks
(shared/notes/measuring-blocks.md); under another tenant's load they differ by 14-70%. 10% sits
between the two, so it passes the harness's own repeatability and stops figures skewed by load;
it is also the tolerance of the known answers in the tests. On the loaded 2-core Zen 1 VM these
were written on, half of 400 real blocks measured with 12 passes differed by more than 13%.
"""
REMEASURE_FACTOR = 2
"""A doubtful block is measured again with this many times the passes."""
_HARNESS_UNSTABLE = "unstable"
"""The harness's status for a pass whose longer unrolling was not slower than the shorter one."""


@dataclass(frozen=True)
class PassResult:
    """One block's result in one pass: `status` "ok" or a rejection reason."""

    index: int
    status: str
    cycles: float
    ticks_per_cycle: float
    faults: int
    unroll: int


class Harness:
    """The compiled timing harness; `run_pass` times blocks on one core.

    Args:
        compiler: C compiler to build it with (default: LLVM's clang, else ``cc``).
        avoid: features of `HARNESS_FEATURES` not to use even where the CPU has them (the
            harness checks CPUID for each; avoiding one exercises its fallback on any machine).
    """

    def __init__(self, compiler: str | None = None, avoid: Collection[str] = ()) -> None:
        unknown = set(avoid) - HARNESS_FEATURES
        if unknown:
            raise ValueError(f"unknown harness features {sorted(unknown)}: choose from {sorted(HARNESS_FEATURES)}")
        self.avoid = ",".join(sorted(avoid))
        self.binary = self._build(compiler)
        self._warned: set[str] = set()

    @staticmethod
    def _build(compiler: str | None) -> Path:
        source = _SOURCE.read_bytes()
        binary = cache_dir("blocks") / f"harness-{hashlib.sha256(source).hexdigest()[:16]}"
        if binary.exists():
            return binary
        if compiler is None:
            try:
                compiler = str(get_toolchain().clang)
            except ToolNotFound:
                compiler = "cc"
        binary.parent.mkdir(parents=True, exist_ok=True)
        tmp = binary.with_suffix(f".tmp{os.getpid()}")
        cmd = [compiler, "-O2", "-fPIE", "-pie", "-o", str(tmp), str(_SOURCE)]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            raise ToolNotFound(f"could not compile the timing harness ({' '.join(cmd)}):\n{result.stderr}")
        tmp.replace(binary)
        return binary

    def run_pass(self, blocks: Sequence[tuple[int, str]], cpu: int | None = None) -> Iterator[PassResult]:
        """Times each ``(index, hex)`` block once on logical CPU `cpu`; yields results in order.

        A block that kills or hangs the harness (it should not: faults and slow blocks are
        caught) is reported as "crash" or "timeout" and the pass goes on with the next one in a
        new process. The harness's warnings (a failed pin) are logged, once each.
        """
        pending = list(blocks)
        while pending:
            cmd = [str(self.binary), str(-1 if cpu is None else cpu), self.avoid]
            stdin = "".join(f"{i} {h}\n" for i, h in pending)
            try:
                timeout = _pass_timeout(len(pending))
                proc = subprocess.run(cmd, input=stdin.encode(), capture_output=True, timeout=timeout)
                stdout, stderr, why = proc.stdout, proc.stderr, f"crash (exit {proc.returncode})"
            except subprocess.TimeoutExpired as exc:
                stdout, stderr, why = exc.stdout or b"", exc.stderr or b"", "timeout"
            self._log_warnings(stderr.decode(errors="replace"))
            done = 0
            for line in stdout.decode().splitlines():
                fields = line.split()
                if len(fields) != 6:
                    break
                index, status, cycles, tpc, faults, unroll = fields
                yield PassResult(int(index), status, float(cycles), float(tpc), int(faults), int(unroll))
                done += 1
            if done < len(pending):
                logger.warning("harness stopped on block %s: %s", pending[done][1], why)
                yield PassResult(pending[done][0], why.split()[0], 0.0, 0.0, 0, 0)
                done += 1
            pending = pending[done:]

    def _log_warnings(self, stderr: str) -> None:
        for line in stderr.splitlines():
            if line.startswith("warning:") and line not in self._warned:
                self._warned.add(line)
                logger.warning("timing harness: %s", line.removeprefix("warning:").strip())


def _pass_timeout(blocks: int) -> float:
    """Seconds a pass over `blocks` may take (each block is cut off by the harness after 1 s)."""
    return 60.0 + 0.05 * blocks


@dataclass(frozen=True)
class IssueBound:
    """The fewest core cycles a block can take: no CPU issues more than `width` instructions a cycle.

    Attributes:
        mcpu: the CPU's LLVM ``-mcpu`` name.
        width: its issue (dispatch) width, from `mlgo_env.machine`.
        in_table: False when `mlgo_env.machine` does not know the CPU; `width` is then the widest
            width it knows, which bounds any CPU of today conservatively (a lower bound too low
            rejects fewer figures, never a real one).
        virtual: `mcpu` is a hypervisor's CPU model (`CpuInfo.virtual`), which need not be the
            silicon; `width` is then the widest width it knows, as for a CPU missing from the table.
    """

    mcpu: str
    width: int
    in_table: bool = True
    virtual: bool = False

    @classmethod
    def for_cpu(cls, mcpu: str, virtual: bool = False) -> IssueBound:
        """The bound of `mcpu`; the conservative one (with a warning) when unknown or `virtual`.

        `virtual`: `mcpu` is named by a hypervisor's CPU model, which need not be the silicon.
        """
        arch = microarchitecture(mcpu)
        if arch is not None and not virtual:
            return cls(mcpu, arch.issue_width)
        widest = max(a.issue_width for a in MICROARCHITECTURES.values())
        bound = cls(mcpu, widest, in_table=arch is not None, virtual=virtual)
        logger.warning("bounding measured figures by %s", bound)
        return bound

    def cycles(self, instructions: Sequence[Instruction]) -> float:
        """Core cycles per 100 iterations no execution of `instructions` beats.

        NOPs are not counted: some cores fuse one with the instruction before it.
        """
        issued = sum(1 for insn in instructions if insn.mnemonic != "nop")
        return 100.0 * issued / self.width

    def __str__(self) -> str:
        if self.virtual:
            return (
                f"issue width {self.width}: {self.mcpu} is the CPU model a hypervisor presents, which "
                "need not be the silicon, so the widest width it knows stands in (a conservative bound)"
            )
        if self.in_table:
            return f"issue width {self.width} of {self.mcpu}"
        return (
            f"issue width {self.width}: {self.mcpu} is not in mlgo_env.machine's table, "
            "so the widest width it knows stands in (a conservative bound)"
        )


@dataclass
class Measurement:
    """A measured block: throughput in core cycles per 100 iterations (BHive's unit).

    Attributes:
        hex: the block's bytes, hex-encoded.
        throughput: min over all passes.
        est_a: min over even passes (one independent estimate).
        est_b: min over odd passes (the other).
        unroll: the larger unroll factor used (the smaller is half of it).
        faults: pages mapped for the block's memory accesses.
    """

    hex: str
    throughput: float
    est_a: float
    est_b: float
    unroll: int
    faults: int

    @property
    def noise(self) -> float:
        """Relative difference of the two independent estimates."""
        return abs(self.est_a - self.est_b) / min(self.est_a, self.est_b)


@dataclass(frozen=True)
class Rejection:
    """A block that was not measured, and why.

    Attributes:
        remeasure: the figure was doubtful (estimates disagree, below the issue-width bound, an
            unstable pass) rather than impossible to take: measuring again may give a sound one.
    """

    hex: str
    reason: str
    remeasure: bool = False


@dataclass(frozen=True)
class Judge:
    """Decides whether a block's passes give a figure to keep, or why not.

    Attributes:
        bound: the issue-width bound of the CPU measured on.
        max_disagreement: the largest relative difference of the two estimates kept.
    """

    bound: IssueBound
    max_disagreement: float = MAX_DISAGREEMENT

    def __post_init__(self) -> None:
        if not self.max_disagreement >= 0:
            raise ValueError(f"max_disagreement must be at least 0, not {self.max_disagreement}")

    def verdict(
        self, hex_code: str, instructions: Sequence[Instruction], passes: Sequence[PassResult]
    ) -> Measurement | Rejection:
        """The block's `Measurement`, or a `Rejection` with its reason.

        Raises:
            ValueError: fewer than two passes (no two independent estimates).
        """
        bad = [p.status for p in passes if p.status != "ok"]
        if _HARNESS_UNSTABLE in bad:
            return Rejection(hex_code, "unstable: the longer unrolling was not slower than the shorter", remeasure=True)
        if bad:
            return Rejection(hex_code, bad[0])
        if len(passes) < 2:
            raise ValueError(f"{hex_code}: {len(passes)} passes give no two independent estimates")
        est_a = min(p.cycles for p in passes[0::2])
        est_b = min(p.cycles for p in passes[1::2])
        last = passes[-1]
        measured = Measurement(hex_code, min(est_a, est_b), est_a, est_b, last.unroll, last.faults)
        if measured.noise > self.max_disagreement:
            reason = f"unstable: estimates {est_a:.4g} and {est_b:.4g} differ by {measured.noise:.0%}"
            return Rejection(hex_code, reason, remeasure=True)
        floor = self.bound.cycles(instructions)
        if measured.throughput < floor:
            reason = (
                f"below the issue-width bound: {measured.throughput:.3g} cycles per 100 iterations for "
                f"{len(instructions)} instructions, at least {floor:.3g} at {self.bound}"
            )
            return Rejection(hex_code, reason, remeasure=True)
        return measured


def missing_extension(instructions: Sequence[Instruction], cpu: CpuInfo) -> str | None:
    """Why `cpu` cannot run the block: a vector extension it uses and the CPU lacks, or None.

    AVX: VEX-encoded vector instructions (``v``-mnemonics on vector registers, ``vzeroupper``);
    AVX-512: zmm or mask registers, or vector registers 16-31. Other extensions the CPU lacks
    make the harness report "illegal".
    """
    for insn in instructions:
        regs = insn.reads | insn.writes
        upper = any(r.startswith("v") and r[1:].isdigit() and int(r[1:]) >= 16 for r in regs)
        if ("v512" in insn.operands or "k" in insn.operands or upper) and not cpu.avx512:
            return f"needs AVX-512, which this CPU ({cpu.mcpu}) lacks: {insn.text}"
        vex = insn.mnemonic.startswith("v") and (
            any(op.startswith("v") for op in insn.operands) or insn.mnemonic == "vzeroupper"
        )
        if vex and not cpu.avx:
            return f"needs AVX, which this CPU ({cpu.mcpu}) lacks: {insn.text}"
    return None


@dataclass
class _Block:
    hex: str
    instructions: list[Instruction]
    passes: list[PassResult] = field(default_factory=list)


def _smooth_clock(results: list[PassResult], window: int = 51) -> list[PassResult]:
    """Rescales each block's cycles to the median ticks-per-cycle of its neighbours in the pass.

    A block's own calibration (the dependent-add chain timed next to it) is sometimes off by
    10-20% (an interrupt or the other hyperthread hit one of its runs); the clock itself moves
    slowly, so the median over ``window`` neighbouring blocks (tens of milliseconds) is both
    local and robust.
    """
    ok = [r for r in results if r.status == "ok"]
    tpc = np.array([r.ticks_per_cycle for r in ok])
    half = window // 2
    out = {r.index: r for r in results}
    for k, r in enumerate(ok):
        local = float(np.median(tpc[max(0, k - half) : k + half + 1]))
        out[r.index] = dataclasses.replace(r, cycles=r.cycles * r.ticks_per_cycle / local, ticks_per_cycle=local)
    return [out[r.index] for r in results]


def _run_passes(harness: Harness, blocks: list[_Block], passes: int, cpu: int | None, spacing: float = 0.0) -> float:
    """Runs `passes` passes over `blocks`, starting them at least `spacing` seconds apart.

    A block leaves the passes at its first status other than "ok". Returns the mean seconds
    a pass took, the spacing its re-measurement keeps.
    """
    alive = list(range(len(blocks)))
    started = time.monotonic() - spacing
    took = []
    for _ in range(passes):
        time.sleep(max(0.0, started + spacing - time.monotonic()))
        started = time.monotonic()
        for res in _smooth_clock(list(harness.run_pass([(i, blocks[i].hex) for i in alive], cpu))):
            blocks[res.index].passes.append(res)
        took.append(time.monotonic() - started)
        alive = [i for i in alive if blocks[i].passes[-1].status == "ok"]
    return sum(took) / len(took)


def _measure_chunk(harness: Harness, chunk: list[_Block], passes: int, cpu: int | None, judge: Judge) -> list:
    """Measures a chunk, then measures its doubtful blocks again with more passes, equally spaced."""
    spacing = _run_passes(harness, chunk, passes, cpu)
    verdicts = [judge.verdict(b.hex, b.instructions, b.passes) for b in chunk]
    doubtful = [k for k, v in enumerate(verdicts) if isinstance(v, Rejection) and v.remeasure]
    if doubtful:
        again = [_Block(chunk[k].hex, chunk[k].instructions) for k in doubtful]
        _run_passes(harness, again, REMEASURE_FACTOR * passes, cpu, spacing)
        for k, block in zip(doubtful, again, strict=True):
            verdicts[k] = judge.verdict(block.hex, block.instructions, block.passes)
    return verdicts


def _measure_chunk_exegesis(chunk: list[_Block], judge: Judge) -> list[Measurement | Rejection]:
    """Measures a chunk with llvm-exegesis (hardware counters): two runs per block, two estimates."""
    from mlgo_env.blocks.exegesis import measure_exegesis
    from mlgo_env.errors import MlgoEnvError

    verdicts: list[Measurement | Rejection] = []
    for block in chunk:
        try:
            runs = [measure_exegesis(bytes.fromhex(block.hex)) for _ in range(2)]
        except MlgoEnvError as exc:
            verdicts.append(Rejection(block.hex, f"llvm-exegesis: {exc}"))
            continue
        block.passes = [PassResult(k, "ok", cycles, 1.0, 0, 0) for k, cycles in enumerate(runs)]
        verdicts.append(judge.verdict(block.hex, block.instructions, block.passes))
    return verdicts


def _worker_cpus(workers: int, cpu: CpuInfo) -> list[int]:
    """The CPUs the `workers` harness processes are pinned to: distinct ones this process may use."""
    allowed = list(cpu.allowed_cpus)
    if workers > len(allowed):
        logger.warning("%d workers but only %d usable CPUs (%s): using %d, one per CPU",
                       workers, len(allowed), ",".join(map(str, allowed)), len(allowed))  # fmt: skip
    return allowed[:workers]


def measure_blocks(
    hexes: Iterable[str],
    passes: int = 6,
    workers: int = 2,
    chunk_size: int = 3000,
    on_chunk: Callable[[list[Measurement | Rejection]], None] | None = None,
    judge: Judge | None = None,
    harness: Harness | None = None,
    backend: str = "harness",
) -> list[Measurement | Rejection]:
    """Measures blocks with the timing harness (or llvm-exegesis), in parallel over `workers` cores.

    Blocks the harness cannot time (see `isa.reject_reason`, `missing_extension`) are rejected
    before running; figures `judge` doubts are measured again, then rejected with the reason.

    Args:
        hexes: hex-encoded blocks (without their final branch).
        passes: passes per block (even: at least 2, for two independent estimates).
        workers: harness processes, each pinned to its own core among those this process may
            use (fewer if there are fewer).
        chunk_size: blocks per harness pass; a pass over a chunk takes about
            ``chunk_size`` milliseconds, which sets how far apart a block's passes are.
        on_chunk: called with each chunk's results as it completes (to save progress).
        judge: decides which figures are kept (default: the host CPU's issue-width bound and
            `MAX_DISAGREEMENT`).
        harness: the timing harness (default: built for this machine).
        backend: "harness" (TSC, no counters needed) or "exegesis" (llvm-exegesis with its
            register and memory annotations; needs hardware counters, see `exegesis.choose_backend`).

    Returns:
        One `Measurement` or `Rejection` per block, in input order of completed chunks.
    """
    if passes < 2 or passes % 2:
        raise ValueError(f"passes must be even and at least 2 (two independent estimates), not {passes}")
    cpu = host()
    judge = judge or Judge(IssueBound.for_cpu(cpu.mcpu, virtual=cpu.virtual))
    if backend not in ("harness", "exegesis"):
        raise ValueError(f"unknown backend {backend!r}: use 'harness' or 'exegesis'")
    harness = (harness or Harness()) if backend == "harness" else None
    static: list[Measurement | Rejection] = []
    runnable: list[_Block] = []
    for h in hexes:
        instructions = decode(bytes.fromhex(h))
        reason = reject_reason(instructions) or missing_extension(instructions or [], cpu)
        if reason or instructions is None:
            static.append(Rejection(h, reason or "unsupported instruction"))
        else:
            runnable.append(_Block(h, instructions))
    if on_chunk and static:
        on_chunk(static)
    chunks = [runnable[i : i + chunk_size] for i in range(0, len(runnable), chunk_size)]
    free_cpus: queue.SimpleQueue[int] = queue.SimpleQueue()
    pinned = _worker_cpus(workers, cpu)
    for c in pinned:
        free_cpus.put(c)

    def run(chunk: list[_Block]) -> list[Measurement | Rejection]:
        core = free_cpus.get()
        try:
            if harness is None:
                return _measure_chunk_exegesis(chunk, judge)
            return _measure_chunk(harness, chunk, passes, core, judge)
        finally:
            free_cpus.put(core)

    results = list(static)
    with ThreadPoolExecutor(max_workers=len(pinned)) as pool:
        for chunk_results in pool.map(run, chunks):
            results.extend(chunk_results)
            if on_chunk:
                on_chunk(chunk_results)
    return results


MEASURED_FIELDS = ("hex", "throughput", "source", "freq", "backend", "cpu", "noise", "est_a", "est_b")
"""Columns of a measured CSV: BHive's ``hex,throughput`` first, then provenance and noise.
``cpu`` is the LLVM ``-mcpu`` name of the CPU measured on."""
REJECTED_FIELDS = ("hex", "reason", "source")


class MeasuredWriter:
    """Appends measured and rejected rows to ``PATH`` and ``PATH.rejected.csv`` (resumable).

    Args:
        path: the measured CSV.
        sources: per hex, ``(source, freq)`` to record with each row.
        cpu: the ``-mcpu`` name of the CPU measured on (default: this machine's).
        backend: the back end's name written in each row (`BACKEND` or `EXEGESIS_BACKEND`).

    Raises:
        CpuMismatch: `path` already holds rows measured on another CPU (one file, one CPU).
    """

    def __init__(
        self, path: Path, sources: dict[str, tuple[str, float]], cpu: str | None = None, backend: str = BACKEND
    ) -> None:
        self.path = Path(path)
        self.backend = backend
        self.rejected_path = self.path.with_suffix(".rejected.csv")
        self.sources = sources
        self.cpu = cpu or host().mcpu
        self._check_cpu()

    def _check_cpu(self) -> None:
        if not self.path.exists():
            return
        with self.path.open() as f:
            others = {(row.get("cpu") or "").strip() for row in csv.DictReader(f)} - {self.cpu}
        if others:
            raise CpuMismatch(
                f"{self.path} holds blocks measured on {', '.join(sorted(o or 'an unrecorded CPU' for o in others))}, "
                f"but this CPU is {self.cpu}: appending would mix two machines' timings in one file; "
                "measure into another file (--out)"
            )

    def done(self) -> set[str]:
        """Hexes already measured or rejected in earlier runs."""
        seen: set[str] = set()
        for p in (self.path, self.rejected_path):
            if p.exists():
                with p.open() as f:
                    seen.update(row["hex"] for row in csv.DictReader(f))
        return seen

    def write(self, results: list[Measurement | Rejection]) -> None:
        """Appends `results` (a header first if the file is new)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        measured = [r for r in results if isinstance(r, Measurement)]
        rejected = [r for r in results if isinstance(r, Rejection)]
        with _appender(self.path, MEASURED_FIELDS) as w:
            for m in measured:
                source, freq = self.sources.get(m.hex, ("", 0.0))
                w.writerow([m.hex, f"{m.throughput:.2f}", source, f"{freq:.6g}", self.backend, self.cpu,
                            f"{m.noise:.5f}", f"{m.est_a:.2f}", f"{m.est_b:.2f}"])  # fmt: skip
        with _appender(self.rejected_path, REJECTED_FIELDS) as w:
            for r in rejected:
                w.writerow([r.hex, r.reason, self.sources.get(r.hex, ("", 0.0))[0]])


@contextlib.contextmanager
def _appender(path: Path, header: Sequence[str]) -> Iterator[Any]:
    """A csv writer appending to `path`, writing `header` first if the file is new."""
    new = not path.exists() or path.stat().st_size == 0
    with path.open("a", newline="") as f:
        writer = csv.writer(f)
        if new:
            writer.writerow(header)
        yield writer
