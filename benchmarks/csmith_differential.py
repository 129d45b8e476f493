"""csmith differential run at scale: random inlining and eviction decisions vs -O0 on N programs.

Any difference is reported with the csmith seed and decision seed that reproduce it
(``mlgo-env csmith -n 1 --seed SEED``). The test suite runs a handful; this runs many.

Usage: ``python benchmarks/csmith_differential.py [--quick] [--json PATH] [--count N]``
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import tyro
from rich.console import Console

from mlgo_env.csmith import run_differential


@dataclass
class Args:
    quick: bool = False
    """20 programs instead of --count"""
    json: Path | None = None
    """write the per-case results here"""
    count: int = 300
    """programs to generate"""
    seed: int = 1000
    """first csmith seed"""


def main(args: Args) -> dict:
    """Generate, compile with random decisions, compare, report."""
    report = run_differential(20 if args.quick else args.count, args.seed, progress=True)
    Console().print(report.table())
    results = report.to_json()
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    main(tyro.cli(Args))
