"""Measured runtime: each variant timed interleaved with its baseline, reported as a ratio with its interval.

A variant's time alone says little on a shared VM (one binary's runs spread by tens of percent,
and slow stretches last seconds). So the reward keeps a copy of each benchmark's baseline build
(the first build of the benchmark it costs: the `mlgo_env.scoring.Scorer` costs LLVM's own build
first) and times every later variant *together with it*, in interleaved, randomly ordered rounds
until the ratio is known to the bound asked for or the budget is spent (`mlgo_env.timing`). The
cost is the baseline's time × that ratio, so the reward (relative improvement) is exactly
``1 - ratio``: a slow stretch of the machine no longer changes it.

Two clocks: ``"cpu"`` (the program's user + system CPU time, from ``wait4``; the default: steady
when the machine is oversubscribed) and ``"wall"`` (elapsed time, what a user waits).
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import weakref
from pathlib import Path

from mlgo_env.artifacts import Artifact, CompiledModule
from mlgo_env.timing import Clock, ProgramFailed, StopRule, time_variants
from rewards.base import Reward
from rewards.wire import WireOption

__all__ = ["Clock", "ProgramFailed", "RuntimeReward"]


class RuntimeReward(Reward):
    """Time of the linked program in seconds: its baseline's time × its measured ratio to the baseline.

    The first module of each benchmark is its baseline (or the one `use_baseline` names): timed
    alone and kept. Every later module is timed interleaved with it (`mlgo_env.timing.time_variants`);
    ``module.extra`` receives ``runtime_ratio`` (the interval of variant / baseline),
    ``runtime_resolvable`` (the interval excludes 1), ``runtime_rounds``, ``runtime_noise`` (the
    variant's run-to-run spread) and ``runtime_samples``. When the program has a reference output,
    every run is checked against it.

    Args:
        repeats: measured rounds at least.
        quantile: of a variant's runs, its time estimate (0: the fastest; low quantiles resist noise).
        timeout: seconds one run may take.
        warmup: unmeasured rounds first.
        clock: ``"cpu"`` (the program's CPU time: steadier on a loaded machine) or ``"wall"``.
        halfwidth: stop adding rounds once the ratio is known to ± this (relative).
        budget: seconds the timing of one variant (with its baseline) may take in all.
        confidence: of the ratio's interval.
    """

    name = "runtime"
    requires = Artifact.OBJECT | Artifact.EXECUTABLE
    deterministic = False
    platform_dependent = True
    unit = "s"
    wire_options = {
        "repeats": WireOption(int, low=2, high=50),
        "quantile": WireOption(float, low=0.0, high=0.5),
        "timeout": WireOption(float, low=0.1, high=3600.0, seconds=True),
        "warmup": WireOption(int, low=0, high=10),
        "clock": WireOption(str, choices=("wall", "cpu")),
        "halfwidth": WireOption(float, low=0.001, high=0.5),
        "budget": WireOption(float, low=1.0, high=3600.0, seconds=True),
        "confidence": WireOption(float, low=0.5, high=0.999),
    }

    def __init__(
        self,
        repeats: int = 5,
        quantile: float = 0.2,
        timeout: float = 300.0,
        warmup: int = 1,
        clock: Clock = "cpu",
        halfwidth: float = 0.01,
        budget: float = 60.0,
        confidence: float = 0.95,
    ) -> None:
        if clock not in ("wall", "cpu"):
            raise ValueError(f"clock must be 'wall' or 'cpu', not {clock!r}")
        if not 0 <= quantile < 1 or not 0 < confidence < 1 or timeout <= 0:
            raise ValueError(
                f"need 0 <= quantile < 1, 0 < confidence < 1 and timeout > 0; got {quantile}, {confidence}, {timeout}"
            )
        self.stop = StopRule(target_halfwidth=halfwidth, budget_s=budget, min_rounds=repeats, warmup=warmup)
        self.quantile = quantile
        self.timeout = timeout
        self.clock: Clock = clock
        self.confidence = confidence
        self._baselines: dict[str, tuple[Path, float]] = {}
        self._lock = threading.Lock()
        self._store = Path(tempfile.mkdtemp(prefix="mlgo-runtime-baselines-"))
        weakref.finalize(self, shutil.rmtree, self._store, True)

    def use_baseline(self, module: CompiledModule) -> float:
        """Keep a copy of `module`'s program as its benchmark's baseline; returns its time in seconds.

        Raises:
            ValueError: the module was not linked (no executable).
            ValidationFailed: the program printed something other than its reference output.
            ProgramFailed: the program crashed or timed out.
        """
        executable = self._executable(module)
        with self._lock:
            copy = self._store / f"{len(self._baselines)}-{executable.name}"
        shutil.copy2(executable, copy)
        timing = time_variants(
            {"baseline": copy}, stop=self.stop, clock=self.clock, quantile=self.quantile,
            confidence=self.confidence, timeout=self.timeout, **self._how_to_run(module),
        )  # fmt: skip
        seconds = timing.seconds("baseline")
        with self._lock:
            self._baselines[module.benchmark] = (copy, seconds)
        module.extra["runtime_noise"] = timing.spread("baseline")
        module.extra["runtime_samples"] = timing.samples[0].tolist()
        return seconds

    def cost(self, module: CompiledModule) -> float:
        """Seconds the program takes: its baseline's time × the measured ratio (see the class).

        Raises:
            ValueError: the module was not linked (no executable).
            ValidationFailed: the program printed something other than its reference output.
            ProgramFailed: the program (or its baseline) crashed or timed out.
        """
        with self._lock:
            known = self._baselines.get(module.benchmark)
        if known is None:
            return self.use_baseline(module)
        baseline, seconds = known
        timing = time_variants(
            {"baseline": baseline, "variant": self._executable(module)}, baseline="baseline", stop=self.stop,
            clock=self.clock, quantile=self.quantile, confidence=self.confidence, timeout=self.timeout,
            **self._how_to_run(module),
        )  # fmt: skip
        ratio = timing.ratio("variant")
        module.extra["runtime_ratio"] = ratio.record()
        module.extra["runtime_resolvable"] = ratio.resolvable
        module.extra["runtime_rounds"] = timing.rounds
        module.extra["runtime_noise"] = timing.spread("variant")
        module.extra["runtime_samples"] = timing.samples[timing.index("variant")].tolist()
        return seconds * ratio.estimate

    @staticmethod
    def _executable(module: CompiledModule) -> Path:
        if module.executable_path is None:
            raise ValueError(f"{module.benchmark}: the runtime reward needs the linked program")
        return module.executable_path

    @staticmethod
    def _how_to_run(module: CompiledModule) -> dict:
        program = module.program
        return {
            "args": program.run_args if program else (),
            "cwd": program.directory if program and program.directory else module.workdir,
            "expected_output": program.expected_output if program else None,
        }
