"""A performance model: block throughput plus the overhead of last-level-cache misses.

    cycles = Σ_b count(b)·cost(b) + Σ_b misses(b)·latency / MLP

over the machine basic blocks b of the compiled module: cost(b) is llvm-mca's cycles per iteration
(`mlgo_env.mca`), count(b) how often b runs, misses(b) the last-level-cache misses of b's loads and
stores, latency the cost of one miss in core cycles and MLP how many misses overlap.

The target is explicit: llvm-mca models the target CPU (this host's unless given), latency is
that CPU's typical miss (`miss_latency`), and the caches simulated are the target's (this host's,
as `mlgo_env.machine` reads them, unless given), rounded to the nearest geometry valgrind can
simulate (`valgrind_geometry`); the breakdown records all three.

Counts and misses come from one cache simulation of the program (valgrind's callgrind with
``--cache-sim=yes`` and the cache geometry passed explicitly, because valgrind's detection is wrong
on VMs), run once per program build and cached on disk by a hash of the executable, its arguments
and the simulated cache geometry. Later variants are not run: the profile is
kept per source line (``file:line``) and mapped onto each variant's blocks through the DWARF line
table of its object:

* count(b) = lower median over b's instructions of
  executions(line) / copies(line) × freq(b) / freq(hottest block of b's function holding the line),
  where executions(line) is how often the line ran in the profiled build (per function, its
  most-executed instruction; summed over functions), copies(line) the number of the variant's
  functions holding code of the line (after inlining a line may live in several), and freq LLVM's
  static block frequency: a line spread over a loop and its preheader (``for (i = 0; …; i++)``)
  gives the loop its count and the preheader a share. The median ignores the odd instruction whose
  line runs elsewhere (rematerialised constants, hoisted code). Lines that never ran count 0. On
  the modules of two bundled programs (stencil2d, string_ops), Σ count(b)·instructions(b) came
  within 0.7–1.2× of the instructions callgrind counted.
* misses(b) = the line's data misses (``DLmr + DLmw``) shared among the variant's memory-accessing
  instructions of that line (among all its instructions if none accesses memory).

With ``frequencies="static"`` count(b) is instead LLVM's static block-frequency estimate (entry
block = 1 per function), which ignores how often each function runs.

Latency and MLP enter only as their ratio; `fit_perf_model` fits it to measured runtimes.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import logging
import math
import os
import re
import statistics
import subprocess
import tempfile
import warnings
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any, Literal, NamedTuple

import numpy as np
from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile
from elftools.elf.relocation import RelocationSection
from elftools.elf.sections import Section, SymbolTableSection
from scipy.optimize import nnls

from mlgo_env import x86
from mlgo_env.artifacts import Artifact, CompiledModule
from mlgo_env.bbaddrmap import MachineBlock, read_blocks
from mlgo_env.cache import cache_dir
from mlgo_env.errors import MlgoEnvError
from mlgo_env.machine import CacheLevel, host, microarchitecture
from mlgo_env.mca import McaBlockModel
from rewards.base import TargetCpuReward
from rewards.wire import MCPU, WireOption

__all__ = [
    "CACHE_SPEC",
    "DEFAULT_MLP",
    "FALLBACK_LATENCY",
    "CacheConfig",
    "LineCost",
    "PerfBreakdown",
    "PerfModelReward",
    "PerfSample",
    "ProfileError",
    "SourceLines",
    "fit_perf_model",
    "miss_latency",
    "parse_callgrind",
    "profile_program",
    "valgrind_geometry",
]

FALLBACK_LATENCY = 300.0
"""Core cycles of one last-level-cache miss on a CPU `mlgo_env.machine` has no figure for: a DRAM
access of ~80–100 ns at 3–4 GHz. A guess, announced with a warning; `fit_perf_model` refits it."""
DEFAULT_MLP = 4.0
"""Misses in flight at once; only latency / MLP matters, refit it with `fit_perf_model`."""

_PROFILE_SCHEMA = "callgrind-lines-v2"  # v2: keyed by the simulated (valgrind) geometry
_MIN_LINE_SIZE = 16  # valgrind's: smaller lines could let one instruction straddle three
_MAX_CACHE_SIZE = 1 << 30  # far above any cache per core complex; bounds valgrind's tag arrays
_R_X86_64_64 = 1
_DW_LNE_SET_ADDRESS = 0x02  # DWARF 4/5, section 6.2.5.3

logger = logging.getLogger(__name__)


class ProfileError(MlgoEnvError):
    """The cache simulation of a program failed or its output could not be read."""


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


def valgrind_geometry(cache: CacheLevel) -> CacheLevel:
    """The geometry nearest `cache` that valgrind's cache simulator accepts (`cache` itself if it does).

    Valgrind picks a set by address bits, so it refuses a set count that is not a power of two (a
    26-core Intel server's 35.75 MiB, 11-way L3 has 53,248 sets). Nearest here: the same line size;
    one of the two powers of two around the real set count (so no set count, and no associativity,
    is off by more than a factor of two); the associativity whose capacity is closest to the real
    one (capacity decides which working sets fit, hence most misses); and of those the one whose
    associativity is closest in ratio (conflict misses). That L3 becomes 36 MiB 9-way with 65,536
    sets rather than 36 MiB 18-way with 32,768; a 12 MiB 16-way cache becomes 12 MiB 12-way.

    Raises:
        ValueError: the line size is not a power of two of at least 16 bytes, or the cache has no
            ways, is no larger than one line, or is larger than 1 GiB.
    """
    line = cache.line_size
    if line < _MIN_LINE_SIZE or not _power_of_two(line):
        raise ValueError(f"valgrind simulates lines of a power of two >= {_MIN_LINE_SIZE} bytes, not {cache}")
    if cache.assoc < 1 or not line < cache.size <= _MAX_CACHE_SIZE:
        raise ValueError(f"cannot simulate {cache}: it needs a way or more and a size above one line, up to 1 GiB")
    if cache.size % (line * cache.assoc) == 0 and _power_of_two(cache.sets):
        return cache
    lines = cache.size / line
    below = 1 << max(0, math.floor(math.log2(lines / cache.assoc)))
    candidates = [
        (abs(sets * ways * line - cache.size), abs(math.log(ways / cache.assoc)), sets, ways)
        for sets in (below, 2 * below)
        for ways in {max(1, math.floor(lines / sets)), max(1, math.ceil(lines / sets))}
        if sets * ways > 1
    ]
    _, _, sets, ways = min(candidates)
    return replace(cache, size=sets * ways * line, assoc=ways)


def _power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


_GEOMETRY = r"(\d{1,10}),(\d{1,4}),(\d{1,4})"
CACHE_SPEC = rf"I1={_GEOMETRY} D1={_GEOMETRY} L([2-9])={_GEOMETRY}"
"""How `CacheConfig.spec` writes caches: ``I1=size,ways,line D1=size,ways,line Ln=size,ways,line``."""


@dataclass(frozen=True)
class CacheConfig:
    """The caches valgrind simulates: first-level instruction and data caches and the last level.

    As text (`spec`, `parse`), ``I1=32768,8,64 D1=32768,8,64 L3=8388608,16,64`` (sizes and lines in
    bytes, ``L3`` naming the last level): how a job sends its target's caches to other machines.
    """

    i1: CacheLevel
    d1: CacheLevel
    ll: CacheLevel

    @classmethod
    def from_caches(cls, caches: Iterable[CacheLevel]) -> CacheConfig:
        """The L1 instruction, L1 data and highest unified cache among `caches` (e.g. a `CpuInfo`'s).

        Raises:
            ProfileError: one of the three is missing (some VMs describe no caches).
        """
        known = {(c.level, c.kind): c for c in caches}
        unified = [c for c in known.values() if c.kind == "Unified"]
        if (1, "Instruction") not in known or (1, "Data") not in known or not unified:
            found = ", ".join(f"L{level} {kind}" for level, kind in known) or "none"
            raise ProfileError(f"need L1 instruction, L1 data and unified caches, found {found}; pass a CacheConfig")
        return cls(known[(1, "Instruction")], known[(1, "Data")], max(unified, key=lambda c: c.level))

    @classmethod
    def of_host(cls) -> CacheConfig:
        """This machine's caches, as `mlgo_env.machine.host` reads them."""
        return cls.from_caches(host().caches)

    @classmethod
    def parse(cls, spec: str) -> CacheConfig:
        """The caches `spec` writes (see `CACHE_SPEC`).

        Raises:
            ValueError: `spec` is not of that form.
        """
        match = re.fullmatch(CACHE_SPEC, spec.strip())
        if match is None:
            raise ValueError(f"caches {spec!r} are not written as 'I1=size,ways,line D1=size,ways,line L3=...'")
        n = [int(group) for group in match.groups()]
        return cls(
            i1=CacheLevel(1, "Instruction", n[0], n[1], n[2]),
            d1=CacheLevel(1, "Data", n[3], n[4], n[5]),
            ll=CacheLevel(n[6], "Unified", n[7], n[8], n[9]),
        )

    def spec(self) -> str:
        """These caches as text (`parse` reads it back)."""
        levels = (("I1", self.i1), ("D1", self.d1), (f"L{self.ll.level}", self.ll))
        return " ".join(f"{name}={c.size},{c.assoc},{c.line_size}" for name, c in levels)

    def simulated(self) -> CacheConfig:
        """The nearest caches valgrind simulates (`valgrind_geometry` of each).

        Raises:
            ValueError: a cache valgrind cannot simulate at all (see `valgrind_geometry`).
        """
        return CacheConfig(valgrind_geometry(self.i1), valgrind_geometry(self.d1), valgrind_geometry(self.ll))

    def valgrind_args(self) -> list[str]:
        """Valgrind's options for these caches (valgrind refuses them unless they are `simulated` ones)."""
        levels = (("I1", self.i1), ("D1", self.d1), ("LL", self.ll))
        return [f"--{name}={c.size},{c.assoc},{c.line_size}" for name, c in levels]


@dataclass
class LineCost:
    """What one source line cost in the profiled run.

    Attributes:
        instructions: instructions executed (callgrind's ``Ir``).
        executions: times the line ran: per function, its most-executed instruction's count,
            summed over the functions holding code of the line.
        misses: last-level-cache data misses (``DLmr + DLmw``).
    """

    instructions: int = 0
    executions: int = 0
    misses: int = 0


SourceKey = tuple[str, int]
"""A source location as (file base name, line): DWARF and callgrind spell directories differently."""


def source_key(path: str, line: int) -> SourceKey:
    """The key of a line of `path` (by base name)."""
    return (os.path.basename(path), line)


class _CallgrindParser:
    """Reads the callgrind profile format (valgrind manual, "Callgrind Format Specification").

    Only what the model needs is kept: per source line, the self cost of its instructions. Cost
    lines give subpositions (``instr line``) absolutely (``0x4a0``, ``17``), relative to the last
    cost line (``+3``, ``-2``) or unchanged (``*``); the target of ``calls=``/``jump=`` lines and the
    inclusive-cost line after ``calls=`` are written relative to the last cost line without
    becoming it. Names may be compressed: ``(7) name`` defines id 7, a later ``(7)`` refers to it.
    """

    _NAMESPACE = {
        "ob": "ob", "cob": "ob",
        "fl": "fl", "fi": "fl", "fe": "fl", "cfi": "fl", "cfl": "fl", "jfi": "fl",
        "fn": "fn", "cfn": "fn", "jfn": "fn",
    }  # fmt: skip

    def __init__(self) -> None:
        self.positions = ["line"]
        self.events: list[str] = []
        self._names: dict[str, dict[str, str]] = {"ob": {}, "fl": {}, "fn": {}}
        self._last: list[int] = []
        self._file = "???"
        self._function = "???"
        self._object = "???"
        self._skip_next_cost = False
        self.line_costs: dict[SourceKey, LineCost] = defaultdict(LineCost)
        self._instruction_counts: dict[tuple[str, SourceKey, int], int] = defaultdict(int)

    def parse(self, lines: Iterable[str]) -> dict[SourceKey, LineCost]:
        """Per-line costs of a whole profile."""
        for raw in lines:
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if line[0].isdigit() or line[0] in "+-*":
                self._cost_line(line)
            elif "=" in line and (":" not in line or line.index("=") < line.index(":")):
                key, value = line.split("=", 1)
                self._specification(key, value)
            else:
                key, _, value = line.partition(":")
                self._header(key.strip(), value.strip())
        busiest: dict[tuple[str, SourceKey], int] = defaultdict(int)
        for (function, location, _), count in self._instruction_counts.items():
            busiest[(function, location)] = max(busiest[(function, location)], count)
        for (_, location), count in busiest.items():
            self.line_costs[location].executions += count
        return dict(self.line_costs)

    def _header(self, key: str, value: str) -> None:
        if key == "positions":
            self.positions = value.split()
            self._last = [0] * len(self.positions)
        elif key == "events":
            self.events = value.split()
            missing = {"Ir", "DLmr", "DLmw"} - set(self.events)
            if missing:
                raise ProfileError(f"profile lacks events {sorted(missing)}; run with --cache-sim=yes")

    def _specification(self, key: str, value: str) -> None:
        if key in self._NAMESPACE:
            name = self._name(self._NAMESPACE[key], value)
            if key in ("fl", "fi", "fe"):
                self._file = name
            elif key == "fn":
                self._function = name
            elif key == "ob":
                self._object = name
        elif key in ("calls", "jump", "jcnd"):
            # The next line is the call's inclusive cost (or the jump's source position): no self cost.
            self._skip_next_cost = True

    def _name(self, namespace: str, value: str) -> str:
        match = re.fullmatch(r"\((\d+)\)\s*(.*)", value.strip())
        if match is None:
            return value.strip()
        ident, name = match.groups()
        table = self._names[namespace]
        if name:
            table[ident] = name
        return table.get(ident, f"({ident})")

    def _cost_line(self, line: str) -> None:
        fields = line.split()
        if not self._last:
            self._last = [0] * len(self.positions)
        position = [
            _subposition(token, last) for token, last in zip(fields[: len(self.positions)], self._last, strict=True)
        ]
        if self._skip_next_cost:
            self._skip_next_cost = False
            return
        self._last = position
        values = [int(value) for value in fields[len(self.positions) :]]
        costs = dict(zip(self.events, values, strict=False))  # trailing zero events are omitted
        where = dict(zip(self.positions, position, strict=True))
        key = source_key(self._file, where.get("line", 0))
        record = self.line_costs[key]
        record.instructions += costs.get("Ir", 0)
        record.misses += costs.get("DLmr", 0) + costs.get("DLmw", 0)
        function = f"{self._object}:{self._function}"
        self._instruction_counts[(function, key, where.get("instr", 0))] += costs.get("Ir", 0)


def _subposition(token: str, last: int) -> int:
    if token == "*":
        return last
    if token[0] in "+-":
        return last + int(token, 0)
    return int(token, 0)


def parse_callgrind(stream: IO[str]) -> dict[SourceKey, LineCost]:
    """Per source line costs (instructions, executions, LLC data misses) of a callgrind profile.

    The profile must come from ``--cache-sim=yes`` (for the miss events); ``--dump-instr=yes``
    gives per-instruction counts, from which `LineCost.executions` is derived.
    """
    return _CallgrindParser().parse(stream)


def default_profile_dir() -> Path:
    """Where profiles are cached, under mlgo-env's cache root (`mlgo_env.cache`)."""
    return cache_dir("profiles")


def profile_program(
    executable: Path,
    args: Sequence[str] = (),
    cwd: Path | None = None,
    cache: CacheConfig | None = None,
    timeout: float = 3600.0,
    profile_dir: Path | None = None,
) -> dict[SourceKey, LineCost]:
    """Per-line costs of one run of `executable` under callgrind's cache simulation, cached on disk.

    `cache` (default: this machine's caches) is simulated as `CacheConfig.simulated` rounds it. The
    cache key hashes the executable's bytes, `args`, the simulated geometry and the valgrind
    version, so a program build is simulated once, whatever process asks.

    Raises:
        ProfileError: valgrind failed, timed out, or wrote an unreadable profile.
        ValueError: a cache valgrind cannot simulate (see `valgrind_geometry`).
    """
    simulated = (cache or CacheConfig.of_host()).simulated()
    valgrind_version = subprocess.run(
        ["valgrind", "--version"], capture_output=True, text=True, timeout=60
    ).stdout.strip()
    digest = hashlib.sha256(Path(executable).read_bytes())
    digest.update(json.dumps([_PROFILE_SCHEMA, list(args), simulated.valgrind_args(), valgrind_version]).encode())
    stored = (profile_dir or default_profile_dir()) / f"{digest.hexdigest()}.json"
    if stored.exists():
        return {(file, line): LineCost(*values) for file, line, *values in json.loads(stored.read_text())}
    with tempfile.TemporaryDirectory(prefix="mlgo-callgrind-") as scratch:
        out = Path(scratch) / "callgrind.out"
        command = [
            "valgrind", "--tool=callgrind", "--cache-sim=yes", "--dump-instr=yes",
            *simulated.valgrind_args(), f"--callgrind-out-file={out}",
            str(Path(executable).resolve()), *args,
        ]  # fmt: skip
        try:
            run = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise ProfileError(f"callgrind on {executable} ran past {timeout:.0f} s") from exc
        if run.returncode != 0 or not out.exists():
            raise ProfileError(f"callgrind on {executable} failed ({run.returncode}):\n{run.stderr[-4000:]}")
        with open(out) as stream:
            lines = parse_callgrind(stream)
    stored.parent.mkdir(parents=True, exist_ok=True)
    rows = [[file, line, c.instructions, c.executions, c.misses] for (file, line), c in lines.items()]
    # A private temporary name per writer: threads and processes may profile the same build at once.
    handle, partial_name = tempfile.mkstemp(dir=stored.parent, prefix=stored.stem, suffix=".tmp")
    with os.fdopen(handle, "w") as partial:
        partial.write(json.dumps(rows))
    Path(partial_name).replace(stored)
    return lines


class SourceLines:
    """The source line of each code address of an ELF file, from its DWARF line table.

    In a relocatable object every code section starts at address 0, so each line sequence is tied
    to its section through the ``R_X86_64_64`` relocation of its ``DW_LNE_set_address`` (they come
    in the same order); in a linked file, through the section holding its addresses.
    """

    def __init__(self, path: Path) -> None:
        self._rows: dict[int, tuple[list[int], list[SourceKey | None]]] = {}
        with open(path, "rb") as handle:
            elf = ELFFile(handle)
            if not elf.has_dwarf_info():
                raise ProfileError(f"{path} has no debug info; compile it with -gdwarf-4")
            self._read(elf)

    def line_at(self, section_index: int, offset: int) -> SourceKey | None:
        """The line of the code at `offset` in section `section_index`; None if it has none."""
        addresses, keys = self._rows.get(section_index, ([], []))
        index = bisect.bisect_right(addresses, offset) - 1
        return keys[index] if index >= 0 else None

    def _read(self, elf: ELFFile) -> None:
        dwarf = elf.get_dwarf_info()
        sections = _set_address_sections(elf)
        code_sections = [
            (index, section)
            for index, section in enumerate(elf.iter_sections())
            if section["sh_flags"] & SH_FLAGS.SHF_EXECINSTR
        ]
        sequences = 0
        rows: dict[int, list[tuple[int, SourceKey | None]]] = defaultdict(list)
        programs = [dwarf.line_program_for_CU(cu) for cu in dwarf.iter_CUs()]
        for program in sorted((p for p in programs if p is not None), key=lambda p: p.program_start_offset):
            files = program.header["file_entry"]
            first_file = 0 if program.header["version"] >= 5 else 1
            section_index = -1
            for entry in program.get_entries():
                if entry.is_extended and entry.command == _DW_LNE_SET_ADDRESS:
                    if sections is not None:
                        if sequences >= len(sections):
                            raise ProfileError("more line sequences than .debug_line relocations")
                        section_index = sections[sequences]
                    else:
                        section_index = _section_holding(code_sections, entry.args[0])
                    sequences += 1
                state = entry.state
                if state is None or section_index < 0:
                    continue
                base = 0 if sections is not None else elf.get_section(section_index)["sh_addr"]
                name = files[state.file - first_file].name.decode(errors="replace")
                key = None if state.end_sequence or state.line == 0 else source_key(name, state.line)
                rows[section_index].append((state.address - base, key))
        for index, entries in rows.items():
            entries.sort(key=lambda row: row[0])
            self._rows[index] = ([row[0] for row in entries], [row[1] for row in entries])


def _set_address_sections(elf: ELFFile) -> list[int] | None:
    """For a relocatable file, the section each ``DW_LNE_set_address`` points into, in order."""
    if elf["e_type"] != "ET_REL":
        return None
    relocations = next(
        (
            s
            for s in elf.iter_sections()
            if isinstance(s, RelocationSection) and s.name in (".rela.debug_line", ".rel.debug_line")
        ),
        None,
    )
    if relocations is None:
        return []
    symbols = elf.get_section(relocations["sh_link"])
    if not isinstance(symbols, SymbolTableSection):
        raise ProfileError(f"{relocations.name} does not link to a symbol table")
    ordered = sorted(
        (r for r in relocations.iter_relocations() if r["r_info_type"] == _R_X86_64_64),
        key=lambda r: r["r_offset"],
    )
    return [symbols.get_symbol(r["r_info_sym"])["st_shndx"] for r in ordered]


def _section_holding(code_sections: list[tuple[int, Section]], address: int) -> int:
    for index, section in code_sections:
        if section["sh_addr"] <= address < section["sh_addr"] + section["sh_size"]:
            return index
    return -1


class _Instruction(NamedTuple):
    line: SourceKey | None
    accesses_memory: bool


class _BlockDecoder:
    """Decodes blocks into instructions with their source line and whether they touch memory."""

    def __init__(self, lines: SourceLines) -> None:
        self._lines = lines

    def instructions(self, block: MachineBlock) -> list[_Instruction]:
        out, address = [], block.offset
        for insn in x86.decode(block.code, partial=True) or []:
            out.append(_Instruction(self._lines.line_at(block.section_index, address), insn.touches_memory))
            address += insn.size
        return out


class PerfBreakdown(NamedTuple):
    """The parts of the model's prediction for one module, and the target they were computed for."""

    throughput_cycles: float
    """Σ count(b)·cost(b)."""
    llc_misses: float
    """Σ misses(b): last-level-cache data misses mapped onto the module's blocks."""
    miss_cycles: float
    """llc_misses·latency / MLP."""
    mcpu: str
    """The CPU llvm-mca modelled."""
    latency: float
    """Core cycles of one miss."""
    caches: str
    """The cache geometry valgrind simulated (`CacheConfig.spec`)."""

    @property
    def cycles(self) -> float:
        """The predicted cost: throughput plus miss cycles."""
        return self.throughput_cycles + self.miss_cycles

    def record(self) -> dict[str, Any]:
        """The parts and the total as JSON values (what ``module.extra["perf_model"]`` holds)."""
        return self._asdict() | {"cycles": self.cycles}


class _BlockProfile(NamedTuple):
    counts: list[float]
    misses: list[float]


def _map_profile(
    blocks: Sequence[MachineBlock],
    per_block: Sequence[list[_Instruction]],
    profile: dict[SourceKey, LineCost],
) -> _BlockProfile:
    """Dynamic counts and LLC misses of a variant's blocks from the per-line profile."""
    copies: dict[SourceKey, set[str]] = defaultdict(set)
    hottest: dict[tuple[str, SourceKey], float] = defaultdict(float)
    memory_instructions: dict[SourceKey, int] = defaultdict(int)
    all_instructions: dict[SourceKey, int] = defaultdict(int)
    for block, instructions in zip(blocks, per_block, strict=True):
        for insn in instructions:
            if insn.line is not None:
                copies[insn.line].add(block.function)
                where = (block.function, insn.line)
                hottest[where] = max(hottest[where], block.frequency)
                all_instructions[insn.line] += 1
                memory_instructions[insn.line] += insn.accesses_memory
    counts, misses = [], []
    for block, instructions in zip(blocks, per_block, strict=True):
        located = [(insn.line, insn.accesses_memory) for insn in instructions if insn.line is not None]
        runs = []
        for line, _ in located:
            peak = hottest[(block.function, line)]
            share = block.frequency / peak if peak > 0 else 1.0
            executions = profile[line].executions if line in profile else 0
            runs.append(executions / len(copies[line]) * share)
        counts.append(float(statistics.median_low(runs)) if runs else 0.0)
        block_misses = 0.0
        for line, accesses_memory in located:
            line_misses = profile[line].misses if line in profile else 0
            if memory_instructions[line]:
                block_misses += line_misses * accesses_memory / memory_instructions[line]
            else:
                block_misses += line_misses / all_instructions[line]
        misses.append(block_misses)
    return _BlockProfile(counts, misses)


class PerfModelReward(TargetCpuReward):
    """Predicted cycles on one target: llvm-mca block throughput plus last-level-cache-miss overhead.

    The first build of each program the reward costs is profiled, unless `use_profile` named one
    (the baseline compile is the natural choice); every later build of that program reuses the
    profile through its debug line table and is not run. The profile is per source line, so it
    hardly depends on which correct build was simulated.

    The target is resolved once, when the reward is built, and logged: the CPU llvm-mca models, the
    miss latency (that CPU's unless given) and the caches simulated (rounded as
    `valgrind_geometry` says); `breakdown` records them with every prediction.

    Args:
        latency: core cycles of one last-level-cache miss; None: the target's (`miss_latency`).
        mlp: memory-level parallelism (misses overlapping).
        frequencies: ``"profile"`` (dynamic counts from the cache simulation) or ``"static"``
            (LLVM's per-function block-frequency estimates).
        mcpu: CPU llvm-mca models; None: this host's.
        cache: the target's caches, or their `CacheConfig.spec` text; None: this host's.
        profile_timeout: seconds a profiling run may take.
        profile_dir: where profiles are cached; None for the default under ``~/.cache``.

    Attributes:
        cache: the target's caches.
        simulated_cache: what valgrind simulates of them.

    Raises:
        ValueError: a bad option, or caches valgrind cannot simulate.
        ProfileError: `cache` is None and this machine does not describe its caches.
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
        "mcpu": MCPU,
        "profile_timeout": WireOption(float, low=1.0, high=3600.0, seconds=True),
    }

    def __init__(
        self,
        latency: float | None = None,
        mlp: float = DEFAULT_MLP,
        frequencies: Literal["profile", "static"] = "profile",
        mcpu: str | None = None,
        cache: CacheConfig | str | None = None,
        profile_timeout: float = 3600.0,
        profile_dir: Path | None = None,
    ) -> None:
        super().__init__(mcpu)
        if frequencies not in ("profile", "static"):
            raise ValueError(f"frequencies must be 'profile' or 'static', not {frequencies!r}")
        self.latency = miss_latency(self.mcpu) if latency is None else latency
        if self.latency < 0 or mlp <= 0:
            raise ValueError(f"need latency >= 0 and mlp > 0, got latency={self.latency}, mlp={mlp}")
        self.mlp = mlp
        self.frequencies = frequencies
        self.cache = CacheConfig.parse(cache) if isinstance(cache, str) else cache or CacheConfig.of_host()
        self.simulated_cache = self.cache.simulated()
        self.target_from_host = self.target_from_host or cache is None
        self._log_target(caches_given=cache is not None)
        self.profile_timeout = profile_timeout
        self.profile_dir = profile_dir
        self._profiles: dict[str, dict[SourceKey, LineCost]] = {}
        self._block_models: dict[int, McaBlockModel] = {}

    def use_profile(self, module: CompiledModule) -> dict[SourceKey, LineCost]:
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
        costs = self._block_model(module).cycles([block.code for block in blocks])
        profile = self._profiles.get(self._program_key(module)) or self.use_profile(module)
        decoder = _BlockDecoder(SourceLines(module.object_path))
        mapped = _map_profile(blocks, [decoder.instructions(block) for block in blocks], profile)
        counts = mapped.counts if self.frequencies == "profile" else [b.frequency for b in blocks]
        misses = sum(mapped.misses)
        return PerfBreakdown(
            throughput_cycles=float(np.dot(counts, costs)),
            llc_misses=misses,
            miss_cycles=misses * self.latency / self.mlp,
            mcpu=self.mcpu,
            latency=self.latency,
            caches=self.simulated_cache.spec(),
        )

    def cost(self, module: CompiledModule) -> float:
        """Predicted cycles of `module`; the parts and the target go to ``module.extra["perf_model"]``."""
        parts = self.breakdown(module)
        module.extra["perf_model"] = parts.record()
        return parts.cycles

    def target_options(self) -> dict[str, Any]:
        """The target CPU and its caches: ``{"mcpu": ..., "cache": spec}``."""
        return super().target_options() | {"cache": self.cache.spec()}

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

    def _block_model(self, module: CompiledModule) -> McaBlockModel:
        version = module.toolchain.version
        if version not in self._block_models:
            self._block_models[version] = McaBlockModel(mcpu=self.mcpu, toolchain=module.toolchain)
        return self._block_models[version]

    @staticmethod
    def _program_key(module: CompiledModule) -> str:
        return module.program.name if module.program else module.benchmark


class PerfSample(NamedTuple):
    """One compiled variant: the model's two terms and its measured runtime."""

    throughput_cycles: float
    llc_misses: float
    runtime_s: float


def fit_perf_model(samples: Sequence[PerfSample], latency: float) -> tuple[float, float]:
    """Fits the model's cache-miss term to measured runtimes; returns (latency, mlp).

    Fits runtime ≈ a·throughput_cycles + b·llc_misses with a, b ≥ 0 by least squares on relative
    error (every sample weighs the same, whatever its runtime). Latency and MLP only enter as
    latency / MLP = b / a, so `latency` (e.g. the target's `miss_latency`) is kept as given and MLP
    solved for; an MLP of infinity means the misses did not help explain the runtimes.

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
    return latency, (latency * a / b if b > 0 else float("inf"))
