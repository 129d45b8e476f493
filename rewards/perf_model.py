"""A performance model: block throughput plus the time the program's data misses cost.

    cycles = Σ_b count(b)·cost(b) + scattered + stream + faults·fault

over the machine basic blocks b of the compiled module: cost(b) is llvm-mca's cycles per iteration
(`mlgo_env.mca`) for the hottest blocks that hold 99.9% of Σ count × instructions (``coverage``;
the cold tail costs their cycles per instruction, blocks that never run nothing), with only the
register chains its function's loops carry (`mlgo_env.loops`: costed alone as a loop, a block
whose input another block writes would wait for its own previous result), count(b) how often
b runs. The module's first-level data misses are split by the level that served them (the level
below the last, the last level, memory) and by how the source line that missed used its lines:

* *random* (each missed line gave the line less than half of its bytes: a pointer chase, a hash
  table, a scattered read) cost what one of many independent random loads from that level costs
  over a first-level hit, as the core overlaps them: ``scattered`` (with ``mlp`` given instead:
  that level's extra latency, ``stall``, divided by it);
* *streamed* (the line swept its data) cost what one line of a sequential sweep from that level
  costs once the prefetchers see it coming: ``stream``.

and each page the program touches first costs a minor page fault (``faults``, counted in one
native run of the program; ``fault`` the kernel's cycles to map and zero a page and give it back).
What a miss to memory costs grows with the working set (page walks): it is taken at the
program's footprint (its page faults × the page size), between the working sets the probe
measured beyond the last level. All costs are asked of the machine, not assumed:
`mlgo_env.load_latency` measures a pointer chase, a sweep and independent random loads at each
level of this host's hierarchy, and a page fault, once per machine. On this Zen 4 VM a
random load from a working set of half the L3 costs 520 cycles, near memory's 690 (the L3 a VM
sees is not the chip's), and a swept line from memory 10.

The target is explicit: llvm-mca models the target CPU (this host's unless given); the caches
simulated are the target's (this host's, as `mlgo_env.machine` reads them, unless given), rounded
to the nearest geometry valgrind can simulate (`mlgo_env.callgrind.valgrind_geometry`). Costs of
misses are this machine's where its caches are the target's; for other caches there is no machine
to ask, and only their last-level misses count, at the CPU's typical miss (`miss_latency`). The
breakdown records all of it.

Counts and misses come from one cache simulation of the program per input (`mlgo_env.callgrind`,
two runs where a level sits between the first and the last: per source line its executions, data
bytes and misses per level; per call site the work each function did when entered there), cached
on disk. Variants are not run: each instruction of a variant is
located by its DWARF line and the inlining chain that put it there (`mlgo_env.dwarf`), and

* count(b) = lower median over b's instructions of
  executions(line) × share(copy) × freq(b) / freq(hottest block of that copy holding the line).
  A *copy* of a line is its code in one function under one inlining chain; its share is its part
  of the line's executions, in proportion to the work (instructions) the profile saw its function
  do when entered from the copy's call site (through every step of a nested chain: work(site) /
  work(callee) per outer step); the out-of-line function gets what is left of its work once the
  sites this variant inlines are taken out. So a line's count follows the call sites inlining
  moved it into, instead of being split evenly among its copies; where the profile knows none of
  the sites, it is split evenly.
  freq is LLVM's static block frequency: a line spread over a loop and its preheader gives the
  loop its count and the preheader a share. Then bytes are conserved: a block holding memory
  instructions is scaled (by the median over them, within 1/64..64) so that each copy moves its
  share of its lines' profiled bytes. A vectorised or unrolled loop runs fewer, wider iterations
  than the profiled build's (or an -O1 build more, narrower ones), and a preheader that static
  frequencies make hot moves too few bytes to be: the profile's executions are counted in the
  profiled build's iterations, the bytes are not.
* misses = the profile's data misses at each level on the lines of the module's source files
  (not the C library's or the loader's), whatever the variant. Misses come from the working sets
  the program's loops sweep, which inlining, register allocation and the optimisation level leave
  as they were: they change how often and how wide the accesses are, which the L1 absorbs.
  Designs tried, each judged by ``benchmarks/reward_fidelity.py --quick`` on one quiet Zen 4 VM
  against the same runs' other rows:

  - each line's last-level misses scaled by the bytes the variant's estimated counts move: the
    misses followed the counts' errors, concordance on resolvable pairs 0.80, memory-bound τ +0.41;
  - a line's last-level misses kept where the variant still loads or stores on it: DWARF moves
    loads to the lines that use them at -O1, concordance 0.90, memory-bound τ +0.53;
  - the profile's last-level misses at the CPU's table latency / 4: concordance 0.97, pooled τ
    +0.65, memory-bound τ +0.76; but a working set of half the L3, 5.6–7.4× slower than one that
    fits the L1, had no last-level misses at all and was predicted 1.25×;
  - every level's misses at this machine's measured latencies: the working set ranked right
    (τ 1.00), concordance 1.00; but stencil2d's swept misses cost 8× its whole runtime;
  - random misses at their latency / MLP, swept ones at a sweep's cost: stencil2d's misses
    within 2× of what it spends waiting; but on a Golden Cove guest a working set of 8 MiB (in the
    L3) was predicted 3.5× slower than one in the L1 and measured 1.5×: its loads are independent,
    and the core keeps far more than 4 in flight;
  - random misses at what independent random loads from their level cost on this machine (this).

  So what moves the miss terms is the input (a working set that leaves a cache: one profile per
  input) and the target's caches; between compiler variants of one input they are a constant that
  weighs their throughput differences against the time the program waits for memory.

With ``frequencies="static"`` count(b) is instead LLVM's static block-frequency estimate (entry
block = 1 per function), which ignores how often each function runs.

With ``mlp`` given, it divides the random misses' stall instead; `fit_perf_model` fits one to
measured runtimes.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import statistics
import warnings
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
from scipy.optimize import nnls

from mlgo_env import load_latency, loops, x86
from mlgo_env.artifacts import Artifact, CompiledModule
from mlgo_env.bbaddrmap import MachineBlock, read_blocks
from mlgo_env.blocks.predict import shipped_model
from mlgo_env.callgrind import CACHE_SPEC, CacheConfig, Profile, memory_bytes, profile_program
from mlgo_env.dwarf import Chain, InlineSites, SourceKey, SourceLines
from mlgo_env.load_latency import LevelCost
from mlgo_env.machine import host, microarchitecture
from mlgo_env.mca import McaBlockModel, McaCache
from rewards.base import TargetCpuReward
from rewards.learned import body_cycles
from rewards.wire import MCPU, WireOption

__all__ = [
    "DEFAULT_COVERAGE",
    "DEFAULT_MLP",
    "MISS_COSTS_SPEC",
    "MissCosts",
    "Misses",
    "FALLBACK_LATENCY",
    "PerfBreakdown",
    "PerfModelReward",
    "PerfSample",
    "Located",
    "VariantCounts",
    "fit_perf_model",
    "hot_blocks",
    "locate",
    "map_profile",
    "miss_latency",
]

FALLBACK_LATENCY = 300.0
"""Core cycles of one last-level-cache miss on a CPU `mlgo_env.machine` has no figure for: a DRAM
access of ~80–100 ns at 3–4 GHz. A guess, announced with a warning; `fit_perf_model` refits it."""
DEFAULT_MLP = 4.0
"""Misses in flight at once where nothing measured the overlap (caches of another machine)."""

_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
_MAX_SCALE = 64.0  # the most a copy's counts are scaled to conserve its bytes (vector width x unroll)

logger = logging.getLogger(__name__)

DEFAULT_COVERAGE = 0.999
"""Share of a variant's estimated cycles its block model costs (`PerfModelReward`'s ``coverage``)."""


def miss_latency(mcpu: str) -> float:
    """Core cycles of one last-level-cache miss on `mcpu`: `mlgo_env.machine`'s figure for that CPU.

    A CPU missing from the machine's table gets `FALLBACK_LATENCY`, with a warning.
    """
    arch = microarchitecture(mcpu)
    if arch is not None:
        return arch.llc_miss_cycles
    warnings.warn(
        f"no last-level-cache miss latency is known for {mcpu!r}: perf_model assumes {FALLBACK_LATENCY:.0f} "
        "cycles; pass latency=, or fit it to measured runtimes (fit_perf_model)",
        stacklevel=2,
    )
    return FALLBACK_LATENCY


class PerfBreakdown(NamedTuple):
    """The parts of the model's prediction for one module, and the target they were computed for."""

    throughput_cycles: float
    """Σ count(b)·cost(b)."""
    llc_misses: float
    """Last-level-cache data misses: the profile's, for every variant of the program and input."""
    d1_misses: float
    """First-level data cache misses (the profile's, as `llc_misses`)."""
    mid_misses: float
    """Misses of the level below the last (the L2 under an L3; 0 without one)."""
    streamed_share: float
    """The first-level misses on lines that swept their data (`VariantCounts`), costed as streamed."""
    stall_cycles: float
    """What the random misses cost without overlap: each one the extra latency of the level that
    served it (`PerfModelReward.miss_costs`)."""
    stream_cycles: float
    """What the streamed misses cost: each one a line of a sweep from the level that served it."""
    scattered_cycles: float
    """What the random misses cost as independent loads overlap on this machine (`LevelCost.overlapped`)."""
    miss_cycles: float
    """scattered_cycles (stall_cycles / MLP where an MLP is given) + stream_cycles."""
    page_faults: int
    """Minor page faults of the program's native run (the profile's, as `llc_misses`)."""
    fault_cycles: float
    """page_faults × the cycles of one (`MissCosts.page_fault`): system time a variant cannot change."""
    mcpu: str
    """The CPU llvm-mca modelled."""
    blocks_modelled: int
    """Blocks the block model costed: the hottest that run, `PerfModelReward.coverage` of the estimate."""
    blocks_estimated: int
    """Blocks that run but were costed by the modelled blocks' cycles per instruction: the cold tail."""
    latency: float
    """Core cycles of one miss to memory, at the program's footprint (`MissCosts.for_footprint`)."""
    caches: str
    """The cache geometry valgrind simulated (`CacheConfig.spec`)."""

    @property
    def cycles(self) -> float:
        """The predicted cost: throughput plus miss and page-fault cycles."""
        return self.throughput_cycles + self.miss_cycles + self.fault_cycles

    def record(self) -> dict[str, Any]:
        """The parts and the total as JSON values (what ``module.extra["perf_model"]`` holds)."""
        return self._asdict() | {"cycles": self.cycles}


class Located(NamedTuple):
    """One instruction of a variant: its source line, the inlining that put it there, its data bytes."""

    line: SourceKey | None
    chain: Chain
    data_bytes: int
    """Bytes one execution moves to or from non-stack memory (access width × loads and stores)."""


def locate(blocks: Sequence[MachineBlock], lines: SourceLines, sites: InlineSites) -> list[list[Located]]:
    """Every instruction of every block, located (decoded through `mlgo_env.x86`)."""
    out = []
    for block in blocks:
        located, address = [], block.offset
        for insn in x86.decode(block.code, partial=True) or []:
            moved = memory_bytes(insn) * (int(insn.loads) + int(insn.stores))
            line = lines.line_at(block.section_index, address)
            located.append(Located(line, sites.chain_at(block.function, address), moved))
            address += insn.size
        out.append(located)
    return out


class Misses(NamedTuple):
    """Data misses of the first level, of the level below the last (`CacheConfig.mid`) and of the last."""

    d1: float = 0.0
    mid: float = 0.0
    llc: float = 0.0


class VariantCounts(NamedTuple):
    """The profile carried over to one variant: per block its count, and the module's data misses.

    A source line's misses at a level are *streamed* where the line moved at least half of each line
    it missed (a sequential sweep, which the prefetchers hide), else *random* (each miss a wasted
    line: its full latency).
    """

    counts: list[float]
    random: Misses
    streamed: Misses

    @property
    def misses(self) -> float:
        """Last-level-cache misses."""
        return self.random.llc + self.streamed.llc


Copy = tuple[str, Chain]
"""Code of a line in one function under one inlining chain."""


def _copy_weights(profile: Profile, copies: set[Copy]) -> dict[Copy, float]:
    """How much of its function's work each copy does, from the profile's work per call site."""
    inlined_at: dict[str, set[SourceKey]] = defaultdict(set)
    for _, chain in copies:
        for step in chain:
            inlined_at[step.callee].add(step.call_site)
    weights = {}
    for function, chain in copies:
        if chain:
            weight = float(profile.site_work.get(chain[-1], 0))
            for step in chain[:-1]:
                total = profile.work.get(step.callee, 0)
                weight *= min(1.0, profile.site_work.get(step, 0) / total) if total else 0.0
        else:
            moved = sum(profile.site_work.get((function, site), 0) for site in inlined_at[function])
            weight = max(0.0, profile.work.get(function, 0) - moved)
        weights[(function, chain)] = weight
    return weights


def map_profile(
    blocks: Sequence[MachineBlock], located: Sequence[list[Located]], profile: Profile, line_size: int = 64
) -> VariantCounts:
    """Dynamic counts of a variant's blocks and the module's data misses per level, from the program's profile.

    A line's misses are streamed or random by the bytes it moved per line of `line_size` it missed
    (see `VariantCounts` and the module).
    """
    copies: dict[SourceKey, set[Copy]] = defaultdict(set)
    hottest: dict[tuple[Copy, SourceKey], float] = defaultdict(float)
    for block, instructions in zip(blocks, located, strict=True):
        for insn in instructions:
            if insn.line is not None:
                copy = (block.function, insn.chain)
                copies[insn.line].add(copy)
                hottest[(copy, insn.line)] = max(hottest[(copy, insn.line)], block.frequency)
    weights = _copy_weights(profile, {copy for held in copies.values() for copy in held})
    total = {line: sum(weights[copy] for copy in held) for line, held in copies.items()}

    def share(copy: Copy, line: SourceKey) -> float:
        return weights[copy] / total[line] if total[line] > 0 else 1 / len(copies[line])

    def runs(block: MachineBlock, insn: Located) -> float:
        assert insn.line is not None
        copy = (block.function, insn.chain)
        peak, cost = hottest[(copy, insn.line)], profile.lines.get(insn.line)
        return (cost.executions if cost else 0) * share(copy, insn.line) * (block.frequency / peak if peak > 0 else 1.0)

    # Bytes are conserved per copy: a block's count is scaled so that the copies' memory
    # instructions move their share of each line's profiled bytes (a vectorised or unrolled loop
    # runs fewer, wider iterations than the profiled build's, or more, narrower ones; a preheader
    # that static frequencies make hot moves too few bytes to be).
    raw: dict[tuple[Copy, SourceKey], float] = defaultdict(float)
    for block, instructions in zip(blocks, located, strict=True):
        for insn in instructions:
            if insn.line is not None and insn.data_bytes:
                raw[((block.function, insn.chain), insn.line)] += runs(block, insn) * insn.data_bytes
    scale = {}
    for (copy, line), moved_raw in raw.items():
        cost = profile.lines.get(line)
        if cost is not None and cost.data_bytes and moved_raw > 0:
            scale[(copy, line)] = min(_MAX_SCALE, max(1 / _MAX_SCALE, share(copy, line) * cost.data_bytes / moved_raw))

    counts: list[float] = []
    for block, instructions in zip(blocks, located, strict=True):
        held = [insn for insn in instructions if insn.line is not None]
        count = float(statistics.median_low([runs(block, insn) for insn in held])) if held else 0.0
        scales = [
            scale[key]
            for insn in held
            if insn.data_bytes and (key := ((block.function, insn.chain), insn.line)) in scale
        ]
        count *= float(statistics.median_low(scales)) if scales else 1.0
        counts.append(count)
    files = {file for file, _ in copies}  # the module's sources: not the C library's or the loader's
    random, streamed = [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]
    for (file, _), cost in profile.lines.items():
        if file in files:
            for level, misses in enumerate((cost.d1_misses, cost.mid_misses, cost.misses)):
                (streamed if 2 * cost.data_bytes >= misses * line_size else random)[level] += misses
    return VariantCounts(counts, Misses(*random), Misses(*streamed))


_CYCLES = r"(\d{1,7}(?:\.\d{1,3})?)"
_COST = rf"{_CYCLES}/{_CYCLES}(?:/{_CYCLES})?"
_POINT = rf"\d{{1,13}}:{_COST}"
MISS_COSTS_SPEC = rf"mid={_COST} last={_COST} memory={_COST}(?: fault={_CYCLES})?(?: curve=([0-9.:/,]{{1,800}}))?"
"""How `MissCosts.spec` writes the costs: ``mid=LATENCY/SWEEP/OVERLAPPED last=... memory=... fault=CYCLES``,
in cycles, then ``curve=BYTES:LATENCY/SWEEP/OVERLAPPED,...`` (memory's costs by working set); without
OVERLAPPED a level's latency / `DEFAULT_MLP`, without ``fault`` page faults cost nothing, without
``curve`` memory costs the same whatever the footprint."""


class MissCosts(NamedTuple):
    """Cycles a data miss adds over a first-level hit, by the level that serves it; a page fault's cycles."""

    mid: LevelCost
    """Served by the level below the last (the L2 under an L3)."""
    last: LevelCost
    """Served by the last level."""
    memory: LevelCost
    """Served by memory: a last-level miss."""
    page_fault: float = 0.0
    """A minor page fault (`mlgo_env.load_latency.LoadLatencies.page_fault`)."""
    memory_curve: tuple[tuple[int, LevelCost], ...] = ()
    """(working-set bytes, cost) of loads from memory, ascending (`LoadLatencies.beyond`): what a
    miss to memory costs grows with the program's footprint (page walks). Empty: `memory` always."""

    def for_footprint(self, footprint: int) -> MissCosts:
        """These costs with memory's at a working set of `footprint` bytes (interpolated on the curve)."""
        if not self.memory_curve:
            return self
        return self._replace(memory=load_latency.interpolate(self.memory_curve, footprint))

    def spec(self) -> str:
        """The costs as text (`parse` reads them back): how they travel with the reward's options."""

        def text(c: LevelCost) -> str:
            return f"{c.latency:.3f}/{c.stream:.3f}" + ("" if c.overlapped is None else f"/{c.overlapped:.3f}")

        written = f"mid={text(self.mid)} last={text(self.last)} memory={text(self.memory)}"
        curve = ",".join(f"{n}:{text(c)}" for n, c in self.memory_curve)
        return f"{written} fault={self.page_fault:.3f}" + (f" curve={curve}" if curve else "")

    @classmethod
    def parse(cls, spec: str) -> MissCosts:
        """The costs `spec` writes.

        Raises:
            ValueError: `spec` is not of that form.
        """
        match = re.fullmatch(MISS_COSTS_SPEC, spec.strip())
        if match is None:
            form = "mid=LATENCY/SWEEP/OVERLAPPED last=... memory=... fault=CYCLES curve=BYTES:LATENCY/SWEEP/..."
            raise ValueError(f"miss costs {spec!r} are not written as {form!r}")
        *numbers, curve = match.groups()
        n = [None if group is None else float(group) for group in numbers]
        mid, last, memory = (LevelCost(n[k] or 0.0, n[k + 1] or 0.0, n[k + 2]) for k in (0, 3, 6))
        points = []
        for point in curve.split(",") if curve else []:
            if not re.fullmatch(_POINT, point):
                raise ValueError(f"miss costs {spec!r}: {point!r} is not BYTES:LATENCY/SWEEP/OVERLAPPED")
            size, costs = point.split(":")
            values = [float(v) for v in costs.split("/")]
            points.append((int(size), LevelCost(values[0], values[1], values[2] if len(values) > 2 else None)))
        return cls(mid, last, memory, n[9] or 0.0, tuple(sorted(points)))

    def cycles(self, counts: VariantCounts, has_mid: bool) -> tuple[float, float, float]:
        """What first-level misses cost, by the level that served them.

        Returns:
            random misses at their latency, without overlap; random misses as overlapped
            independent loads (a level not measured so: its latency / `DEFAULT_MLP`); streamed
            misses at a sweep's cost per line.
        """

        def served(misses: Misses, cost: Callable[[LevelCost], float]) -> float:
            beyond_mid = misses.mid if has_mid else misses.d1
            served_mid = max(misses.d1 - beyond_mid, 0.0)
            served_last = max(beyond_mid - misses.llc, 0.0)
            return served_mid * cost(self.mid) + served_last * cost(self.last) + misses.llc * cost(self.memory)

        def overlapped(cost: LevelCost) -> float:
            return cost.latency / DEFAULT_MLP if cost.overlapped is None else cost.overlapped

        return (
            served(counts.random, lambda c: c.latency),
            served(counts.random, overlapped),
            served(counts.streamed, lambda c: c.stream),
        )


def hot_blocks(sizes: np.ndarray, counts: np.ndarray, coverage: float) -> tuple[np.ndarray, np.ndarray]:
    """The hottest blocks that run, holding `coverage` of Σ count × instructions (`sizes`); and the others that run."""
    run = np.flatnonzero(counts > 0)
    estimate = counts[run] * np.maximum(sizes[run], 1)
    order = np.argsort(-estimate, kind="stable")
    covered = np.cumsum(estimate[order]) / max(float(estimate.sum()), 1e-300)
    keep = int(np.searchsorted(covered, coverage * (1 - 1e-12))) + 1 if len(run) else 0
    return np.sort(run[order[:keep]]), np.sort(run[order[keep:]])


class PerfModelReward(TargetCpuReward):
    """Predicted cycles on one target: llvm-mca block throughput plus last-level-cache-miss overhead.

    The first build of each program (and input) the reward costs is profiled, unless `use_profile`
    named one (the baseline compile is the natural choice); every later build of that program
    reuses the profile through its debug info (lines and inlining) and is not run.

    The target is resolved once, when the reward is built, and logged: the CPU llvm-mca models, the
    miss latency (that CPU's unless given) and the caches simulated (rounded as
    `mlgo_env.callgrind.valgrind_geometry` says); `breakdown` records them with every prediction.

    Args:
        latency: core cycles of one last-level-cache miss, over a first-level hit; None: measured
            on this machine where the caches are its own (`mlgo_env.load_latency`), else the
            target's (`miss_latency`).
        mlp: memory-level parallelism: random misses cost their latency over this; None: what
            independent random loads from their level cost on this machine.
        frequencies: ``"profile"`` (dynamic counts from the cache simulation) or ``"static"``
            (LLVM's per-function block-frequency estimates).
        blocks: what costs a block: ``"mca"`` (llvm-mca) or ``"learned"`` (the shipped fast
            learned model of `mcpu`, `mlgo_env.blocks.predict.shipped_model`: far cheaper).
        coverage: the block model costs only the hottest blocks that run, as many as hold this
            share of the estimate count × instructions; the cold tail costs their cycles per
            instruction (weighted by count) and blocks that never run cost nothing: llvm-mca is
            most of the reward's time, and most blocks of a program are cold. 1.0 costs every
            block that runs.
        mcpu: CPU the block model models; None: this host's.
        cache: the target's caches, or their `CacheConfig.spec` text; None: this host's.
        costs: what a miss costs per level, or their `MissCosts.spec` text (how a reward built on one
            machine travels to another); None: measured here for this host's caches, else the
            last level's table figure alone.
        profile_timeout: seconds a profiling run may take.
        profile_dir: where profiles are cached; None for the default under ``~/.cache``.
        block_cache: where llvm-mca's block costs are kept; None: the shared on-disk cache.

    Attributes:
        cache: the target's caches.
        simulated_cache: what valgrind simulates of them.

    Raises:
        ValueError: a bad option, or caches valgrind cannot simulate.
        ProfileError: `cache` is None and this machine does not describe its caches.
        predict.NoModelForCpu: ``blocks="learned"`` and no learned model ships for `mcpu`.
    """

    name = "perf_model"
    requires = Artifact.OBJECT | Artifact.BB_ADDR_MAP | Artifact.DEBUG_INFO | Artifact.EXECUTABLE
    unit = "cycles"
    # Not profile_dir (a path): local-only. The caches travel as their spec.
    wire_options = {
        "cache": WireOption(str, pattern=CACHE_SPEC),
        "latency": WireOption(float, low=0.0, high=1e5),
        "mlp": WireOption(float, low=1e-3, high=1e3),
        "frequencies": WireOption(str, choices=("profile", "static")),
        "blocks": WireOption(str, choices=("mca", "learned")),
        "coverage": WireOption(float, low=0.5, high=1.0),
        "mcpu": MCPU,
        "profile_timeout": WireOption(float, low=1.0, high=3600.0, seconds=True),
        "costs": WireOption(str, pattern=MISS_COSTS_SPEC),
    }

    def __init__(
        self,
        latency: float | None = None,
        mlp: float | None = None,
        frequencies: Literal["profile", "static"] = "profile",
        blocks: Literal["mca", "learned"] = "mca",
        coverage: float = DEFAULT_COVERAGE,
        mcpu: str | None = None,
        cache: CacheConfig | str | None = None,
        costs: MissCosts | str | None = None,
        profile_timeout: float = 3600.0,
        profile_dir: Path | None = None,
        block_cache: McaCache | None = None,
    ) -> None:
        super().__init__(mcpu)
        if frequencies not in ("profile", "static"):
            raise ValueError(f"frequencies must be 'profile' or 'static', not {frequencies!r}")
        if blocks not in ("mca", "learned"):
            raise ValueError(f"blocks must be 'mca' or 'learned', not {blocks!r}")
        if not 0.5 <= coverage <= 1.0:
            raise ValueError(f"coverage must be within 0.5..1.0, not {coverage}")
        self.blocks = blocks
        self.coverage = coverage
        self.block_cache = block_cache
        if blocks == "learned":
            shipped_model(self.mcpu)  # raises NoModelForCpu now, not at the first episode
        if latency is not None and latency < 0 or mlp is not None and mlp <= 0:
            raise ValueError(f"need latency >= 0 and mlp > 0, got latency={latency}, mlp={mlp}")
        self.mlp = mlp
        self.frequencies = frequencies
        self.cache = CacheConfig.parse(cache) if isinstance(cache, str) else cache or self._host_caches()
        self.simulated_cache = self.cache.simulated()
        if costs is not None:
            self.miss_costs = MissCosts.parse(costs) if isinstance(costs, str) else costs
        else:
            self.miss_costs = self._miss_costs(latency, measured=cache is None)
        self.latency = self.miss_costs.memory.latency
        self.target_from_host = self.target_from_host or cache is None
        self._log_target(caches_given=cache is not None)
        self.profile_timeout = profile_timeout
        self.profile_dir = profile_dir
        self._profiles: dict[tuple[str, tuple[str, ...]], Profile] = {}
        self._block_models: dict[int, McaBlockModel] = {}

    @staticmethod
    def _host_caches() -> CacheConfig:
        """This machine's caches, its last level cut to what this machine holds working sets in.

        A guest may be told of its host's whole last level while sharing it (see `mlgo_env.load_latency`).
        """
        caches = CacheConfig.of_host()
        held = load_latency.measure().effective_last_level(caches.ll.size)
        if held >= caches.ll.size:
            return caches
        logger.warning(
            "perf_model simulates this machine's last level as the %d MiB it holds working sets in, "
            "not the %d MiB it is told of (chases measured by mlgo_env.load_latency)",
            held >> 20,
            caches.ll.size >> 20,
        )
        return dataclasses.replace(caches, ll=dataclasses.replace(caches.ll, size=held))

    def _miss_costs(self, latency: float | None, measured: bool) -> MissCosts:
        """Extra cycles of a data miss per level: measured for this machine's own caches.

        Other caches have no machine to ask: only their last level's misses count, at the target's
        table figure (`miss_latency`), streamed or not, and page faults cost nothing. `latency`
        replaces a memory access's latency.
        """
        if not measured:
            logger.warning("perf_model costs only last-level misses on caches it cannot measure: %s", self.cache.spec())
            table = miss_latency(self.mcpu) if latency is None else latency
            return MissCosts(LevelCost(0.0, 0.0), LevelCost(0.0, 0.0), LevelCost(table, table))
        costs = load_latency.measure()
        l1 = costs.at(1)

        def extra(cost: LevelCost) -> LevelCost:
            overlapped = None
            if cost.overlapped is not None and l1.overlapped is not None:
                overlapped = max(cost.overlapped - l1.overlapped, 0.0)
            return LevelCost(max(cost.latency - l1.latency, 0.0), max(cost.stream - l1.stream, 0.0), overlapped)

        memory = extra(costs.memory)
        curve = tuple((n, extra(cost)) for n, cost in costs.beyond(self.cache.ll.size)) if latency is None else ()
        return MissCosts(
            mid=extra(costs.at(self.cache.mid.level)) if self.cache.mid is not None else LevelCost(0.0, 0.0, 0.0),
            last=extra(costs.at(self.cache.ll.level)),
            memory=memory if latency is None else memory._replace(latency=latency),
            page_fault=costs.page_fault,
            memory_curve=curve,
        )

    def use_profile(self, module: CompiledModule) -> Profile:
        """Profile `module`'s executable and use it for every later module of the same program.

        Raises:
            ValueError: the module has no executable.
            ProfileError: the cache simulation failed.
        """
        if module.executable_path is None:
            raise ValueError(f"{module.benchmark}: perf_model needs the linked program (EXECUTABLE)")
        program = module.program
        profile = profile_program(
            module.executable_path,
            args=program.run_args if program else (),
            cwd=program.directory if program and program.directory else module.workdir,
            cache=self.simulated_cache,
            timeout=self.profile_timeout,
            profile_dir=self.profile_dir,
        )
        self._profiles[self._program_key(module)] = profile
        return profile

    def breakdown(self, module: CompiledModule) -> PerfBreakdown:
        """The prediction for `module`, split into its throughput and cache-miss parts."""
        blocks = read_blocks(module.object_path, module.toolchain)
        profile = self._profiles.get(self._program_key(module)) or self.use_profile(module)
        located = locate(blocks, SourceLines(module.object_path), InlineSites(module.object_path))
        mapped = map_profile(blocks, located, profile, self.simulated_cache.d1.line_size)
        counts = np.array(mapped.counts if self.frequencies == "profile" else [b.frequency for b in blocks])
        codes = [block.code for block in blocks]
        size = np.array([x86.instruction_count(c) if n > 0 else 0 for c, n in zip(codes, counts, strict=True)], float)
        hot, cold = hot_blocks(size, counts, self.coverage)
        costs = np.zeros(len(blocks))
        costs[hot] = loops.cycles_in_context(blocks, hot.tolist(), lambda bodies: self._block_cycles(module, bodies))
        if len(cold):  # the modelled blocks' cycles per instruction, weighted as they run
            per_instruction = np.dot(counts[hot], costs[hot]) / max(float(np.dot(counts[hot], size[hot])), 1e-300)
            costs[cold] = size[cold] * (per_instruction if per_instruction > 0 else 1.0)
        footprint = profile.page_faults * _PAGE_SIZE  # the pages the program touched
        miss_costs = self.miss_costs.for_footprint(footprint)
        stall, scattered, stream = miss_costs.cycles(mapped, has_mid=self.cache.mid is not None)
        return PerfBreakdown(
            throughput_cycles=float(np.dot(counts, costs)),
            llc_misses=mapped.misses,
            d1_misses=mapped.random.d1 + mapped.streamed.d1,
            mid_misses=mapped.random.mid + mapped.streamed.mid,
            streamed_share=mapped.streamed.d1 / max(mapped.random.d1 + mapped.streamed.d1, 1.0),
            stall_cycles=stall,
            stream_cycles=stream,
            scattered_cycles=scattered,
            miss_cycles=(scattered if self.mlp is None else stall / self.mlp) + stream,
            page_faults=profile.page_faults,
            fault_cycles=profile.page_faults * self.miss_costs.page_fault,
            mcpu=self.mcpu,
            blocks_modelled=len(hot),
            blocks_estimated=len(cold),
            latency=miss_costs.memory.latency,
            caches=self.simulated_cache.spec(),
        )

    def cost(self, module: CompiledModule) -> float:
        """Predicted cycles of `module`; the parts and the target go to ``module.extra["perf_model"]``."""
        parts = self.breakdown(module)
        module.extra["perf_model"] = parts.record()
        return parts.cycles

    def target_options(self) -> dict[str, Any]:
        """The target CPU, its caches and what their misses cost: ``{"mcpu", "cache", "costs"}``."""
        return super().target_options() | {"cache": self.cache.spec(), "costs": self.miss_costs.spec()}

    def _log_target(self, caches_given: bool) -> None:
        """Says what will be simulated, and where it differs from the target's hardware."""
        simulated = self.simulated_cache.spec()
        logger.info("perf_model targets %s: %.0f cycles per miss, caches %s", self.mcpu, self.latency, simulated)
        if self.simulated_cache != self.cache:
            logger.warning(
                "perf_model simulates caches %s instead of the CPU's %s: valgrind needs power-of-two set counts",
                simulated,
                self.cache.spec(),
            )
        if not caches_given and self.mcpu != host().mcpu:
            logger.warning(
                "perf_model models %s but simulates this host's caches (%s); pass cache= for the target's",
                self.mcpu,
                host().mcpu,
            )

    def _block_cycles(self, module: CompiledModule, codes: list[bytes]) -> list[float]:
        """Cycles per iteration of each block (terminators left out), by the chosen block model."""
        if self.blocks == "learned":
            return body_cycles(shipped_model(self.mcpu), codes)
        version = module.toolchain.version
        if version not in self._block_models:
            self._block_models[version] = McaBlockModel(
                mcpu=self.mcpu, toolchain=module.toolchain, cache=self.block_cache
            )
        return self._block_models[version].cycles(codes)

    @staticmethod
    def _program_key(module: CompiledModule) -> tuple[str, tuple[str, ...]]:
        program = module.program
        return (program.name, program.run_args) if program else (module.benchmark, ())


class PerfSample(NamedTuple):
    """One compiled variant: the model's two terms (`PerfBreakdown`) and its measured runtime."""

    throughput_cycles: float
    """Throughput, streamed misses and page faults (`PerfBreakdown`): what MLP does not divide."""
    stall_cycles: float
    runtime_s: float


def fit_perf_model(samples: Sequence[PerfSample]) -> float:
    """Fits the model's memory-level parallelism to measured runtimes; returns the MLP.

    Fits runtime ≈ a·throughput_cycles + b·stall_cycles with a, b ≥ 0 by least squares on relative
    error (every sample weighs the same, whatever its runtime); the misses' cycles are divided by
    MLP = a / b. An MLP of infinity means the misses did not help explain the runtimes.

    Raises:
        ValueError: fewer than two samples, or a non-positive runtime.
    """
    if len(samples) < 2:
        raise ValueError("fit_perf_model needs at least two samples")
    data = np.array(samples, dtype=float)
    if np.any(data[:, 2] <= 0):
        raise ValueError("every runtime must be positive")
    design = data[:, :2] / data[:, 2:3]
    (a, b), _ = nnls(design, np.ones(len(samples)))
    if a <= 0:
        raise ValueError("throughput cycles do not explain the runtimes; check the samples")
    return float(a / b) if b > 0 else float("inf")
