"""Measured runtime with confidence intervals: the ground truth every speed reward is judged against.

Runtime on shared VMs is noisy (one binary's runs spread by tens of percent), and a slow stretch of
the machine lasts seconds. So the variants of a program (its baseline among them) are timed in
*rounds*: after warm-up rounds, every round runs each variant once, in a fresh random order (so no
variant always follows the same one). Rounds are added until the confidence interval of every
variant's ratio to the baseline is narrower than a bound, or a time budget is spent.

The estimate of a variant's time is a low quantile of its runs (the least disturbed ones; the
minimum itself has no usable bootstrap distribution); a ratio of two variants is the ratio of their
quantiles. Intervals are percentile bootstrap intervals (`scipy.stats.bootstrap`) over *rounds*: a
resampled round keeps all its variants' runs together, so what disturbed one round disturbs every
variant of it alike. Two variants are *resolvable* only when the interval of their ratio excludes 1.

Each run is reaped with ``os.wait4``: its CPU time (user + system) and wall time are both kept; the
CPU clock (the default) ignores the time a program waited for a core on an oversubscribed machine.
"""

from __future__ import annotations

import itertools
import math
import os
import resource
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Literal

import numpy as np
from scipy.stats import bootstrap

from mlgo_env.errors import MlgoEnvError, ValidationFailed

__all__ = [
    "Clock",
    "Command",
    "GroupComparison",
    "Interval",
    "ProgramFailed",
    "StopRule",
    "Timing",
    "compare_groups",
    "run_once",
    "run_usage",
    "time_variants",
]

Clock = Literal["wall", "cpu"]
_RESAMPLES = 2000


class ProgramFailed(MlgoEnvError):
    """The program exited with an error, was killed by a signal, or ran past its timeout."""


@dataclass(frozen=True)
class Command:
    """One variant to time when variants differ in more than their executable (e.g. their input).

    Attributes:
        executable: the program.
        args: its command-line arguments.
        expected_output: what every run must print (None: not checked).
    """

    executable: Path
    args: tuple[str, ...] = ()
    expected_output: str | None = None


@dataclass(frozen=True)
class Interval:
    """An estimate with its bootstrap confidence interval (for a ratio: 1.0 means no difference)."""

    estimate: float
    low: float
    high: float
    confidence: float

    @property
    def halfwidth(self) -> float:
        """Half the interval's width relative to the estimate: 0.01 means ±1%."""
        return (self.high - self.low) / 2 / self.estimate if self.estimate > 0 else math.inf

    @property
    def resolvable(self) -> bool:
        """The interval of a ratio excludes 1: the two sides differ at this confidence."""
        return self.low > 1.0 or self.high < 1.0

    def record(self) -> dict[str, Any]:
        """As JSON values."""
        return {"estimate": self.estimate, "low": self.low, "high": self.high, "confidence": self.confidence}


@dataclass(frozen=True)
class StopRule:
    """When interleaved timing stops adding rounds.

    Attributes:
        target_halfwidth: stop once every variant's ratio to the baseline is known to ± this
            (relative half-width of its interval).
        budget_s: seconds for the whole measurement, warm-up included; a round past `min_rounds`
            starts only if a round of the mean duration so far still ends within it.
        min_rounds: measured rounds always run (2 at least: an interval needs two).
        max_rounds: measured rounds at most.
        warmup: unmeasured rounds first (page cache, CPU frequency, branch predictors of the loader).
    """

    target_halfwidth: float = 0.01
    budget_s: float = 60.0
    min_rounds: int = 5
    max_rounds: int = 200
    warmup: int = 1

    def __post_init__(self) -> None:
        if not 2 <= self.min_rounds <= self.max_rounds:
            raise ValueError(f"need 2 <= min_rounds <= max_rounds, got {self.min_rounds} and {self.max_rounds}")
        if self.target_halfwidth < 0 or self.budget_s <= 0 or self.warmup < 0:
            raise ValueError("target_halfwidth and warmup must be >= 0 and budget_s > 0")


@dataclass(frozen=True)
class Timing:
    """Interleaved runs of a program's variants: per variant and round, CPU and wall seconds.

    Attributes:
        names: the variants, in the order given.
        cpu: seconds of CPU (user + system), shape (variants, rounds).
        wall: elapsed seconds, same shape.
        baseline: index of the variant ratios are taken against.
        clock: which of the two the estimates use.
        quantile: the quantile of a variant's runs that estimates its time (0 = the minimum).
        confidence: of every interval.
        elapsed_s: seconds the measurement took, warm-up included.
        stopped: ``"converged"`` (every interval within the bound), ``"budget"`` or ``"max_rounds"``.
        seed: seed of the run order and of the bootstrap.
    """

    names: tuple[str, ...]
    cpu: np.ndarray
    wall: np.ndarray
    baseline: int
    clock: Clock
    quantile: float
    confidence: float
    elapsed_s: float
    stopped: str
    seed: int = 0

    @property
    def rounds(self) -> int:
        """Measured rounds."""
        return int(self.cpu.shape[1])

    @property
    def samples(self) -> np.ndarray:
        """The runs on the chosen clock, shape (variants, rounds)."""
        return self.cpu if self.clock == "cpu" else self.wall

    def index(self, variant: str | int) -> int:
        """The position of a variant given by name or index.

        Raises:
            KeyError: no such variant.
        """
        if isinstance(variant, int):
            if not 0 <= variant < len(self.names):
                raise KeyError(f"no variant {variant}: there are {len(self.names)}")
            return variant
        if variant not in self.names:
            raise KeyError(f"no variant {variant!r}; timed: {', '.join(self.names)}")
        return self.names.index(variant)

    def seconds(self, variant: str | int) -> float:
        """The estimate of a variant's time: the `quantile` of its runs."""
        return float(np.quantile(self.samples[self.index(variant)], self.quantile))

    def spread(self, variant: str | int) -> float:
        """Run-to-run noise of one variant: (slowest − fastest) / fastest."""
        runs = self.samples[self.index(variant)]
        return float((runs.max() - runs.min()) / runs.min()) if runs.min() > 0 else 0.0

    def ratio(self, variant: str | int, reference: str | int | None = None) -> Interval:
        """`variant`'s time over `reference`'s (default: the baseline), with its interval."""
        i, j = self.index(variant), self.index(self.baseline if reference is None else reference)

        def statistic(runs: list[np.ndarray]) -> np.ndarray:
            low = np.quantile(runs[0], self.quantile, axis=-1)
            return low[..., i] / low[..., j]

        return bootstrap_interval([self], statistic, self.confidence, self.seed)

    def ratios(self) -> dict[str, Interval]:
        """Every other variant's ratio to the baseline."""
        return {name: self.ratio(k) for k, name in enumerate(self.names) if k != self.baseline}

    def resolvable(self, a: str | int, b: str | int) -> bool:
        """Whether `a` and `b` differ: the interval of their ratio excludes 1."""
        return self.ratio(a, b).resolvable

    def record(self) -> dict[str, Any]:
        """The measurement as JSON values: settings, per-variant estimates, ratios and runs."""
        ratios = self.ratios()
        return {
            "clock": self.clock,
            "quantile": self.quantile,
            "rounds": self.rounds,
            "elapsed_s": self.elapsed_s,
            "stopped": self.stopped,
            "baseline": self.names[self.baseline],
            "variants": {
                name: {
                    "seconds": self.seconds(k),
                    "spread": self.spread(k),
                    "ratio": ratios[name].record() if name in ratios else None,
                    "cpu_s": self.cpu[k].tolist(),
                    "wall_s": self.wall[k].tolist(),
                }
                for k, name in enumerate(self.names)
            },
        }


def bootstrap_interval(
    timings: Sequence[Timing],
    statistic: Callable[[list[np.ndarray]], np.ndarray],
    confidence: float,
    seed: int = 0,
) -> Interval:
    """Percentile bootstrap interval of a statistic of one or more timings, resampling their rounds.

    Args:
        timings: the measurements; each one's rounds are resampled on their own (independent
            programs), every variant of a resampled round together.
        statistic: from one array per timing, shaped (..., variants, rounds), to an array (...).
        confidence: of the interval.
        seed: of the resampling.
    """
    samples = [t.samples for t in timings]

    def resampled(*rounds: np.ndarray, axis: int = -1) -> np.ndarray:
        picked = [runs[:, np.asarray(r, dtype=int)] for runs, r in zip(samples, rounds, strict=True)]
        # (variants, ..., rounds) -> (..., variants, rounds)
        return statistic([np.moveaxis(p, 0, -2) for p in picked])

    data = tuple(np.arange(t.rounds) for t in timings)
    result = bootstrap(
        data, resampled, vectorized=True, n_resamples=_RESAMPLES, confidence_level=confidence,
        method="percentile", random_state=np.random.default_rng(seed),
    )  # fmt: skip
    estimate = float(statistic([s[np.newaxis] for s in samples])[0])
    interval = result.confidence_interval
    return Interval(estimate, float(interval.low), float(interval.high), confidence)


def run_once(
    executable: Path,
    args: Sequence[str] = (),
    cwd: Path | None = None,
    timeout: float = 300.0,
    expected_output: str | None = None,
) -> tuple[float, float]:
    """Wall and CPU seconds (user + system) of one run, after checking how it ended and what it printed.

    Raises:
        ProgramFailed: the run exited non-zero, was killed by a signal, or ran past `timeout`.
        ValidationFailed: it printed something other than `expected_output`.
    """
    wall, usage = run_usage(executable, args, cwd, timeout, expected_output)
    return wall, usage.ru_utime + usage.ru_stime


def run_usage(
    executable: Path,
    args: Sequence[str] = (),
    cwd: Path | None = None,
    timeout: float = 300.0,
    expected_output: str | None = None,
) -> tuple[float, resource.struct_rusage]:
    """Wall seconds and the resource usage (CPU times, page faults) of one run, checked as `run_once` checks it.

    The child is reaped with ``os.wait4`` (not by `subprocess`) to get its resource usage; its
    output goes to files, so a program printing much cannot block on a full pipe.

    Raises:
        ProgramFailed: the run exited non-zero, was killed by a signal, or ran past `timeout`.
        ValidationFailed: it printed something other than `expected_output`.
    """
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        start = time.perf_counter()
        process = subprocess.Popen(
            [str(Path(executable).resolve()), *args], cwd=cwd, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr
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
        raise ProgramFailed(f"{executable} ran past its {timeout:g} s timeout and was killed")
    if process.returncode < 0:
        name = signal.Signals(-process.returncode).name
        raise ProgramFailed(f"{executable} was killed by signal {name}; stderr:\n{errors[-2000:]}")
    if process.returncode != 0:
        raise ProgramFailed(f"{executable} exited with {process.returncode}; stderr:\n{errors[-2000:]}")
    if expected_output is not None and printed != expected_output:
        raise ValidationFailed(
            f"{executable} printed {len(printed)} characters that differ from its reference "
            f"output ({len(expected_output)} characters); the compiled program is wrong"
        )
    return wall, usage


def time_variants(
    executables: Mapping[str, Path | Command] | Sequence[Path],
    baseline: str | int = 0,
    args: Sequence[str] = (),
    cwd: Path | None = None,
    expected_output: str | None = None,
    timeout: float = 300.0,
    stop: StopRule | None = None,
    clock: Clock = "cpu",
    quantile: float = 0.2,
    confidence: float = 0.95,
    seed: int = 0,
) -> Timing:
    """Times variants of one program in interleaved, randomly ordered rounds until their ratios are known.

    Args:
        executables: the variants (named, or named by position); a plain path runs with `args`
            and `expected_output`, a `Command` with its own.
        baseline: the variant ratios are taken against (name or position).
        args: command-line arguments.
        cwd: directory the programs run in (their data files live there).
        expected_output: when set, every run's standard output must equal it.
        timeout: seconds one run may take.
        stop: when to stop adding rounds (default `StopRule()`).
        clock: ``"cpu"`` (user + system time of the program) or ``"wall"`` (elapsed).
        quantile: of a variant's runs, its time estimate (0: the minimum).
        confidence: of every interval.
        seed: of the run order and the bootstrap.

    Raises:
        ProgramFailed: a run crashed, exited non-zero or ran past `timeout` (the message names it).
        ValidationFailed: a run printed something other than `expected_output`.
        ValueError: no executables, an unknown baseline, clock, or a quantile or confidence out of range.
    """
    given = executables.items() if isinstance(executables, Mapping) else enumerate(executables)
    named = {
        str(name): how if isinstance(how, Command) else Command(Path(how), tuple(args), expected_output)
        for name, how in given
    }
    if not named:
        raise ValueError("time_variants needs at least one executable")
    if clock not in ("wall", "cpu"):
        raise ValueError(f"clock must be 'wall' or 'cpu', not {clock!r}")
    if not 0 <= quantile < 1 or not 0 < confidence < 1:
        raise ValueError(f"need 0 <= quantile < 1 and 0 < confidence < 1, got {quantile} and {confidence}")
    names = tuple(named)
    base = baseline if isinstance(baseline, int) else names.index(baseline) if baseline in names else -1
    if not 0 <= base < len(names):
        raise ValueError(f"baseline {baseline!r} is not one of the variants {names}")
    stop = stop or StopRule()
    rng = np.random.default_rng(seed)
    cpu: list[list[float]] = [[] for _ in names]
    wall: list[list[float]] = [[] for _ in names]
    start = time.monotonic()

    def one_round(keep: bool) -> None:
        for k in rng.permutation(len(names)):
            command = named[names[k]]
            try:
                seconds = run_once(command.executable, command.args, cwd, timeout, command.expected_output)
            except (ProgramFailed, ValidationFailed) as error:
                raise type(error)(f"variant {names[k]!r}: {error}") from error
            if keep:
                wall[k].append(seconds[0])
                cpu[k].append(seconds[1])

    def timing(stopped: str) -> Timing:
        return Timing(
            names, np.array(cpu), np.array(wall), base, clock, quantile, confidence,
            time.monotonic() - start, stopped, seed,
        )  # fmt: skip

    for _ in range(stop.warmup):
        one_round(keep=False)
    measuring = time.monotonic()
    for rounds in itertools.count(1):
        one_round(keep=True)
        if rounds < stop.min_rounds:
            continue
        if len(names) == 1 or all(r.halfwidth <= stop.target_halfwidth for r in timing("").ratios().values()):
            return timing("converged")
        if rounds >= stop.max_rounds:
            return timing("max_rounds")
        now = time.monotonic()  # after the intervals: their bootstrap is part of a round's cost
        if now + (now - measuring) / rounds - start > stop.budget_s:
            return timing("budget")
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class GroupComparison:
    """Groups of variants (e.g. the policies one reward trained) compared over several programs.

    Attributes:
        change: per group, the geometric mean over programs and members of a member's time over
            the baseline's, with its interval (0.97: 3% faster).
        pairs: per ordered pair of groups (a, b), a's geometric-mean ratio over b's.
    """

    change: dict[str, Interval]
    pairs: dict[tuple[str, str], Interval]

    def resolvable(self, a: str, b: str) -> bool:
        """Whether groups `a` and `b` differ: the interval of their ratio excludes 1."""
        return self.pairs[(a, b)].resolvable

    def record(self) -> dict[str, Any]:
        """As JSON values: ``{"change": {group: interval}, "pairs": {"a vs b": interval + resolvable}}``."""
        return {
            "change": {name: interval.record() for name, interval in self.change.items()},
            "pairs": {
                f"{a} vs {b}": interval.record() | {"resolvable": interval.resolvable}
                for (a, b), interval in self.pairs.items()
            },
        }


def compare_groups(
    timings: Sequence[Timing], groups: Mapping[str, Sequence[str]], confidence: float = 0.95, seed: int = 0
) -> GroupComparison:
    """Each group's runtime change against the baselines, and which groups differ, over programs.

    Every program's rounds are resampled on their own; a group's statistic is the geometric mean,
    over the programs and the group's members each timing holds, of member time / baseline time.

    Args:
        timings: one per program, each with its baseline (a member missing from a program, e.g. a
            variant that failed to compile there, is left out of that program).
        groups: group name -> names of its variants (e.g. ``{"size": ["size/0", "size/1"]}``).
        confidence: of every interval.
        seed: of the resampling.

    Raises:
        ValueError: a group has no member in any timing.
    """
    members = {group: [[t.index(n) for n in names if n in t.names] for t in timings] for group, names in groups.items()}
    for group, found in members.items():
        if not any(found):
            raise ValueError(f"group {group!r} has no variant in any timing")

    def log_ratio(runs: list[np.ndarray], group: str) -> np.ndarray:
        total, count = 0.0, 0
        for timing, program_runs, indices in zip(timings, runs, members[group], strict=True):
            if indices:
                low = np.quantile(program_runs, timing.quantile, axis=-1)
                total = total + np.log(low[..., indices] / low[..., timing.baseline, np.newaxis]).sum(axis=-1)
                count += len(indices)
        return np.asarray(total) / count

    def ratio(runs: list[np.ndarray], a: str, b: str | None = None) -> np.ndarray:
        return np.exp(log_ratio(runs, a) - (log_ratio(runs, b) if b is not None else 0.0))

    change = {group: bootstrap_interval(timings, partial(ratio, a=group), confidence, seed) for group in groups}
    pairs = {
        (a, b): bootstrap_interval(timings, partial(ratio, a=a, b=b), confidence, seed)
        for a, b in itertools.permutations(groups, 2)
    }
    return GroupComparison(change, pairs)
