"""Measured runtime: the ground truth every other reward is judged against.

Runtime on shared VMs is noisy (runs of one binary spread by up to tens of percent), so several
binaries are measured interleaved (A B C A B C …, never A A A B B B, so a slow stretch of the
machine hits them all alike), repeated, and summarised by their minimum (or median), with the
spread between runs reported next to every figure.

Two clocks: ``"wall"`` (elapsed time, what a user waits) and ``"cpu"`` (the program's user + system
CPU time, from ``wait4``). On an idle machine they agree for single-threaded programs; on an
oversubscribed one the wall clock also counts the time the program waited for a core, and the CPU
clock is the steadier of the two.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mlgo_env.artifacts import Artifact, CompiledModule
from mlgo_env.errors import MlgoEnvError, ValidationFailed
from rewards.base import Reward
from rewards.wire import WireOption

__all__ = ["Clock", "ProgramFailed", "RuntimeReward", "RuntimeStats", "measure_runtimes"]

Clock = Literal["wall", "cpu"]


class ProgramFailed(MlgoEnvError):
    """The program exited with an error, was killed by a signal, or ran past its timeout."""


@dataclass(frozen=True)
class RuntimeStats:
    """The times, in seconds, of repeated runs of one binary."""

    samples: tuple[float, ...]

    @property
    def min(self) -> float:
        """The fastest run: the least disturbed by other work on the machine."""
        return min(self.samples)

    @property
    def median(self) -> float:
        """The median run."""
        return statistics.median(self.samples)

    @property
    def spread(self) -> float:
        """Run-to-run noise: (slowest − fastest) / fastest; 0.05 means runs differed by 5%."""
        return (max(self.samples) - self.min) / self.min if self.min > 0 else 0.0


def measure_runtimes(
    executables: Sequence[Path],
    repeats: int = 5,
    args: Sequence[str] = (),
    cwd: Path | None = None,
    timeout: float = 300.0,
    expected_output: str | None = None,
    warmup: int = 1,
    clock: Clock = "wall",
) -> list[RuntimeStats]:
    """Times of `repeats` runs of each executable, interleaved round by round.

    Args:
        executables: the binaries to time (all run with the same arguments and directory).
        repeats: measured runs of each binary.
        args: command-line arguments.
        cwd: directory the programs run in (their data files live there).
        timeout: seconds one run may take.
        expected_output: when set, every run's standard output must equal it.
        warmup: unmeasured rounds first (page cache, CPU frequency).
        clock: ``"wall"`` (elapsed) or ``"cpu"`` (user + system time of the program).

    Returns:
        One `RuntimeStats` per executable, in order.

    Raises:
        ValidationFailed: a run printed something other than `expected_output`.
        ProgramFailed: a run exited non-zero, was killed, or ran past `timeout`.
        ValueError: `repeats` < 1 or an unknown clock.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    if clock not in ("wall", "cpu"):
        raise ValueError(f"clock must be 'wall' or 'cpu', not {clock!r}")
    samples: list[list[float]] = [[] for _ in executables]
    for round_ in range(warmup + repeats):
        for index, executable in enumerate(executables):
            wall, cpu = _run_once(Path(executable), args, cwd, timeout, expected_output)
            if round_ >= warmup:
                samples[index].append(wall if clock == "wall" else cpu)
    return [RuntimeStats(tuple(times)) for times in samples]


def _run_once(
    executable: Path,
    args: Sequence[str],
    cwd: Path | None,
    timeout: float,
    expected_output: str | None,
) -> tuple[float, float]:
    """Wall and CPU seconds of one run, after checking how it ended and what it printed.

    The child is reaped with ``os.wait4`` (not by `subprocess`) to get its resource usage; its
    output goes to files, so a program printing much cannot block on a full pipe.
    """
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        start = time.perf_counter()
        process = subprocess.Popen(
            [str(executable.resolve()), *args], cwd=cwd, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr
        )
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            process.kill()

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        stdout.seek(0)
        stderr.seek(0)
        printed = stdout.read().decode(errors="replace")
        errors = stderr.read().decode(errors="replace")
    if killed.is_set():
        raise ProgramFailed(f"{executable} ran past its {timeout:g} s timeout")
    if process.returncode != 0:
        raise ProgramFailed(f"{executable} exited with {process.returncode}; stderr:\n{errors[-2000:]}")
    if expected_output is not None and printed != expected_output:
        raise ValidationFailed(
            f"{executable} printed {len(printed)} characters that differ from its reference "
            f"output ({len(expected_output)} characters); the compiled program is wrong"
        )
    return wall, usage.ru_utime + usage.ru_stime


class RuntimeReward(Reward):
    """Time of the linked program: min (or median) of `repeats` runs, in seconds.

    The relative spread between runs goes to ``module.extra["runtime_noise"]`` and the runs to
    ``module.extra["runtime_samples"]``. When the program has a reference output, every run is
    checked against it.

    Args:
        repeats: measured runs.
        statistic: ``"min"`` (least disturbed by other work) or ``"median"``.
        timeout: seconds one run may take.
        warmup: unmeasured runs first.
        clock: ``"wall"`` (elapsed time) or ``"cpu"`` (the program's CPU time: steadier on a
            loaded machine).
    """

    name = "runtime"
    requires = Artifact.OBJECT | Artifact.EXECUTABLE
    deterministic = False
    platform_dependent = True
    unit = "s"
    wire_options = {
        "repeats": WireOption(int, low=1, high=50),
        "statistic": WireOption(str, choices=("min", "median")),
        "timeout": WireOption(float, low=0.1, high=3600.0, seconds=True),
        "warmup": WireOption(int, low=0, high=10),
        "clock": WireOption(str, choices=("wall", "cpu")),
    }

    def __init__(
        self,
        repeats: int = 5,
        statistic: Literal["min", "median"] = "min",
        timeout: float = 300.0,
        warmup: int = 1,
        clock: Clock = "wall",
    ) -> None:
        if statistic not in ("min", "median"):
            raise ValueError(f"statistic must be 'min' or 'median', not {statistic!r}")
        if repeats < 1:
            raise ValueError(f"repeats must be at least 1, got {repeats}")
        if clock not in ("wall", "cpu"):
            raise ValueError(f"clock must be 'wall' or 'cpu', not {clock!r}")
        self.repeats = repeats
        self.statistic = statistic
        self.timeout = timeout
        self.warmup = warmup
        self.clock: Clock = clock

    def cost(self, module: CompiledModule) -> float:
        """Seconds the program takes (its min or median over the runs).

        Raises:
            ValueError: the module was not linked (no executable).
            ValidationFailed: the program printed something other than its reference output.
            ProgramFailed: the program crashed or timed out.
        """
        if module.executable_path is None:
            raise ValueError(f"{module.benchmark}: the runtime reward needs the linked program")
        program = module.program
        (stats,) = measure_runtimes(
            [module.executable_path],
            repeats=self.repeats,
            args=program.run_args if program else (),
            cwd=program.directory if program and program.directory else module.workdir,
            timeout=self.timeout,
            expected_output=program.expected_output if program else None,
            warmup=self.warmup,
            clock=self.clock,
        )
        module.extra["runtime_noise"] = stats.spread
        module.extra["runtime_samples"] = list(stats.samples)
        return stats.min if self.statistic == "min" else stats.median
