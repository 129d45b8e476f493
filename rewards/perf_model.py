"""A performance model: block throughput plus the overhead of last-level-cache misses.

    cycles = Σ_b count(b)·cost(b) + Σ_b misses(b)·latency / MLP

over the machine basic blocks b of the compiled module: cost(b) is llvm-mca's cycles per iteration
(`mlgo_env.mca`), count(b) how often b runs, misses(b) the last-level-cache misses of b's loads and
stores, latency the cost of one miss in core cycles and MLP how many misses overlap.

Counts and misses come from one cache simulation of the program (valgrind's callgrind with
``--cache-sim=yes``, cache sizes read from ``/sys`` and passed explicitly because valgrind's
detection is wrong on these VMs), run once per program build and cached on disk by a hash of the
executable, its arguments and the cache configuration. Later variants are not run: the profile is
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
import os
import re
import statistics
import subprocess
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Literal, NamedTuple

import capstone
import numpy as np
from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile
from elftools.elf.relocation import RelocationSection
from elftools.elf.sections import Section, SymbolTableSection
from scipy.optimize import nnls

from mlgo_env.bbaddrmap import MachineBlock, read_blocks
from mlgo_env.errors import MlgoEnvError
from mlgo_env.mca import McaBlockModel
from rewards.base import Artifact, CompiledModule, Reward

__all__ = [
    "DEFAULT_LATENCY",
    "DEFAULT_MLP",
    "CacheConfig",
    "CacheLevel",
    "LineCost",
    "PerfBreakdown",
    "PerfModelReward",
    "PerfSample",
    "ProfileError",
    "SourceLines",
    "fit_perf_model",
    "parse_callgrind",
    "profile_program",
]

DEFAULT_LATENCY = 300.0
"""Core cycles of one last-level-cache miss: DRAM latency ~80 ns on Zen 4 at ~3.7 GHz."""
DEFAULT_MLP = 4.0
"""Misses in flight at once; only latency / MLP matters, refit it with `fit_perf_model`."""

_PROFILE_SCHEMA = "callgrind-lines-v1"
_R_X86_64_64 = 1
_DW_LNE_SET_ADDRESS = 0x02  # DWARF 4/5, section 6.2.5.3


class ProfileError(MlgoEnvError):
    """The cache simulation of a program failed or its output could not be read."""


@dataclass(frozen=True)
class CacheLevel:
    """One simulated cache: total size and line size in bytes, and associativity."""

    size: int
    assoc: int
    line_size: int

    def valgrind_value(self) -> str:
        """The ``size,assoc,line_size`` value of valgrind's ``--I1``/``--D1``/``--LL`` options."""
        return f"{self.size},{self.assoc},{self.line_size}"


@dataclass(frozen=True)
class CacheConfig:
    """The caches valgrind simulates: first-level instruction and data caches and the last level."""

    i1: CacheLevel
    d1: CacheLevel
    ll: CacheLevel

    @classmethod
    def from_sysfs(cls, cpu_dir: Path = Path("/sys/devices/system/cpu/cpu0/cache")) -> CacheConfig:
        """This machine's caches, read from sysfs (the last level is the highest unified one).

        Raises:
            ProfileError: sysfs does not describe an L1 instruction, L1 data and unified cache.
        """
        levels: dict[tuple[int, str], CacheLevel] = {}
        for index in sorted(cpu_dir.glob("index*")):

            def read(name: str, index: Path = index) -> str:
                return (index / name).read_text().strip()

            size = _parse_size(read("size"))
            levels[(int(read("level")), read("type"))] = CacheLevel(
                size=size,
                assoc=int(read("ways_of_associativity")),
                line_size=int(read("coherency_line_size")),
            )
        unified = [key for key in levels if key[1] == "Unified"]
        if (1, "Instruction") not in levels or (1, "Data") not in levels or not unified:
            raise ProfileError(f"{cpu_dir} does not describe the caches; pass a CacheConfig")
        return cls(i1=levels[(1, "Instruction")], d1=levels[(1, "Data")], ll=levels[max(unified)])

    def valgrind_args(self) -> list[str]:
        """The options that make valgrind simulate exactly these caches."""
        return [
            f"--I1={self.i1.valgrind_value()}",
            f"--D1={self.d1.valgrind_value()}",
            f"--LL={self.ll.valgrind_value()}",
        ]


def _parse_size(text: str) -> int:
    match = re.fullmatch(r"(\d+)([KMG]?)", text)
    if match is None:
        raise ProfileError(f"unreadable cache size {text!r} in sysfs")
    return int(match.group(1)) * {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[match.group(2)]


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
    """Where profiles are cached, under mlgo-env's cache root (``$MLGO_CACHE_DIR`` or ``~/.cache/mlgo-env``)."""
    return Path(os.environ.get("MLGO_CACHE_DIR", Path.home() / ".cache" / "mlgo-env")) / "profiles"


def profile_program(
    executable: Path,
    args: Sequence[str] = (),
    cwd: Path | None = None,
    cache: CacheConfig | None = None,
    timeout: float = 3600.0,
    profile_dir: Path | None = None,
) -> dict[SourceKey, LineCost]:
    """Per-line costs of one run of `executable` under callgrind's cache simulation, cached on disk.

    The cache key hashes the executable's bytes, `args`, the cache configuration and the
    valgrind version, so a program build is simulated once, whatever process asks.

    Raises:
        ProfileError: valgrind failed, timed out, or wrote an unreadable profile.
    """
    cache = cache or CacheConfig.from_sysfs()
    valgrind_version = subprocess.run(
        ["valgrind", "--version"], capture_output=True, text=True, timeout=60
    ).stdout.strip()
    digest = hashlib.sha256(Path(executable).read_bytes())
    digest.update(json.dumps([_PROFILE_SCHEMA, list(args), asdict(cache), valgrind_version]).encode())
    stored = (profile_dir or default_profile_dir()) / f"{digest.hexdigest()}.json"
    if stored.exists():
        return {(file, line): LineCost(*values) for file, line, *values in json.loads(stored.read_text())}
    with tempfile.TemporaryDirectory(prefix="mlgo-callgrind-") as scratch:
        out = Path(scratch) / "callgrind.out"
        command = [
            "valgrind", "--tool=callgrind", "--cache-sim=yes", "--dump-instr=yes",
            *cache.valgrind_args(), f"--callgrind-out-file={out}",
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
        self._cs = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
        self._cs.detail = True

    def instructions(self, block: MachineBlock) -> list[_Instruction]:
        return [
            _Instruction(
                line=self._lines.line_at(block.section_index, insn.address),
                accesses_memory=insn.mnemonic not in ("lea", "nop")
                and any(op.type == capstone.x86.X86_OP_MEM for op in insn.operands),
            )
            for insn in self._cs.disasm(block.code, block.offset)
        ]


class PerfBreakdown(NamedTuple):
    """The parts of the model's prediction for one module."""

    throughput_cycles: float
    """Σ count(b)·cost(b)."""
    llc_misses: float
    """Σ misses(b): last-level-cache data misses mapped onto the module's blocks."""
    miss_cycles: float
    """llc_misses·latency / MLP."""

    @property
    def cycles(self) -> float:
        """The predicted cost: throughput plus miss cycles."""
        return self.throughput_cycles + self.miss_cycles


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


class PerfModelReward(Reward):
    """Predicted cycles: llvm-mca block throughput plus last-level-cache-miss overhead.

    The first build of each program the reward costs is profiled, unless `use_profile` named one
    (the baseline compile is the natural choice); every later build of that program reuses the
    profile through its debug line table and is not run. The profile is per source line, so it
    hardly depends on which correct build was simulated.

    Args:
        latency: core cycles of one last-level-cache miss.
        mlp: memory-level parallelism (misses overlapping).
        frequencies: ``"profile"`` (dynamic counts from the cache simulation) or ``"static"``
            (LLVM's per-function block-frequency estimates).
        mcpu: CPU llvm-mca models; None for the host.
        cache: caches to simulate; None reads this machine's from sysfs.
        profile_timeout: seconds a profiling run may take.
        profile_dir: where profiles are cached; None for the default under ``~/.cache``.
    """

    name = "perf_model"
    requires = Artifact.OBJECT | Artifact.BB_ADDR_MAP | Artifact.DEBUG_INFO | Artifact.EXECUTABLE
    unit = "cycles"

    def __init__(
        self,
        latency: float = DEFAULT_LATENCY,
        mlp: float = DEFAULT_MLP,
        frequencies: Literal["profile", "static"] = "profile",
        mcpu: str | None = None,
        cache: CacheConfig | None = None,
        profile_timeout: float = 3600.0,
        profile_dir: Path | None = None,
    ) -> None:
        if frequencies not in ("profile", "static"):
            raise ValueError(f"frequencies must be 'profile' or 'static', not {frequencies!r}")
        if latency < 0 or mlp <= 0:
            raise ValueError(f"need latency >= 0 and mlp > 0, got latency={latency}, mlp={mlp}")
        self.latency = latency
        self.mlp = mlp
        self.frequencies = frequencies
        self.mcpu = mcpu
        self.cache = cache
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
            cache=self.cache or CacheConfig.from_sysfs(),
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
        )

    def cost(self, module: CompiledModule) -> float:
        """Predicted cycles of `module`; the parts go to ``module.extra["perf_model"]``."""
        parts = self.breakdown(module)
        module.extra["perf_model"] = parts._asdict() | {"cycles": parts.cycles}
        return parts.cycles

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


def fit_perf_model(samples: Sequence[PerfSample], latency: float = DEFAULT_LATENCY) -> tuple[float, float]:
    """Fits the model's cache-miss term to measured runtimes; returns (latency, mlp).

    Fits runtime ≈ a·throughput_cycles + b·llc_misses with a, b ≥ 0 by least squares on relative
    error (every sample weighs the same, whatever its runtime). Latency and MLP only enter as
    latency / MLP = b / a, so `latency` is kept as given and MLP solved for; an MLP of infinity
    means the misses did not help explain the runtimes.

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
