"""Policies that run next to the compiler in rollout mode: built-ins, and uploaded ONNX models.

A policy maps one observation (feature name → array) to an action. Built-ins:

- ``llvm-default``: LLVM's own decision (inlining only; needs ``include_default``),
- ``random``: a uniformly random legal action (seeded),
- ``always`` / ``never``: inline every / no call site; for eviction, evict the first legal
  register / evict nothing.

Any other policy is data, not code: an ONNX model whose inputs are the observation's features
(names, dtypes and shapes as LLVM declares them) and whose output is the action, checked and run
by `mlgo_env.onnx_policy.OnnxPolicy`. `agents/` exports them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from mlgo_env.errors import InvalidPolicy
from mlgo_env.tasks import InliningTask, RegallocEvictionTask, RegallocPriorityTask, Task

__all__ = ["Policy", "BUILTIN_POLICIES", "builtin_policy"]

Observation = dict[str, np.ndarray]
Policy = Callable[[Observation], Any]
BUILTIN_POLICIES = ("llvm-default", "random", "always", "never")


def builtin_policy(name: str, task: Task, seed: int | None = None) -> Policy:
    """The built-in policy `name` for `task`."""
    rng = np.random.default_rng(seed)
    if name == "llvm-default":
        if task.default_feature is None:
            raise InvalidPolicy(
                f"LLVM sends no default decision for {task.name}; llvm-default exists for inlining only "
                "(compare with the plain compile, which the baseline reward uses)"
            )
        feature = task.default_feature

        def follow_default(observation: Observation) -> int:
            if feature not in observation:
                raise InvalidPolicy("llvm-default needs include_default=True")
            return int(observation[feature].reshape(-1)[0])

        return follow_default
    if isinstance(task, InliningTask):
        constant = {"always": 1, "never": 0}
        if name in constant:
            return lambda observation: constant[name]
        if name == "random":
            return lambda observation: int(rng.integers(0, 2))
    elif isinstance(task, RegallocEvictionTask):
        if name == "random":
            return lambda observation: int(rng.choice(np.flatnonzero(task.action_mask(observation))))
        if name == "never":
            return _evict_nothing(task)
        if name == "always":
            return _evict_first_legal(task)
    elif isinstance(task, RegallocPriorityTask):
        if name == "random":
            return lambda observation: float(rng.uniform(0.0, 1e4))
    raise InvalidPolicy(f"no built-in policy {name!r} for {task.name}; choose from {BUILTIN_POLICIES}")


def _evict_nothing(task: RegallocEvictionTask) -> Policy:
    def evict_nothing(observation: Observation) -> int:
        mask = task.action_mask(observation)
        return mask.size - 1 if mask[-1] else int(np.flatnonzero(mask)[-1])

    return evict_nothing


def _evict_first_legal(task: RegallocEvictionTask) -> Policy:
    def evict_first(observation: Observation) -> int:
        return int(np.flatnonzero(task.action_mask(observation))[0])

    return evict_first
