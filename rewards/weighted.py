"""Composition of rewards: a weighted sum in log space, so parts in different units mix safely."""

from __future__ import annotations

import math
from collections.abc import Sequence

from mlgo_env.artifacts import Artifact, CompiledModule
from rewards.base import Reward

__all__ = ["WeightedSum"]


class WeightedSum(Reward):
    """Combines parts as cost = Π costᵢ^wᵢ, i.e. log cost = Σ wᵢ·log costᵢ.

    Normalised against the baseline this gives reward = 1 - Π (costᵢ/baselineᵢ)^wᵢ, which to
    first order is Σ wᵢ·rewardᵢ (the weighted sum of each part's relative improvement) and, unlike
    a sum of raw costs, does not depend on the parts' units (bytes, cycles, seconds).
    """

    name = "weighted"

    def __init__(self, parts: Sequence[tuple[float, Reward]]) -> None:
        if not parts:
            raise ValueError("WeightedSum needs at least one (weight, reward) pair")
        self.parts = list(parts)

    @property
    def requires(self) -> Artifact:  # type: ignore[override]
        """Union of what every part needs."""
        needed = Artifact.OBJECT
        for _, part in self.parts:
            needed |= part.requires
        return needed

    @property
    def deterministic(self) -> bool:  # type: ignore[override]
        """Deterministic only if every part is."""
        return all(part.deterministic for _, part in self.parts)

    def cost(self, module: CompiledModule) -> float:
        """Π costᵢ^wᵢ over the parts (costs must be positive)."""
        log_cost = 0.0
        for weight, part in self.parts:
            part_cost = part.cost(module)
            if part_cost <= 0:
                raise ValueError(f"{part.name} cost {part_cost} is not positive; cannot combine in log space")
            log_cost += weight * math.log(part_cost)
        return math.exp(log_cost)
