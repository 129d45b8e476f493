"""Pluggable rewards: a registry of named costs, weighted sums, and third-party entry points.

>>> import rewards
>>> "size" in rewards.available()
True
>>> rewards.get("size").name
'size'

Third-party rewards register under the entry-point group ``mlgo_env.rewards``
(``name = "package.module:RewardClass"``).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from rewards.base import Artifact, CompiledModule, ProgramInfo, Reward, relative_improvement
from rewards.size import SizeReward
from rewards.weighted import WeightedSum

__all__ = [
    "Artifact",
    "CompiledModule",
    "ProgramInfo",
    "Reward",
    "WeightedSum",
    "available",
    "get",
    "register",
    "relative_improvement",
    "resolve",
]

ENTRY_POINT_GROUP = "mlgo_env.rewards"

_REGISTRY: dict[str, Callable[..., Reward]] = {}


def register(name: str, factory: Callable[..., Reward]) -> None:
    """Register `factory` (a Reward class or a callable returning one) under `name`."""
    _REGISTRY[name] = factory


def _load_entry_points() -> None:
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.name not in _REGISTRY:
            _REGISTRY[entry.name] = entry.load()


def available() -> list[str]:
    """Names of every registered reward (built-in and entry points), sorted."""
    _load_entry_points()
    return sorted(_REGISTRY)


def get(name: str, **options: Any) -> Reward:
    """A new reward instance of the registered `name`, built with `options`.

    Raises:
        KeyError: no reward of that name; the message lists close matches.
    """
    _load_entry_points()
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, _REGISTRY, n=3)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise KeyError(f"No reward named {name!r}; available: {', '.join(sorted(_REGISTRY))}.{hint}")
    return _REGISTRY[name](**options)


def resolve(spec: str | Reward | dict[str, float]) -> Reward:
    """A reward from a name, an instance, or ``{name: weight}`` (a weighted sum)."""
    if isinstance(spec, Reward):
        return spec
    if isinstance(spec, str):
        return get(spec)
    if isinstance(spec, dict):
        return WeightedSum([(weight, get(name)) for name, weight in spec.items()])
    raise TypeError(f"reward must be a name, a Reward or a {{name: weight}} dict, not {type(spec).__name__}")


register("size", SizeReward)
# Imported on first use: they pull in numpy, scipy and capstone, which `import rewards` should not.
register("mca", lambda **options: __import__("rewards.mca").mca.McaReward(**options))
register("perf_model", lambda **options: __import__("rewards.perf_model").perf_model.PerfModelReward(**options))
register("runtime", lambda **options: __import__("rewards.runtime").runtime.RuntimeReward(**options))


def _learned_model_shipped() -> bool:
    """Whether the learned cost model's checkpoint is installed (found without importing torch)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("mlgo_env")
    locations = spec.submodule_search_locations if spec else None
    if not locations:
        return False
    return (Path(locations[0]) / "blocks" / "data" / "costmodel.pt").is_file()


# Registered only when the trained model ships with the package; imported on first use (torch).
if _learned_model_shipped():
    register("learned", lambda **options: __import__("rewards.learned").learned.LearnedReward(**options))
