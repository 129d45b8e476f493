"""Compiled variants of one program: the plain compile and one linked compile per policy.

The evaluation's eviction part and the reward ablation compile each program this way, then time
the executables (`agents.lib.timing`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from mlgo_env.artifacts import Artifact
from mlgo_env.compilation import CompileOptions, compile_baseline
from mlgo_env.corpus import Benchmark
from mlgo_env.episode import run_episode
from mlgo_env.onnx_policy import OnnxPolicy
from mlgo_env.policies import builtin_policy
from mlgo_env.scoring import Scorer
from mlgo_env.tasks import get_task
from mlgo_env.toolchain import get_toolchain
from rewards.size import text_size

__all__ = ["Variant", "compile_variants", "make_policy"]


@dataclass
class Variant:
    """One compile of a program: its executable, size and (optionally) predicted reward."""

    executable: Path
    text_size: int
    predicted: float | None = None
    detail: dict | None = None


def make_policy(spec: str | bytes, task: str, seed: int) -> Callable | str:
    """A policy callable for `run_episode` from an ONNX model's bytes, or a built-in name as is."""
    if isinstance(spec, bytes):
        return OnnxPolicy(spec)
    builtin_policy(spec, get_task(task), seed)  # fail early on a name the task lacks
    return spec


def compile_variants(
    benchmark: Benchmark,
    task: str,
    policies: Mapping[str, str | bytes],
    opt_level: str,
    workdir: Path,
    scorer: Scorer | None = None,
    seed: int = 0,
    workers: int = 2,
) -> dict[str, Variant]:
    """Link the default compile and one compile per policy into `workdir` (scored if `scorer`).

    The key ``"default"`` is the compile without any advisor (LLVM's heuristic).
    """
    toolchain = get_toolchain()
    artifacts = Artifact.OBJECT | Artifact.EXECUTABLE
    options = CompileOptions(opt_level=opt_level, artifacts=artifacts)
    variants: dict[str, Variant] = {}
    base_dir = workdir / "default"
    base_dir.mkdir(parents=True, exist_ok=True)
    module = compile_baseline(toolchain, benchmark, options, base_dir)
    assert module.executable_path is not None
    variants["default"] = Variant(module.executable_path, text_size(module.object_path))

    def one(name: str, spec: str | bytes) -> tuple[str, Variant]:
        keep = workdir / name
        trajectory = run_episode(
            benchmark, task, make_policy(spec, task, seed), seed=seed, scorer=scorer,
            options=options, keep_dir=keep, record_observations=False,
        )  # fmt: skip
        assert trajectory.executable_path is not None
        predicted = trajectory.score.reward if trajectory.score is not None else None
        return name, Variant(
            trajectory.executable_path, trajectory.text_size, predicted, dict(trajectory.extra) or None
        )

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for name, variant in pool.map(lambda item: one(*item), policies.items()):
            variants[name] = variant
    return variants
