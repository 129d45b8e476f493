"""Policies that run next to the compiler in rollout mode: built-ins, and uploaded ONNX models.

A policy maps one observation (feature name → array) to an action. Built-ins:

- ``llvm-default``: LLVM's own decision (inlining only; needs ``include_default``),
- ``random``: a uniformly random legal action (seeded),
- ``always`` / ``never``: inline every / no call site; for eviction, evict the first legal
  register / evict nothing.

Built-ins other than ``random`` are a `Rule`: data that the native rollout loop
(`mlgo_env.rollout_loop`) runs on the raw record, and that `RulePolicy` runs on a decoded
observation, with the same decisions. `replay_policy` answers a recorded action sequence.

Any other policy is data, not code: an ONNX model whose inputs are the observation's features
(names, dtypes and shapes as LLVM declares them) and whose output is the action, checked and run
by `mlgo_env.onnx_policy.OnnxPolicy`. `agents/` exports them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlgo_env.errors import InvalidAction, InvalidPolicy
from mlgo_env.tasks import InliningTask, RegallocEvictionTask, RegallocPriorityTask, Task

__all__ = ["Policy", "BUILTIN_POLICIES", "Rule", "RulePolicy", "builtin_policy", "replay_policy"]

Observation = dict[str, np.ndarray]
Policy = Callable[[Observation], Any]
BUILTIN_POLICIES = ("llvm-default", "random", "always", "never")


@dataclass(frozen=True)
class Rule:
    """What a built-in policy does, as data a loop can run on the raw record.

    Attributes:
        kind: ``constant`` (answer `value`), ``feature`` (answer the value of `feature`: LLVM's
            own decision), ``first_legal`` / ``last_legal`` (the first / last index the mask
            `feature` allows; the last is "evict nothing" when legal), ``replay`` (answer
            `values` in order, each checked against the mask `feature` when there is one).
        feature: the feature the rule reads ("" for none).
        value: the constant answer.
        values: the replayed answers.
    """

    kind: str
    feature: str = ""
    value: int | float = 0
    values: tuple[int | float, ...] = ()


class RulePolicy:
    """A `Rule` as a policy on decoded observations (the Python loop's form of a built-in).

    A replaying policy keeps its place: use one per episode.
    """

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        self._next = 0

    def __call__(self, observation: Observation) -> int | float:
        """The rule's action for one decision."""
        rule = self.rule
        if rule.kind == "constant":
            return rule.value
        if rule.kind == "replay":
            if self._next >= len(rule.values):
                raise InvalidAction(f"the replayed sequence has {len(rule.values)} actions but the compiler asks more")
            self._next += 1
            return rule.values[self._next - 1]
        if rule.feature not in observation:
            raise InvalidPolicy(
                f"the policy reads {rule.feature!r}, which this channel does not send (llvm-default needs "
                "include_default=True)"
            )
        if rule.kind == "feature":
            return int(observation[rule.feature].reshape(-1)[0])
        legal = np.flatnonzero(observation[rule.feature].reshape(-1))
        if legal.size == 0:
            raise InvalidAction("no legal action in the mask")
        return int(legal[0] if rule.kind == "first_legal" else legal[-1])


def builtin_policy(name: str, task: Task, seed: int | None = None) -> Policy:
    """The built-in policy `name` for `task` (a `RulePolicy` for all but ``random``)."""
    rng = np.random.default_rng(seed)
    if name == "llvm-default":
        if task.default_feature is None:
            raise InvalidPolicy(
                f"LLVM sends no default decision for {task.name}; llvm-default exists for inlining only "
                "(compare with the plain compile, which the baseline reward uses)"
            )
        return RulePolicy(Rule("feature", feature=task.default_feature))
    if isinstance(task, InliningTask):
        if name in ("always", "never"):
            return RulePolicy(Rule("constant", value=int(name == "always")))
        if name == "random":
            return lambda observation: int(rng.integers(0, 2))
    elif isinstance(task, RegallocEvictionTask):
        if name == "random":
            return lambda observation: int(rng.choice(np.flatnonzero(task.action_mask(observation))))
        if name in ("always", "never"):  # evict from the first legal register / evict nothing
            return RulePolicy(Rule("first_legal" if name == "always" else "last_legal", feature=_MASK))
    elif isinstance(task, RegallocPriorityTask):
        if name == "random":
            return lambda observation: float(rng.uniform(0.0, 1e4))
    raise InvalidPolicy(f"no built-in policy {name!r} for {task.name}; choose from {BUILTIN_POLICIES}")


def replay_policy(task: Task, actions: Sequence[int | float] | np.ndarray) -> RulePolicy:
    """A policy that answers `actions` in order (a recorded episode again), checked against the mask."""
    values = tuple(np.asarray(actions).reshape(-1).tolist())
    return RulePolicy(Rule("replay", feature=_MASK if isinstance(task, RegallocEvictionTask) else "", values=values))


_MASK = "mask"
"""The eviction feature marking legal candidates (`RegallocEvictionTask.action_mask`)."""
