"""Which "default" is meant: plain -Oz (LLVM's inliner, no advisor) vs the ML advisor following
LLVM's own decision (``inlining_default``), next to never/always inlining, in .text bytes.

Every "vs default" figure of mlgo-env is relative to the plain compile (the environments'
baseline reward); this script measures how far the other reading of "default" is from it.

Usage: ``python benchmarks/baselines.py [--quick] [--json PATH]``
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tyro
from rich.console import Console
from rich.table import Table
from tqdm import tqdm

import rewards
from mlgo_env.compilation import CompileOptions
from mlgo_env.corpus import default_corpus
from mlgo_env.episode import run_episode
from mlgo_env.scoring import Scorer
from mlgo_env.toolchain import get_toolchain

POLICIES = ("llvm-default", "never", "always")


@dataclass
class Args:
    quick: bool = False
    """eight programs only"""
    json: Path | None = None
    """write the figures here as JSON"""
    opt_level: str = "-Oz"
    """optimisation level of every compile"""


def main(args: Args) -> dict:
    """Measure .text of every program under the plain compile and each policy."""
    toolchain = get_toolchain()
    corpus = default_corpus(toolchain, progress=True)
    benchmarks = corpus.benchmarks()[:: max(1, len(corpus) // 8)] if args.quick else corpus.benchmarks()
    scorer = Scorer(rewards.get("size"), toolchain, CompileOptions(opt_level=args.opt_level))
    per_program: dict[str, dict[str, float]] = {}
    for benchmark in tqdm(benchmarks, desc="programs", unit="program"):
        row = {"plain": scorer.baseline_cost(benchmark)}
        for policy in POLICIES:
            trajectory = run_episode(
                benchmark, "inlining", policy, scorer=scorer, toolchain=toolchain, record_observations=False
            )
            row[policy] = float(trajectory.text_size)
        per_program[benchmark.name] = row
    geomean = {
        policy: float(np.exp(np.mean([np.log(r[policy] / r["plain"]) for r in per_program.values()])))
        for policy in POLICIES
    }
    table = Table(title=f".text bytes at {args.opt_level}: plain compile vs the ML advisor with each policy")
    for column in ("program", "plain", *POLICIES):
        table.add_column(column, justify="left" if column == "program" else "right")
    for name, row in per_program.items():
        table.add_row(
            name, f"{row['plain']:,.0f}", *(f"{row[p]:,.0f} ({row[p] / row['plain'] - 1:+.1%})" for p in POLICIES)
        )
    table.add_row("[b]geomean vs plain", "", *(f"[b]{geomean[p] - 1:+.1%}" for p in POLICIES))
    Console().print(table)
    results = {"opt_level": args.opt_level, "geomean_ratio_vs_plain": geomean, "per_program": per_program}
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    main(tyro.cli(Args))
