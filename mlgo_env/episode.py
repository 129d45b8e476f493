"""Whole episodes in one call: a policy answers every decision of one compile (rollout mode).

This is what the service's ``Rollout`` RPC runs next to the compiler, and what scripts use to
make variants of a benchmark without a service.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from mlgo_env.compilation import CompileOptions, InteractiveCompile
from mlgo_env.corpus import Benchmark
from mlgo_env.policies import Policy, builtin_policy
from mlgo_env.scoring import Score, Scorer
from mlgo_env.tasks import Task, get_task
from mlgo_env.toolchain import Toolchain, get_toolchain
from rewards.base import Artifact
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


def _stack(observations: list[dict[str, np.ndarray]], header_specs: list[tuple[str, np.dtype, tuple]]) -> dict:
    return {
        name: (np.stack([o[name] for o in observations]) if observations else np.zeros((0, *shape), dtype=dtype))
        for name, dtype, shape in header_specs
    }


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
    observations: list[dict[str, np.ndarray]] = []
    actions: list[float] = []
    with InteractiveCompile(toolchain, benchmark, task, options, include_default) as compile_:
        observation = compile_.start()
        while observation is not None:
            action = policy(observation)
            if record_observations:
                observations.append(observation)
            actions.append(action)
            observation = compile_.step(action)
        specs = [(f.name, f.dtype, f.shape) for f in compile_.header.features]
        artifacts = options.artifacts if scorer is None else scorer.artifacts
        module = compile_.result(artifacts)
        text_size, object_size = object_sizes(module.object_path)
        trajectory = Trajectory(
            benchmark=benchmark.uri,
            task=task.name,
            observations=_stack(observations, specs),
            actions=np.asarray(actions, dtype=compile_.header.advice.dtype),
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
