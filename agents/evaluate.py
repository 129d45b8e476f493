"""Evaluate saved policies on the test programs: a table, a bar chart, and JSON.

Two parts:

- **inlining for size** (`--inlining-policy`, at ``-Oz``): each program's ``.text`` bytes against
  plain ``-Oz`` — LLVM's inliner heuristic *without* the ML advisor, the same baseline as the
  environment's reward. Beside it, the ML advisor following LLVM's own ``inlining_default``
  ("ml-default") and a random policy, because the two defaults differ (see the notes,
  "Baselines differ"). Episodes run in the service's rollout mode.
- **eviction for performance** (`--eviction-policy`, at ``-O2``): the predicted change under the
  best performance reward registered (``perf_model``, else ``mca``; the JSON says which, and says
  so when it had to fall back), and the measured runtime change of the linked programs, timed
  interleaved (default, policy, random, default, ...) with the minimum of the runs kept and the
  run-to-run spread reported beside every figure. Every run's output is checked against the
  program's reference output.

Usage::

    python -m agents.evaluate --quick --json runs/eval.json      # the shipped policies, < 5 min
    python -m agents.evaluate --inlining-policy runs/<run>/policy.onnx --benchmarks huffman fft
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import rewards
from agents.common import (
    POLICY_DIR,
    RolloutPool,
    geomean_reduction,
    list_benchmarks,
    load_policy,
    parse_args,
    short_name,
)
from mlgo_env.compilation import CompileOptions, compile_baseline
from mlgo_env.corpus import Benchmark, Corpus, default_corpus
from mlgo_env.episode import run_episode
from mlgo_env.errors import MlgoEnvError
from mlgo_env.onnx_policy import OnnxPolicy
from mlgo_env.policies import builtin_policy
from mlgo_env.scoring import Scorer
from mlgo_env.tasks import get_task
from mlgo_env.toolchain import get_toolchain
from rewards.base import Artifact
from rewards.runtime import measure_runtimes
from rewards.size import text_size

PERF_REWARDS = ("perf_model", "mca")
"""Performance rewards in order of preference (the first one registered is used)."""
QUICK_PERF_REWARDS = ("mca",)
"""--quick skips perf_model: its one-off cache simulation of each program takes minutes."""
QUICK_RUNTIME_REPEATS = 7
"""--quick's timed runs per binary: 3 gave policy figures of ±9% on single programs here."""


@dataclass
class Args:
    """Evaluate saved policies against LLVM's heuristics and a random policy on the test programs."""

    quick: bool = False
    """the check's budget (< 5 min on 2 cores): 7 timed runs, and mca (not perf_model) predicts eviction"""
    json: str = ""
    """write the results here as JSON"""
    plot: str = "runs/evaluate.png"
    """write the bar chart here (PNG); empty: no chart"""
    inlining_policy: str = str(POLICY_DIR / "inlining_size.onnx")
    """the ONNX inlining policy (empty: skip the inlining part)"""
    eviction_policy: str = str(POLICY_DIR / "eviction_perf.onnx")
    """the ONNX eviction policy (empty or missing: the eviction part compares random with the default only)"""
    split: str = "test"
    """the corpus split to evaluate on"""
    benchmarks: tuple[str, ...] = ()
    """evaluate on these benchmarks instead of the split"""
    corpus: str = ""
    """a corpus directory for the local compiles (default: the bundled programs; the service serves its own)"""
    inlining_opt_level: str = "-Oz"
    """optimisation level of the inlining-for-size comparison"""
    eviction_opt_level: str = "-O2"
    """optimisation level of the eviction comparison"""
    perf_reward: str = "auto"
    """the performance reward for eviction (auto: perf_model, else mca)"""
    runtime_repeats: int = 15
    """timed runs of each binary (interleaved; the minimum is kept); --quick uses 7"""
    skip_eviction: bool = False
    """evaluate inlining only"""
    headroom: str = ""
    """agents/search.py --json output for the same programs, shown beside the policy as a per-program yardstick"""
    workers: int = 2
    """compiles running at once"""
    service: str | None = None
    """address of a running compiler service for the inlining rollouts (default: an embedded one)"""
    seed: int = 0
    """seed of the random policy"""


# -- inlining for size ---------------------------------------------------------------------


def evaluate_inlining(
    policy: bytes, benchmarks: list[str], opt_level: str, workers: int, seed: int, service: str | None = None
) -> dict:
    """Size of the policy, ml-default and random against plain `opt_level`, per program and geomean."""
    contenders: dict[str, str | bytes] = {"policy": policy, "ml_default": "llvm-default", "random": "random"}
    # No include_default: on LLVM 19 it costs the policy a feature (see InliningTask), and the
    # service turns it on for the llvm-default policy by itself.
    env_kwargs: dict[str, Any] = {"reward": "size", "opt_level": opt_level, "service": service}
    with RolloutPool("mlgo/Inlining-v0", workers=workers, **env_kwargs) as pool:
        jobs = [(p, b) for p in contenders.values() for b in benchmarks]
        results = pool.map(jobs, seed=seed)
    by_name = {name: results[i * len(benchmarks) : (i + 1) * len(benchmarks)] for i, name in enumerate(contenders)}
    per_program: dict[str, dict] = {}
    for index, benchmark in enumerate(benchmarks):
        row: dict[str, Any] = {}
        for name, rows in by_name.items():
            result = rows[index]
            if result.get("reward") is None:
                row[f"{name}_error"] = result.get("error", "no reward")
                continue
            row["baseline_text"] = int(result["baseline_cost"])
            row[f"{name}_text"] = result["text_size"]
            row[f"{name}_reduction_vs_default"] = result["reward"]
            if name == "policy":
                row["decisions"] = result["decisions"]
        if "policy_text" in row and "ml_default_text" in row:
            row["policy_reduction_vs_ml_default"] = 1 - row["policy_text"] / row["ml_default_text"]
        per_program[short_name(benchmark)] = row
    return {
        "opt_level": opt_level,
        "default": f"plain {opt_level}: LLVM's inliner heuristic without the ML advisor (the env's reward baseline)",
        "geomean_reduction_vs_default": _geomean(per_program, "policy_reduction_vs_default"),
        "geomean_reduction_vs_ml_default": _geomean(per_program, "policy_reduction_vs_ml_default"),
        "ml_default_geomean_reduction_vs_default": _geomean(per_program, "ml_default_reduction_vs_default"),
        "random_geomean_reduction_vs_default": _geomean(per_program, "random_reduction_vs_default"),
        "ml_default": "the ML advisor answering every call site with LLVM's inlining_default feature",
        "per_program": per_program,
    }


def add_headroom(inlining: dict, search: dict) -> None:
    """Put a search's per-program reductions (agents/search.py --json) beside the policy's.

    Raises:
        ValueError: the search ran at another optimisation level or misses some programs.
    """
    if search.get("opt_level") != inlining["opt_level"]:
        raise ValueError(f"the headroom search ran at {search.get('opt_level')}, not {inlining['opt_level']}")
    missing = sorted(set(inlining["per_program"]) - set(search["per_program"]))
    if missing:
        raise ValueError(f"the headroom search lacks {', '.join(missing)}: run agents/search.py on the same programs")
    for name, row in inlining["per_program"].items():
        row["search_reduction_vs_default"] = search["per_program"][name]["reduction"]
    inlining["search_geomean_reduction_vs_default"] = _geomean(inlining["per_program"], "search_reduction_vs_default")
    inlining["search"] = "agents/search.py: greedy per-program search that sees each program (a yardstick)"


def _geomean(per_program: dict[str, dict], key: str) -> float | None:
    """Geometric-mean reduction of `key` over programs (None when a program lacks it)."""
    values = [row.get(key) for row in per_program.values()]
    if not values or any(v is None for v in values):
        return None
    return geomean_reduction(values)  # type: ignore[arg-type]


# -- compiled variants and measured runtime -------------------------------------------------


@dataclass
class Variant:
    """One compile of a program: its executable, size and (optionally) predicted reward."""

    executable: Path
    text_size: int
    predicted: float | None = None
    detail: dict | None = None


def make_policy(spec: str | bytes, task: str, seed: int) -> Callable | str:
    """A policy callable for `run_episode` from an ONNX model's bytes, or a built-in name as is."""
    if isinstance(spec, bytes):
        return OnnxPolicy(spec)
    builtin_policy(spec, get_task(task), seed)  # fail early on a name the task lacks
    return spec


def compile_variants(
    benchmark: Benchmark,
    task: str,
    policies: Mapping[str, str | bytes],
    opt_level: str,
    workdir: Path,
    scorer: Scorer | None = None,
    seed: int = 0,
    workers: int = 2,
) -> dict[str, Variant]:
    """Link the default compile and one compile per policy into `workdir` (scored if `scorer`).

    The key ``"default"`` is the compile without any advisor (LLVM's heuristic).
    """
    toolchain = get_toolchain()
    artifacts = Artifact.OBJECT | Artifact.EXECUTABLE
    options = CompileOptions(opt_level=opt_level, artifacts=artifacts)
    variants: dict[str, Variant] = {}
    base_dir = workdir / "default"
    base_dir.mkdir(parents=True, exist_ok=True)
    module = compile_baseline(toolchain, benchmark, options, base_dir)
    assert module.executable_path is not None
    variants["default"] = Variant(module.executable_path, text_size(module.object_path))

    def one(name: str, spec: str | bytes) -> tuple[str, Variant]:
        keep = workdir / name
        trajectory = run_episode(
            benchmark, task, make_policy(spec, task, seed), seed=seed, scorer=scorer,
            options=options, keep_dir=keep, record_observations=False,
        )  # fmt: skip
        assert trajectory.executable_path is not None
        predicted = trajectory.score.reward if trajectory.score is not None else None
        return name, Variant(
            trajectory.executable_path, trajectory.text_size, predicted, dict(trajectory.extra) or None
        )

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for name, variant in pool.map(lambda item: one(*item), policies.items()):
            variants[name] = variant
    return variants


def time_variants(benchmark: Benchmark, variants: dict[str, Variant], repeats: int, warmup: int = 1) -> dict[str, dict]:
    """Interleaved timing of every variant; per variant min/median seconds, spread, change vs default."""
    program = benchmark.program
    names = list(variants)
    stats = measure_runtimes(
        [variants[n].executable for n in names],
        repeats=repeats,
        args=program.run_args if program else (),
        cwd=program.directory if program else None,
        expected_output=program.expected_output if program else None,
        warmup=warmup,
    )
    base = stats[names.index("default")].min
    return {
        name: {
            "min_s": s.min,
            "median_s": s.median,
            "spread": s.spread,
            "measured_change": (base - s.min) / base if base > 0 else 0.0,
        }
        for name, s in zip(names, stats, strict=True)
    }


# -- eviction for performance --------------------------------------------------------------


def choose_perf_reward(requested: str, quick: bool = False) -> tuple[str | None, str]:
    """The performance reward to predict with, and a note saying why (and whether it fell back)."""
    available = rewards.available()
    if requested != "auto":
        if requested not in available:
            raise ValueError(f"reward {requested!r} is not registered; available: {available}")
        return requested, f"{requested} (requested)"
    preference = QUICK_PERF_REWARDS if quick else PERF_REWARDS
    for name in preference:
        if name in available:
            if quick:
                return (
                    name,
                    f"{name} (--quick: perf_model's cache simulation takes minutes per program; the full run uses it)",
                )
            fallback = "" if name == preference[0] else f"; fell back from {preference[0]}, which is not registered"
            return name, f"{name} (best registered performance reward{fallback})"
    return None, f"no performance reward registered (looked for {', '.join(preference)}): measured runtime only"


def evaluate_eviction(
    policy: bytes | None,
    benchmarks: list[Benchmark],
    opt_level: str,
    perf_reward: str,
    repeats: int,
    workers: int,
    seed: int,
    quick: bool = False,
) -> dict:
    """Predicted and measured runtime change of the eviction policy (and random) vs the default advisor."""
    reward_name, note = choose_perf_reward(perf_reward, quick)
    warmup = 1
    scorer = None
    if reward_name is not None:
        linked = CompileOptions(opt_level=opt_level, artifacts=Artifact.OBJECT | Artifact.EXECUTABLE)
        scorer = Scorer(rewards.get(reward_name), get_toolchain(), linked)  # the variants are timed too
    contenders: dict[str, str | bytes] = {"random": "random"}
    if policy is not None:
        contenders = {"policy": policy, **contenders}
    per_program: dict[str, dict] = {}
    for benchmark in benchmarks:
        workdir = Path(tempfile.mkdtemp(prefix="mlgo-eval-"))
        try:
            variants = compile_variants(
                benchmark, "regalloc_eviction", contenders, opt_level, workdir, scorer, seed, workers
            )
            timing = time_variants(benchmark, variants, repeats, warmup)
            per_program[benchmark.name] = _eviction_row(variants, timing)
        except MlgoEnvError as exc:
            per_program[benchmark.name] = {"error": f"{type(exc).__name__}: {exc}"}
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    summary: dict[str, Any] = {
        "opt_level": opt_level,
        "default": f"LLVM's default eviction advisor at {opt_level}",
        "perf_reward": reward_name,
        "perf_reward_note": note,
        "policy": "given" if policy is not None else None,
        "policy_note": None
        if policy is not None
        else "no eviction policy file was given or found: only the random policy is compared",
        "runtime": "rewards.runtime.measure_runtimes: "
        f"wall time, min of {repeats} interleaved runs after {warmup} warm-up round(s); spread = (max-min)/min",
        "per_program": per_program,
    }
    for name in contenders:
        summary[f"{name}_geomean_predicted_change"] = _geomean(per_program, f"{name}_predicted_change")
        summary[f"{name}_geomean_measured_change"] = _geomean(per_program, f"{name}_measured_change")
    summary["median_runtime_noise"] = _median(per_program, "default_noise")
    return summary


def _eviction_row(variants: dict[str, Variant], timing: dict[str, dict]) -> dict:
    """One program's eviction results: predicted and measured change per contender, and noise."""
    row: dict[str, Any] = {"default_s": timing["default"]["min_s"], "default_noise": timing["default"]["spread"]}
    for name, variant in variants.items():
        if name == "default":
            continue
        row[f"{name}_predicted_change"] = variant.predicted
        row[f"{name}_measured_change"] = timing[name]["measured_change"]
        row[f"{name}_s"] = timing[name]["min_s"]
        row[f"{name}_noise"] = timing[name]["spread"]
    return row


def _median(per_program: dict[str, dict], key: str) -> float | None:
    values = [row[key] for row in per_program.values() if row.get(key) is not None]
    return float(np.median(values)) if values else None


# -- report ---------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "    n/a" if value is None else f"{100 * value:+6.2f}%"


def _print_table(title: str, columns: dict[str, str], rows: dict[str, dict], footer: dict[str, Any]) -> None:
    """One table: a row per program with a percentage per column (header → key), then the geomeans."""
    print(f"\n{title}")
    print(f"{'program':16}" + "".join(f" {header:>17}" for header in columns))
    for name, row in rows.items():
        if "error" in row:
            print(f"{name:16} error: {row['error'][:90]}")
            continue
        print(f"{name:16}" + "".join(f" {_pct(row.get(key)):>17}" for key in columns.values()))
    print(f"{'geomean':16}" + "".join(f" {_pct(footer.get(key)):>17}" for key in columns.values()))


def print_tables(results: dict) -> None:
    """Readable tables of both parts (positive = smaller / faster than the default)."""
    inlining = results.get("inlining_size")
    if inlining:
        columns = {
            "policy": "policy_reduction_vs_default",
            "ml-default": "ml_default_reduction_vs_default",
            "random": "random_reduction_vs_default",
            "policy vs ml-def": "policy_reduction_vs_ml_default",
        }
        footer = {
            "policy_reduction_vs_default": inlining["geomean_reduction_vs_default"],
            "ml_default_reduction_vs_default": inlining["ml_default_geomean_reduction_vs_default"],
            "random_reduction_vs_default": inlining["random_geomean_reduction_vs_default"],
            "policy_reduction_vs_ml_default": inlining["geomean_reduction_vs_ml_default"],
        }
        if "search_geomean_reduction_vs_default" in inlining:
            columns["search (headroom)"] = "search_reduction_vs_default"
            footer["search_reduction_vs_default"] = inlining["search_geomean_reduction_vs_default"]
        title = f"Inlining for size: .text reduction vs {inlining['default']}"
        _print_table(title, columns, inlining["per_program"], footer)
    eviction = results.get("eviction_perf")
    if eviction:
        contenders = [c for c in ("policy", "random") if f"{c}_geomean_measured_change" in eviction]
        columns = {"default noise": "default_noise"}
        footer = {"default_noise": eviction["median_runtime_noise"]}
        for c in contenders:
            for kind in ("predicted", "measured"):
                columns[f"{c} {kind}"] = f"{c}_{kind}_change"
                footer[f"{c}_{kind}_change"] = eviction[f"{c}_geomean_{kind}_change"]
        title = f"Eviction vs {eviction['default']}; predicted by {eviction['perf_reward_note']}"
        _print_table(title, columns, eviction["per_program"], footer)
        print("(positive = faster than the default; noise: the default binary's run-to-run spread, median last)")


def plot(results: dict, path: Path) -> None:
    """Bar charts: per-program size reduction (inlining) and predicted vs measured change (eviction)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    parts = [p for p in ("inlining_size", "eviction_perf") if results.get(p)]
    fig, axes = plt.subplots(len(parts), 1, figsize=(12, 4.5 * len(parts)), squeeze=False)
    for ax, part in zip(axes[:, 0], parts, strict=True):
        data = results[part]
        rows = {k: v for k, v in data["per_program"].items() if "error" not in v}
        names = list(rows)
        if part == "inlining_size":
            series = {
                "policy": "policy_reduction_vs_default",
                "ml-default": "ml_default_reduction_vs_default",
                "random": "random_reduction_vs_default",
            }
            geomean = _pct(data["geomean_reduction_vs_default"])
            title = f".text reduction vs plain {data['opt_level']} (geomean of the policy {geomean}"
            if "search_geomean_reduction_vs_default" in data:
                series["search (headroom)"] = "search_reduction_vs_default"
                title += f", of the per-program search {_pct(data['search_geomean_reduction_vs_default'])}"
            title += ")"
        else:
            series = {
                f"{c} {kind}": f"{c}_{kind}_change"
                for c in ("policy", "random")
                for kind in ("predicted", "measured")
                if f"{c}_geomean_measured_change" in data
            }
            title = (
                f"eviction vs the default at {data['opt_level']}: predicted ({data['perf_reward']}) and measured change"
            )
        width = 0.8 / len(series)
        x = np.arange(len(names))
        for i, (label, key) in enumerate(series.items()):
            values = [100 * (rows[n].get(key) or 0.0) for n in names]
            ax.bar(x + i * width - 0.4 + width / 2, values, width, label=label)
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_xticks(x, names, rotation=30, ha="right")
        ax.set_ylabel("% better than default")
        ax.set_title(title)
        ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(args: Args) -> dict:
    """Run the evaluation, print the tables, write JSON and the chart; returns the results."""
    started = time.time()
    corpus = Corpus.load(args.corpus) if args.corpus else default_corpus()
    names = list(args.benchmarks) or list_benchmarks(args.split, args.corpus or None)
    repeats = QUICK_RUNTIME_REPEATS if args.quick else args.runtime_repeats
    results: dict[str, Any] = {"split": None if args.benchmarks else args.split, "benchmarks": names}
    if args.inlining_policy:
        policy, metadata = load_policy(Path(args.inlining_policy))
        results["inlining_size"] = {
            "policy": args.inlining_policy,
            "policy_metadata": {
                k: metadata[k] for k in ("trainer", "reward", "opt_level", "train_geomean_reduction") if k in metadata
            },
            **evaluate_inlining(policy, names, args.inlining_opt_level, args.workers, args.seed, args.service),
            "seconds": time.time() - started,
        }
        if args.headroom:
            add_headroom(results["inlining_size"], json.loads(Path(args.headroom).read_text()))
    if not args.skip_eviction:
        part_started = time.time()
        path = Path(args.eviction_policy) if args.eviction_policy else None
        eviction_policy = load_policy(path)[0] if path is not None and path.is_file() else None
        benchmarks = [corpus.benchmark(n) for n in names]
        results["eviction_perf"] = {
            "policy_path": str(path) if eviction_policy is not None else None,
            **evaluate_eviction(
                eviction_policy,
                benchmarks,
                args.eviction_opt_level,
                args.perf_reward,
                repeats,
                args.workers,
                args.seed,
                args.quick,
            ),
            "seconds": time.time() - part_started,
        }
    results["seconds"] = time.time() - started
    print_tables(results)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    if args.plot:
        plot(results, Path(args.plot))
        print(f"chart: {args.plot}")
    print(f"evaluated in {results['seconds']:.0f} s")
    return results


if __name__ == "__main__":
    main(parse_args(Args))
