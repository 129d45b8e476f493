"""Reward fidelity: how well each reward ranks (and predicts) the measured runtimes of compiled variants.

Variants that actually differ, from several sources per program: the plain ``-O2`` compile (LLVM's
own heuristics: the baseline, and the default inliner and eviction advisor), ``-O1``/``-O3``/``-Os``,
inlining never/always/random at ``-O2``, and random eviction at ``-O2``. Every variant is linked and
checked against the program's reference output. A *working-set kernel* (random reads of an array,
the same number of reads at every size) adds variants that differ only in their input: array sizes
of half of each of this machine's data caches and four times its last-level cache, read from
`mlgo_env.machine`, at ``-O1`` and ``-O2``: the same work, so what separates them is the cache.

All variants of a program are timed together (`mlgo_env.timing`: interleaved rounds in random
order, CPU time, a low quantile per variant, bootstrap intervals of each ratio to the plain
compile, rounds added until every interval is within ``--halfwidth`` or ``--budget`` is spent).
Each reward then costs every variant, and per reward the report gives:

* Kendall τ between cost and measured time, per program and pooled over programs (both divided by
  the program's plain compile);
* pairwise concordance on the *resolvable* pairs of variants (their ratio's interval excludes 1):
  the share the reward orders as the measurement does (a tie in cost counts half);
* MAPE of predicted against measured core cycles (measured seconds × the core clock, measured here
  with a chain of dependent adds, one cycle each), for the rewards that predict cycles;
* cost per episode: seconds, and × the compile time of the variant.

Rewards: ``size``, ``mca``, ``perf_model``, ``perf_model_no_llc`` (its throughput part alone: does
the cache term help?), ``perf_model_fitted`` (its cache term's weight, 1 / MLP, fitted to
this machine's runtimes with `rewards.perf_model.fit_perf_model` on the *other* programs' variants:
leave one program out, so no program's runtimes calibrate its own prediction),
``perf_model_learned`` (perf_model with the learned fast model's block cycles instead of llvm-mca's:
``blocks="learned"``), ``learned``.
perf_model simulates each program (per input) once, on its plain
compile; that time is reported apart. mca and perf_model each keep llvm-mca's block costs in a
cache of their own, empty at the start (as a training run's reward starts): a variant costs the
blocks that earlier variants of the run did not have. The memory-bound programs (their corpus
flag, and the kernel) get their own table.

``--json PATH`` writes exactly ``{"overall": {reward: {"kendall_tau", "pairwise_concordance",
"resolvable_pairs", "mape"}}, "memory_bound": {...}, "cost_x_compile": {reward: r},
"runtime_ci_halfwidth_median": h}``; ``--details PATH`` everything else (per program, per variant,
the measurements, the machine).

Usage: ``python benchmarks/reward_fidelity.py [--quick] [--json PATH] [--details PATH] [--plot DIR]``
"""

from __future__ import annotations

import itertools
import json
import math
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tyro
from rich.console import Console
from rich.table import Table
from scipy.stats import kendalltau

import rewards
from mlgo_env import load_latency, machine
from mlgo_env.artifacts import Artifact, CompiledModule, ProgramInfo
from mlgo_env.bbaddrmap import ADDRESS_MAP_FLAGS
from mlgo_env.compilation import CompileOptions, compile_baseline
from mlgo_env.corpus import Benchmark, default_corpus
from mlgo_env.episode import run_episode
from mlgo_env.errors import MlgoEnvError
from mlgo_env.mca import McaCache
from mlgo_env.timing import Command, StopRule, Timing, run_once, time_variants
from mlgo_env.toolchain import Toolchain, get_toolchain
from rewards.base import Reward
from rewards.perf_model import PerfModelReward, PerfSample, fit_perf_model

QUICK_PROGRAMS = ("matmul", "stencil2d")  # register pressure in hot loops; memory-bound
QUICK_BUDGET_S = 180.0
"""--quick's timing per program: on the Intel guest of session 8, 75 s gave a median CI half-width
of 2.8% (the target is 2%) in 6.6 minutes; the width shrinks as one over the root of the rounds."""
ARTIFACTS = Artifact.OBJECT | Artifact.BB_ADDR_MAP | Artifact.DEBUG_INFO | Artifact.EXECUTABLE
PLAIN = "plain -O2"
ROWS = ("size", "mca", "perf_model", "perf_model_no_llc", "perf_model_fitted", "perf_model_learned", "learned")
CYCLE_ROWS = ("mca", "perf_model", "perf_model_no_llc", "perf_model_fitted", "perf_model_learned", "learned")
COMPUTED_FROM = {"perf_model_no_llc": "perf_model", "perf_model_fitted": "perf_model"}  # read off its breakdown

KERNEL = r"""
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  long n = atol(argv[1]) / (long)sizeof(long), reads = atol(argv[2]);
  long *a = malloc(n * sizeof(long));
  for (long i = 0; i < n; i++)
    a[i] = i * 7 + 1;
  unsigned long x = 12345, sum = 0;
  for (long k = 0; k < reads; k++) {
    x = x * 6364136223846793005UL + 1442695040888963407UL;
    sum += a[(x >> 17) % n];
  }
  printf("%lu\n", sum);
  free(a);
  return 0;
}
"""
KERNEL_READS = 4_000_000

# One add per cycle on every x86 core: 8 dependent adds per iteration, ADDS iterations.
CLOCK = r"""
int main(void) {
  unsigned long x = 0, y = 1;
  for (long i = 0; i < ITERATIONS; i++) {
    __asm__ volatile("add %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\t"
                     "add %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0" : "+r"(x) : "r"(y));
  }
  return (int)(x & 0);
}
"""
CLOCK_ITERATIONS = 50_000_000


@dataclass
class Args:
    quick: bool = False
    """two programs (matmul, stencil2d: one memory-bound) plus the kernel, one random variant per
    random source, 75 s of timing per program: <= 15 min on 2 quiet cores"""
    json: Path | None = None
    """write the summary figures here (exactly the keys the module docstring names)"""
    details: Path | None = None
    """write everything else here: per program, per variant, the measurements, the machine"""
    plot: Path | None = None
    """folder for one scatter plot per reward (measured vs predicted, relative to the plain compile)"""
    programs: tuple[str, ...] = ()
    """corpus programs (default: every bundled program; --quick: matmul, stencil2d)"""
    seeds: int = 2
    """random variants per random source (inlining, eviction); --quick: 1"""
    kernel: bool = True
    """add the working-set kernel"""
    halfwidth: float = 0.01
    """stop timing a program once every ratio to its plain compile is known to ± this"""
    budget: float = 240.0
    """seconds of timing per program at most (--quick: 180, about 12 of its 15 minutes on a noisy 2-core guest)"""
    mcpu: str | None = None
    """CPU the cycle models target (default: this host)"""
    seed: int = 0
    """seed of the first random variant, the run order and the bootstrap"""


@dataclass
class Variant:
    """One compile of a program (and its input), and what each reward said of it."""

    label: str
    module: CompiledModule
    compile_s: float
    costs: dict[str, float] = field(default_factory=dict)
    cost_s: dict[str, float] = field(default_factory=dict)


@dataclass
class ProgramResult:
    """A program's valid variants (the plain compile first), their timing, and what was dropped."""

    name: str
    memory_bound: bool
    variants: list[Variant]
    timing: Timing
    profile_s: float
    dropped: list[str]

    def seconds(self, variant: Variant) -> float:
        """The measured time of a variant (the timing's estimate)."""
        return self.timing.seconds(variant.label)


def predictors(mcpu: str | None) -> tuple[dict[str, Reward], dict[str, str]]:
    """The rewards costed on every variant, and those missing; each llvm-mca user has its own cache (see above)."""
    chosen, missing = {}, {}
    for name, reward, options in (
        ("size", "size", {}),
        ("mca", "mca", {"mcpu": mcpu, "block_cache": McaCache(None)}),
        ("perf_model", "perf_model", {"mcpu": mcpu, "block_cache": McaCache(None)}),
        ("learned", "learned", {"mcpu": mcpu}),
        ("perf_model_learned", "perf_model", {"mcpu": mcpu, "blocks": "learned"}),
    ):
        try:
            chosen[name] = rewards.get(reward, **options)
        except (MlgoEnvError, ValueError, OSError) as error:
            missing[name] = f"{type(error).__name__}: {error}"
    return chosen, missing


def corpus_variants(
    benchmark: Benchmark, args: Args, toolchain: Toolchain, workdir: Path
) -> tuple[list[Variant], list[str]]:
    """The plain compile, the other optimisation levels, and the inlining and eviction variants."""
    variants, dropped = [], []

    def add(label: str, make: Callable[[Path], tuple[CompiledModule, float]]) -> None:
        folder = workdir / label.replace(" ", "_")
        folder.mkdir()
        try:
            module, seconds = make(folder)
        except MlgoEnvError as error:
            if label == PLAIN:
                raise
            dropped.append(f"{label}: {type(error).__name__}: {str(error)[:200]}")
            return
        variants.append(Variant(label, module, seconds))

    def level(opt: str) -> Callable[[Path], tuple[CompiledModule, float]]:
        def make(folder: Path) -> tuple[CompiledModule, float]:
            start = time.perf_counter()
            module = compile_baseline(toolchain, benchmark, CompileOptions(opt_level=opt, artifacts=ARTIFACTS), folder)
            return module, time.perf_counter() - start

        return make

    def episode(task: str, policy: str, seed: int) -> Callable[[Path], tuple[CompiledModule, float]]:
        def make(folder: Path) -> tuple[CompiledModule, float]:
            options = CompileOptions(opt_level="-O2", artifacts=ARTIFACTS)
            trajectory = run_episode(
                benchmark, task, policy, seed=seed, toolchain=toolchain, options=options, keep_dir=folder,
                record_observations=False,
            )  # fmt: skip
            if trajectory.object_path is None or trajectory.executable_path is None:
                raise MlgoEnvError(f"the {task} episode kept no object or executable")
            module = CompiledModule(
                benchmark=benchmark.uri, object_path=trajectory.object_path, toolchain=toolchain, workdir=folder,
                artifacts=ARTIFACTS, executable_path=trajectory.executable_path, program=benchmark.program,
                bitcode_path=benchmark.bitcode,
            )  # fmt: skip
            return module, trajectory.compile_seconds

        return make

    add(PLAIN, level("-O2"))
    for opt in ("-O1", "-O3", "-Os"):
        add(opt, level(opt))
    for policy in ("never", "always"):
        add(f"inline {policy}", episode("inlining", policy, args.seed))
    for index in range(args.seeds):
        add(f"inline random {args.seed + index}", episode("inlining", "random", args.seed + index))
        add(f"evict random {args.seed + index}", episode("regalloc_eviction", "random", args.seed + index))
    return variants, dropped


def kernel_sizes() -> list[int]:
    """Working sets of half of each data cache of this machine, and four times the last level (as the load probe's)."""
    return load_latency.working_sets(load_latency.data_caches())


def kernel_variants(toolchain: Toolchain, workdir: Path) -> list[Variant]:
    """The working-set kernel at -O2 (the plain compile at the smallest size first) and -O1, at every size."""
    source = workdir / "working_set.c"
    source.write_text(KERNEL)
    builds = {}
    for opt in ("-O2", "-O1"):
        start = time.perf_counter()
        obj, exe = workdir / f"working_set{opt}.o", workdir / f"working_set{opt}"
        subprocess.run(
            [str(toolchain.clang), opt, "-gdwarf-4", *ADDRESS_MAP_FLAGS, "-c", str(source), "-o", str(obj)], check=True
        )
        subprocess.run([str(toolchain.clang), str(obj), "-o", str(exe)], check=True)
        builds[opt] = (obj, exe, time.perf_counter() - start)
    variants: list[Variant] = []
    for size in kernel_sizes():
        run_args = (str(size), str(KERNEL_READS))
        printed = subprocess.run([str(builds["-O2"][1]), *run_args], capture_output=True, text=True, check=True).stdout
        program = ProgramInfo(
            "working_set", run_args=run_args, expected_output=printed, memory_bound=True, directory=workdir
        )
        for opt, (obj, exe, seconds) in builds.items():
            module = CompiledModule(
                benchmark="working_set", object_path=obj, toolchain=toolchain, workdir=workdir, artifacts=ARTIFACTS,
                executable_path=exe, program=program,
            )  # fmt: skip
            label = PLAIN if (opt == "-O2" and not variants) else f"{opt} {size >> 10} KiB"
            variants.append(Variant(label, module, seconds))
    return variants


def keep_valid(variants: list[Variant], dropped: list[str]) -> list[Variant]:
    """Variants whose program prints its reference output (the plain compile must)."""
    valid = []
    for variant in variants:
        program, executable = variant.module.program, variant.module.executable_path
        assert program is not None and executable is not None
        try:
            run_once(executable, program.run_args, program.directory, 600, program.expected_output)
        except MlgoEnvError as error:
            if variant.label == PLAIN:
                raise
            dropped.append(f"{variant.label}: {str(error)[:200]}")
            continue
        valid.append(variant)
    return valid


def cost_variants(variants: list[Variant], chosen: dict[str, Reward], missing: dict[str, str]) -> float:
    """Every reward's cost of every variant, timed; returns the seconds spent profiling.

    A reward that cannot cost a variant is dropped from `chosen` (for every later program too)
    and listed in `missing` with the reason.
    """
    start = time.perf_counter()
    for reward in chosen.values():
        if isinstance(reward, PerfModelReward):
            profiled = set()
            for variant in variants:  # one profile per input, of its -O2 build
                program = variant.module.program
                assert program is not None
                if program.run_args not in profiled and (variant.label == PLAIN or variant.label.startswith("-O2 ")):
                    reward.use_profile(variant.module)
                    profiled.add(program.run_args)
    profile_s = time.perf_counter() - start
    for variant in variants:
        for name, reward in list(chosen.items()):
            start = time.perf_counter()
            try:
                variant.costs[name] = reward.cost(variant.module)
            except MlgoEnvError as error:  # e.g. no learned model for this CPU: the row is left out
                missing[name] = f"{type(error).__name__}: {error}"
                del chosen[name]
                for other in variants:
                    other.costs.pop(name, None)
                continue
            variant.cost_s[name] = time.perf_counter() - start
            if name == "perf_model":
                parts = variant.module.extra["perf_model"]
                assert isinstance(parts, dict)
                variant.costs["perf_model_no_llc"] = parts["throughput_cycles"]
            if name == "perf_model_learned":  # shares the learned row's memo, which it would fill itself
                variant.cost_s[name] += variant.cost_s.get("learned", 0.0)
    return profile_s


def measure(variants: list[Variant], args: Args) -> Timing:
    """All variants of a program timed together, against the plain compile."""
    commands = {}
    for variant in variants:
        program, executable = variant.module.program, variant.module.executable_path
        assert program is not None and executable is not None
        commands[variant.label] = Command(executable, program.run_args, program.expected_output)
    program = variants[0].module.program
    assert program is not None
    stop = StopRule(target_halfwidth=args.halfwidth, budget_s=args.budget, min_rounds=5)
    return time_variants(commands, baseline=PLAIN, cwd=program.directory, timeout=600, stop=stop, seed=args.seed)


def evaluate(
    name: str, memory_bound: bool, variants: list[Variant], dropped: list[str], args: Args, chosen: dict, missing: dict
) -> ProgramResult:
    """Validate, cost and time one program's variants."""
    variants = keep_valid(variants, dropped)
    profile_s = cost_variants(variants, chosen, missing)
    return ProgramResult(name, memory_bound, variants, measure(variants, args), profile_s, dropped)


def fit_out_of_program(results: list[ProgramResult]) -> dict[str, str]:
    """Adds ``perf_model_fitted`` to each variant: perf_model's two terms, the misses' stall cycles
    divided by an MLP fitted to the measured runtimes of every other program's variants.

    Returns the programs it could not be fitted for, with the reason (too few other programs, or
    runtimes that the throughput term does not explain).
    """
    unfitted = {}
    for result in results:
        samples = [
            PerfSample(
                p["throughput_cycles"] + p["stream_cycles"] + p["fault_cycles"], p["stall_cycles"], other.seconds(v)
            )
            for other in results
            if other is not result
            for v in other.variants
            if isinstance(p := v.module.extra.get("perf_model"), dict)
        ]
        try:
            mlp = fit_perf_model(samples)
        except ValueError as error:
            unfitted[f"perf_model_fitted ({result.name})"] = str(error)
            continue
        for v in result.variants:
            if isinstance(p := v.module.extra.get("perf_model"), dict):
                v.costs["perf_model_fitted"] = (
                    p["throughput_cycles"] + p["stream_cycles"] + p["fault_cycles"] + p["stall_cycles"] / mlp
                )
    return unfitted


# -- figures -------------------------------------------------------------------------------------


def tau(xs: list[float], ys: list[float]) -> float | None:
    """Kendall τ-b; None where undefined (fewer than 3 points, or a constant)."""
    if len(xs) < 3 or len(set(xs)) < 2 or len(set(ys)) < 2:
        return None
    value = float(kendalltau(xs, ys).statistic)
    return None if math.isnan(value) else value


def relative(results: list[ProgramResult], row: str) -> tuple[list[float], list[float], list[str]]:
    """(cost / plain cost, time / plain time, program) of every variant that has the row."""
    xs, ys, names = [], [], []
    for result in results:
        plain = result.variants[0]
        for variant in result.variants:
            if row in variant.costs and plain.costs.get(row, 0) > 0:
                xs.append(variant.costs[row] / plain.costs[row])
                ys.append(result.seconds(variant) / result.seconds(plain))
                names.append(result.name)
    return xs, ys, names


def split_half_tau(results: list[ProgramResult]) -> float | None:
    """Kendall τ of the measurement against itself, pooled as `relative` pools: each variant's time
    over the plain compile's from the even rounds against the same from the odd rounds.

    How well any cost can rank these variants against a measurement this noisy: a reward's pooled
    τ is bounded by about this (each half has half the rounds, so it is a lower bound of the
    full measurement's agreement with the truth).
    """
    xs, ys = [], []
    for result in results:
        timing = result.timing
        if timing.rounds < 4:
            continue
        halves = [np.quantile(timing.samples[:, k::2], timing.quantile, axis=1) for k in (0, 1)]
        xs += (halves[0] / halves[0][timing.baseline]).tolist()
        ys += (halves[1] / halves[1][timing.baseline]).tolist()
    return tau(xs, ys)


def resolvable_pairs(result: ProgramResult) -> list[tuple[Variant, Variant, float]]:
    """Pairs of variants the measurement tells apart, with the ratio of their times."""
    pairs = []
    for a, b in itertools.combinations(result.variants, 2):
        ratio = result.timing.ratio(a.label, b.label)
        if ratio.resolvable:
            pairs.append((a, b, ratio.estimate))
    return pairs


def summary(results: list[ProgramResult], pairs: dict[str, list], core_hz: float) -> dict[str, dict]:
    """Per reward: pooled τ, concordance on resolvable pairs, their number, and MAPE of cycles."""
    out = {}
    for row in ROWS:
        xs, ys, _ = relative(results, row)
        agree, total = 0.0, 0
        for result in results:
            for a, b, ratio in pairs[result.name]:
                if row in a.costs and row in b.costs:
                    total += 1
                    difference = (a.costs[row] - b.costs[row]) * (ratio - 1)
                    agree += 1.0 if difference > 0 else 0.5 if a.costs[row] == b.costs[row] else 0.0
        errors = [
            abs(v.costs[row] - result.seconds(v) * core_hz) / (result.seconds(v) * core_hz)
            for result in results
            for v in result.variants
            if row in CYCLE_ROWS and row in v.costs
        ]
        out[row] = {
            "kendall_tau": tau(xs, ys),
            "pairwise_concordance": agree / total if total else None,
            "resolvable_pairs": total,
            "mape": float(np.mean(errors)) if errors else None,
        }
    return out


def program_details(result: ProgramResult, pairs: list) -> dict:
    """One program: runtime spread vs noise, per-reward τ, and every variant's figures."""
    times = [result.seconds(v) for v in result.variants]
    ratios = result.timing.ratios()
    return {
        "memory_bound": result.memory_bound,
        "dropped": result.dropped,
        "profile_s": result.profile_s,
        "runtime_spread": max(times) / min(times) - 1,
        "runtime_noise": float(np.median([r.halfwidth for r in ratios.values()])) if ratios else None,
        "resolvable_pairs": len(pairs),
        "rounds": result.timing.rounds,
        "stopped": result.timing.stopped,
        "kendall_tau": {
            row: tau([v.costs[row] for v in result.variants], times)
            for row in ROWS
            if all(row in v.costs for v in result.variants)
        },
        "variants": {
            v.label: {
                "seconds": result.seconds(v),
                "ratio": ratios[v.label].record() if v.label in ratios else None,
                "costs": v.costs,
                "cost_s": v.cost_s,
                "compile_s": v.compile_s,
            }
            for v in result.variants
        },
    }


def cost_x_compile(results: list[ProgramResult]) -> dict[str, float]:
    """Per reward: mean seconds per episode over the mean compile time (variants after the plain one)."""
    variants = [v for r in results for v in r.variants[1:]]
    compile_s = float(np.mean([v.compile_s for v in variants]))
    out = {}
    for row in ROWS:
        reward = COMPUTED_FROM.get(row, row)
        seconds = [v.cost_s[reward] for v in variants if reward in v.cost_s]
        if seconds:
            out[row] = float(np.mean(seconds)) / compile_s
    return out


def core_clock(toolchain: Toolchain, workdir: Path) -> float:
    """Core cycles per second, from a chain of dependent adds (fastest of a few runs)."""
    source, exe = workdir / "clock.c", workdir / "clock"
    source.write_text(CLOCK)
    subprocess.run(
        [str(toolchain.clang), "-O2", f"-DITERATIONS={CLOCK_ITERATIONS}L", str(source), "-o", str(exe)], check=True
    )
    fastest = min(run_once(exe)[1] for _ in range(5))
    return 8 * CLOCK_ITERATIONS / fastest


def plot(results: list[ProgramResult], overall: dict, folder: Path) -> None:
    """One scatter plot per reward: measured time vs cost, both relative to the plain compile."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    colours = plt.get_cmap("tab20")
    for row in ROWS:
        xs, ys, names = relative(results, row)
        if not xs:
            continue
        figure, axes = plt.subplots(figsize=(6, 5))
        for k, result in enumerate(results):
            mine = [i for i, n in enumerate(names) if n == result.name]
            axes.scatter(
                [xs[i] for i in mine], [ys[i] for i in mine], label=result.name, color=colours(k % 20),
                marker="s" if result.memory_bound else "o",
            )  # fmt: skip
        value = overall[row]["kendall_tau"]
        axes.set_title(f"{row}: pooled Kendall τ = {value:.2f}" if value is not None else f"{row}: τ undefined")
        axes.set_xlabel(f"{row} / plain compile")
        axes.set_ylabel("measured time / plain compile")
        axes.legend(fontsize=6, ncol=2)
        figure.tight_layout()
        figure.savefig(folder / f"{row}.png", dpi=120)
        plt.close(figure)


def print_tables(tables: dict[str, dict], costs: dict[str, float], per_program: dict[str, dict]) -> None:
    """The summary tables (overall, memory-bound) and τ per program."""
    console = Console(width=160)

    def cell(value: float | None, pattern: str = "{:+.2f}") -> str:
        return "–" if value is None else pattern.format(value)

    for title, table in tables.items():
        out = Table(title=f"Reward fidelity ({title})")
        for column in ("reward", "τ pooled", "concordance", "resolvable pairs", "MAPE cycles", "× compile"):
            out.add_column(column, justify="left" if column == "reward" else "right")
        for row, figures in table.items():
            out.add_row(
                row, cell(figures["kendall_tau"]), cell(figures["pairwise_concordance"], "{:.2f}"),
                str(figures["resolvable_pairs"]), cell(figures["mape"], "{:.0%}"), cell(costs.get(row), "{:.2f}"),
            )  # fmt: skip
        console.print(out)
    out = Table(title="Per program: Kendall τ, runtime spread among variants, median CI half-width")
    for column in ("program", "spread", "±CI", "resolvable", *ROWS):
        out.add_column(column, justify="left" if column == "program" else "right")
    for name, details in per_program.items():
        out.add_row(
            f"{name} (mem)" if details["memory_bound"] else name, f"{details['runtime_spread']:.1%}",
            cell(details["runtime_noise"], "{:.1%}"), str(details["resolvable_pairs"]),
            *(cell(details["kendall_tau"].get(row)) for row in ROWS),
        )  # fmt: skip
    console.print(out)


def main(args: Args) -> dict:
    """Compile, cost and time the variants of every program; report how each reward ranks them."""
    if args.quick:
        args.programs = args.programs or QUICK_PROGRAMS
        args.seeds, args.budget = min(args.seeds, 1), min(args.budget, QUICK_BUDGET_S)
    toolchain = get_toolchain()
    corpus = default_corpus(toolchain, progress=True)
    os.environ["MLGO_CACHE_DIR"] = tempfile.mkdtemp(prefix="fidelity-cache-")  # llvm-mca and profiles: cold
    chosen, missing = predictors(args.mcpu)
    benchmarks = [corpus.benchmark(p) for p in args.programs] if args.programs else corpus.benchmarks()
    workdir = Path(tempfile.mkdtemp(prefix="fidelity-"))
    results = []
    try:
        core_hz = core_clock(toolchain, workdir)
        for benchmark in benchmarks:
            if benchmark.program is None:
                continue
            folder = workdir / benchmark.name
            folder.mkdir()
            variants, dropped = corpus_variants(benchmark, args, toolchain, folder)
            results.append(
                evaluate(benchmark.name, benchmark.program.memory_bound, variants, dropped, args, chosen, missing)
            )
            print(f"{benchmark.name}: {len(results[-1].variants)} variants, {results[-1].timing.rounds} rounds")
        if args.kernel:
            folder = workdir / "working_set"
            folder.mkdir()
            results.append(evaluate("working_set", True, kernel_variants(toolchain, folder), [], args, chosen, missing))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    missing.update(fit_out_of_program(results))
    pairs = {r.name: resolvable_pairs(r) for r in results}
    halfwidths = [i.halfwidth for r in results for i in r.timing.ratios().values()]
    memory = [r for r in results if r.memory_bound]
    overall = summary(results, pairs, core_hz)
    memory_table = summary(memory, pairs, core_hz) if memory else {}
    costs = cost_x_compile(results)
    report: dict[str, object] = {
        "overall": overall,
        "memory_bound": memory_table,
        "cost_x_compile": costs,
        "runtime_ci_halfwidth_median": float(np.median(halfwidths)) if halfwidths else None,
    }
    per_program = {r.name: program_details(r, pairs[r.name]) for r in results}
    wide = [
        r for r in results if per_program[r.name]["runtime_spread"] > 3 * (per_program[r.name]["runtime_noise"] or 0)
    ]
    wide_tau = {row: tau(*relative(wide, row)[:2]) for row in ROWS}
    ceiling = {
        "all programs": split_half_tau(results),
        "memory-bound": split_half_tau(memory),
        "programs_spread_over_3x_noise": split_half_tau(wide),
    }
    details = {
        "per_program": per_program,
        "tau_programs_spread_over_3x_noise": wide_tau,
        "runtime_split_half_tau": ceiling,
        "profile_s": {r.name: r.profile_s for r in results},
        "rewards_missing": missing,
        "core_hz": core_hz,
        "machine": machine.host().record() | {"caches": [c.__dict__ for c in machine.host().caches]},
        "settings": {
            "programs": [r.name for r in results], "seeds": args.seeds, "halfwidth": args.halfwidth,
            "budget_s": args.budget, "mcpu": args.mcpu, "seed": args.seed, "kernel_sizes": kernel_sizes(),
            "llvm": toolchain.version_string(), "load_average": os.getloadavg(),
        },
    }  # fmt: skip
    print_tables({"all programs": overall, "memory-bound": memory_table}, costs, per_program)
    if halfwidths:
        print(f"median CI half-width of a variant's ratio to its plain compile: {np.median(halfwidths):.2%}")
    print("the measurement against itself (even vs odd rounds), pooled τ: "
          + ", ".join(f"{k} {v:+.2f}" if v is not None else f"{k} –" for k, v in ceiling.items()))  # fmt: skip
    print(f"perf_model pooled τ over the {len(wide)} programs whose spread exceeds 3x their noise: "
          + ("–" if wide_tau["perf_model"] is None else f"{wide_tau['perf_model']:+.2f}"))  # fmt: skip
    if args.plot is not None:
        plot(results, overall, args.plot)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    if args.details:
        args.details.write_text(json.dumps(details, indent=1))
    return report


if __name__ == "__main__":
    main(tyro.cli(Args))
