"""Reward fidelity: how well each reward's prediction ranks the measured runtimes of compiled variants.

For every program: the plain compile (LLVM's own heuristic) plus M variants made with random
inlining or random eviction decisions (alternating). Every variant is linked, checked against its
reference output and timed, all variants of a program interleaved (A B C … A B C …), keeping each
one's fastest run (CPU time by default: on these shared 2-core VMs the wall clock also counts the
time a program waits for a core). Each reward then costs every variant, and the report gives
Kendall τ and Spearman ρ between prediction and runtime:

* per program, next to the spread of runtimes among its variants and the run-to-run noise (where
  the spread is not larger than the noise, τ measures noise);
* overall and over the memory-bound programs, pooled over programs after dividing each variant's
  cost and runtime by its program's plain compile (the relative improvement an agent is rewarded
  with), plus the mean of the per-program τ.

Rows: ``size``, ``mca``, ``perf_model`` (profile frequencies), ``perf_model_throughput`` (its
cache-miss term dropped: does that term help?), ``perf_model_static`` (LLVM's static frequencies),
``perf_model_fitted`` (latency/MLP fitted to these very runtimes: in-sample), and ``runtime_repeat``
(the runtime of half the runs against the other half: the floor any reward can reach).

Costs are measured with fresh caches: a program's first compile pays for llvm-mca on all its blocks
(and perf_model for one cache simulation, reported apart), later variants only for changed blocks
(random decisions change most of them). Timings are wall-clock seconds on whatever load the
machine carries (``settings.load_average`` in the JSON).

Usage: ``python benchmarks/reward_fidelity.py [--quick] [--json PATH] [--plots DIR]``
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tyro
from rich.console import Console
from rich.table import Table
from scipy.stats import kendalltau, spearmanr
from tqdm import tqdm

import rewards
from mlgo_env.artifacts import Artifact, CompiledModule
from mlgo_env.compilation import CompileOptions, compile_baseline
from mlgo_env.corpus import Benchmark, default_corpus
from mlgo_env.episode import run_episode
from mlgo_env.errors import MlgoEnvError
from mlgo_env.machine import host_mcpu
from mlgo_env.programs import run_program, validate_output
from mlgo_env.toolchain import Toolchain, get_toolchain
from rewards.base import Reward
from rewards.perf_model import PerfModelReward, PerfSample, fit_perf_model, miss_latency
from rewards.runtime import Clock, RuntimeStats, measure_runtimes

QUICK_PROGRAMS = ("stencil2d", "spmv", "nbody")
TASKS = ("inlining", "regalloc_eviction")
ARTIFACTS = Artifact.OBJECT | Artifact.BB_ADDR_MAP | Artifact.DEBUG_INFO | Artifact.EXECUTABLE
# Rows computed from another reward's cost: their cost per episode is that reward's.
COST_OF = {"perf_model_throughput": "perf_model", "perf_model_fitted": "perf_model"}
ROWS = (
    "size",
    "mca",
    "perf_model",
    "perf_model_throughput",
    "perf_model_static",
    "perf_model_fitted",
    "runtime_repeat",
)


@dataclass
class Args:
    quick: bool = False
    """three programs (two memory-bound), four variants each, five timed rounds: minutes on 2 cores"""
    json: Path | None = None
    """write the figures here as JSON"""
    plots: Path | None = Path("benchmarks/results/reward_fidelity")
    """folder for one scatter plot per reward (runtime vs prediction, relative to the plain compile)"""
    programs: tuple[str, ...] = ()
    """programs to use (default: every bundled program; with --quick: stencil2d, spmv, nbody)"""
    variants: int = 8
    """random variants per program, besides the plain compile (--quick: 4)"""
    repeats: int = 10
    """timed rounds of every variant (--quick: 5)"""
    seed: int = 0
    """seed of the first variant's random policy (variant i uses seed + i)"""
    mcpu: str | None = None
    """CPU llvm-mca models (default: the host)"""
    clock: Clock = "cpu"
    """runtime clock: "cpu" (user+system time: steady on a loaded VM) or "wall" (elapsed)"""


@dataclass
class Variant:
    """One compile of a program and what was measured of it."""

    label: str
    module: CompiledModule
    compile_s: float
    costs: dict[str, float] = field(default_factory=dict)
    cost_s: dict[str, float] = field(default_factory=dict)
    runtime: RuntimeStats | None = None


@dataclass
class ProgramResult:
    """Every valid variant of one program, the plain compile first."""

    name: str
    memory_bound: bool
    variants: list[Variant]
    profile_s: float
    dropped: list[str]


def predictors(mcpu: str | None) -> dict[str, Reward]:
    """The rewards whose cost is computed on every variant (derived rows come from their parts)."""
    return {
        "size": rewards.get("size"),
        "mca": rewards.get("mca", mcpu=mcpu),
        "perf_model": rewards.get("perf_model", mcpu=mcpu),
        "perf_model_static": rewards.get("perf_model", mcpu=mcpu, frequencies="static"),
    }


def compile_variants(
    benchmark: Benchmark, args: Args, toolchain: Toolchain, workdir: Path
) -> tuple[list[Variant], list[str]]:
    """The plain compile and `args.variants` random ones; variants that fail to compile are dropped."""
    options = CompileOptions(artifacts=ARTIFACTS)
    start = time.perf_counter()
    plain_dir = workdir / "plain"
    plain_dir.mkdir()
    plain = Variant("plain", compile_baseline(toolchain, benchmark, options, plain_dir), time.perf_counter() - start)
    variants, dropped = [plain], []
    for index in range(args.variants):
        task = TASKS[index % len(TASKS)]
        label = f"{task}-{args.seed + index}"
        try:
            trajectory = run_episode(
                benchmark, task, "random", seed=args.seed + index, toolchain=toolchain, options=options,
                keep_dir=workdir / label, record_observations=False,
            )  # fmt: skip
        except MlgoEnvError as error:
            dropped.append(f"{label}: {type(error).__name__}")
            continue
        assert trajectory.object_path is not None and trajectory.executable_path is not None
        module = CompiledModule(
            benchmark=benchmark.uri, object_path=trajectory.object_path, toolchain=toolchain,
            workdir=workdir / label, artifacts=ARTIFACTS, executable_path=trajectory.executable_path,
            program=benchmark.program, bitcode_path=benchmark.bitcode,
        )  # fmt: skip
        variants.append(Variant(label, module, trajectory.compile_seconds))
    return variants, dropped


def keep_valid(variants: list[Variant], dropped: list[str]) -> list[Variant]:
    """Variants whose program prints its reference output (the plain compile must)."""
    valid = []
    for variant in variants:
        program = variant.module.program
        assert program is not None and variant.module.executable_path is not None
        try:
            validate_output(run_program(variant.module.executable_path, program, timeout=600), program)
        except MlgoEnvError as error:
            if variant.label == "plain":
                raise
            dropped.append(f"{variant.label}: {error}")
            continue
        valid.append(variant)
    return valid


def cost_variants(variants: list[Variant], rewards_by_name: dict[str, Reward]) -> float:
    """Every reward's cost of every variant, timed; returns the seconds spent profiling."""
    plain = variants[0].module
    start = time.perf_counter()
    for reward in rewards_by_name.values():
        if isinstance(reward, PerfModelReward):
            reward.use_profile(plain)  # the plain build is the one simulated
    profile_s = time.perf_counter() - start
    for variant in variants:
        for name, reward in rewards_by_name.items():
            start = time.perf_counter()
            variant.costs[name] = reward.cost(variant.module)
            variant.cost_s[name] = time.perf_counter() - start
            if name == "perf_model":
                parts = variant.module.extra["perf_model"]
                assert isinstance(parts, dict)
                variant.costs["perf_model_throughput"] = parts["throughput_cycles"]
                variant.costs["llc_misses"] = parts["llc_misses"]
    return profile_s


def time_variants(variants: list[Variant], repeats: int, clock: Clock) -> None:
    """Runtime statistics of every variant, measured interleaved."""
    program = variants[0].module.program
    assert program is not None
    stats = measure_runtimes(
        [v.module.executable_path for v in variants if v.module.executable_path is not None],
        repeats=repeats, args=program.run_args, cwd=program.directory, timeout=600,
        expected_output=program.expected_output, warmup=0, clock=clock,
    )  # fmt: skip
    for variant, runtime in zip(variants, stats, strict=True):
        variant.runtime = runtime
        half = runtime.samples
        variant.costs["runtime_repeat"] = min(half[::2])  # judged against the other half's minimum
        variant.costs["runtime_second_half"] = min(half[1::2]) if len(half) > 1 else min(half)


def evaluate_program(benchmark: Benchmark, args: Args, toolchain: Toolchain) -> ProgramResult:
    """Compile, validate, cost and time the variants of one program."""
    assert benchmark.program is not None
    workdir = Path(tempfile.mkdtemp(prefix=f"fidelity-{benchmark.name}-"))
    try:
        variants, dropped = compile_variants(benchmark, args, toolchain, workdir)
        variants = keep_valid(variants, dropped)
        profile_s = cost_variants(variants, predictors(args.mcpu))
        time_variants(variants, args.repeats, args.clock)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return ProgramResult(benchmark.name, benchmark.program.memory_bound, variants, profile_s, dropped)


def runtime_of(variant: Variant, row: str) -> float:
    """The measured runtime a row is judged against (the repeat row: the other half of the runs)."""
    assert variant.runtime is not None
    return variant.costs["runtime_second_half"] if row == "runtime_repeat" else variant.runtime.min


def correlation(xs: list[float], ys: list[float]) -> dict[str, float | None]:
    """Kendall τ-b and Spearman ρ; None where undefined (fewer than 3 points, or a constant)."""
    if len(xs) < 3 or len(set(xs)) < 2 or len(set(ys)) < 2:
        return {"kendall_tau": None, "spearman": None}
    tau = float(kendalltau(xs, ys).statistic)
    rho = float(spearmanr(xs, ys).statistic)
    return {"kendall_tau": None if math.isnan(tau) else tau, "spearman": None if math.isnan(rho) else rho}


def relative_points(results: list[ProgramResult], row: str) -> tuple[list[float], list[float], list[str]]:
    """(cost / plain cost, runtime / plain runtime, program) of every variant."""
    xs, ys, names = [], [], []
    for result in results:
        plain = result.variants[0]
        for variant in result.variants:
            if plain.costs[row] > 0:
                xs.append(variant.costs[row] / plain.costs[row])
                ys.append(runtime_of(variant, row) / runtime_of(plain, row))
                names.append(result.name)
    return xs, ys, names


def pooled(results: list[ProgramResult], per_program: dict[str, dict]) -> dict[str, dict]:
    """Pooled τ/ρ of relative costs and runtimes, and the mean per-program τ, for every row."""
    summary = {}
    for row in ROWS:
        xs, ys, _ = relative_points(results, row)
        taus = [per_program[r.name]["rewards"][row]["kendall_tau"] for r in results]
        defined = [t for t in taus if t is not None]
        summary[row] = correlation(xs, ys) | {"mean_program_tau": float(np.mean(defined)) if defined else None}
    return summary


def add_fitted_row(results: list[ProgramResult], latency: float) -> dict[str, float]:
    """Fits MLP (for the target's miss `latency`) to all runtimes and adds the ``perf_model_fitted`` row."""
    samples = [
        PerfSample(v.costs["perf_model_throughput"], v.costs["llc_misses"], runtime_of(v, "perf_model"))
        for r in results
        for v in r.variants
    ]
    latency, mlp = fit_perf_model(samples, latency=latency)
    for result in results:
        for v in result.variants:
            v.costs["perf_model_fitted"] = v.costs["perf_model_throughput"] + v.costs["llc_misses"] * latency / mlp
    return {"latency": latency, "mlp": mlp}


def program_summary(result: ProgramResult) -> dict:
    """Runtime spread among variants, run-to-run noise, and every row's correlation, of one program."""
    minima = [v.runtime.min for v in result.variants if v.runtime is not None]
    noise = [v.runtime.spread for v in result.variants if v.runtime is not None]
    return {
        "memory_bound": result.memory_bound,
        "variants": len(result.variants),
        "dropped": result.dropped,
        "plain_runtime_s": minima[0],
        "runtime_spread": max(minima) / min(minima) - 1,
        "runtime_noise": float(np.median(noise)),
        "rewards": {
            row: correlation([v.costs[row] for v in result.variants], [runtime_of(v, row) for v in result.variants])
            for row in ROWS
        },
    }


def cost_summary(results: list[ProgramResult]) -> dict[str, dict[str, float]]:
    """Seconds per episode of each reward (cold first compile apart) and as a share of compile time.

    The perf_model rows find their blocks' llvm-mca cycles in the cache the mca row (costed first)
    has just filled; their figures add the mca row's time, which they would pay on their own.
    """
    summary = {}
    compile_s = [v.compile_s for r in results for v in r.variants[1:]]

    def seconds(variant: Variant, name: str) -> float:
        return variant.cost_s[name] + (variant.cost_s["mca"] if name.startswith("perf_model") else 0.0)

    for name in predictors(None):
        warm = [seconds(v, name) for r in results for v in r.variants[1:]]
        cold = [seconds(r.variants[0], name) for r in results]
        summary[name] = {
            "mean_s": float(np.mean(warm)) if warm else float("nan"),
            "first_compile_s": float(np.mean(cold)),
            "compile_ratio": float(np.mean(warm) / np.mean(compile_s)) if warm else float("nan"),
        }
    summary["perf_model"]["profile_s"] = float(np.mean([r.profile_s for r in results]))
    return summary


def plot(results: list[ProgramResult], overall: dict[str, dict], folder: Path) -> None:
    """One scatter plot per row: runtime vs prediction, both relative to the plain compile."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    colours = plt.get_cmap("tab20")
    order = {r.name: i for i, r in enumerate(results)}
    for row in ROWS:
        xs, ys, names = relative_points(results, row)
        figure, axes = plt.subplots(figsize=(6, 5))
        for name in order:
            mine = [i for i, n in enumerate(names) if n == name]
            marker = "s" if next(r.memory_bound for r in results if r.name == name) else "o"
            axes.scatter(
                [xs[i] for i in mine], [ys[i] for i in mine], label=name, color=colours(order[name]), marker=marker
            )
        tau = overall[row]["kendall_tau"]
        axes.set_title(f"{row}: pooled Kendall τ = {tau:.2f}" if tau is not None else f"{row}: τ undefined")
        axes.set_xlabel(f"{row} / plain compile")
        axes.set_ylabel("runtime / plain compile (min of runs)")
        axes.legend(fontsize=6, ncol=2)
        figure.tight_layout()
        figure.savefig(folder / f"{row}.png", dpi=120)
        plt.close(figure)


def fmt(value: float | None) -> str:
    """A correlation for a table cell."""
    return "–" if value is None else f"{value:+.2f}"


def print_tables(per_program: dict[str, dict], overall: dict, memory_bound: dict, costs: dict) -> None:
    """The readable report: rows × summary, then programs × rows."""
    console = Console(width=180)
    table = Table(title="Reward fidelity: correlation of prediction with measured runtime")
    for column in (
        "reward",
        "τ overall",
        "ρ overall",
        "τ memory-bound",
        "mean τ per program",
        "s/episode",
        "× compile",
    ):
        table.add_column(column, justify="left" if column == "reward" else "right")
    for row in ROWS:
        cost = costs.get(COST_OF.get(row, row), {})
        table.add_row(
            row, fmt(overall[row]["kendall_tau"]), fmt(overall[row]["spearman"]),
            fmt(memory_bound.get(row, {}).get("kendall_tau")), fmt(overall[row]["mean_program_tau"]),
            f"{cost['mean_s']:.3f}" if cost else "", f"{cost['compile_ratio']:.2f}" if cost else "",
        )  # fmt: skip
    console.print(table)
    table = Table(title="Per program: Kendall τ, with the runtime spread among variants vs run-to-run noise")
    for column in ("program", "n", "spread", "noise", *ROWS):
        table.add_column(column, justify="left" if column == "program" else "right")
    for name, summary in per_program.items():
        label = f"{name} (mem)" if summary["memory_bound"] else name
        spread = f"{summary['runtime_spread']:.1%}"
        if summary["runtime_spread"] <= summary["runtime_noise"]:
            spread = f"[red]{spread}"  # τ measures noise here
        table.add_row(
            label, str(summary["variants"]), spread, f"{summary['runtime_noise']:.1%}",
            *(fmt(summary["rewards"][row]["kendall_tau"]) for row in ROWS),
        )  # fmt: skip
    console.print(table)


def main(args: Args) -> dict:
    """Compile, cost and time the variants of every program; report how each reward ranks them."""
    if args.quick:
        args.programs = args.programs or QUICK_PROGRAMS
        args.variants, args.repeats = min(args.variants, 4), min(args.repeats, 5)
    toolchain = get_toolchain()
    corpus = default_corpus(toolchain, progress=True)
    os.environ["MLGO_CACHE_DIR"] = tempfile.mkdtemp(prefix="fidelity-cache-")  # llvm-mca and profiles: cold
    benchmarks = [corpus.benchmark(p) for p in args.programs] if args.programs else corpus.benchmarks()
    results = [
        evaluate_program(benchmark, args, toolchain)
        for benchmark in tqdm(benchmarks, desc="programs", unit="program")
        if benchmark.program is not None
    ]
    fit = add_fitted_row(results, miss_latency(args.mcpu or host_mcpu()))
    per_program = {r.name: program_summary(r) for r in results}
    overall = pooled(results, per_program)
    memory = [r for r in results if r.memory_bound]
    memory_bound = pooled(memory, per_program) if memory else {}
    costs = cost_summary(results)
    print_tables(per_program, overall, memory_bound, costs)
    report = {
        "overall": overall,
        "memory_bound": memory_bound,
        "per_program": per_program,
        "cost_s": costs,
        "fit": fit,
        "settings": {
            "programs": [r.name for r in results], "variants": args.variants, "repeats": args.repeats,
            "tasks": list(TASKS), "seed": args.seed, "mcpu": args.mcpu, "clock": args.clock,
            "llvm": toolchain.version_string(), "load_average": os.getloadavg(),
        },
    }  # fmt: skip
    if args.plots is not None:
        plot(results, overall, args.plots)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main(tyro.cli(Args))
