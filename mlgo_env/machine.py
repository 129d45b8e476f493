"""What this CPU is: vendor, family/model, LLVM's ``-mcpu`` name, caches, vector extensions, counters.

Everything in mlgo-env that depends on the machine asks here instead of assuming one: the timing
harness (issue width, AVX, RDTSCP, which cores it may use), the CPU-dependent rewards (their default
target CPU and cache geometry), and what measured data and checkpoints record as the CPU they were
made on (`CpuInfo.record`). ``mlgo-env doctor`` prints `host`.

Facts about a microarchitecture that the machine does not report (how many instructions it can
issue per cycle, a few instruction latencies) come from `MICROARCHITECTURES`, keyed by LLVM's
``-mcpu`` name; a CPU missing from it gets ``None`` from `microarchitecture`, never a guess.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlgo_env.errors import MlgoEnvError
from mlgo_env.toolchain import Toolchain, get_toolchain, installed_versions

__all__ = [
    "MICROARCHITECTURES",
    "CacheLevel",
    "CpuInfo",
    "CpuMismatch",
    "Microarchitecture",
    "check_cpu",
    "hardware_counters",
    "host",
    "host_mcpu",
    "is_mcpu",
    "microarchitecture",
    "read_caches",
]

UNKNOWN = "unknown"
"""The ``-mcpu`` name recorded when LLVM cannot name the host CPU."""


class CpuMismatch(MlgoEnvError):
    """Data or a model made for one CPU is used for another, and the caller asked to refuse."""


@dataclass(frozen=True)
class CacheLevel:
    """One cache as the kernel describes it (``/sys/devices/system/cpu/cpu0/cache/index*``)."""

    level: int
    kind: str
    """"Data", "Instruction" or "Unified"."""
    size: int
    """Bytes."""
    assoc: int
    line_size: int

    @property
    def sets(self) -> int:
        """Number of sets (size / (ways × line size))."""
        return self.size // max(1, self.assoc * self.line_size)


@dataclass(frozen=True)
class Microarchitecture:
    """Published facts about one core design, for bounds and known answers.

    Attributes:
        issue_width: the most instructions it can dispatch per cycle (rename/dispatch width);
            no block runs faster than ``instructions / issue_width`` cycles per iteration.
        int_alus: integer ALUs: independent ``add reg, reg`` per cycle.
        latency: core cycles of a dependent chain of each instruction (Intel syntax, registers
            as in the harness's known answers).
        llc_miss_cycles: a typical last-level-cache miss (DRAM access) in core cycles at the
            design's usual clocks: what `rewards.perf_model` assumes for caches it cannot measure
            (this machine's are measured, `mlgo_env.load_latency`).
        source: where the figures come from.
    """

    name: str
    issue_width: int
    int_alus: int
    latency: dict[str, float] = field(default_factory=dict)
    llc_miss_cycles: float = 300.0
    source: str = "AMD/Intel optimisation manuals; Agner Fog, instruction tables (2022)"

    @property
    def vendor(self) -> str:
        """The CPUID vendor of the design (``AuthenticAMD`` for the ``znver`` line, else ``GenuineIntel``)."""
        return "AuthenticAMD" if self.name.startswith("znver") else "GenuineIntel"


def _arch(name: str, width: int, alus: int, vaddps: float | None, fma: float | None, miss: float) -> Microarchitecture:
    latency = {"add rax, rbx": 1.0, "imul rax, rbx": 3.0}
    if vaddps is not None:
        latency["vaddps ymm0, ymm0, ymm1"] = vaddps
    if fma is not None:
        latency["vfmadd231ps ymm0, ymm1, ymm2"] = fma
    return Microarchitecture(name, width, alus, latency, miss)


MICROARCHITECTURES: dict[str, Microarchitecture] = {
    arch.name: arch
    for arch in (
        # AMD: four integer ALUs through Zen 4, six in Zen 5; FMA latency 5 on Zen 1/2, 4 later;
        # Zen 5 added 2-cycle FP adds. Dispatch: 6 macro-ops (Zen 1-4), 8 (Zen 5).
        _arch("znver1", 6, 4, 3.0, 5.0, 270.0),
        _arch("znver2", 6, 4, 3.0, 5.0, 280.0),
        _arch("znver3", 6, 4, 3.0, 4.0, 300.0),
        _arch("znver4", 6, 4, 3.0, 4.0, 300.0),
        _arch("znver5", 8, 6, 2.0, 4.0, 320.0),
        # Intel: Haswell/Broadwell 4-wide, FP add 3, FMA 5; Skylake to Ice Lake/Tiger Lake/Rocket Lake
        # 4-5 wide, FP add and FMA both 4; Golden Cove and later (Alder Lake P-cores, Sapphire/Emerald/
        # Granite Rapids) 6-wide, 5 ALUs, FP add 2 on its fast adders (measured here: 2.0 under KVM).
        _arch("haswell", 4, 4, 3.0, 5.0, 250.0),
        _arch("broadwell", 4, 4, 3.0, 5.0, 250.0),
        _arch("skylake", 4, 4, 4.0, 4.0, 280.0),
        _arch("skylake-avx512", 4, 4, 4.0, 4.0, 300.0),
        _arch("cascadelake", 4, 4, 4.0, 4.0, 300.0),
        _arch("icelake-client", 5, 4, 4.0, 4.0, 300.0),
        _arch("icelake-server", 5, 4, 4.0, 4.0, 320.0),
        _arch("tigerlake", 5, 4, 4.0, 4.0, 300.0),
        _arch("rocketlake", 5, 4, 4.0, 4.0, 300.0),
        _arch("alderlake", 6, 5, 2.0, 4.0, 320.0),
        _arch("sapphirerapids", 6, 5, 2.0, 4.0, 350.0),
        _arch("emeraldrapids", 6, 5, 2.0, 4.0, 350.0),
        _arch("graniterapids", 6, 5, 2.0, 4.0, 370.0),
    )
}
"""Known core designs by LLVM ``-mcpu`` name (LLVM 19's host names)."""


def microarchitecture(mcpu: str) -> Microarchitecture | None:
    """The table entry for `mcpu`, or None when the table does not know it."""
    return MICROARCHITECTURES.get(mcpu)


@dataclass(frozen=True)
class CpuInfo:
    """One CPU as the machine reports it.

    Attributes:
        vendor: ``vendor_id`` of /proc/cpuinfo (``AuthenticAMD``, ``GenuineIntel``).
        model_name: the marketing name (``AMD EPYC``); VMs often shorten it.
        family, model, stepping: the CPUID signature: what tells Zen 1 from Zen 4.
        mcpu: LLVM's name for it (``znver1``), what ``-mcpu`` and llvm-mca take.
        flags: the kernel's feature flags (``avx2``, ``rdtscp``, ...).
        caches: every cache of cpu0, smallest level first.
        allowed_cpus: the logical CPUs this process may run on (its affinity mask).
    """

    vendor: str
    model_name: str
    family: int
    model: int
    stepping: int
    mcpu: str
    flags: frozenset[str]
    caches: tuple[CacheLevel, ...]
    allowed_cpus: tuple[int, ...]

    @property
    def virtual(self) -> bool:
        """Runs under a hypervisor: `mcpu` and the table facts keyed by it are then a claim.

        A hypervisor's CPUID signature may be a CPU model it presents rather than the silicon
        (QEMU's ``EPYC`` model is a Zen 1 on any AMD host); measurements may contradict it.
        """
        return "hypervisor" in self.flags

    def candidate_designs(self) -> list[Microarchitecture]:
        """The table entries this CPU may be: its own, then (under a hypervisor) its vendor's others.

        The others stand for the silicon under a virtual CPU model.
        """
        own = microarchitecture(self.mcpu)
        designs = [own] if own else []
        if self.virtual:
            designs += [a for a in MICROARCHITECTURES.values() if a.vendor == self.vendor and a is not own]
        return designs

    @property
    def avx(self) -> bool:
        """256-bit AVX (the harness initialises ymm registers only with it)."""
        return "avx" in self.flags

    @property
    def avx2(self) -> bool:
        """AVX2."""
        return "avx2" in self.flags

    @property
    def avx512(self) -> bool:
        """AVX-512 Foundation."""
        return "avx512f" in self.flags

    @property
    def rdtscp(self) -> bool:
        """The ``rdtscp`` instruction (the harness's serialising time stamp)."""
        return "rdtscp" in self.flags

    @property
    def last_level_cache(self) -> CacheLevel | None:
        """The highest-level unified cache (the one whose misses go to memory)."""
        unified = [c for c in self.caches if c.kind == "Unified"]
        return max(unified, key=lambda c: c.level) if unified else None

    @property
    def microarchitecture(self) -> Microarchitecture | None:
        """The table entry for this CPU's ``-mcpu`` name, if the table has one."""
        return microarchitecture(self.mcpu)

    def record(self) -> dict[str, Any]:
        """What measured data, checkpoints and results store as the CPU they were made on."""
        return {
            "mcpu": self.mcpu,
            "vendor": self.vendor,
            "family": self.family,
            "model": self.model,
            "model_name": self.model_name,
        }

    def describe(self) -> list[tuple[str, str]]:
        """Human-readable ``(what, value)`` rows, as ``mlgo-env doctor`` prints them."""
        arch = self.microarchitecture
        extensions = (("AVX", self.avx), ("AVX2", self.avx2), ("AVX-512", self.avx512))
        vectors = ", ".join(name for name, has in extensions if has)
        signature = f"family {self.family} model {self.model} stepping {self.stepping}"
        rows = [
            ("CPU", f"{self.model_name} ({self.vendor}, {signature})"),
            ("LLVM -mcpu", self.mcpu),
            ("hypervisor", "yes: the CPU model may be the hypervisor's, not the silicon" if self.virtual else "no"),
            ("vector extensions", vectors or "none"),
            ("rdtscp", "yes" if self.rdtscp else "no"),
            ("usable cores", ",".join(map(str, self.allowed_cpus))),
        ]
        for cache in self.caches:
            name = f"L{cache.level} {cache.kind.lower()}"
            geometry = f"{_size_text(cache.size)}, {cache.assoc}-way, {cache.line_size} B lines, {cache.sets} sets"
            rows.append((name, geometry))
        if arch is None:
            missing = f"no entry for {self.mcpu}: issue-width bounds and known answers unavailable"
            rows.append(("microarchitecture table", missing))
        else:
            rows.append(("microarchitecture table", f"issue width {arch.issue_width}, {arch.int_alus} integer ALUs"))
        return rows


def _size_text(size: int) -> str:
    for unit, shift in (("MiB", 20), ("KiB", 10)):
        if size >= 1 << shift and size % (1 << shift) == 0:
            return f"{size >> shift} {unit}"
    return f"{size} B"


def read_caches(cpu_dir: Path = Path("/sys/devices/system/cpu/cpu0/cache")) -> tuple[CacheLevel, ...]:
    """The caches the kernel describes for one CPU, smallest level first (empty if it describes none)."""
    caches = []
    for index in sorted(cpu_dir.glob("index*")):
        try:
            names = ("level", "type", "size", "ways_of_associativity", "coherency_line_size")
            values = {name: (index / name).read_text().strip() for name in names}
            caches.append(
                CacheLevel(
                    level=int(values["level"]),
                    kind=values["type"],
                    size=_parse_size(values["size"]),
                    assoc=int(values["ways_of_associativity"]),
                    line_size=int(values["coherency_line_size"]),
                )
            )
        except (OSError, ValueError):
            continue  # a level the kernel describes only in part (some VMs): skipped, not guessed
    return tuple(sorted(caches, key=lambda c: (c.level, c.kind)))


def _parse_size(text: str) -> int:
    match = re.fullmatch(r"(\d+)([KMG]?)", text)
    if match is None:
        raise ValueError(f"unreadable cache size {text!r}")
    return int(match.group(1)) * {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[match.group(2)]


def _cpuinfo(path: Path = Path("/proc/cpuinfo")) -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo."""
    fields: dict[str, str] = {}
    try:
        text = path.read_text()
    except OSError:
        return fields
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break
            continue
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    return fields


@functools.cache
def host_mcpu(toolchain: Toolchain | None = None) -> str:
    """LLVM's name for the host CPU (``znver1``): the "Host CPU" line of ``llc --version``.

    Asks the given toolchain, else the default one, else any installed LLVM; `UNKNOWN` when none
    names it.
    """
    chains = [toolchain] if toolchain else []
    try:
        chains.append(get_toolchain())
    except MlgoEnvError:
        pass
    chains += [Toolchain(v) for v in installed_versions()]
    for chain in chains:
        if not chain.has("llc"):
            continue
        banner = subprocess.run([str(chain.llc), "--version"], capture_output=True, text=True, timeout=60)
        match = re.search(r"Host CPU:\s*(\S+)", banner.stdout)
        if match and match.group(1) != "(unknown)":
            return match.group(1)
    return UNKNOWN


@functools.cache
def _llvm_cpu_names() -> frozenset[str]:
    """The x86-64 ``-mcpu`` names of every installed LLVM (``llc -mcpu=help``) and of the table."""
    names = set(MICROARCHITECTURES)
    for chain in (Toolchain(v) for v in installed_versions()):
        if chain.has("llc"):
            cmd = [str(chain.llc), "-mtriple=x86_64", "-mcpu=help"]
            listing = subprocess.run(cmd, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
            names.update(re.findall(r"^\s+(\S+)\s+- Select the \1 processor", listing.stderr, re.MULTILINE))
    return frozenset(names)


def is_mcpu(name: str) -> bool:
    """Whether `name` is an x86-64 ``-mcpu`` name LLVM knows (``znver1``), not a model name (``AMD EPYC``)."""
    return name in _llvm_cpu_names()


@functools.cache
def host() -> CpuInfo:
    """This machine's CPU (read once per process)."""
    info = _cpuinfo()

    def number(key: str) -> int:
        try:
            return int(info.get(key, "-1"))
        except ValueError:
            return -1

    return CpuInfo(
        vendor=info.get("vendor_id", UNKNOWN),
        model_name=info.get("model name", UNKNOWN),
        family=number("cpu family"),
        model=number("model"),
        stepping=number("stepping"),
        mcpu=host_mcpu(),
        flags=frozenset(info.get("flags", "").split()),
        caches=read_caches(),
        allowed_cpus=tuple(sorted(os.sched_getaffinity(0))),
    )


def check_cpu(made_for: str | None, target: str, what: str, refuse: bool = False) -> str | None:
    """Compares the CPU data or a model was made for with the CPU it is used for.

    Args:
        made_for: the ``-mcpu`` name recorded with the data or model (None: not recorded).
        target: the ``-mcpu`` name it is used for.
        what: what is being used, for the message ("the cost model checkpoint X").
        refuse: raise instead of returning the warning.

    Returns:
        The warning text, or None when the CPUs match.

    Raises:
        CpuMismatch: they differ (or `made_for` is unknown) and `refuse` is set.
    """
    if made_for == target:
        return None
    if made_for is None:
        message = (
            f"{what} does not record which CPU it was made for; it is used for {target} "
            f"(measure and train one for {target}: mlgo-env blocks measure, then blocks train)"
        )
    else:
        message = (
            f"{what} was made on {made_for} but is used for {target}: its figures describe another "
            f"machine (measure and train one for {target}: mlgo-env blocks measure, then blocks train)"
        )
    if refuse:
        raise CpuMismatch(message)
    return message


def hardware_counters(toolchain: Toolchain | None = None) -> tuple[bool, str]:
    """Whether hardware performance counters can be read here (llvm-exegesis needs them).

    Tries ``llvm-exegesis -mode=latency`` on one instruction; on VMs without a PMU it fails with
    "Failed to read event counter".
    """
    try:
        chain = toolchain or get_toolchain()
    except MlgoEnvError as exc:
        return False, str(exc)
    if not chain.has("llvm-exegesis"):
        return False, f"llvm-exegesis-{chain.version} is not installed (sudo apt-get install llvm-{chain.version})"
    with tempfile.TemporaryDirectory() as tmp:
        snippet = Path(tmp) / "add.s"
        snippet.write_text("addq %rbx, %rax\n")
        try:
            out = subprocess.run(
                [str(chain.tool("llvm-exegesis")), "-mode=latency", f"-snippets-file={snippet}"],
                capture_output=True, text=True, timeout=60,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            return False, "llvm-exegesis timed out"
    text = out.stdout + out.stderr
    if out.returncode == 0 and "measurements" in text and "error" not in text.lower():
        return True, "llvm-exegesis measured a snippet: hardware counters work"
    reason = next(
        (line for line in text.splitlines() if "counter" in line.lower() or "error" in line.lower()), text[:200]
    )
    return False, f"hardware counters unusable: {reason.strip()} (the timing harness without counters is used instead)"
