"""How fast the environments run: decisions per second, and episode wall time over the plain compile.

For each environment and benchmark module this measures
- the plain compile: the same module, flags and LLVM version with LLVM's own heuristic, no channel;
- step mode: the Gym API through the (embedded) gRPC service, one RPC per decision;
- rollout mode: the whole episode inside the service with a built-in policy, trajectory returned;
and reports ``ratio = episode wall time / plain compile wall time`` and decisions per second
(medians over repeats, runs interleaved). No reward is computed: reward costs are measured by
``benchmarks/reward_fidelity.py``.

Usage: ``python benchmarks/env_speed.py [--quick] [--json PATH]``
"""

from __future__ import annotations

import json
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import gymnasium as gym
import numpy as np
import tyro
from rich.console import Console
from rich.table import Table

import mlgo_env  # noqa: F401 - registers the environments
from mlgo_env.compilation import CompileOptions, compile_command
from mlgo_env.corpus import default_corpus
from mlgo_env.toolchain import get_toolchain

# Modules with many decisions of each kind in the bundled corpus (image_morph asks thousands of
# eviction decisions: the target case for step mode).
QUICK = {
    "mlgo/Inlining-v0": ["json_parse"],
    "mlgo/RegallocEviction-v0": ["image_morph"],
    "mlgo/RegallocPriority-v0": ["image_morph"],
}
FULL = {
    "mlgo/Inlining-v0": ["json_parse", "image_morph", "chacha20", "expr_eval", "sha256"],
    "mlgo/RegallocEviction-v0": ["image_morph", "stencil2d", "image_blur", "nbody", "sha256"],
    "mlgo/RegallocPriority-v0": ["image_morph", "stencil2d", "image_blur", "json_parse", "nbody"],
}


@dataclass
class Args:
    quick: bool = False
    """one module per environment, 2 repeats (about 2 minutes on 2 cores)"""
    json: Path | None = None
    """write the figures here as JSON"""
    repeats: int = 3
    """measurements per mode and module (the median is kept)"""
    envs: list[str] = field(default_factory=lambda: list(FULL))
    """environment ids to measure"""
    seed: int = 0
    """seed of the random policies"""


def plain_compile_seconds(benchmark_name: str, repeats: int) -> float:
    """Median wall time of the plain compile (LLVM's heuristics, no channel)."""
    toolchain = get_toolchain()
    benchmark = default_corpus(toolchain).benchmark(benchmark_name)
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        command = compile_command(toolchain, benchmark, Path(tmp) / "plain.o", CompileOptions(), [])
        for _ in range(repeats):
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def step_episode(env: gym.Env, benchmark: str, rng: np.random.Generator) -> tuple[float, int]:
    """Wall time and decisions of one step-by-step episode with a random legal policy."""
    start = time.perf_counter()
    env.reset(options={"benchmark": benchmark})
    done = False
    discrete = isinstance(env.action_space, gym.spaces.Discrete)
    while not done:
        if discrete:
            legal = np.flatnonzero(env.unwrapped.action_masks())
            action = int(rng.choice(legal))
        else:
            action = np.array([rng.uniform(0, 1e4)], dtype=np.float32)
        _, _, done, _, info = env.step(action)
    return time.perf_counter() - start, int(info["decisions"])


def rollout_episode(env: gym.Env, benchmark: str, seed: int) -> tuple[float, int]:
    """Wall time and decisions of one rollout (random policy inside the service, trajectory returned)."""
    start = time.perf_counter()
    result = env.unwrapped.rollout("random", benchmark=benchmark, seed=seed, return_observations=True)
    return time.perf_counter() - start, int(result["decisions"])


def measure(env_id: str, benchmarks: list[str], args: Args) -> dict:
    """Step and rollout figures of one environment, per module and aggregated."""
    env = gym.make(env_id, reward=None, split=None)
    rng = np.random.default_rng(args.seed)
    per_benchmark = []
    try:
        for name in benchmarks:
            plain = plain_compile_seconds(name, args.repeats)
            step_runs, rollout_runs = [], []
            for repeat in range(args.repeats):  # interleaved: step, rollout, step, rollout ...
                step_runs.append(step_episode(env, name, rng))
                rollout_runs.append(rollout_episode(env, name, args.seed + repeat))
            row = {"benchmark": name, "plain_compile_s": plain}
            for mode, runs in (("step", step_runs), ("rollout", rollout_runs)):
                seconds = statistics.median(t for t, _ in runs)
                decisions = statistics.median(d for _, d in runs)
                row[mode] = {
                    "episode_s": seconds,
                    "decisions": decisions,
                    "ratio": seconds / plain,
                    "decisions_per_s": decisions / seconds,
                }
            per_benchmark.append(row)
    finally:
        env.close()
    summary = {}
    for mode in ("step", "rollout"):
        ratios = [r[mode]["ratio"] for r in per_benchmark]
        rates = [r[mode]["decisions_per_s"] for r in per_benchmark]
        summary[mode] = {
            "ratio": float(np.exp(np.mean(np.log(ratios)))),
            "decisions_per_s": float(np.exp(np.mean(np.log(rates)))),
            "per_benchmark": per_benchmark
            and [
                {"benchmark": r["benchmark"], "plain_compile_s": r["plain_compile_s"], **r[mode]} for r in per_benchmark
            ],
        }
    return summary


def main(args: Args) -> dict:
    """Measure every environment, print a table, write JSON."""
    plan = QUICK if args.quick else FULL
    if args.quick:
        args.repeats = min(args.repeats, 2)
    results = {env_id: measure(env_id, plan[env_id], args) for env_id in args.envs}
    table = Table(title="environment speed (ratio = episode wall / plain compile wall; geometric means)")
    for column in ("env", "mode", "module", "decisions", "plain (s)", "episode (s)", "ratio", "decisions/s"):
        table.add_column(column, justify="right" if column not in ("env", "mode", "module") else "left")
    for env_id, modes in results.items():
        for mode, figures in modes.items():
            for row in figures["per_benchmark"]:
                table.add_row(
                    env_id,
                    mode,
                    row["benchmark"],
                    f"{row['decisions']:.0f}",
                    f"{row['plain_compile_s']:.2f}",
                    f"{row['episode_s']:.2f}",
                    f"{row['ratio']:.2f}x",
                    f"{row['decisions_per_s']:,.0f}",
                )
            table.add_row(
                env_id,
                mode,
                "[b]geomean",
                "",
                "",
                "",
                f"[b]{figures['ratio']:.2f}x",
                f"[b]{figures['decisions_per_s']:,.0f}",
            )
    Console().print(table)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    main(tyro.cli(Args))
