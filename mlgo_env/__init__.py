"""mlgo-env: Gymnasium environments over real LLVM MLGO decisions.

>>> import gymnasium as gym
>>> import mlgo_env  # registers the environments
>>> env = gym.make("mlgo/Inlining-v0", reward="size")  # doctest: +SKIP
"""

from __future__ import annotations

import importlib.metadata

from gymnasium.envs.registration import register

from mlgo_env.tasks import InliningTask, RegallocEvictionTask, RegallocPriorityTask

__version__ = importlib.metadata.version("mlgo-env")

__all__ = ["__version__"]

# Every environment is registered here, once; the MLGO tasks name their own ids.
register(id=InliningTask.env_id, entry_point="mlgo_env.envs.inlining:InliningEnv")
register(id=RegallocEvictionTask.env_id, entry_point="mlgo_env.envs.regalloc:RegallocEvictionEnv")
register(id=RegallocPriorityTask.env_id, entry_point="mlgo_env.envs.regalloc:RegallocPriorityEnv")
register(id="mlgo/TransformSchedule-v0", entry_point="mlgo_env.transform.env:TransformScheduleEnv")
