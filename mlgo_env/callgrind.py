"""Cache simulation of one program run with valgrind's callgrind: the profile the performance model maps onto variants.

One run of a program build under ``valgrind --tool=callgrind --cache-sim=yes --dump-instr=yes``,
with the cache geometry passed explicitly (valgrind's detection is wrong on VMs; a geometry it
refuses is rounded, `valgrind_geometry`), gives per instruction: executions, data reads and
writes, and first- and last-level data misses; where the caches have a level between those (an L2
under an L3), a second run that takes it for the last level gives its misses. `profile_program`
keeps, per source line:

* how often it ran and what it cost (`LineCost`), with the bytes its loads and stores moved to and
  from memory other than the stack (each executed memory instruction decoded from the executable
  through `mlgo_env.x86`; ``rsp``-relative accesses are spills and locals, which stay in L1);
* how much work (instructions) each function did when entered from each call site
  (`Profile.site_work`), whether the build called it there (callgrind's inclusive cost of the
  call) or inlined it there (the instructions executed in that inlined copy's address ranges, from
  the build's ``DW_TAG_inlined_subroutine`` entries, `mlgo_env.dwarf.InlineSites`).

Profiles are cached on disk (`mlgo_env.cache`) by a hash of the executable, its arguments, the
simulated geometry and the valgrind version: a build is simulated once, whatever process asks.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import json
import math
import os
import re
import subprocess
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import IO

from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile

from mlgo_env import x86
from mlgo_env.cache import cache_dir
from mlgo_env.dwarf import DebugInfoError, InlineSites, SourceKey, source_key
from mlgo_env.errors import MlgoEnvError
from mlgo_env.machine import CacheLevel, host
from mlgo_env.timing import run_usage

__all__ = [
    "CACHE_SPEC",
    "CacheConfig",
    "CallgrindData",
    "LineCost",
    "Profile",
    "ProfileError",
    "memory_bytes",
    "parse_callgrind",
    "profile_program",
    "valgrind_geometry",
]

_PROFILE_SCHEMA = "callgrind-profile-v5"  # v5: the page faults of a native run
_MIN_LINE_SIZE = 16  # valgrind's: smaller lines could let one instruction straddle three
_MAX_CACHE_SIZE = 1 << 30  # far above any cache per core complex; bounds valgrind's tag arrays
_STACK = "rsp"


class ProfileError(MlgoEnvError):
    """The cache simulation of a program failed or its output could not be read."""


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
CACHE_SPEC = rf"I1={_GEOMETRY} D1={_GEOMETRY}(?: L([2-9])={_GEOMETRY})? L([2-9])={_GEOMETRY}"
"""How `CacheConfig.spec` writes caches: ``I1=size,ways,line D1=size,ways,line [L2=...] Ln=size,ways,line``."""


@dataclass(frozen=True)
class CacheConfig:
    """The caches valgrind simulates: first-level instruction and data caches, the last level, and the one below it.

    Valgrind simulates two levels at a time: the first and a last one. The level below the last
    (`mid`, the L2 under an L3) is simulated by a second run that takes it for the last level.
    As text (`spec`, `parse`), ``I1=32768,8,64 D1=32768,8,64 L2=1048576,8,64 L3=8388608,16,64``
    (sizes and lines in bytes, ``L3`` naming the last level, the middle one optional): how a job
    sends its target's caches to other machines.
    """

    i1: CacheLevel
    d1: CacheLevel
    ll: CacheLevel
    mid: CacheLevel | None = None

    @classmethod
    def from_caches(cls, caches: Iterable[CacheLevel]) -> CacheConfig:
        """The L1 instruction, L1 data and highest unified cache among `caches` (e.g. a `CpuInfo`'s).

        Raises:
            ProfileError: one of the three is missing (some VMs describe no caches).
        """
        known = {(c.level, c.kind): c for c in caches}
        unified = sorted((c for c in known.values() if c.kind == "Unified"), key=lambda c: c.level)
        if (1, "Instruction") not in known or (1, "Data") not in known or not unified:
            found = ", ".join(f"L{level} {kind}" for level, kind in known) or "none"
            raise ProfileError(f"need L1 instruction, L1 data and unified caches, found {found}; pass a CacheConfig")
        mid = unified[-2] if len(unified) > 1 and unified[-2].level > 1 else None
        return cls(known[(1, "Instruction")], known[(1, "Data")], unified[-1], mid)

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
        n = [int(group) if group is not None else None for group in match.groups()]

        def level(at: int, kind: str, number: int | None = 1) -> CacheLevel:
            return CacheLevel(number or 1, kind, *(int(x or 0) for x in n[at : at + 3]))

        mid = level(7, "Unified", n[6]) if n[6] is not None else None
        ll = level(11, "Unified", n[10])
        if mid is not None and mid.level >= ll.level:
            raise ValueError(f"caches {spec!r}: the middle level must be below the last")
        return cls(i1=level(0, "Instruction"), d1=level(3, "Data"), ll=ll, mid=mid)

    def spec(self) -> str:
        """These caches as text (`parse` reads it back)."""
        levels = [("I1", self.i1), ("D1", self.d1), (f"L{self.ll.level}", self.ll)]
        if self.mid is not None:
            levels.insert(2, (f"L{self.mid.level}", self.mid))
        return " ".join(f"{name}={c.size},{c.assoc},{c.line_size}" for name, c in levels)

    def simulated(self) -> CacheConfig:
        """The nearest caches valgrind simulates (`valgrind_geometry` of each).

        Raises:
            ValueError: a cache valgrind cannot simulate at all (see `valgrind_geometry`).
        """
        mid = valgrind_geometry(self.mid) if self.mid is not None else None
        return CacheConfig(valgrind_geometry(self.i1), valgrind_geometry(self.d1), valgrind_geometry(self.ll), mid)

    def valgrind_args(self, last: CacheLevel | None = None) -> list[str]:
        """Valgrind's options for these caches, `last` as the last level if given (only `simulated` ones run)."""
        levels = (("I1", self.i1), ("D1", self.d1), ("LL", last or self.ll))
        return [f"--{name}={c.size},{c.assoc},{c.line_size}" for name, c in levels]


@dataclass
class LineCost:
    """What one source line cost in the profiled run.

    Attributes:
        instructions: instructions executed (callgrind's ``Ir``).
        executions: times the line ran: per function, its most-executed instruction's count,
            summed over the functions holding code of the line.
        misses: last-level-cache data misses (``DLmr + DLmw``).
        data_bytes: bytes its loads and stores moved, stack accesses excepted (0 when the profile
            was parsed without the executable to decode).
        d1_misses: first-level data cache misses (``D1mr + D1mw``).
        mid_misses: data misses of the level below the last (`CacheConfig.mid`; 0 without one).
    """

    instructions: int = 0
    executions: int = 0
    misses: int = 0
    data_bytes: int = 0
    d1_misses: int = 0
    mid_misses: int = 0


@dataclass
class Profile:
    """What one run of a program build did, per source line and per call site.

    Attributes:
        lines: per source line, its costs.
        site_work: (callee, call site) -> instructions the callee executed when entered from that
            source line (called there: with what it called in turn; inlined there: its copy's own).
        work: callee -> the same summed over every site, known or not.
        page_faults: minor page faults of one native run (pages the program touched first: the
            kernel maps and zeroes each), which valgrind's run cannot tell.
    """

    lines: dict[SourceKey, LineCost] = field(default_factory=dict)
    site_work: dict[tuple[str, SourceKey], int] = field(default_factory=dict)
    work: dict[str, int] = field(default_factory=dict)
    page_faults: int = 0

    def to_json(self) -> str:
        """The profile as JSON text (`from_json` reads it back)."""
        return json.dumps(
            {
                "lines": [[*key, *asdict(cost).values()] for key, cost in self.lines.items()],
                "site_work": [[callee, *site, n] for (callee, site), n in self.site_work.items()],
                "work": self.work,
                "page_faults": self.page_faults,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Profile:
        """The profile `to_json` wrote."""
        data = json.loads(text)
        return cls(
            lines={(file, line): LineCost(*values) for file, line, *values in data["lines"]},
            site_work={(callee, (file, line)): n for callee, file, line, n in data["site_work"]},
            work=data["work"],
            page_faults=data["page_faults"],
        )


@dataclass
class _Instruction:
    line: SourceKey
    function: str
    ir: int = 0
    reads: int = 0
    writes: int = 0
    misses: int = 0
    d1_misses: int = 0


@dataclass
class CallgrindData:
    """A callgrind profile as read: costs per executed instruction, and the calls.

    Attributes:
        instructions: (object, function, address, line) -> the instruction's costs.
        calls: (object, callee, call site) -> instructions executed in calls made from that line of
            that object (callgrind's inclusive cost of the calls).
    """

    instructions: dict[tuple[str, str, int, SourceKey], _Instruction]
    calls: dict[tuple[str, str, SourceKey], int]

    def lines(self, widths: dict[int, int] | None = None, program: str | None = None) -> dict[SourceKey, LineCost]:
        """Per source line costs.

        `widths` (address -> bytes per access of `program`'s non-stack memory instructions) fills
        `LineCost.data_bytes`.
        """
        costs: dict[SourceKey, LineCost] = defaultdict(LineCost)
        busiest: dict[tuple[str, SourceKey], int] = defaultdict(int)
        for (obj, function, address, line), insn in self.instructions.items():
            cost = costs[line]
            cost.instructions += insn.ir
            cost.misses += insn.misses
            cost.d1_misses += insn.d1_misses
            if widths is not None and obj == program:
                cost.data_bytes += (insn.reads + insn.writes) * widths.get(address, 0)
            where = (f"{obj}:{function}", line)
            busiest[where] = max(busiest[where], insn.ir)
        for (_, line), count in busiest.items():
            costs[line].executions += count
        return dict(costs)


class _CallgrindParser:
    """Reads the callgrind profile format (valgrind manual, "Callgrind Format Specification").

    Cost lines give subpositions (``instr line``) absolutely (``0x4a0``, ``17``), relative to the
    last cost line (``+3``, ``-2``) or unchanged (``*``); the target of ``calls=``/``jump=`` lines
    and the inclusive-cost line after ``calls=`` (whose position is the calling instruction) are
    relative to the last cost line without becoming it. Names may be compressed: ``(7) name``
    defines id 7, a later ``(7)`` refers to it.
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
        self._callee = "???"
        self._pending_call = False
        self._skip_next_cost = False
        self.instructions: dict[tuple[str, str, int, SourceKey], _Instruction] = {}
        self.calls: dict[tuple[str, str, SourceKey], int] = defaultdict(int)

    def parse(self, lines: Iterable[str]) -> CallgrindData:
        """The costs of a whole profile."""
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
        return CallgrindData(self.instructions, dict(self.calls))

    def _header(self, key: str, value: str) -> None:
        if key == "positions":
            self.positions = value.split()
            self._last = [0] * len(self.positions)
        elif key == "events":
            self.events = value.split()
            missing = {"Ir", "Dr", "Dw", "DLmr", "DLmw"} - set(self.events)
            if missing:
                raise ProfileError(f"profile lacks events {sorted(missing)}; run with --cache-sim=yes")

    def _specification(self, key: str, value: str) -> None:
        if key in self._NAMESPACE:
            name = self._name(self._NAMESPACE[key], value)
            if key in ("fl", "fi", "fe"):
                self._file = name
            elif key == "fn":
                self._function = name
            elif key == "cfn":
                self._callee = name
            elif key == "ob":
                self._object = name
        elif key in ("calls", "jump", "jcnd"):
            # The next line is the call's inclusive cost (or the jump's source), at the calling
            # instruction: no self cost.
            self._pending_call = key == "calls"
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
        where = dict(zip(self.positions, position, strict=True))
        key = source_key(self._file, where.get("line", 0))
        values = [int(value) for value in fields[len(self.positions) :]]
        costs = dict(zip(self.events, values, strict=False))  # trailing zero events are omitted
        if self._skip_next_cost:
            if self._pending_call:
                self.calls[(self._object, self._callee, key)] += costs.get("Ir", 0)
            self._skip_next_cost = self._pending_call = False
            return
        self._last = position
        ident = (self._object, self._function, where.get("instr", 0), key)
        record = self.instructions.get(ident)
        if record is None:
            record = self.instructions[ident] = _Instruction(key, self._function)
        record.ir += costs.get("Ir", 0)
        record.reads += costs.get("Dr", 0)
        record.writes += costs.get("Dw", 0)
        record.misses += costs.get("DLmr", 0) + costs.get("DLmw", 0)
        record.d1_misses += costs.get("D1mr", 0) + costs.get("D1mw", 0)


def _subposition(token: str, last: int) -> int:
    if token == "*":
        return last
    if token[0] in "+-":
        return last + int(token, 0)
    return int(token, 0)


def parse_callgrind(stream: IO[str]) -> CallgrindData:
    """The per-instruction costs and calls of a callgrind profile.

    The profile must come from ``--cache-sim=yes`` (for the miss events); ``--dump-instr=yes``
    gives per-instruction counts, from which `LineCost.executions` is derived.
    """
    return _CallgrindParser().parse(stream)


def memory_bytes(instruction: x86.Instruction) -> int:
    """Bytes one access of `instruction` moves to or from memory other than the stack (0 if none).

    Stack: ``rsp``-relative, or below a frame pointer (``[rbp - n]``, the locals of code built
    with frame pointers); ``rbp`` with no negative offset is taken for the general register it is
    in code built without them.
    """
    if not instruction.touches_memory or _STACK in instruction.mem_regs or "rbp - " in instruction.op_str:
        return 0
    width = max(int(form[1:]) for form in instruction.operands if form.startswith("m")) // 8
    return max(1, width)


def _widths(executable: Path, addresses: Iterable[int]) -> dict[int, int]:
    """Bytes per access (`memory_bytes`) of the instruction at each address of a linked executable."""
    out: dict[int, int] = {}
    with open(executable, "rb") as handle:
        elf = ELFFile(handle)
        code = [
            (s["sh_addr"], s["sh_addr"] + s["sh_size"], s.data())
            for s in elf.iter_sections()
            if s["sh_flags"] & SH_FLAGS.SHF_EXECINSTR and s["sh_type"] == "SHT_PROGBITS"
        ]
        for address in addresses:
            for low, high, data in code:
                if low <= address < high:
                    decoded = x86.decode(data[address - low : address - low + 15], partial=True)
                    if decoded:
                        out[address] = memory_bytes(decoded[0])
                    break
    return out


def _site_work(data: CallgrindData, executable: Path, program: str) -> tuple[dict, dict]:
    """Instructions each function executed per call site (called or inlined there), and in all."""
    sites: dict[tuple[str, SourceKey], int] = defaultdict(int)
    work: dict[str, int] = defaultdict(int)
    for (_, callee, site), instructions in data.calls.items():
        sites[(callee, site)] += instructions
        work[callee] += instructions
    try:
        inlined = InlineSites(executable).ranges()
    except DebugInfoError:
        inlined = []
    executed: dict[int, int] = defaultdict(int)
    for (obj, _, address, _), insn in data.instructions.items():
        if obj == program:
            executed[address] += insn.ir
    addresses = sorted(executed)
    prefix = [0, *itertools.accumulate(executed[a] for a in addresses)]
    for low, high, chain in inlined:
        instructions = prefix[bisect.bisect_left(addresses, high)] - prefix[bisect.bisect_left(addresses, low)]
        step = chain[-1]
        sites[(step.callee, step.call_site)] += instructions
        work[step.callee] += instructions
    return dict(sites), dict(work)


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
) -> Profile:
    """The `Profile` of one run of `executable` under callgrind's cache simulation, cached on disk.

    One native run besides counts the program's page faults.

    `cache` (default: this machine's caches) is simulated as `CacheConfig.simulated` rounds it. The
    cache key hashes the executable's bytes, `args`, the simulated geometry and the valgrind
    version, so a program build is simulated once, whatever process asks.

    Raises:
        ProfileError: valgrind failed, timed out, or wrote an unreadable profile.
        ValueError: a cache valgrind cannot simulate (see `valgrind_geometry`).
    """
    simulated = (cache or CacheConfig.of_host()).simulated()
    executable = Path(executable).resolve()
    valgrind_version = subprocess.run(
        ["valgrind", "--version"], capture_output=True, text=True, timeout=60
    ).stdout.strip()
    digest = hashlib.sha256(executable.read_bytes())
    digest.update(json.dumps([_PROFILE_SCHEMA, list(args), simulated.spec(), valgrind_version]).encode())
    stored = (profile_dir or default_profile_dir()) / f"{digest.hexdigest()}.json"
    if stored.exists():
        return Profile.from_json(stored.read_text())
    data = _simulate(executable, args, cwd, simulated.valgrind_args(), timeout)
    program = str(executable)
    addresses = {a for (obj, _, a, _), i in data.instructions.items() if obj == program and i.reads + i.writes}
    site_work, work = _site_work(data, executable, program)
    try:
        _, usage = run_usage(executable, args, cwd, timeout)
    except MlgoEnvError as exc:
        raise ProfileError(f"{executable} failed when run natively: {exc}") from exc
    profile = Profile(data.lines(_widths(executable, addresses), program), site_work, work, usage.ru_minflt)
    if simulated.mid is not None:  # the same run with the middle level as the last one
        mid = _simulate(executable, args, cwd, simulated.valgrind_args(last=simulated.mid), timeout).lines()
        for line, cost in profile.lines.items():
            cost.mid_misses = mid[line].misses if line in mid else 0
    stored.parent.mkdir(parents=True, exist_ok=True)
    # A private temporary name per writer: threads and processes may profile the same build at once.
    handle, partial_name = tempfile.mkstemp(dir=stored.parent, prefix=stored.stem, suffix=".tmp")
    with os.fdopen(handle, "w") as partial:
        partial.write(profile.to_json())
    Path(partial_name).replace(stored)
    return profile


def _simulate(
    executable: Path, args: Sequence[str], cwd: Path | None, caches: list[str], timeout: float
) -> CallgrindData:
    """One run of `executable` under callgrind with the cache options `caches`, parsed.

    Raises:
        ProfileError: valgrind failed, timed out, or wrote an unreadable profile.
    """
    with tempfile.TemporaryDirectory(prefix="mlgo-callgrind-") as scratch:
        out = Path(scratch) / "callgrind.out"
        command = [
            "valgrind", "--tool=callgrind", "--cache-sim=yes", "--dump-instr=yes",
            *caches, f"--callgrind-out-file={out}", str(executable), *args,
        ]  # fmt: skip
        try:
            run = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise ProfileError(f"callgrind on {executable} ran past {timeout:.0f} s") from exc
        if run.returncode != 0 or not out.exists():
            raise ProfileError(f"callgrind on {executable} failed ({run.returncode}):\n{run.stderr[-4000:]}")
        with open(out) as stream:
            return parse_callgrind(stream)
