"""Decision labels: the decisions chosen for each program with the observations a policy sees.

`agents/search.py` writes them (the best decisions its search found), behavioural cloning reads
them (``--teacher PATH.npz``) and replays a teacher's decisions with `record_labels`. The file is
an ``.npz`` of stacked observations (``obs.<feature>``), ``actions`` and each decision's
``programs``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import numpy as np

from mlgo_env.compilation import CompileOptions
from mlgo_env.corpus import Benchmark
from mlgo_env.episode import Trajectory, run_episode
from mlgo_env.tasks import get_task

__all__ = ["load_labels", "record_labels", "save_labels"]


def record_labels(benchmark: Benchmark, actions: list[int], options: CompileOptions) -> Trajectory:
    """Replay `actions` without ``include_default``: the observations exactly as a policy sees them.

    Raises:
        RuntimeError: the replay asked another number of decisions than `actions` holds.
    """
    answers = iter(actions)
    trajectory = run_episode(benchmark, get_task("inlining"), lambda observation: next(answers, 0), options=options)
    if trajectory.decisions != len(actions):
        raise RuntimeError(f"{benchmark.name}: the replay asked {trajectory.decisions} decisions, not {len(actions)}")
    return trajectory


def save_labels(
    path: Path, programs: list[str], actions: list[list[int]], observations: list[dict[str, np.ndarray]]
) -> None:
    """Write each program's decisions and observations, stacked, as ``.npz``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {f"obs.{name}": np.concatenate([o[name] for o in observations]) for name in observations[0]}
    arrays["actions"] = np.concatenate([np.asarray(a, dtype=np.int64) for a in actions])
    arrays["programs"] = np.concatenate([np.full(len(a), p) for p, a in zip(programs, actions, strict=True)])
    np.savez_compressed(path, **cast(dict[str, Any], arrays))


def load_labels(path: Path) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The observations and actions written by `save_labels`."""
    with np.load(path) as data:
        observations = {key.removeprefix("obs."): data[key] for key in data.files if key.startswith("obs.")}
        return observations, data["actions"]
