"""What a load costs on this machine at each level of its memory hierarchy, measured, cached.

`measure` compiles a probe with the toolchain's clang and runs it over working sets of half of
each data cache (the last level's at most four times the level below it), four times the last
level, and doublings in between (from `mlgo_env.machine`), two ways:

* a pointer chase: every load's address comes from the previous load, in a random cyclic order
  of cache lines, so each costs the full latency of the level its working set lives in (and the
  TLB misses of that working set);
* a sequential sweep, one load per cache line: what a line costs when the hardware prefetchers
  see the stream coming (its throughput, not its latency);
* independent random reads, each address from a random number generator: what a load costs when
  the core overlaps as many misses as it can (a loop of scattered loads whose addresses do not
  come from the loads before).

Cycles come from the same run: a chain of dependent adds, one cycle each, timed beside them. The
probe also times the first touch of fresh pages (mapped, touched, unmapped): what a minor page
fault costs, which a program pays once per page of memory it uses, in system time.

A guest may see its host's whole last level (480 MiB on a Granite Rapids-class one) while sharing
it with every other tenant: a chase through half of it there cost 795 cycles, memory's 1,582,
against about 20 for the level below. So the last level is measured at four times the level below
(a working set it surely holds), and the doublings up to half of it say how much of it this
machine really gets (`LoadLatencies.effective_last_level`).
The figures are cached on disk per CPU and cache geometry (`mlgo_env.cache`): measured once per
machine, a few seconds.

`rewards.perf_model` costs a data miss at each level with them instead of assuming a latency.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

from mlgo_env.cache import cache_dir
from mlgo_env.errors import MlgoEnvError
from mlgo_env.machine import CacheLevel, host
from mlgo_env.toolchain import Toolchain, get_toolchain

__all__ = [
    "LevelCost",
    "LoadLatencies",
    "LoadLatencyError",
    "data_caches",
    "interpolate",
    "measure",
    "reach_sets",
    "working_sets",
]

_SCHEMA = "load-latency-v5"
_LOADS = 2_000_000
_ADDS = 100_000_000

_CHASE = r"""
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* Nanoseconds per cycle: a chain of dependent adds, one cycle each on every x86 core. */
static double cycle_ns(long adds) {
  unsigned long x = 0, y = 1;
  double start = now();
  for (long i = 0; i < adds / 8; i++)
    __asm__ volatile("add %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\t"
                     "add %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0" : "+r"(x) : "r"(y));
  return (now() - start) * 1e9 / adds;
}

/* Nanoseconds per load of a chase through `bytes` of lines of `line` bytes, in a random cycle. */
static double chase_ns(long bytes, long line, long loads) {
  long n = bytes / line, stride = line / (long)sizeof(void *);
  void **memory = malloc(n * line);
  long *order = malloc(n * sizeof(long));
  unsigned long seed = 88172645463325252UL;
  for (long i = 0; i < n; i++) order[i] = i;
  for (long i = n - 1; i > 0; i--) {
    seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17;
    long j = seed % (i + 1), t = order[i];
    order[i] = order[j]; order[j] = t;
  }
  for (long i = 0; i < n; i++) memory[order[i] * stride] = &memory[order[(i + 1) % n] * stride];
  void **p = &memory[order[0] * stride];
  for (long i = 0; i < n; i++) p = (void **)*p; /* warm: the lines are where the size puts them */
  double start = now();
  for (long i = 0; i < loads; i++) p = (void **)*p;
  double ns = (now() - start) * 1e9 / loads;
  if (p == NULL) puts("");
  free(order);
  free(memory);
  return ns;
}

/* Nanoseconds per line of sequential sweeps through `bytes`, one load per line, about `lines` in all. */
static double stream_ns(long bytes, long line, long lines) {
  long n = bytes / (long)sizeof(long), stride = line / (long)sizeof(long), per_pass = n / stride;
  long *a = malloc(bytes), sum = 0, passes = lines / per_pass > 0 ? lines / per_pass : 1;
  for (long i = 0; i < n; i++) a[i] = i;
  for (long i = 0; i < n; i += stride) sum += a[i];
  double start = now();
  for (long p = 0; p < passes; p++)
    for (long i = 0; i < n; i += stride) sum += ((volatile long *)a)[i];
  double ns = (now() - start) * 1e9 / (passes * per_pass);
  if (sum == 42) puts("");
  free(a);
  return ns;
}

/* Nanoseconds per load of independent random reads of `bytes`: each address comes from a random
   number generator, not from memory, so the core overlaps as many misses as it can keep in flight
   (what a loop of independent scattered loads sees). */
static double random_ns(long bytes, long loads) {
  long n = bytes / (long)sizeof(long);
  long *a = malloc(bytes);
  unsigned long x = 12345, sum = 0;
  for (long i = 0; i < n; i++) a[i] = i;
  for (long i = 0; i < n; i++) sum += a[i];
  double start = now();
  for (long k = 0; k < loads; k++) {
    x = x * 6364136223846793005UL + 1442695040888963407UL;
    sum += a[(unsigned long)(((unsigned __int128)(x >> 32) * (unsigned long)n) >> 32)];
  }
  double ns = (now() - start) * 1e9 / loads;
  if (sum == 42) puts("");
  free(a);
  return ns;
}

/* Nanoseconds per minor page fault of fresh anonymous memory: touched first, then unmapped (a
   program's heap is given back at exit), over the faults getrusage counts (a huge page is one). */
static double fault_ns(long bytes) {
  long page = sysconf(_SC_PAGESIZE);
  struct rusage before, after;
  getrusage(RUSAGE_SELF, &before);
  double start = now();
  char *memory = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) return -1;
  for (long i = 0; i < bytes; i += page) memory[i] = 1;
  munmap(memory, bytes);
  double ns = (now() - start) * 1e9;
  getrusage(RUSAGE_SELF, &after);
  long faults = after.ru_minflt - before.ru_minflt;
  return faults > 0 ? ns / faults : -1;
}

int main(int argc, char **argv) {
  long line = atol(argv[1]), loads = atol(argv[2]), adds = atol(argv[3]);
  for (int k = 4; k < argc; k++) {
    double chase = 1e30, stream = 1e30, scattered = 1e30, clock = 1e30;
    for (int round = 0; round < 3; round++) { /* fastest of three: the machine at its quietest */
      double ns = chase_ns(atol(argv[k]), line, loads), sweep = stream_ns(atol(argv[k]), line, 4 * loads);
      double independent = random_ns(atol(argv[k]), loads), cycle = cycle_ns(adds);
      if (ns < chase) chase = ns;
      if (sweep < stream) stream = sweep;
      if (independent < scattered) scattered = independent;
      if (cycle < clock) clock = cycle;
    }
    printf("%s %.3f %.3f %.3f\n", argv[k], chase / clock, stream / clock, scattered / clock);
  }
  double fault = 1e30, clock = 1e30;
  for (int round = 0; round < 3; round++) {
    double ns = fault_ns(64L << 20), cycle = cycle_ns(adds);
    if (ns < 0) {
      fputs("could not time page faults: mmap failed, or getrusage counted none\n", stderr);
      return 3;
    }
    if (ns < fault) fault = ns;
    if (cycle < clock) clock = cycle;
  }
  printf("fault %.3f\n", fault / clock);
  return 0;
}
"""


_MEASURED: dict[str, LoadLatencies] = {}
"""This process's measurements, by machine (a test's private cache directory does not measure again)."""


class LoadLatencyError(MlgoEnvError):
    """The latency probe could not be built or run, or this machine describes no data caches."""


class LevelCost(NamedTuple):
    """Core cycles of a load whose working set lives in one level of the hierarchy."""

    latency: float
    """A dependent load (pointer chase): what a miss costs when nothing hides it."""
    stream: float
    """One line of a sequential sweep: what a miss costs when the prefetchers see it coming."""
    overlapped: float | None = None
    """One of many independent random loads (addresses not loaded from memory): what a miss costs
    when the core keeps several in flight. None: not measured."""


@dataclass(frozen=True)
class LoadLatencies:
    """What a load costs at each level of this machine's hierarchy.

    Attributes:
        levels: (cache level, cost) for each data cache, smallest first (a working set of half of
            that cache).
        memory: past the last level (a working set of four times it).
        line_size: the line size the probe strode by (the first data cache's).
    """

    levels: tuple[tuple[int, LevelCost], ...]
    memory: LevelCost
    line_size: int
    reach: tuple[tuple[int, LevelCost], ...] = ()
    """(working-set bytes, cost) of the doublings between the last level's own working set and half of it."""
    page_fault: float = 0.0
    """Cycles of a minor page fault: a page of fresh anonymous memory touched first and unmapped."""
    memory_size: int = 0
    """Bytes of the working set `memory` was measured in."""

    def beyond(self, held: int) -> tuple[tuple[int, LevelCost], ...]:
        """(working-set bytes, cost) of the measured working sets larger than the `held` last level, memory's last.

        What a load from memory costs grows with the working set (page walks): `interpolate` it.
        """
        return (*((n, cost) for n, cost in self.reach if n > held), (self.memory_size, self.memory))

    def effective_last_level(self, size: int) -> int:
        """Bytes of the last level (`size` as the machine describes it) that this machine holds working sets in.

        Twice the largest measured working set whose chase costs less than the geometric mean of
        the last level's and memory's: `size` itself where every doubling still hits.
        """
        threshold = (self.levels[-1][1].latency * self.memory.latency) ** 0.5
        held = self.reach[0][0] // 2 if self.reach else size  # the level's own working set
        for working_set, cost in self.reach:  # ascending
            if cost.latency >= threshold:
                return min(size, 2 * held)
            held = working_set
        return size

    def at(self, level: int) -> LevelCost:
        """The cost of a load served by cache `level`.

        Raises:
            KeyError: this machine has no such cache level.
        """
        for known, cycles in self.levels:
            if known == level:
                return cycles
        raise KeyError(f"no L{level} data cache was measured (levels {[k for k, _ in self.levels]})")


def interpolate(points: Sequence[tuple[int, LevelCost]], size: int) -> LevelCost:
    """The cost at a working set of `size` bytes, linear in log(size) between measured `points` (ascending).

    Below the first point its cost, above the last the last's. An overlapped cost unknown at either
    neighbour is unknown (None).
    """
    if not points:
        raise ValueError("no measured working sets to interpolate")
    if size <= points[0][0]:
        return points[0][1]
    for (low, a), (high, b) in itertools.pairwise(points):
        if size <= high:
            t = math.log(size / low) / math.log(high / low) if high > low else 1.0
            overlapped = None
            if a.overlapped is not None and b.overlapped is not None:
                overlapped = a.overlapped + t * (b.overlapped - a.overlapped)
            return LevelCost(a.latency + t * (b.latency - a.latency), a.stream + t * (b.stream - a.stream), overlapped)
    return points[-1][1]


def data_caches() -> list[CacheLevel]:
    """This machine's data caches, smallest level first.

    Raises:
        LoadLatencyError: the machine describes none.
    """
    caches = sorted((c for c in host().caches if c.kind in ("Data", "Unified")), key=lambda c: c.level)
    if not caches:
        raise LoadLatencyError("this machine describes no data caches: there are no levels to measure")
    return caches


def working_sets(caches: list[CacheLevel]) -> list[int]:
    """Bytes of a working set in each level and in memory.

    Half of each data cache, the last level's at most four times the level below it (see the
    module), and four times the last level for memory.
    """
    sizes = [c.size // 2 for c in caches]
    if len(caches) > 1:
        sizes[-1] = min(sizes[-1], 4 * caches[-2].size)
    return sizes + [4 * caches[-1].size]


def reach_sets(caches: list[CacheLevel]) -> list[int]:
    """Working sets doubling from twice the last level's measured one, and half the last level."""
    last, half = working_sets(caches)[len(caches) - 1], caches[-1].size // 2
    sizes, size = [], 2 * last
    while size < half:
        sizes.append(size)
        size *= 2
    return [*sizes, half] if half > last else sizes


def measure(toolchain: Toolchain | None = None, refresh: bool = False) -> LoadLatencies:
    """This machine's load latencies per level, measured once per CPU and cache geometry (cached on disk).

    Raises:
        LoadLatencyError: no data caches are described, or the probe failed to build or run.
    """
    caches = data_caches()
    key = json.dumps([_SCHEMA, host().record(), [asdict(c) for c in caches]], sort_keys=True, default=str)
    stored = cache_dir("load_latency", f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.json")
    if key in _MEASURED and not refresh:
        return _MEASURED[key]
    if stored.exists() and not refresh:
        data = json.loads(stored.read_text())
        levels = tuple((int(k), LevelCost(*v)) for k, v in data["levels"])
        reach = tuple((int(n), LevelCost(*v)) for n, v in data["reach"])
        memory = LevelCost(*data["memory"])
        _MEASURED[key] = LoadLatencies(
            levels, memory, data["line_size"], reach, data["page_fault"], data["memory_size"]
        )
        return _MEASURED[key]
    line = caches[0].line_size or 64
    between = reach_sets(caches)
    sizes = working_sets(caches)
    cycles, page_fault = _run_probe(toolchain or get_toolchain(), line, sizes + between)
    n = len(caches)
    result = LoadLatencies(
        tuple((c.level, cycles[k]) for k, c in enumerate(caches)),
        cycles[n],
        line,
        tuple(zip(between, cycles[n + 1 :], strict=True)),
        page_fault,
        sizes[-1],
    )
    stored.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "levels": result.levels, "memory": result.memory, "line_size": line, "reach": result.reach,
        "page_fault": page_fault, "memory_size": sizes[-1],
    }  # fmt: skip
    stored.write_text(json.dumps(record))
    _MEASURED[key] = result
    return result


def _run_probe(toolchain: Toolchain, line: int, sizes: list[int]) -> tuple[list[LevelCost], float]:
    """Chase, sweep and independent-load cycles at each of `sizes`, and cycles per page fault."""
    with tempfile.TemporaryDirectory(prefix="mlgo-latency-") as scratch:
        source, exe = Path(scratch) / "chase.c", Path(scratch) / "chase"
        source.write_text(_CHASE)
        build = subprocess.run(
            [str(toolchain.clang), "-O2", str(source), "-o", str(exe)], capture_output=True, text=True
        )
        if build.returncode != 0:
            raise LoadLatencyError(f"the latency probe did not build:\n{build.stderr[-2000:]}")
        try:
            run = subprocess.run(
                [str(exe), str(line), str(_LOADS), str(_ADDS), *map(str, sizes)],
                capture_output=True, text=True, timeout=600,
            )  # fmt: skip
        except subprocess.TimeoutExpired as exc:
            raise LoadLatencyError("the latency probe ran past 600 s") from exc
    if run.returncode != 0:
        raise LoadLatencyError(f"the latency probe failed ({run.returncode}): {run.stderr[-2000:]}")
    *rows, (_, fault) = [row.split() for row in run.stdout.split("\n") if row.strip()]
    return [LevelCost(*map(float, costs)) for _, *costs in rows], float(fault)
