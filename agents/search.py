"""Greedy local search over each program's inlining decisions: the headroom, and labels to clone.

For every program the search starts from the best of a few whole-program policies (LLVM's own
decisions, never inline, and optionally a saved ONNX policy), then flips one decision at a
time, in order, and keeps a flip when ``.text`` shrinks; it repeats passes until one improves
nothing (or ``--passes`` is reached). A candidate is a list of decisions replayed by step index;
past its end LLVM's own decision is used (a flip can change which call sites come later).

Two uses:

- **headroom**: what a per-program search finds on the test programs is a yardstick for a policy,
  which must generalise from the training programs and never sees the test programs;
- **labels**: the best decisions found on the training programs, with the observations a policy
  sees (recorded again without ``include_default``), saved as ``.npz`` for
  ``agents/behavioral_cloning.py --teacher PATH.npz`` (expert iteration: search, clone, repeat).

Usage::

    python -m agents.search --split test --json runs/headroom_test.json
    python -m agents.search --split train --start-policy agents/policies/inlining_size.onnx \
        --output runs/search_labels.npz
    python -m agents.search --corpus DIR --split "" --max-decisions 200 --output runs/real.npz [--resume]

A long search keeps what it finished: each program's result is appended to a journal beside
``--json`` (or ``--output``) as it arrives, and ``--resume`` searches only the programs it lacks
(their labels are recorded again from the journal's decisions, one compile each).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table
from tqdm import tqdm

from agents.lib.benchmarks import list_benchmarks, load_corpus, short_name
from agents.lib.flags import CorpusArgs, parse_args
from agents.lib.labels import record_labels, save_labels
from agents.lib.results import Journal
from agents.lib.scores import geomean_reduction
from mlgo_env.compilation import CompileOptions, compile_baseline
from mlgo_env.corpus import Benchmark
from mlgo_env.episode import Trajectory, run_episode
from mlgo_env.errors import MlgoEnvError
from mlgo_env.onnx_policy import OnnxPolicy
from mlgo_env.policies import Observation, Policy
from mlgo_env.toolchain import get_toolchain
from rewards.size import text_size


@dataclass
class Args(CorpusArgs):
    """Search each program's inlining decisions for the smallest .text (headroom and BC labels)."""

    split: str = "test"
    """the corpus split to search (a corpus that records no split: all its modules)"""
    benchmarks: tuple[str, ...] = ()
    """search these benchmarks instead of the split"""
    opt_level: str = "-Oz"
    """the optimisation level of every compile"""
    start_policy: str = ""
    """an ONNX inlining policy to try as a starting point too (besides LLVM's and never-inline)"""
    passes: int = 3
    """at most this many passes of single flips over the decisions"""
    workers: int = 2
    """programs searched at once (one process each)"""
    quick: bool = False
    """one pass, and the four smallest test programs (a few minutes on 2 cores)"""
    json: str = ""
    """write the per-program results here as JSON"""
    output: str = ""
    """write the best decisions and their observations here (.npz, agents.lib.labels) for behavioural cloning"""
    max_decisions: int = 0
    """leave out programs whose best start asks more decisions than this (a pass compiles once per decision); 0: none"""
    resume: bool = False
    """take the programs a killed run finished from its journal (beside --json, else --output); search the rest"""


@dataclass
class SearchResult:
    """The best decisions found for one program."""

    benchmark: str
    plain_text: int
    """``.text`` bytes of the plain compile (LLVM's heuristic without the advisor)"""
    start: str
    """the starting policy that was best"""
    start_text: int
    best_text: int
    actions: list[int]
    compiles: int
    seconds: float

    @property
    def reduction(self) -> float:
        """Relative ``.text`` reduction of the best decisions vs the plain compile."""
        return 1.0 - self.best_text / self.plain_text


class TooManyDecisions(Exception):
    """A program asks more decisions than the search was told to take on (``--max-decisions``)."""


def _replay(actions: Sequence[int]) -> Policy:
    """Answer the i-th decision with ``actions[i]``; past the end, with LLVM's own decision."""
    answers: Iterator[int] = iter(list(actions))

    def policy(observation: Observation) -> int:
        answer = next(answers, None)
        return int(observation["inlining_default"].reshape(-1)[0]) if answer is None else answer

    return policy


def _compile(benchmark: Benchmark, policy: Policy | str, options: CompileOptions, include_default: bool) -> Trajectory:
    return run_episode(
        benchmark, "inlining", policy, options=options, include_default=include_default, record_observations=False
    )


def search_program(
    benchmark: Benchmark, options: CompileOptions, start_policy: bytes | None, passes: int, max_decisions: int = 0
) -> SearchResult:
    """Greedy single-flip search from the best starting policy (see the module docstring).

    Raises:
        TooManyDecisions: `max_decisions` is set and the best start asks more decisions than that.
    """
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mlgo-search-") as workdir:
        plain_text = text_size(compile_baseline(get_toolchain(), benchmark, options, Path(workdir)).object_path)
    starts: dict[str, Policy | str] = {"llvm-default": "llvm-default", "never": "never"}
    if start_policy is not None:
        starts["start-policy"] = OnnxPolicy(start_policy)
    # Only LLVM's own decisions need include_default: on LLVM 19 it costs the policy a feature.
    tried = {name: _compile(benchmark, p, options, name == "llvm-default") for name, p in starts.items()}
    start = min(tried, key=lambda name: tried[name].text_size)
    best, best_text = [int(a) for a in tried[start].actions], tried[start].text_size
    if max_decisions and len(best) > max_decisions:
        raise TooManyDecisions(f"{len(best)} decisions > --max-decisions {max_decisions}")
    compiles = len(tried)
    for _ in range(passes):
        improved, index = False, 0
        while index < len(best):  # a kept flip can change how many decisions follow
            candidate = best.copy()
            candidate[index] = 1 - candidate[index]
            trajectory = _compile(benchmark, _replay(candidate), options, include_default=True)
            compiles += 1
            if trajectory.text_size < best_text:
                best, best_text, improved = [int(a) for a in trajectory.actions], trajectory.text_size, True
            index += 1
        if not improved:
            break
    return SearchResult(
        benchmark=benchmark.name,
        plain_text=plain_text,
        start=start,
        start_text=tried[start].text_size,
        best_text=best_text,
        actions=best,
        compiles=compiles,
        seconds=time.perf_counter() - started,
    )


@dataclass(frozen=True)
class SearchJob:
    """One program for a worker process: search it, or (resumed) only record the labels of `found`."""

    corpus: str
    benchmark: str
    opt_level: str
    start_policy: bytes | None
    passes: int
    max_decisions: int
    labels: bool
    """record the observations of the best decisions"""
    found: SearchResult | None = None
    """the search's result from the journal of a killed run"""


@dataclass
class JobOutcome:
    """One program's search as a worker process returns it: the result, or why there is none."""

    benchmark: str
    result: SearchResult | None = None
    observations: dict[str, np.ndarray] | None = None
    error: str = ""
    skipped: str = ""
    """why the program was left out unsearched (`TooManyDecisions`)"""

    def record(self) -> dict:
        """The journal's line for this program."""
        if self.result is not None:
            return {"result": asdict(self.result)}
        return {"skipped": self.skipped} if self.skipped else {"failed": self.error}

    @classmethod
    def of_record(cls, benchmark: str, record: dict) -> JobOutcome:
        """The outcome a journal's line (`record`) holds, without observations."""
        result = SearchResult(**record["result"]) if "result" in record else None
        return cls(benchmark, result, error=record.get("failed", ""), skipped=record.get("skipped", ""))


def _search_job(job: SearchJob) -> JobOutcome:
    benchmark = load_corpus(job.corpus).benchmark(job.benchmark)
    options = CompileOptions(opt_level=job.opt_level)
    try:
        result = job.found or search_program(benchmark, options, job.start_policy, job.passes, job.max_decisions)
        observations = record_labels(benchmark, result.actions, options).observations if job.labels else None
    except TooManyDecisions as exc:
        return JobOutcome(job.benchmark, skipped=str(exc))
    except MlgoEnvError as exc:  # a compiler failure, or a policy that cannot answer (InvalidPolicy)
        return JobOutcome(job.benchmark, error=f"{type(exc).__name__}: {exc}")
    return JobOutcome(job.benchmark, result, observations)


def _journal(args: Args, start_policy: bytes | None, passes: int) -> Journal | None:
    """The journal of finished programs beside --json (else --output); None when neither is given.

    Raises:
        ValueError: ``--resume`` without a file to find the journal by, or a journal of other settings.
    """
    anchor = args.json or args.output
    if not anchor:
        if args.resume:
            raise ValueError("--resume reads the journal beside --json or --output: give the killed run's")
        return None
    settings = {
        "corpus": args.corpus,
        "opt_level": args.opt_level,
        "passes": passes,
        "max_decisions": args.max_decisions,
        "start_policy": hashlib.sha256(start_policy).hexdigest() if start_policy else None,
    }
    return Journal(Path(anchor).with_suffix(".jsonl"), settings, args.resume)


def print_table(results: list[SearchResult], console: Console | None = None) -> None:
    """Per program: plain -Oz, the best start, the best found, and the geomean."""
    table = Table(title=".text bytes: plain compile vs the best decisions a greedy search found")
    table.add_column("program", no_wrap=True)
    table.add_column("plain", justify="right")
    table.add_column("best start", no_wrap=True)
    for column in ("start", "found", "reduction", "compiles", "seconds"):
        table.add_column(column, justify="right")
    for r in results:
        table.add_row(
            r.benchmark, f"{r.plain_text:,}", r.start, f"{r.start_text:,}", f"{r.best_text:,}",
            f"{r.reduction:+.1%}", str(r.compiles), f"{r.seconds:.0f}",
        )  # fmt: skip
    if results:
        geomean = geomean_reduction(r.reduction for r in results)
        table.add_row("geomean", "", "", "", "", f"{geomean:+.1%}", "", "")
    (console or Console(width=110)).print(table)  # wide enough for every column, also when piped


QUICK_BENCHMARKS = ("bfs_scc", "edit_distance", "hashtable", "regex_match")
"""--quick: the four test programs with the fewest decisions."""


def main(args: Args) -> list[SearchResult]:
    """Search every program; print the table; write JSON and labels as asked.

    Bad input fails before any compile (an unknown benchmark, a start policy that is not a
    valid ONNX policy); a program whose compile fails is reported and the others still finish.
    """
    corpus = load_corpus(args.corpus)
    if args.benchmarks:
        names = list(args.benchmarks)
    elif args.quick:
        names = list(QUICK_BENCHMARKS)
    else:
        names = list_benchmarks(args.split, args.corpus or None)
    names = [corpus.benchmark(short_name(n)).name for n in names]
    passes = 1 if args.quick else args.passes
    start_policy = Path(args.start_policy).read_bytes() if args.start_policy else None
    if start_policy is not None:
        OnnxPolicy(start_policy)  # raises InvalidPolicy now, not in every worker
    journal = _journal(args, start_policy, passes)
    outcomes = {
        name: JobOutcome.of_record(name, record)
        for name, record in (journal.done("search") if journal else {}).items()
        if name in names
    }
    found = [o.result for o in outcomes.values() if o.result is not None] if args.output else []

    def job(name: str, result: SearchResult | None = None) -> SearchJob:
        return SearchJob(
            args.corpus, name, args.opt_level, start_policy, passes, args.max_decisions, bool(args.output), result
        )

    jobs = [job(name) for name in names if name not in outcomes] + [job(r.benchmark, r) for r in found]
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        futures = {pool.submit(_search_job, j): j for j in jobs}
        for future in tqdm(as_completed(futures), total=len(futures), desc="search", unit="program"):
            outcome = future.result()
            outcomes[outcome.benchmark] = outcome
            if journal is not None and futures[future].found is None:
                journal.add("search", outcome.benchmark, outcome.record())
    ordered = [outcomes[name] for name in names if name in outcomes]
    results = [o.result for o in ordered if o.result is not None]
    observations = [o.observations for o in ordered if o.result is not None and o.observations is not None]
    failed = {o.benchmark: o.error for o in ordered if o.result is None and not o.skipped}
    skipped = {o.benchmark: o.skipped for o in ordered if o.skipped}
    print_table(results)
    for name, error in failed.items():
        print(f"{name}: failed, left out of the geomean: {error}")
    if skipped:
        print(f"{len(skipped)} programs left out unsearched (--max-decisions {args.max_decisions})")
    if args.output and results:
        save_labels(Path(args.output), [r.benchmark for r in results], [r.actions for r in results], observations)
        print(f"wrote {sum(len(r.actions) for r in results)} labelled decisions to {args.output}")
    if args.json:
        summary = {
            "opt_level": args.opt_level,
            "passes": passes,
            "start_policy": args.start_policy or None,
            "geomean_reduction_vs_default": geomean_reduction(r.reduction for r in results) if results else None,
            "per_program": {r.benchmark: {**asdict(r), "reduction": r.reduction} for r in results},
            "failed": failed,
            "skipped": skipped,
        }
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(summary, indent=1))
    return results


if __name__ == "__main__":
    main(parse_args(Args))
