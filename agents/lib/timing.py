"""Measured runtime of compiled variants: the one place the agents time executables.

Variants are timed by the runtime ground truth (`mlgo_env.timing`): interleaved, randomly ordered
rounds after a warm-up, until every variant's ratio to the default is known to ±1% or the
budget is spent, each ratio with its bootstrap interval. The evaluation and the ablation both
call `time_variants`, so they measure alike.
"""

from __future__ import annotations

from typing import Any

from agents.lib.variants import Variant
from mlgo_env.corpus import Benchmark
from mlgo_env.timing import StopRule, Timing
from mlgo_env.timing import time_variants as time_executables

__all__ = ["BUDGET_S", "changes", "time_variants"]

BUDGET_S = 120.0
"""Seconds of timing per program at most (rounds stop earlier once every ratio is known to ±1%)."""


def time_variants(
    benchmark: Benchmark, variants: dict[str, Variant], repeats: int, warmup: int = 1, budget_s: float = BUDGET_S
) -> Timing:
    """Interleaved timing of every variant against ``variants["default"]``: at least `repeats` rounds."""
    program = benchmark.program
    return time_executables(
        {name: variant.executable for name, variant in variants.items()},
        baseline="default",
        args=program.run_args if program else (),
        cwd=program.directory if program else None,
        expected_output=program.expected_output if program else None,
        stop=StopRule(target_halfwidth=0.01, budget_s=budget_s, min_rounds=max(2, repeats), warmup=warmup),
    )


def changes(timing: Timing) -> dict[str, dict[str, Any]]:
    """Per variant: its seconds, run-to-run spread, and runtime change vs the default with its interval.

    ``measured_change`` is 1 − time ratio (0.03: 3% faster); ``resolvable`` says whether the
    interval excludes no change.
    """
    out: dict[str, dict[str, Any]] = {}
    for name in timing.names:
        ratio = timing.ratio(name)
        out[name] = {
            "seconds": timing.seconds(name),
            "spread": timing.spread(name),
            "measured_change": 1.0 - ratio.estimate,
            "interval": [1.0 - ratio.high, 1.0 - ratio.low],
            "resolvable": ratio.resolvable if name != "default" else False,
        }
    return out
