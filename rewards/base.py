"""The reward interface: a reward measures a cost of a compiled module; lower cost is better.

The environment turns a cost into a reward by normalising it against the same module compiled
with LLVM's own heuristic: ``reward = (baseline_cost - cost) / baseline_cost`` (the relative
improvement), so rewards are comparable across programs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

from mlgo_env.artifacts import Artifact, CompiledModule
from rewards.wire import WireOption

__all__ = ["REWARD_ON_ERROR", "Reward", "TargetCpuReward", "relative_improvement"]

REWARD_ON_ERROR = -1.0
"""The reward of an episode that ends in an error (a crash, a timeout, a dead worker): as bad as
doubling the cost, so a policy learns to avoid errors without their reward dwarfing the others."""


class Reward(ABC):
    """A cost of a compiled module; subclasses set `name`, `requires` and implement `cost`.

    Attributes:
        name: registry name.
        requires: the artifacts `cost` reads.
        deterministic: the same object always gets the same cost.
        platform_dependent: the cost depends on the machine it is measured on.
        unit: unit of the cost, for tables.
        wire_options: the constructor's options a client of the compiler service may set, with
            their types and bounds (`rewards.wire`); every other option is local-only.
    """

    name: ClassVar[str]
    requires: ClassVar[Artifact] = Artifact.OBJECT
    deterministic: ClassVar[bool] = True
    platform_dependent: ClassVar[bool] = False
    unit: ClassVar[str] = ""
    wire_options: ClassVar[Mapping[str, WireOption]] = {}
    reward_on_error: float = REWARD_ON_ERROR

    @abstractmethod
    def cost(self, module: CompiledModule) -> float:
        """The cost of `module` (lower is better)."""

    def reward(self, cost: float, baseline_cost: float) -> float:
        """Reward of `cost` against the default heuristic's `baseline_cost`."""
        return relative_improvement(cost, baseline_cost)

    def target_options(self) -> dict[str, Any]:
        """The options (JSON values) that make an instance on another machine compute the same cost.

        What this instance took from the machine it was built on (its target CPU, its caches);
        none for a reward that takes nothing from it.
        """
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class TargetCpuReward(Reward):
    """A cost predicted for one CPU (a model of it, not a measurement): the target is explicit.

    Args:
        mcpu: LLVM's name of the target CPU (``znver4``, ``skylake``); None: this host's
            (`mlgo_env.machine.host_mcpu`), resolved here, once.

    Attributes:
        mcpu: the target CPU; subclasses record it with every cost they compute.
        target_from_host: the target was this host's by default rather than given.

    Raises:
        ValueError: `mcpu` is None and LLVM does not name this host's CPU.
    """

    def __init__(self, mcpu: str | None = None) -> None:
        from mlgo_env import machine  # imported here: `import rewards` stays light

        self.target_from_host = mcpu is None
        self.mcpu = mcpu or machine.host_mcpu()
        if self.mcpu == machine.UNKNOWN:
            raise ValueError(f"LLVM does not name this host's CPU; give {self.name} its target (mcpu=...)")

    @property
    def platform_dependent(self) -> bool:  # type: ignore[override]
        """Whether the cost depends on the machine computing it: only while its target is that machine's."""
        return self.target_from_host

    def target_options(self) -> dict[str, Any]:
        """The target CPU: ``{"mcpu": ...}``."""
        return {"mcpu": self.mcpu}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, mcpu={self.mcpu!r})"


def relative_improvement(cost: float, baseline_cost: float) -> float:
    """(baseline - cost) / baseline: 0.05 means 5% cheaper than the baseline."""
    if baseline_cost == 0:
        return 0.0 if cost == 0 else -1.0
    return (baseline_cost - cost) / baseline_cost
