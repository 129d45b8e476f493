"""mlgo-env: Gymnasium environments over real LLVM MLGO decisions.

>>> import gymnasium as gym
>>> import mlgo_env  # registers the environments
>>> env = gym.make("mlgo/Inlining-v0", reward="size")  # doctest: +SKIP
"""

from __future__ import annotations

from gymnasium.envs.registration import register

__version__ = "0.1.0"

__all__ = ["__version__"]

register(id="mlgo/Inlining-v0", entry_point="mlgo_env.envs.inlining:InliningEnv")
register(id="mlgo/RegallocEviction-v0", entry_point="mlgo_env.envs.regalloc:RegallocEvictionEnv")
register(id="mlgo/RegallocPriority-v0", entry_point="mlgo_env.envs.regalloc:RegallocPriorityEnv")
register(id="mlgo/TransformSchedule-v0", entry_point="mlgo_env.transform.env:TransformScheduleEnv")
