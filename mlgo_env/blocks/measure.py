"""Measures basic-block throughput with the counter-free timing harness in ``harness/harness.c``.

The harness is compiled on first use into a cache directory. One harness process runs one pass
over a chunk of blocks; each block gets ``passes`` passes spaced by the time a pass over the chunk
takes (seconds), because noise from the other hyperthread lasts milliseconds to seconds and only
the minimum over passes that far apart escapes it. Even and odd passes give two independent
estimates of each block; their relative difference is the measurement's repeatability.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import hashlib
import logging
import os
import platform
import subprocess
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mlgo_env.blocks.isa import decode, reject_reason
from mlgo_env.errors import ToolNotFound
from mlgo_env.toolchain import get_toolchain

__all__ = ["BACKEND", "Harness", "Measurement", "Rejection", "cpu_model", "measure_blocks"]

logger = logging.getLogger(__name__)

BACKEND = "tsc-harness"
"""Name of this back end in measured rows."""
_SOURCE = Path(__file__).with_name("harness") / "harness.c"


def cpu_model() -> str:
    """The host CPU's model name (from /proc/cpuinfo), for the rows' ``cpu`` column."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cache_dir() -> Path:
    """Where the compiled harness lives: ``$MLGO_ENV_CACHE`` or ``~/.cache/mlgo-env``."""
    root = os.environ.get("MLGO_ENV_CACHE") or Path.home() / ".cache" / "mlgo-env"
    return Path(root) / "blocks"


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
    """

    def __init__(self, compiler: str | None = None) -> None:
        self.binary = self._build(compiler)

    @staticmethod
    def _build(compiler: str | None) -> Path:
        source = _SOURCE.read_bytes()
        binary = cache_dir() / f"harness-{hashlib.sha256(source).hexdigest()[:16]}"
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
        """Times each ``(index, hex)`` block once; yields results in order.

        A block that kills or hangs the harness (it should not: faults and slow blocks are
        caught) is reported as "crash" or "timeout" and the pass goes on with the next one in a
        new process.
        """
        pending = list(blocks)
        while pending:
            cmd = [str(self.binary), str(-1 if cpu is None else cpu)]
            stdin = "".join(f"{i} {h}\n" for i, h in pending)
            try:
                timeout = _pass_timeout(len(pending))
                proc = subprocess.run(cmd, input=stdin.encode(), capture_output=True, timeout=timeout)
                stdout, why = proc.stdout, f"crash (exit {proc.returncode})"
            except subprocess.TimeoutExpired as exc:
                stdout, why = exc.stdout or b"", "timeout"
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


def _pass_timeout(blocks: int) -> float:
    """Seconds a pass over `blocks` may take (each block is cut off by the harness after 1 s)."""
    return 60.0 + 0.05 * blocks


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
    """A block that was not measured, and why."""

    hex: str
    reason: str


@dataclass
class _Block:
    hex: str
    passes: list[PassResult] = field(default_factory=list)

    def result(self) -> Measurement | Rejection:
        bad = [p.status for p in self.passes if p.status != "ok"]
        if bad:
            return Rejection(self.hex, bad[0])
        even = min(p.cycles for p in self.passes[0::2])
        odd = min(p.cycles for p in self.passes[1::2])
        last = self.passes[-1]
        return Measurement(self.hex, min(even, odd), even, odd, last.unroll, last.faults)


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


def _measure_chunk(harness: Harness, hexes: Sequence[str], passes: int, cpu: int | None) -> list:
    blocks = [_Block(h) for h in hexes]
    alive = list(range(len(blocks)))
    for _ in range(passes):
        for res in _smooth_clock(list(harness.run_pass([(i, blocks[i].hex) for i in alive], cpu))):
            blocks[res.index].passes.append(res)
        alive = [i for i in alive if blocks[i].passes[-1].status == "ok"]
    return [b.result() for b in blocks]


def measure_blocks(
    hexes: Iterable[str],
    passes: int = 6,
    workers: int = 2,
    chunk_size: int = 3000,
    on_chunk: Callable[[list[Measurement | Rejection]], None] | None = None,
) -> list[Measurement | Rejection]:
    """Measures blocks with the timing harness, in parallel over `workers` cores.

    Blocks the harness cannot time (see `isa.reject_reason`) are rejected before running.

    Args:
        hexes: hex-encoded blocks (without their final branch).
        passes: passes per block (even: at least 2, for two independent estimates).
        workers: harness processes, each pinned to its own core.
        chunk_size: blocks per harness pass; a pass over a chunk takes about
            ``chunk_size`` milliseconds, which sets how far apart a block's passes are.
        on_chunk: called with each chunk's results as it completes (to save progress).

    Returns:
        One `Measurement` or `Rejection` per block, in input order of completed chunks.
    """
    if passes < 2 or passes % 2:
        raise ValueError(f"passes must be even and at least 2 (two independent estimates), not {passes}")
    harness = Harness()
    static: list[Measurement | Rejection] = []
    runnable: list[str] = []
    for h in hexes:
        reason = reject_reason(decode(bytes.fromhex(h)))
        if reason:
            static.append(Rejection(h, reason))
        else:
            runnable.append(h)
    if on_chunk and static:
        on_chunk(static)
    chunks = [runnable[i : i + chunk_size] for i in range(0, len(runnable), chunk_size)]
    ncpu = os.cpu_count() or 1
    results = list(static)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [
            pool.submit(_measure_chunk, harness, chunk, passes, k % workers % ncpu) for k, chunk in enumerate(chunks)
        ]
        for future in futures:
            chunk_results = future.result()
            results.extend(chunk_results)
            if on_chunk:
                on_chunk(chunk_results)
    return results


MEASURED_FIELDS = ("hex", "throughput", "source", "freq", "backend", "cpu", "noise", "est_a", "est_b")
"""Columns of a measured CSV: BHive's ``hex,throughput`` first, then provenance and noise."""
REJECTED_FIELDS = ("hex", "reason", "source")


class MeasuredWriter:
    """Appends measured and rejected rows to ``PATH`` and ``PATH.rejected.csv`` (resumable).

    Args:
        path: the measured CSV.
        sources: per hex, ``(source, freq)`` to record with each row.
    """

    def __init__(self, path: Path, sources: dict[str, tuple[str, float]]) -> None:
        self.path = Path(path)
        self.rejected_path = self.path.with_suffix(".rejected.csv")
        self.sources = sources
        self.cpu = cpu_model()

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
                w.writerow([m.hex, f"{m.throughput:.2f}", source, f"{freq:.6g}", BACKEND, self.cpu,
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
