"""Cost of machine basic blocks in core cycles per iteration, predicted by llvm-mca, cached.

Each block's bytes are disassembled with capstone (AT&T syntax, which llvm-mca parses; capstone's
Intel syntax prints direct calls as ``call 0x20``, which llvm-mca rejects) and its trailing
terminators (jumps, returns) are dropped: the block is costed as the body of a loop, as BHive
does; a block that is only terminators costs 0. Hundreds of blocks go to one llvm-mca process as
``# LLVM-MCA-BEGIN``/``# LLVM-MCA-END`` regions, read back from ``--json``.

Cost = simulated ``TotalCycles / Iterations``. ``BlockRThroughput`` would be a resource bound that
ignores loop-carried dependencies (a chain of dependent adds gets 0.25 instead of 1), and the total
includes filling the pipeline: with 100 iterations, on 2,246 blocks of the bundled programs, that
overstated blocks of 1–10 instructions by 4–7% (median), of 11–30 by 1.8%, of 31–100 by 1%, of
longer ones by 0.2%. `iterations_for` therefore runs 1,000 iterations of short blocks, 300 of
medium ones and 100 of long ones: about 1% error or less, at a fraction of the simulation time of
1,000 iterations of everything (llvm-mca's time grows with the instructions it simulates).

Results are cached by block bytes, CPU, LLVM version and settings, in memory and in an sqlite file
(``~/.cache/mlgo-env/mca/blocks.sqlite``; ``$MLGO_CACHE_DIR`` replaces ``~/.cache/mlgo-env``)
that every process shares, so a block is never analysed twice. Fallback: a block llvm-mca cannot
handle (its batch fails, and bisecting the batch isolates the block) or capstone cannot decode
costs one cycle per instruction, and is counted in `McaStats.fallbacks`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sqlite3
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from mlgo_env import x86
from mlgo_env.cache import cache_dir
from mlgo_env.errors import MlgoEnvError
from mlgo_env.machine import UNKNOWN, host_mcpu
from mlgo_env.toolchain import Toolchain, get_toolchain

__all__ = [
    "DEFAULT_CALL_LATENCY",
    "BlockCost",
    "McaBlockModel",
    "McaCache",
    "McaError",
    "McaStats",
    "block_cycles",
    "default_cache_path",
    "iterations_for",
]

DEFAULT_CALL_LATENCY = 4
"""Cycles llvm-mca assumes for a ``call``. Its default (100) would make every block holding a call
cost at least 100 cycles per iteration, though the callee's blocks are costed on their own; a
predicted call and return cost a few cycles."""

_SCHEMA = "mca-v1"  # bump when the disassembly, stripping or iteration rule changes
_BATCH_SIZE = 400
_MCA_TIMEOUT_S = 600


class McaError(MlgoEnvError):
    """llvm-mca could not be run, or its output could not be read."""


class BlockCost(NamedTuple):
    """The cost of one block and whether it is the fallback (llvm-mca could not analyse it)."""

    cycles: float
    fallback: bool


@dataclass
class McaStats:
    """What a `McaBlockModel` did: how many blocks were analysed, cached, or given the fallback."""

    invocations: int = 0
    """llvm-mca processes started."""
    analysed: int = 0
    """Blocks llvm-mca analysed."""
    memory_hits: int = 0
    """Blocks found in the in-memory cache."""
    disk_hits: int = 0
    """Blocks found in the on-disk cache."""
    fallbacks: int = 0
    """Blocks (each request counted) that got the instruction-count fallback."""


def default_cache_path() -> Path:
    """The on-disk cache, under mlgo-env's cache root (`mlgo_env.cache`)."""
    return cache_dir("mca", "blocks.sqlite")


def iterations_for(instructions: int) -> int:
    """llvm-mca iterations for a block of `instructions`: enough that pipeline fill is ~1%."""
    if instructions <= 10:
        return 1000
    if instructions <= 30:
        return 300
    return 100


class McaCache:
    """Block costs by key, in memory and in an sqlite file that concurrent processes share.

    Args:
        path: the sqlite file; None keeps the cache in memory only.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._memory: dict[str, BlockCost] = {}
        self._lock = threading.Lock()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as db:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute(
                    "CREATE TABLE IF NOT EXISTS blocks "
                    "(key TEXT PRIMARY KEY, cycles REAL NOT NULL, fallback INTEGER NOT NULL)"
                )

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(str(self.path), timeout=60)

    def lookup(self, keys: Iterable[str], stats: McaStats) -> dict[str, BlockCost]:
        """The cached costs of those `keys` that are cached (memory first, then disk)."""
        found: dict[str, BlockCost] = {}
        missing = []
        with self._lock:
            for key in keys:
                if key in self._memory:
                    found[key] = self._memory[key]
                    stats.memory_hits += 1
                else:
                    missing.append(key)
        if self.path is None or not missing:
            return found
        with self._connect() as db:
            for start in range(0, len(missing), 500):
                chunk = missing[start : start + 500]
                marks = ",".join("?" * len(chunk))
                query = f"SELECT key, cycles, fallback FROM blocks WHERE key IN ({marks})"
                rows = db.execute(query, chunk).fetchall()
                for key, cycles, fallback in rows:
                    found[key] = BlockCost(cycles, bool(fallback))
                    stats.disk_hits += 1
        with self._lock:
            self._memory.update((key, found[key]) for key in missing if key in found)
        return found

    def store(self, costs: dict[str, BlockCost]) -> None:
        """Remember `costs` in memory and on disk."""
        with self._lock:
            self._memory.update(costs)
        if self.path is None or not costs:
            return
        with self._connect() as db:
            db.executemany(
                "INSERT OR REPLACE INTO blocks (key, cycles, fallback) VALUES (?, ?, ?)",
                [(key, cost.cycles, int(cost.fallback)) for key, cost in costs.items()],
            )


class McaBlockModel:
    """Predicts the core cycles per iteration of machine basic blocks with llvm-mca.

    Args:
        mcpu: the LLVM CPU name to model (``znver4``, ``skylake``); None models the host
            (`mlgo_env.machine.host_mcpu`).
        toolchain: LLVM tools to use; the default toolchain when None.
        cache: where results are kept; None uses the shared on-disk cache (`default_cache_path`).
        call_latency: cycles llvm-mca assumes for a call (see `DEFAULT_CALL_LATENCY`).
        jobs: llvm-mca processes to run at once.

    Attributes:
        mcpu: the CPU modelled.
        stats: counts of analysed, cached and fallback blocks.

    Raises:
        McaError: `mcpu` is None and LLVM does not name the host CPU.
    """

    def __init__(
        self,
        mcpu: str | None = None,
        toolchain: Toolchain | None = None,
        cache: McaCache | None = None,
        call_latency: int = DEFAULT_CALL_LATENCY,
        jobs: int | None = None,
    ) -> None:
        self.toolchain = toolchain or get_toolchain()
        self.mcpu = mcpu or host_mcpu(self.toolchain)
        if self.mcpu == UNKNOWN:
            raise McaError("LLVM does not name the host CPU; pass mcpu explicitly")
        self.cache = cache if cache is not None else McaCache(default_cache_path())
        self.call_latency = call_latency
        self.jobs = jobs or min(4, os.cpu_count() or 1)
        self.stats = McaStats()
        self._mca = self.toolchain.tool("llvm-mca")
        self._salt = (f"{_SCHEMA}|{self.toolchain.version_string('llvm-mca')}|{self.mcpu}|{call_latency}|").encode()
        self._stats_lock = threading.Lock()

    def key(self, code: bytes) -> str:
        """The cache key of a block: its bytes, the CPU, the LLVM version and the settings."""
        return hashlib.sha256(self._salt + code).hexdigest()

    def cycles(self, blocks: Sequence[bytes]) -> list[float]:
        """Predicted core cycles per iteration of each block, in order."""
        return [cost.cycles for cost in self.costs(blocks)]

    def costs(self, blocks: Sequence[bytes]) -> list[BlockCost]:
        """Like `cycles`, also saying which blocks got the fallback."""
        keys = [self.key(code) for code in blocks]
        known = self.cache.lookup(dict.fromkeys(keys), self.stats)
        todo = {key: code for key, code in zip(keys, blocks, strict=True) if key not in known}
        if todo:
            fresh = self._analyse(todo)
            self.cache.store(fresh)
            known.update(fresh)
        result = [known[key] for key in keys]
        self.stats.fallbacks += sum(cost.fallback for cost in result)
        return result

    def _analyse(self, blocks: dict[str, bytes]) -> dict[str, BlockCost]:
        """Costs of blocks not in the cache: empty bodies cost 0, the rest go to llvm-mca."""
        costs: dict[str, BlockCost] = {}
        by_iterations: dict[int, dict[str, list[str]]] = {}
        for key, code in blocks.items():
            body = x86.att_lines(x86.strip_terminators(code))
            if body is None:
                costs[key] = BlockCost(float(x86.instruction_count(code)), True)
            elif body:
                by_iterations.setdefault(iterations_for(len(body)), {})[key] = body
            else:
                costs[key] = BlockCost(0.0, False)
        batches = [
            (iterations, dict(items[start : start + _BATCH_SIZE]))
            for iterations, group in by_iterations.items()
            for items in [list(group.items())]
            for start in range(0, len(items), _BATCH_SIZE)
        ]
        with ThreadPoolExecutor(max_workers=self.jobs) as pool:
            for result in pool.map(lambda batch: self._run_batch(*batch), batches):
                costs.update(result)
        return costs

    def _run_batch(self, iterations: int, bodies: dict[str, list[str]]) -> dict[str, BlockCost]:
        """Costs of `bodies` from one llvm-mca run; on failure, bisects to isolate bad blocks."""
        cycles = self._invoke(iterations, bodies)
        if cycles is not None:
            with self._stats_lock:
                self.stats.analysed += len(cycles)
            return {key: BlockCost(value, False) for key, value in cycles.items()}
        if len(bodies) == 1:
            ((key, body),) = bodies.items()
            return {key: BlockCost(float(len(body)), True)}
        items = list(bodies.items())
        half = len(items) // 2
        return self._run_batch(iterations, dict(items[:half])) | self._run_batch(iterations, dict(items[half:]))

    def _invoke(self, iterations: int, bodies: dict[str, list[str]]) -> dict[str, float] | None:
        """Cycles per iteration of each region from one llvm-mca run; None if llvm-mca failed."""
        names = {f"b{index}": key for index, key in enumerate(bodies)}
        source = "".join(
            f"# LLVM-MCA-BEGIN {name}\n" + "\n".join(bodies[key]) + "\n# LLVM-MCA-END\n" for name, key in names.items()
        )
        with tempfile.NamedTemporaryFile("w", suffix=".s") as handle:
            handle.write(source)
            handle.flush()
            with self._stats_lock:
                self.stats.invocations += 1
            result = subprocess.run(
                [
                    str(self._mca),
                    f"-mcpu={self.mcpu}",
                    f"--iterations={iterations}",
                    f"--call-latency={self.call_latency}",
                    "--json",
                    "--resource-pressure=false",
                    "--instruction-info=false",
                    handle.name,
                ],
                capture_output=True,
                text=True,
                timeout=_MCA_TIMEOUT_S,
            )
        if result.returncode != 0:
            return None
        regions = json.loads(result.stdout).get("CodeRegions", [])
        cycles = {
            names[region["Name"]]: region["SummaryView"]["TotalCycles"] / region["SummaryView"]["Iterations"]
            for region in regions
            if region.get("Name") in names
        }
        return cycles if len(cycles) == len(bodies) else None


@functools.cache
def _shared_model(mcpu: str | None, toolchain: Toolchain | None, cache_path: Path) -> McaBlockModel:
    return McaBlockModel(mcpu=mcpu, toolchain=toolchain, cache=McaCache(cache_path))


def block_cycles(blocks: Sequence[bytes], mcpu: str | None = None, toolchain: Toolchain | None = None) -> list[float]:
    """Predicted core cycles per iteration of each block (bytes of x86-64 code), in order.

    Uses one process-wide `McaBlockModel` per (mcpu, toolchain), with the shared on-disk cache.

    Args:
        blocks: each block's machine code (e.g. `mlgo_env.bbaddrmap.MachineBlock.code`).
        mcpu: LLVM CPU name; None models the host CPU.
        toolchain: LLVM tools to use; the default toolchain when None.
    """
    return _shared_model(mcpu, toolchain, default_cache_path()).cycles(blocks)
