"""Evaluate saved policies on a corpus: a table, a bar chart, and JSON written as modules finish.

Two parts:

- **inlining for size** (`--inlining-policy`, at ``-Oz``): each program's ``.text`` bytes against
  **plain** ``-Oz`` — LLVM's inliner heuristic *without* the ML advisor, the same baseline as the
  environment's reward. Beside it, the **ML advisor following LLVM's own** ``inlining_default``
  ("ml-default") and a random policy, because the two defaults can differ (see README, Agents).
  Episodes run in the service's rollout mode.
- **eviction for performance** (`--eviction-policy`, at ``-O2``): the predicted change under the
  best performance reward registered (``perf_model``, else ``mca``; the JSON says which, and says
  so when it had to fall back), and the measured runtime change of the linked programs against
  LLVM's default eviction advisor (`agents.lib.timing`). Every run's output is checked against
  the program's reference output.

A module that cannot be evaluated — its plain compile has no ``.text`` (a file of tables), it
fails to compile, it times out (``--compile-timeout``) — is listed under ``"failed"`` with its
cause, and the others go on. With ``--json PATH`` each finished module is appended at once to
``PATH`` with the suffix ``.jsonl``, and the summary ``PATH`` is rewritten as the run goes; a killed
run resumes from the journal when rerun with the same flags and ``--resume``.

Usage::

    python -m agents.evaluate --quick --json runs/eval.json      # the shipped policies, < 5 min
    python -m agents.evaluate --inlining-policy runs/<run>/policy.onnx --benchmarks huffman fft
    python -m agents.evaluate --corpus DIR --skip-eviction --json runs/eval.json [--resume]
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import rewards
from agents.lib.benchmarks import list_benchmarks, load_corpus, short_name
from agents.lib.flags import CorpusArgs, parse_args
from agents.lib.policy_io import POLICY_DIR, load_policy
from agents.lib.results import Journal, SummaryWriter
from agents.lib.rollouts import RolloutPool
from agents.lib.scores import geomean_reduction
from agents.lib.timing import changes, time_variants
from agents.lib.variants import Variant, compile_variants
from mlgo_env.artifacts import Artifact
from mlgo_env.compilation import CompileOptions
from mlgo_env.corpus import Benchmark
from mlgo_env.errors import MlgoEnvError
from mlgo_env.scoring import Scorer
from mlgo_env.toolchain import get_toolchain

PERF_REWARDS = ("perf_model", "mca")
"""Performance rewards in order of preference (the first one registered is used)."""
QUICK_PERF_REWARDS = ("mca",)
"""--quick skips perf_model: its one-off cache simulation of each program takes minutes."""
QUICK_RUNTIME_REPEATS = 7
"""--quick's timed runs per binary: 3 gave policy figures of ±9% on single programs here."""
INLINING, EVICTION = "inlining_size", "eviction_perf"
"""The two parts, as named in the JSON and the journal."""

Progress = Callable[[dict], None]
"""Called with a part's summary so far after each module (to rewrite the summary JSON)."""


@dataclass
class Args(CorpusArgs):
    """Evaluate saved policies against LLVM's heuristics and a random policy on a corpus's programs."""

    quick: bool = False
    """the check's budget (< 5 min on 2 cores): 7 timed runs, and mca (not perf_model) predicts eviction"""
    json: str = ""
    """write the results here as JSON (rewritten as modules finish); each finished module goes to PATH.jsonl"""
    resume: bool = False
    """take the modules already finished from the --json journal (.jsonl) of a killed run with the same flags"""
    plot: str = "runs/evaluate.png"
    """write the bar chart here (PNG); empty: no chart"""
    inlining_policy: str = str(POLICY_DIR / "inlining_size.onnx")
    """the ONNX inlining policy (empty: skip the inlining part)"""
    eviction_policy: str = str(POLICY_DIR / "eviction_perf.onnx")
    """the ONNX eviction policy (empty or missing: the eviction part compares random with the default only)"""
    split: str = "test"
    """the corpus split to evaluate on (a corpus that records no split: all its modules)"""
    benchmarks: tuple[str, ...] = ()
    """evaluate on these benchmarks instead of the split"""
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
    compile_timeout: float = 600.0
    """seconds one inlining compile may take; a module past it is listed as failed (CompilerTimeout)"""
    service: str | None = None
    """address of a running compiler service for the inlining rollouts (default: an embedded one over --corpus)"""
    seed: int = 0
    """seed of the random policy"""


def failure_cause(error: str) -> str:
    """A failure's cause in one line: the error's first line, then the compiler's first ``error:`` line."""
    lines = [line.strip() for line in error.splitlines() if line.strip()]
    if not lines:
        return "unknown error"
    compiler_error = next((line for line in lines[1:] if "error" in line.lower()), "")
    cause = f"{lines[0]} | {compiler_error}" if compiler_error else lines[0]
    return cause[:500]


# -- inlining for size ---------------------------------------------------------------------


def inlining_record(results: dict[str, dict], opt_level: str) -> dict:
    """One program's row from its contenders' rollouts, or ``{"failed": cause}``.

    A program fails when the policy's compile does, or when the plain compile has no ``.text``
    (no relative change exists); another contender's failure stays in the row (``random_error``).
    """
    policy = results["policy"]
    if policy.get("reward") is None:
        return {"failed": failure_cause(policy.get("error", "no reward"))}
    if int(policy["baseline_cost"]) == 0:
        return {"failed": f"empty .text: the plain {opt_level} compile has no code (a module of data or declarations)"}
    row: dict[str, Any] = {"baseline_text": int(policy["baseline_cost"]), "decisions": policy["decisions"]}
    for name, result in results.items():
        if result.get("reward") is None:
            row[f"{name}_error"] = failure_cause(result.get("error", "no reward"))
            continue
        row[f"{name}_text"] = result["text_size"]
        row[f"{name}_reduction_vs_default"] = result["reward"]
    if row.get("ml_default_text"):
        row["policy_reduction_vs_ml_default"] = 1 - row["policy_text"] / row["ml_default_text"]
    return row


def summarise_inlining(records: dict[str, dict], opt_level: str) -> dict:
    """The inlining part's JSON from each program's record: rows, failures and geomeans."""
    per_program = {name: r for name, r in records.items() if "failed" not in r}
    return {
        "opt_level": opt_level,
        "default": f"plain {opt_level}: LLVM's inliner heuristic without the ML advisor (the env's reward baseline)",
        "ml_default": "the ML advisor answering every call site with LLVM's inlining_default feature",
        "geomean_reduction_vs_default": _geomean(per_program, "policy_reduction_vs_default"),
        "geomean_reduction_vs_ml_default": _geomean(per_program, "policy_reduction_vs_ml_default"),
        "ml_default_geomean_reduction_vs_default": _geomean(per_program, "ml_default_reduction_vs_default"),
        "random_geomean_reduction_vs_default": _geomean(per_program, "random_reduction_vs_default"),
        "total_reduction_vs_default": _total_reduction(per_program, "policy_text"),
        "programs": len(per_program),
        "per_program": per_program,
        "failed": {name: r["failed"] for name, r in records.items() if "failed" in r},
    }


def evaluate_inlining(
    policy: bytes,
    benchmarks: list[str],
    opt_level: str,
    workers: int,
    seed: int,
    service: str | None = None,
    corpus: str = "",
    compile_timeout: float = 600.0,
    journal: Journal | None = None,
    progress: Progress | None = None,
) -> dict:
    """Size of the policy, ml-default and random against plain `opt_level`, per program and geomean.

    Programs in `journal` are taken from it; each new one is added to it as soon as it finishes.
    """
    contenders: dict[str, str | bytes] = {"policy": policy, "ml_default": "llvm-default", "random": "random"}
    done = journal.done(INLINING) if journal else {}
    records = {short_name(b): done[short_name(b)] for b in benchmarks if short_name(b) in done}
    todo = [b for b in benchmarks if short_name(b) not in done]
    if todo:
        # No include_default: on LLVM 19 it costs the policy a feature (see InliningTask), and the
        # service turns it on for the llvm-default policy by itself.
        env_kwargs: dict[str, Any] = {
            "reward": "size", "opt_level": opt_level, "service": service, "corpus": corpus or None,
            "compile_timeout": compile_timeout,
        }  # fmt: skip
        with RolloutPool("mlgo/Inlining-v0", workers=workers, **env_kwargs) as pool:
            results = pool.imap([(p, b) for b in todo for p in contenders.values()], seed=seed)
            for benchmark in todo:
                record = inlining_record({name: next(results) for name in contenders}, opt_level)
                records[short_name(benchmark)] = record
                if journal:
                    journal.add(INLINING, short_name(benchmark), record)
                if progress:
                    progress(summarise_inlining(_ordered(records, benchmarks), opt_level))
    return summarise_inlining(_ordered(records, benchmarks), opt_level)


def _ordered(records: dict[str, dict], benchmarks: list[str]) -> dict[str, dict]:
    """`records` in the order of `benchmarks`."""
    return {short_name(b): records[short_name(b)] for b in benchmarks if short_name(b) in records}


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
    """Geometric-mean reduction of `key` over the programs that have it (None when none has)."""
    values = [row[key] for row in per_program.values() if row.get(key) is not None]
    return geomean_reduction(values) if values else None


def _total_reduction(per_program: dict[str, dict], key: str) -> float | None:
    """Reduction of the summed ``.text`` of `key` vs the summed plain ``.text`` (programs that have both)."""
    rows = [row for row in per_program.values() if row.get(key) is not None]
    base = sum(row["baseline_text"] for row in rows)
    return 1 - sum(row[key] for row in rows) / base if base else None


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
    journal: Journal | None = None,
    progress: Progress | None = None,
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
    summary: dict[str, Any] = {
        "opt_level": opt_level,
        "default": f"LLVM's default eviction advisor at {opt_level}",
        "perf_reward": reward_name,
        "perf_reward_note": note,
        "policy": "given" if policy is not None else None,
        "policy_note": None
        if policy is not None
        else "no eviction policy file was given or found: only the random policy is compared",
        "runtime": "mlgo_env.timing: child CPU time, 0.2-quantile over interleaved rounds "
        f"(at least {repeats}, after {warmup} warm-up round(s), until ±1% or the budget), 95% bootstrap "
        "intervals; spread = (max-min)/min",
    }
    records = journal.done(EVICTION) if journal else {}
    for benchmark in benchmarks:
        if benchmark.name in records:
            continue
        workdir = Path(tempfile.mkdtemp(prefix="mlgo-eval-"))
        try:
            variants = compile_variants(
                benchmark, "regalloc_eviction", contenders, opt_level, workdir, scorer, seed, workers
            )
            record = _eviction_row(variants, changes(time_variants(benchmark, variants, repeats, warmup)))
        except MlgoEnvError as exc:
            record = {"failed": failure_cause(f"{type(exc).__name__}: {exc}")}
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        records[benchmark.name] = record
        if journal:
            journal.add(EVICTION, benchmark.name, record)
        if progress:
            progress({**summary, **_summarise_eviction(records, contenders)})
    return {**summary, **_summarise_eviction({b.name: records[b.name] for b in benchmarks}, contenders)}


def _summarise_eviction(records: dict[str, dict], contenders: dict[str, str | bytes]) -> dict:
    """Rows, failures, geomeans and the median noise of the eviction part."""
    per_program = {name: r for name, r in records.items() if "failed" not in r}
    summary: dict[str, Any] = {"per_program": per_program}
    for name in contenders:
        summary[f"{name}_geomean_predicted_change"] = _geomean(per_program, f"{name}_predicted_change")
        summary[f"{name}_geomean_measured_change"] = _geomean(per_program, f"{name}_measured_change")
    summary["median_runtime_noise"] = _median(per_program, "default_noise")
    summary["failed"] = {name: r["failed"] for name, r in records.items() if "failed" in r}
    return summary


def _eviction_row(variants: dict[str, Variant], timing: dict[str, dict]) -> dict:
    """One program's eviction results: predicted and measured change per contender, and noise."""
    row: dict[str, Any] = {"default_s": timing["default"]["seconds"], "default_noise": timing["default"]["spread"]}
    for name, variant in variants.items():
        if name == "default":
            continue
        row[f"{name}_predicted_change"] = variant.predicted
        row[f"{name}_measured_change"] = timing[name]["measured_change"]
        row[f"{name}_measured_interval"] = timing[name]["interval"]
        row[f"{name}_resolvable"] = timing[name]["resolvable"]
        row[f"{name}_s"] = timing[name]["seconds"]
        row[f"{name}_noise"] = timing[name]["spread"]
    return row


def _median(per_program: dict[str, dict], key: str) -> float | None:
    values = [row[key] for row in per_program.values() if row.get(key) is not None]
    return float(np.median(values)) if values else None


# -- report ---------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "    n/a" if value is None else f"{100 * value:+6.2f}%"


def _print_table(
    title: str, columns: dict[str, str], rows: dict[str, dict], footer: dict[str, Any], failed: dict[str, str]
) -> None:
    """One table: a row per program with a percentage per column (header → key), the geomeans, the failures."""
    print(f"\n{title}")
    width = max([16, *(len(name) + 1 for name in [*rows, *failed])])
    print(f"{'program':{width}}" + "".join(f" {header:>17}" for header in columns))
    for name, row in rows.items():
        print(f"{name:{width}}" + "".join(f" {_pct(row.get(key)):>17}" for key in columns.values()))
    print(f"{'geomean':{width}}" + "".join(f" {_pct(footer.get(key)):>17}" for key in columns.values()))
    for name, cause in failed.items():
        print(f"{name:{width}} failed: {cause[:160]}")


def print_tables(results: dict) -> None:
    """Readable tables of both parts (positive = smaller / faster than the default)."""
    inlining = results.get("inlining_size")
    if inlining:
        columns = {
            "policy": "policy_reduction_vs_default",
            "ML adv.=LLVM": "ml_default_reduction_vs_default",
            "random": "random_reduction_vs_default",
            "policy vs ML=LLVM": "policy_reduction_vs_ml_default",
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
        total = _pct(inlining["total_reduction_vs_default"])
        title = (
            f"Inlining for size: .text reduction vs {inlining['default']}\n"
            f"  ML adv.=LLVM: {inlining['ml_default']}\n"
            f"  total .text of the policy vs plain {inlining['opt_level']}: {total}"
        )
        _print_table(title, columns, inlining["per_program"], footer, inlining["failed"])
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
        _print_table(title, columns, eviction["per_program"], footer, eviction["failed"])
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
        rows = data["per_program"]
        names = list(rows)
        if part == "inlining_size":
            series = {
                "policy": "policy_reduction_vs_default",
                "ML advisor following LLVM": "ml_default_reduction_vs_default",
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
        default = f"plain {data['opt_level']}" if part == INLINING else "LLVM's default advisor"
        ax.set_ylabel(f"% better than {default}")
        ax.set_title(title)
        ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_settings(args: Args, inlining_policy: bytes | None, eviction_policy: bytes | None) -> dict[str, Any]:
    """What the rows depend on: a resumed run must match these (`agents.lib.results.Journal`)."""

    def digest(policy: bytes | None) -> str | None:
        return hashlib.sha256(policy).hexdigest() if policy is not None else None

    repeats = QUICK_RUNTIME_REPEATS if args.quick else args.runtime_repeats
    return {
        "corpus": str(load_corpus(args.corpus).root),
        "llvm": get_toolchain().version,
        "inlining_policy_sha256": digest(inlining_policy),
        "eviction_policy_sha256": None if args.skip_eviction else digest(eviction_policy),
        "inlining_opt_level": args.inlining_opt_level,
        "eviction_opt_level": None if args.skip_eviction else args.eviction_opt_level,
        "runtime_repeats": None if args.skip_eviction else repeats,
        "perf_reward": None if args.skip_eviction else args.perf_reward,
        "compile_timeout": args.compile_timeout,
        "seed": args.seed,
    }


def main(args: Args) -> dict:
    """Run the evaluation, print the tables, write JSON and the chart; returns the results.

    Raises:
        ValueError: ``--resume`` without ``--json``, or a journal written with other flags.
    """
    started = time.time()
    if args.resume and not args.json:
        raise ValueError("--resume reads the journal beside --json PATH: give the same --json as the killed run")
    corpus = load_corpus(args.corpus)
    names = list(args.benchmarks) or list_benchmarks(args.split, args.corpus or None)
    names = [corpus.benchmark(short_name(n)).name for n in names]  # an unknown name fails before any compile
    repeats = QUICK_RUNTIME_REPEATS if args.quick else args.runtime_repeats
    inlining_policy, metadata = load_policy(Path(args.inlining_policy)) if args.inlining_policy else (None, {})
    path = Path(args.eviction_policy) if args.eviction_policy else None
    eviction_policy = load_policy(path)[0] if path is not None and path.is_file() else None
    output = Path(args.json) if args.json else None
    journal = None
    if output is not None:
        settings = run_settings(args, inlining_policy, eviction_policy)
        journal = Journal(output.with_suffix(".jsonl"), settings, args.resume)
    results: dict[str, Any] = {
        "split": None if args.benchmarks else args.split,
        "corpus": str(corpus.root),
        "benchmarks": names,
    }
    write_summary = SummaryWriter(output)

    def progress(part: str, head: dict[str, Any]) -> Progress:
        def update(summary: dict) -> None:
            results[part] = {**head, **summary}
            write_summary(results)

        return update

    if inlining_policy is not None:
        inlining_head: dict[str, Any] = {
            "policy": args.inlining_policy,
            "policy_metadata": {
                k: metadata[k] for k in ("trainer", "reward", "opt_level", "train_geomean_reduction") if k in metadata
            },
        }
        inlining = evaluate_inlining(
            inlining_policy, names, args.inlining_opt_level, args.workers, args.seed, args.service, args.corpus,
            args.compile_timeout, journal, progress(INLINING, inlining_head),
        )  # fmt: skip
        results[INLINING] = {**inlining_head, **inlining, "seconds": time.time() - started}
        if args.headroom:
            add_headroom(results[INLINING], json.loads(Path(args.headroom).read_text()))
    if not args.skip_eviction:
        part_started = time.time()
        eviction_head = {"policy_path": str(path) if eviction_policy is not None else None}
        eviction = evaluate_eviction(
            eviction_policy, [corpus.benchmark(n) for n in names], args.eviction_opt_level, args.perf_reward,
            repeats, args.workers, args.seed, args.quick, journal, progress(EVICTION, eviction_head),
        )  # fmt: skip
        results[EVICTION] = {**eviction_head, **eviction, "seconds": time.time() - part_started}
    results["failed"] = all_failures(results)
    results["seconds"] = time.time() - started
    print_tables(results)
    write_summary(results, force=True)
    if args.plot:
        plot(results, Path(args.plot))
        print(f"chart: {args.plot}")
    print(f"evaluated in {results['seconds']:.0f} s")
    return results


def all_failures(results: dict[str, Any]) -> dict[str, str]:
    """Every part's failed modules: benchmark -> cause (an eviction-only failure says so)."""
    failed = dict(results.get(INLINING, {}).get("failed", {}))
    for name, cause in results.get(EVICTION, {}).get("failed", {}).items():
        failed.setdefault(name, f"eviction: {cause}")
    return failed


if __name__ == "__main__":
    main(parse_args(Args))
