"""What a payload program prints, and running a tool with a deadline: the output format of ``payloads/``.

A payload's ``@main`` prints its result memref (``printMemrefF32``) and one ``mlgo-time SECONDS``
line per timed kernel call. `parse_output` reads both; `KernelTiming` summarises the calls.
"""

from __future__ import annotations

import re
import statistics
import subprocess
from dataclasses import dataclass

import numpy as np

from mlgo_env.errors import CompilerError, CompilerTimeout

__all__ = ["KernelTiming", "RunOutput", "parse_output", "run_tool"]

_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:inf|nan)")


@dataclass(frozen=True)
class RunOutput:
    """What a payload's ``@main`` printed.

    Attributes:
        result: the printed result memref, flattened.
        times: seconds of each timed kernel call.
    """

    result: np.ndarray
    times: tuple[float, ...]


@dataclass(frozen=True)
class KernelTiming:
    """Min-of-k timing of a kernel and its noise.

    Attributes:
        best: the minimum over all timed calls, in seconds (the cost).
        median: the median over all timed calls.
        noise: (median - best) / best, how far a typical call is from the best one.
        calls: how many timed calls were measured.
    """

    best: float
    median: float
    noise: float
    calls: int

    @classmethod
    def of(cls, times: list[float]) -> KernelTiming:
        """The timing of a list of per-call seconds."""
        if not times:
            raise ValueError("no timed calls; does the payload print `mlgo-time` lines?")
        best, median = min(times), statistics.median(times)
        return cls(best, median, (median - best) / best if best > 0 else 0.0, len(times))


def parse_output(stdout: str) -> RunOutput:
    """Parses a payload run: the ``printMemrefF32`` result block and the ``mlgo-time`` lines.

    Raises:
        CompilerError: no result block was printed.
    """
    start = stdout.find("data =")
    if start == -1:
        raise CompilerError("the program printed no result memref (`printMemrefF32`)", stdout[-2000:])
    limit = stdout.find("mlgo-", start)
    end = stdout.rfind("]", start, limit if limit != -1 else len(stdout))
    block = stdout[start + len("data =") : end]
    result = np.array([float(v) for v in _NUMBER.findall(block)], dtype=np.float64)
    times = tuple(float(line.split()[1]) for line in stdout.splitlines() if line.startswith("mlgo-time "))
    return RunOutput(result, times)


def run_tool(command: list[str], timeout: float, what: str, error: type[CompilerError]) -> str:
    """The stdout of `command`; `error` (or CompilerTimeout) with its output when it fails."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise CompilerTimeout(f"{what} did not finish within {timeout:g} s") from exc
    if done.returncode != 0:
        raise error(f"{what} failed (exit {done.returncode})", done.stderr or done.stdout)
    return done.stdout
