"""Kernel time: seconds per call of a payload's kernel, timed inside the program (`mlgo_env.transform`).

The payloads of the Transform-dialect environment time each kernel call themselves and print
one ``mlgo-time`` line per call; this cost is the minimum over every call of `repeats` runs,
which excludes process start-up, with the spread kept as the noise estimate.
"""

from __future__ import annotations

from typing import ClassVar

from mlgo_env.artifacts import Artifact, CompiledModule
from mlgo_env.errors import CompilerError
from mlgo_env.transform.output import KernelTiming, parse_output, run_tool
from rewards.base import Reward

__all__ = ["KernelTimeReward"]


class KernelTimeReward(Reward):
    """Seconds per kernel call measured inside the program: the minimum over `repeats` runs.

    Each run makes the payload's timed calls (10 in the bundled payloads); the noise estimate
    goes to ``module.extra["timing"]`` as a `KernelTiming`.

    Args:
        repeats: how many times the executable runs.
        timeout: seconds allowed to one run.
    """

    name = "kernel-time"
    requires: ClassVar[Artifact] = Artifact.OBJECT | Artifact.EXECUTABLE
    deterministic = False
    platform_dependent = True
    unit = "s"

    def __init__(self, repeats: int = 3, timeout: float = 60.0) -> None:
        if repeats < 1:
            raise ValueError(f"repeats must be at least 1, got {repeats}")
        self.repeats = repeats
        self.timeout = timeout

    def cost(self, module: CompiledModule) -> float:
        """The best per-call time in seconds; records the `Timing` in ``module.extra``."""
        if module.executable_path is None:
            raise ValueError("kernel-time needs an executable (Artifact.EXECUTABLE)")
        command = [str(module.executable_path)]
        times = [
            t
            for _ in range(self.repeats)
            for t in parse_output(run_tool(command, self.timeout, "the program", CompilerError)).times
        ]
        timing = KernelTiming.of(times)
        module.extra["timing"] = timing
        return timing.best
