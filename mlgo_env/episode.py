"""Whole episodes in one call: a policy answers every decision of one compile (rollout mode).

The loop runs in native code where it is built (`mlgo_env.rollout_loop`).

This is what the service's ``Rollout`` RPC runs next to the compiler, and what scripts use to
make variants of a benchmark without a service.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from mlgo_env.artifacts import Artifact
from mlgo_env.compilation import CompileOptions, InteractiveCompile
from mlgo_env.corpus import Benchmark
from mlgo_env.policies import Policy, builtin_policy
from mlgo_env.rollout_loop import Recording, drive
from mlgo_env.scoring import Score, Scorer
from mlgo_env.tasks import Task, get_task
from mlgo_env.toolchain import Toolchain, get_toolchain
from rewards.size import object_sizes

__all__ = ["EpisodeRecord", "Trajectory", "run_episode"]


@dataclass
class EpisodeRecord:
    """What every finished episode reports, wherever it ran: decisions, sizes, compile time."""

    benchmark: str
    observations: dict[str, np.ndarray]
    """Each feature stacked over decisions: shape ``(decisions, *declared shape)``."""
    actions: np.ndarray
    decisions: int
    text_size: int
    object_size: int
    compile_seconds: float


@dataclass
class Trajectory(EpisodeRecord):
    """An episode run here: the record plus the task, the score, and the kept files."""

    task: str = ""
    score: Score | None = None
    object_path: Path | None = None
    executable_path: Path | None = None
    extra: dict[str, object] = field(default_factory=dict)


def run_episode(
    benchmark: Benchmark,
    task: Task | str,
    policy: Policy | str,
    *,
    seed: int | None = None,
    scorer: Scorer | None = None,
    toolchain: Toolchain | None = None,
    options: CompileOptions | None = None,
    include_default: bool = False,
    keep_dir: Path | None = None,
    record_observations: bool = True,
    native: bool = True,
) -> Trajectory:
    """Compile `benchmark` with `policy` answering every decision of `task`.

    Args:
        benchmark: the module to compile.
        task: a `Task` or its name.
        policy: a callable (observation → action) or a built-in policy name.
        seed: seed of the built-in random policy.
        scorer: scores the result against the baseline (None: no reward).
        toolchain: the LLVM version (default: `get_toolchain()`).
        options: compile options (default: the scorer's); the scorer's artifacts are added, and
            the optimisation level must be the scorer's, so the reward compares like with like.
        include_default: send LLVM's default decision (inlining), needed by ``llvm-default``.
        keep_dir: copy the object (and executable, if prepared) into this folder.
        record_observations: keep every observation (False saves memory on large modules).
        native: run the native rollout loop where it is built (False: the Python loop; same decisions).
    """
    task = get_task(task) if isinstance(task, str) else task
    if isinstance(policy, str):
        include_default = include_default or policy == "llvm-default"
        policy = builtin_policy(policy, task, seed)
    toolchain = toolchain or get_toolchain()
    if options is None:
        options = scorer.options if scorer is not None else CompileOptions()
    elif scorer is not None:
        if options.opt_level != scorer.options.opt_level:
            raise ValueError(
                f"the episode compiles at {options.opt_level} but the scorer's baseline at {scorer.options.opt_level}"
            )
        options = replace(options, artifacts=options.artifacts | scorer.artifacts)
    with InteractiveCompile(toolchain, benchmark, task, options, include_default) as compile_:
        compile_.launch()
        recording = Recording(compile_.header, record_observations)
        compile_.run_loop(
            lambda channel: drive(channel, policy, task, recording, toolchain.version, include_default, native)
        )
        artifacts = options.artifacts if scorer is None else scorer.artifacts
        module = compile_.result(artifacts)
        text_size, object_size = object_sizes(module.object_path)
        trajectory = Trajectory(
            benchmark=benchmark.uri,
            task=task.name,
            observations=recording.observations(task, toolchain.version, include_default),
            actions=recording.actions[: recording.count].copy(),
            decisions=compile_.decisions,
            text_size=text_size,
            object_size=object_size,
            compile_seconds=compile_.compile_seconds,
        )
        if scorer is not None:
            trajectory.score = scorer.score(module, benchmark)
            trajectory.extra.update(module.extra)
        if keep_dir is not None:
            keep_dir.mkdir(parents=True, exist_ok=True)
            trajectory.object_path = Path(shutil.copy2(module.object_path, keep_dir))
            if module.executable_path is not None and Artifact.EXECUTABLE in artifacts:
                trajectory.executable_path = Path(shutil.copy2(module.executable_path, keep_dir))
    return trajectory
