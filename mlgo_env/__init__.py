"""mlgo-env: Gymnasium environments over real LLVM MLGO decisions.

>>> import gymnasium as gym
>>> import mlgo_env  # registers the environments
>>> env = gym.make("mlgo/Inlining-v0", reward="size")  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import importlib.metadata
from typing import TYPE_CHECKING, Any

from gymnasium.envs.registration import register

from mlgo_env.tasks import InliningTask, RegallocEvictionTask, RegallocPriorityTask

if TYPE_CHECKING:
    from mlgo_env.envs.vector import BatchedCompilerEnv

__version__ = importlib.metadata.version("mlgo-env")

__all__ = ["__version__"]


def _batched(env_id: str, num_envs: int = 1, **kwargs: Any) -> BatchedCompilerEnv:
    """``gymnasium.make_vec``'s default for an MLGO task: its environments on one stream (imported on use)."""
    from mlgo_env.envs.vector import BatchedCompilerEnv

    return BatchedCompilerEnv(env_id, num_envs, **kwargs)


# Every environment is registered here, once; the MLGO tasks name their own ids.
for _task, _entry_point in (
    (InliningTask, "mlgo_env.envs.inlining:InliningEnv"),
    (RegallocEvictionTask, "mlgo_env.envs.regalloc:RegallocEvictionEnv"),
    (RegallocPriorityTask, "mlgo_env.envs.regalloc:RegallocPriorityEnv"),
):
    register(id=_task.env_id, entry_point=_entry_point, vector_entry_point=functools.partial(_batched, _task.env_id))
register(id="mlgo/TransformSchedule-v0", entry_point="mlgo_env.transform.env:TransformScheduleEnv")
