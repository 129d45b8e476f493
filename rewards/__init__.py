"""Pluggable rewards: a registry of named costs, weighted sums, and third-party entry points.

>>> import rewards
>>> "size" in rewards.available()
True
>>> rewards.get("size").name
'size'

Third-party rewards register under the entry-point group ``mlgo_env.rewards``
(``name = "package.module:RewardClass"``).

A reward that models a CPU (``mca``, ``perf_model``) targets this host's unless told another;
a job whose rewards are computed on other machines (Ray workers) sends `pinned_options`, so every
machine computes them for the same target.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Mapping
from importlib.metadata import entry_points
from typing import Any

from mlgo_env.artifacts import Artifact, CompiledModule, ProgramInfo
from rewards.base import Reward, TargetCpuReward, relative_improvement
from rewards.size import SizeReward
from rewards.weighted import WeightedSum
from rewards.wire import WireOption, WireValue, check_options

__all__ = [
    "Artifact",
    "CompiledModule",
    "ProgramInfo",
    "Reward",
    "TargetCpuReward",
    "WeightedSum",
    "available",
    "check_wire_options",
    "get",
    "pinned_options",
    "register",
    "relative_improvement",
    "resolve",
    "wire_options",
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
    return _factory(name)(**options)


def _factory(name: str) -> Callable[..., Reward]:
    _load_entry_points()
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, _REGISTRY, n=3)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise KeyError(f"No reward named {name!r}; available: {', '.join(sorted(_REGISTRY))}.{hint}")
    return _REGISTRY[name]


def wire_options(name: str) -> Mapping[str, WireOption]:
    """The options of reward `name` a client of the compiler service may set (none for a factory function).

    Raises:
        KeyError: no reward of that name.
    """
    factory = _factory(name)
    cls = factory.load() if isinstance(factory, _Imported) else factory
    return cls.wire_options if isinstance(cls, type) and issubclass(cls, Reward) else {}


def check_wire_options(
    name: str, options: Mapping[str, object], max_seconds: float | None = None
) -> dict[str, WireValue]:
    """A client's `options` for reward `name`, if it declared each of them and each is in bounds (`rewards.wire`).

    Args:
        name: a registered reward.
        options: what the client sent.
        max_seconds: the service's cap on options that are time limits.

    Raises:
        KeyError: no reward of that name.
        ValueError: an option the reward does not let clients set, or a value out of bounds.
    """
    return check_options(name, wire_options(name), options, max_seconds)


def pinned_options(name: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """`options` of the reward `name`, plus what it would take from this machine (its target CPU, caches).

    Resolved here, once: another machine given these options computes the cost for this one's
    target instead of its own (see `Reward.target_options`).

    Raises:
        KeyError: no reward of that name.
    """
    given = dict(options or {})
    return given | get(name, **given).target_options()


def resolve(spec: str | Reward | dict[str, float]) -> Reward:
    """A reward from a name, an instance, or ``{name: weight}`` (a weighted sum)."""
    if isinstance(spec, Reward):
        return spec
    if isinstance(spec, str):
        return get(spec)
    if isinstance(spec, dict):
        return WeightedSum([(weight, get(name)) for name, weight in spec.items()])
    raise TypeError(f"reward must be a name, a Reward or a {{name: weight}} dict, not {type(spec).__name__}")


class _Imported:
    """A reward class imported on first use (numpy, scipy, capstone, torch: not on `import rewards`)."""

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name

    def load(self) -> type[Reward]:
        """The class (importing its module)."""
        return getattr(importlib.import_module(self.module), self.name)

    def __call__(self, **options: Any) -> Reward:
        return self.load()(**options)


register("size", SizeReward)
register("mca", _Imported("rewards.mca", "McaReward"))
register("perf_model", _Imported("rewards.perf_model", "PerfModelReward"))
register("runtime", _Imported("rewards.runtime", "RuntimeReward"))
register("kernel-time", _Imported("rewards.kernel_time", "KernelTimeReward"))


def _learned_model_shipped() -> bool:
    """Whether a learned cost model (``fast-<mcpu>.npz``, one per CPU) is installed (found without importing torch)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("mlgo_env")
    locations = spec.submodule_search_locations if spec else None
    if not locations:
        return False
    return any((Path(locations[0]) / "blocks" / "data").glob("fast-*.npz"))


# Registered only when a trained model ships with the package; imported on first use.
if _learned_model_shipped():
    register("learned", _Imported("rewards.learned", "LearnedReward"))
