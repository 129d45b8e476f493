"""Scores a compiled module with a reward, normalised against LLVM's own heuristic (the baseline).

The baseline is the same benchmark compiled with the same options and no advisor; its cost is
computed once per benchmark and reused.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from mlgo_env.artifacts import Artifact, CompiledModule
from mlgo_env.compilation import CompileOptions, compile_baseline
from mlgo_env.corpus import Benchmark
from mlgo_env.toolchain import Toolchain
from rewards.base import Reward

__all__ = ["Score", "Scorer"]


@dataclass(frozen=True)
class Score:
    """A module's cost, its baseline's cost, and the reward (relative improvement)."""

    cost: float
    baseline_cost: float
    reward: float


class Scorer:
    """Computes `Score`s for one reward; baseline costs are cached per benchmark and options."""

    def __init__(self, reward: Reward, toolchain: Toolchain, options: CompileOptions) -> None:
        self.reward = reward
        self.toolchain = toolchain
        self.options = CompileOptions(
            opt_level=options.opt_level,
            artifacts=options.artifacts | reward.requires,
            decision_timeout=options.decision_timeout,
            compile_timeout=options.compile_timeout,
        )
        self._baselines: dict[str, float] = {}
        self._benchmark_locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    @property
    def artifacts(self) -> Artifact:
        """What the reward needs prepared."""
        return self.options.artifacts

    def baseline_cost(self, benchmark: Benchmark) -> float:
        """Cost of `benchmark` compiled by LLVM's heuristic (cached; computed once even when asked at once)."""
        with self._lock:
            if benchmark.uri in self._baselines:
                return self._baselines[benchmark.uri]
            benchmark_lock = self._benchmark_locks.setdefault(benchmark.uri, threading.Lock())
        with benchmark_lock:
            if benchmark.uri in self._baselines:  # another thread computed it while this one waited
                return self._baselines[benchmark.uri]
            workdir = Path(tempfile.mkdtemp(prefix="mlgo-baseline-"))
            try:
                cost = self.reward.cost(compile_baseline(self.toolchain, benchmark, self.options, workdir))
            finally:
                shutil.rmtree(workdir, ignore_errors=True)
            with self._lock:
                self._baselines[benchmark.uri] = cost
        return cost

    def score(self, module: CompiledModule, benchmark: Benchmark) -> Score:
        """Cost, baseline cost and reward of `module`.

        The baseline is scored first, so a reward that profiles a program once (``perf_model``)
        profiles LLVM's own build: the same executable every run, hence cached across processes.
        """
        baseline = self.baseline_cost(benchmark)
        cost = self.reward.cost(module)
        return Score(cost=cost, baseline_cost=baseline, reward=self.reward.reward(cost, baseline))
