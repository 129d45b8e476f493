"""The environment factory: a thunk that builds one monitored environment (one service each)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym

__all__ = ["make_env"]


def make_env(env_id: str, seed: int, **env_kwargs: Any) -> Callable[[], gym.Env]:
    """A thunk that builds one monitored environment (for ``SubprocVecEnv``: one service each)."""

    def thunk() -> gym.Env:
        from stable_baselines3.common.monitor import Monitor

        import mlgo_env  # noqa: F401 - registers the environments in the worker process

        env = gym.make(env_id, **env_kwargs)
        env.action_space.seed(seed)
        return Monitor(env)

    return thunk
