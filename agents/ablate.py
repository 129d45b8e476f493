"""Reward ablation: the same inlining agent trained under several rewards and seeds, judged on size and runtime.

The agent is MLGO's recipe at a small budget: behavioural cloning of LLVM's own decisions (one
warm start, shared by every run), then evolution strategies (`agents/es.py`, rollout mode) under
each reward. Every trained policy is then compiled on the test programs and judged on what users
care about, whatever it was trained on: ``.text`` size and measured runtime, both against the
plain compile at the same optimisation level. Runtimes of all policies of one program are timed
interleaved with the default binary (min of the runs; the default's run-to-run spread is reported).

One table, one plot (``size change`` vs ``runtime change``, one point per run), and JSON.
Rewards that are not registered are skipped and listed. One service serves every run, so each
reward's baseline costs (and perf_model's profiles) are computed once.

Usage::

    python -m agents.ablate                 # default budget: < 30 min on 2 cores
    python -m agents.ablate --quick         # a smoke run of a few minutes
    python -m agents.ablate --rewards size mca --seeds 1 2 3 --generations 5
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import rewards
from agents.lib.benchmarks import list_benchmarks, load_corpus, resolve_split, short_name
from agents.lib.cloning import CloningArgs, train_clone
from agents.lib.es import EsArgs, train_es
from agents.lib.flags import CorpusArgs, parse_args
from agents.lib.policy_io import load_policy
from agents.lib.rollouts import RolloutPool
from agents.lib.scores import geomean_reduction
from agents.lib.timing import changes, time_variants
from agents.lib.variants import compile_variants
from mlgo_env.errors import MlgoEnvError
from mlgo_env.service.client import EmbeddedService
from mlgo_env.timing import Timing, compare_groups


@dataclass
class Args(CorpusArgs):
    """Train the inlining agent under several rewards x seeds; evaluate each on size and measured runtime."""

    rewards: tuple[str, ...] = ("size", "mca", "perf_model", "learned")
    """rewards to compare (those not registered are skipped)"""
    seeds: tuple[int, ...] = (1, 2, 3)
    """ES seeds per reward"""
    opt_level: str = "-O2"
    """optimisation level of every compile (training, size and runtime)"""
    train_programs: int = 5
    """training programs (a seeded sample of the train split; perf rewards cost seconds per compile)"""
    test_programs: int = 0
    """test programs to evaluate on (0: the whole test split; a corpus without splits: the modules not trained on)"""
    generations: int = 4
    """ES generations per run"""
    population: int = 4
    """ES antithetic pairs per generation"""
    sigma: float = 0.05
    """ES perturbation size"""
    learning_rate: float = 0.02
    """ES step size"""
    runtime_repeats: int = 3
    """interleaved timed runs of each binary"""
    quick: bool = False
    """a smoke run: size and mca only, one seed, one generation, 2 train and 3 test programs, 2 timed runs"""
    workers: int = 2
    """compiles running at once"""
    out_dir: str = "runs/ablate"
    """where runs, the table (JSON) and the plot go"""


def apply_quick(args: Args) -> Args:
    """The --quick budget."""
    if args.quick:
        args.rewards, args.seeds, args.generations, args.population = ("size", "mca"), (1,), 1, 2
        args.train_programs, args.test_programs, args.runtime_repeats = 2, 3, 2
    return args


def pick(names: list[str], count: int, seed: int = 0) -> list[str]:
    """A seeded, sorted sample of `count` names (all of them when count is 0 or too large)."""
    if count <= 0 or count >= len(names):
        return names
    return sorted(np.random.default_rng(seed).choice(names, size=count, replace=False).tolist())


def warm_start(args: Args, train: list[str], out_dir: Path) -> Path:
    """Behavioural cloning of llvm-default (a linear PolicyNet) on the training programs, once for all runs."""
    output = out_dir / "bc_llvm_default.pt"
    bc_args = CloningArgs(
        teacher="llvm-default",
        opt_level=args.opt_level,
        benchmarks=tuple(train),
        hidden=(),
        epochs=100,
        workers=args.workers,
        runs_dir=str(out_dir / "tb"),
        output=str(output),
        corpus=args.corpus,
    )
    train_clone(bc_args)
    return output


def train_one(args: Args, reward: str, seed: int, train: list[str], init: Path, service: str, out_dir: Path) -> dict:
    """One ES run under `reward`; returns its record (policy path, train fitness, seconds)."""
    started = time.time()
    es_args = EsArgs(
        exp_name=f"ablate_{reward}",
        seed=seed,
        reward=reward,
        opt_level=args.opt_level,
        benchmarks=tuple(train),
        generations=args.generations,
        population=args.population,
        benchmarks_per_generation=0,
        sigma=args.sigma,
        learning_rate=args.learning_rate,
        init=str(init),
        eval_every=max(args.generations, 1),
        workers=args.workers,
        service=service,
        runs_dir=str(out_dir / "tb"),
    )
    run_dir = train_es(es_args)
    metadata = json.loads((run_dir / "best.json").read_text())
    return {
        "reward": reward,
        "seed": seed,
        "policy": str(run_dir / "policy.onnx"),
        "train_fitness": metadata["train_geomean_reduction"],
        "train_seconds": time.time() - started,
    }


def split_programs(args: Args) -> tuple[list[str], list[str]]:
    """Seeded samples of the train and test splits; a corpus without splits: disjoint samples of all modules."""
    if resolve_split("train", args.corpus) is not None:
        return pick(list_benchmarks("train", args.corpus), args.train_programs), pick(
            list_benchmarks("test", args.corpus), args.test_programs
        )
    modules = list_benchmarks(None, args.corpus)
    train = pick(modules, args.train_programs)
    return train, pick([m for m in modules if m not in train], args.test_programs)


def size_changes(runs: list[dict], test: list[str], opt_level: str, service: str, workers: int) -> None:
    """Add each run's per-program ``.text`` reduction vs plain `opt_level` (rollout mode) to its record."""
    with RolloutPool("mlgo/Inlining-v0", workers=workers, reward="size", opt_level=opt_level, service=service) as pool:
        for run in runs:
            policy = load_policy(Path(run["policy"]))[0]
            results = pool.map([(policy, b) for b in test])
            run["size"] = {short_name(r["benchmark"]): r.get("reward") for r in results}


def runtime_changes(
    runs: list[dict], test: list[str], opt_level: str, repeats: int, workers: int, corpus_dir: str = ""
) -> tuple[dict[str, float], dict[str, Any]]:
    """Add each run's per-program measured runtime change to its record.

    Returns the default's noise per program, and each reward's runtime change over the test
    programs and seeds with its interval, and which rewards differ (`mlgo_env.timing.compare_groups`).
    """
    corpus = load_corpus(corpus_dir)
    policies = {f"{run['reward']}/{run['seed']}": load_policy(Path(run["policy"]))[0] for run in runs}
    noise: dict[str, float] = {}
    timings: list[Timing] = []
    for name in test:
        benchmark = corpus.benchmark(name)
        workdir = Path(tempfile.mkdtemp(prefix="mlgo-ablate-"))
        try:
            variants = compile_variants(benchmark, "inlining", policies, opt_level, workdir, workers=workers)
            timing = time_variants(benchmark, variants, repeats)
            timings.append(timing)
            measured = changes(timing)
            noise[name] = measured["default"]["spread"]
            for run, key in zip(runs, policies, strict=True):
                run.setdefault("runtime", {})[name] = measured[key]["measured_change"]
                run.setdefault("runtime_interval", {})[name] = measured[key]["interval"]
        except MlgoEnvError as exc:
            print(f"runtime of {name} skipped: {type(exc).__name__}: {exc}")
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    rewards_run = dict.fromkeys(run["reward"] for run in runs)
    groups = {reward: [key for key in policies if key.startswith(f"{reward}/")] for reward in rewards_run}
    comparison = compare_groups(timings, groups).record() if timings else {}
    return noise, comparison


def print_comparison(comparison: dict[str, Any]) -> None:
    """Each reward's test-runtime change with its 95% interval, and which rewards differ."""
    for reward, interval in comparison.get("change", {}).items():
        low, high = 1 - interval["high"], 1 - interval["low"]
        print(f"runtime change under {reward:12} {_pct(1 - interval['estimate'])}  [{_pct(low)}, {_pct(high)}]")
    for pair, interval in comparison.get("pairs", {}).items():
        verdict = "resolvable" if interval["resolvable"] else "within noise"
        print(f"  {pair}: ratio {interval['estimate']:.3f} [{interval['low']:.3f}, {interval['high']:.3f}] {verdict}")


def summarise(runs: list[dict]) -> list[dict]:
    """Per run: geomean size and runtime change; then per reward: the mean and spread over seeds."""
    for run in runs:
        sizes = [v for v in run.get("size", {}).values() if v is not None]
        times = list(run.get("runtime", {}).values())
        run["size_geomean"] = geomean_reduction(sizes) if sizes else None
        run["runtime_geomean"] = geomean_reduction(times) if times else None
    table = []
    for reward in dict.fromkeys(run["reward"] for run in runs):
        group = [r for r in runs if r["reward"] == reward]
        row: dict[str, Any] = {"reward": reward, "seeds": [r["seed"] for r in group]}
        for key in ("train_fitness", "size_geomean", "runtime_geomean"):
            values = [r[key] for r in group if r.get(key) is not None]
            row[f"{key}_mean"] = float(np.mean(values)) if values else None
            row[f"{key}_std"] = float(np.std(values)) if values else None
        table.append(row)
    return table


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:+.2f}%"


def print_table(table: list[dict], noise: dict[str, float], args: Args) -> None:
    """The headline table: per reward, mean ± std over seeds."""
    print(f"\nReward ablation (inlining, ES from BC, {args.opt_level}); changes vs plain {args.opt_level}, + = better")
    print(f"{'reward':12} {'seeds':>6} {'train reward':>22} {'test size':>22} {'test runtime':>22}")
    for row in table:
        cells = "".join(
            f" {_pct(row[f'{k}_mean']) + ' ± ' + _pct(row[f'{k}_std']).lstrip('+'):>22}"
            for k in ("train_fitness", "size_geomean", "runtime_geomean")
        )
        print(f"{row['reward']:12} {len(row['seeds']):>6}{cells}")
    if noise:
        print(
            f"runtime noise (default binary's run-to-run spread): median {_pct(float(np.median(list(noise.values()))))}"
        )


def plot(runs: list[dict], path: Path, opt_level: str, noise: float | None) -> None:
    """Scatter of test size change vs measured runtime change, one point per (reward, seed).

    The band around 0 is the default binary's median run-to-run spread: runtime changes inside it
    are not distinguishable from noise.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5))
    for reward in dict.fromkeys(run["reward"] for run in runs):
        points = [(r["size_geomean"], r["runtime_geomean"]) for r in runs if r["reward"] == reward]
        points = [(100 * s, 100 * t) for s, t in points if s is not None and t is not None]
        if points:
            xs, ys = zip(*points, strict=True)
            ax.scatter(xs, ys, label=reward, s=60)
    if noise:
        ax.axhspan(-100 * noise, 100 * noise, color="grey", alpha=0.2, label="runtime noise (median spread)")
    ax.axhline(0, color="black", linewidth=0.8)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel(f".text reduction vs plain {opt_level} (%, geomean over test programs)")
    ax.set_ylabel(f"runtime reduction vs plain {opt_level} (%, measured)")
    ax.set_title("Inlining agent trained under each reward (one point per seed)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(args: Args) -> dict:
    """Run the ablation; writes ``ablation.json`` and ``ablation.png`` under `out_dir`; returns the results."""
    args = apply_quick(args)
    started = time.time()
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    available = rewards.available()
    chosen = [r for r in args.rewards if r in available]
    skipped = [r for r in args.rewards if r not in available]
    if skipped:
        print(f"skipping rewards that are not registered: {', '.join(skipped)} (available: {', '.join(available)})")
    train, test = split_programs(args)
    service = EmbeddedService(Path(args.corpus) if args.corpus else None)
    try:
        init = warm_start(args, train, out_dir)
        runs = [train_one(args, r, s, train, init, service.address, out_dir) for r in chosen for s in args.seeds]
        size_changes(runs, test, args.opt_level, service.address, args.workers)
    finally:
        service.close()
    noise, comparison = runtime_changes(runs, test, args.opt_level, args.runtime_repeats, args.workers, args.corpus)
    table = summarise(runs)
    print_table(table, noise, args)
    print_comparison(comparison)
    results = {
        "agent": "linear PolicyNet, behavioural cloning of llvm-default then ES (agents/es.py)",
        "opt_level": args.opt_level,
        "train_programs": train,
        "test_programs": test,
        "skipped_rewards": skipped,
        "table": table,
        "runs": runs,
        "runtime_noise": noise,
        "runtime_by_reward": comparison,
        "seconds": time.time() - started,
        "args": vars(args),
    }
    (out_dir / "ablation.json").write_text(json.dumps(results, indent=1) + "\n")
    median_noise = float(np.median(list(noise.values()))) if noise else None
    plot(runs, out_dir / "ablation.png", args.opt_level, median_noise)
    print(f"wrote {out_dir / 'ablation.json'} and {out_dir / 'ablation.png'} in {results['seconds']:.0f} s")
    return results


if __name__ == "__main__":
    main(parse_args(Args))
