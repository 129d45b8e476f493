r"""Corpora of bitcode modules in LLVM's mlgo-utils layout, and the bundled benchmark programs.

A corpus directory holds ``corpus_description.json`` (``{"modules": [...], "has_thinlto": ...}``)
and, for each module ``M``, ``M.bc`` (bitcode before optimisation) and ``M.cmd`` (the recorded
compiler options, ``\\0``-separated, as LLVM's ``extract_ir`` writes them), so corpora extracted
from users' builds work as they are. mlgo-env adds an optional ``programs.json`` that says how
to link and run a module as a program (link flags, arguments, reference output, train/test split).

Benchmarks are named ``benchmark://<corpus>/<module>`` or just ``<module>``.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from mlgo_env.artifacts import ProgramInfo
from mlgo_env.cache import cache_dir
from mlgo_env.compile_db import CompileJob, Unusable, read_compile_commands
from mlgo_env.errors import BenchmarkNotFound, CompilerError, CorpusError
from mlgo_env.toolchain import Toolchain, get_toolchain

__all__ = [
    "Benchmark",
    "Corpus",
    "BUNDLED_PROGRAMS",
    "build_from_programs",
    "build_from_compile_commands",
    "CorpusBuild",
    "default_corpus",
    "first_error",
    "link_bitcode",
    "module_names",
    "write_module",
]

BUNDLED_PROGRAMS = Path(__file__).resolve().parent.parent / "benchmarks" / "programs"
"""Source folder of the bundled programs (one folder per program)."""

URI_SCHEME = "benchmark://"
OPT_LEVELS = ("-O0", "-O1", "-O2", "-O3", "-Os", "-Oz")


@dataclass(frozen=True)
class Benchmark:
    """One module of a corpus: its bitcode, recorded options and (optionally) how to run it."""

    uri: str
    name: str
    bitcode: Path
    options: tuple[str, ...]
    program: ProgramInfo | None = None
    split: str | None = None

    @property
    def is_cc1(self) -> bool:
        """Whether the recorded command is a ``clang -cc1`` invocation (as extract_ir writes)."""
        return bool(self.options) and self.options[0] == "-cc1"


@dataclass
class Corpus:
    """A corpus on disk; `benchmark(id)` resolves names, `benchmarks(split=)` lists them."""

    root: Path
    name: str
    modules: list[str]
    programs: dict[str, dict] = field(default_factory=dict)

    @classmethod
    def load(cls, root: Path | str, name: str | None = None) -> Corpus:
        """Read a corpus directory.

        Raises:
            CorpusError: the description is missing or malformed.
        """
        root = Path(root).resolve()
        description = root / "corpus_description.json"
        if not description.is_file():
            raise CorpusError(
                f"{root} is not a corpus: no corpus_description.json. Build one with "
                "`mlgo-env corpus build SOURCES -o DIR`."
            )
        try:
            data = json.loads(description.read_text())
            modules = [str(m) for m in data["modules"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise CorpusError(f"{description} is malformed: {exc}") from exc
        programs_file = root / "programs.json"
        programs = json.loads(programs_file.read_text()) if programs_file.is_file() else {}
        return cls(root=root, name=name or str(data.get("name", "corpus-v0")), modules=modules, programs=programs)

    def uri(self, module: str) -> str:
        """The benchmark URI of `module`."""
        return f"{URI_SCHEME}{self.name}/{module}"

    def _module_of(self, benchmark_id: str) -> str:
        name = benchmark_id
        if name.startswith(URI_SCHEME):
            corpus_name, _, name = name[len(URI_SCHEME) :].partition("/")
            if corpus_name != self.name:
                raise BenchmarkNotFound(f"Benchmark {benchmark_id!r} is not in corpus {self.name!r}")
        if name not in self._module_set:
            raise BenchmarkNotFound(
                f"Unknown benchmark {benchmark_id!r}; corpus {self.name!r} has {len(self.modules)} "
                f"modules, e.g. {', '.join(self.modules[:5])}. List them with `mlgo-env corpus list`."
            )
        return name

    @functools.cached_property
    def _module_set(self) -> frozenset[str]:
        return frozenset(self.modules)

    def benchmark(self, benchmark_id: str) -> Benchmark:
        """Resolve a benchmark id to its files; only modules listed by the corpus are reachable.

        Raises:
            BenchmarkNotFound: the id names no module of this corpus.
            CorpusError: the module's files are missing.
        """
        module = self._module_of(benchmark_id)
        bitcode = self.root / f"{module}.bc"
        command = self.root / f"{module}.cmd"
        if not bitcode.is_file():
            raise CorpusError(f"corpus {self.name!r} lists {module!r} but {bitcode} is missing")
        options = command.read_text().split("\0") if command.is_file() else ["-O2"]
        program = self.programs.get(module)
        return Benchmark(
            uri=self.uri(module),
            name=module,
            bitcode=bitcode,
            options=tuple(o for o in options if o),
            program=_program_info(module, program, self.root) if program else None,
            split=program.get("split") if program else None,
        )

    def benchmarks(self, split: str | None = None) -> list[Benchmark]:
        """Every benchmark, or those of one split ("train" or "test")."""
        found = [self.benchmark(m) for m in self.modules]
        return [b for b in found if split is None or b.split == split]

    def __iter__(self) -> Iterator[Benchmark]:
        return iter(self.benchmarks())

    def __len__(self) -> int:
        return len(self.modules)


def _program_info(module: str, data: dict, root: Path) -> ProgramInfo:
    expected = data.get("expected_output")
    return ProgramInfo(
        name=module,
        link_args=tuple(data.get("link_args", ())),
        run_args=tuple(data.get("args", ())),
        expected_output=expected,
        memory_bound=bool(data.get("memory_bound", False)),
        directory=root,
    )


# -- building corpora -------------------------------------------------------------------------


def _compile_to_bitcode(
    toolchain: Toolchain, source: Path, output: Path, options: list[str], cwd: Path | None = None
) -> None:
    command = [
        str(toolchain.clang),
        *options,
        "-Xclang",
        "-disable-llvm-passes",
        "-emit-llvm",
        "-c",
        str(source),
        "-o",
        str(output),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=cwd)
    if result.returncode != 0:
        raise CompilerError(f"compiling {source} to bitcode failed", result.stderr)


def link_bitcode(toolchain: Toolchain, inputs: list[Path], output: Path) -> None:
    """llvm-link `inputs` into `output`.

    Raises:
        CompilerError: llvm-link failed (its stderr attached).
        subprocess.TimeoutExpired: it ran past 300 s.
    """
    result = subprocess.run(
        [str(toolchain.tool("llvm-link")), *map(str, inputs), "-o", str(output)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        raise CompilerError(f"linking {len(inputs)} bitcode files into {output.name} failed", result.stderr)


def write_module(root: Path, name: str, options: list[str]) -> None:
    """Write module `name`'s recorded options (``NAME.cmd``, NUL-separated) beside its bitcode."""
    (root / f"{name}.cmd").write_text("\0".join(options))


def build_from_programs(
    source: Path,
    output: Path,
    toolchain: Toolchain | None = None,
    name: str = "mlgo-v0",
    progress: bool = False,
    jobs: int | None = None,
) -> Corpus:
    """Build a corpus with one module per program folder (its ``.c`` files linked by llvm-link).

    Each folder may hold ``program.json`` (``link_args``, ``args``, ``memory_bound``, ...) and
    ``expected_output.txt``; ``split.json`` beside the folders records the train/test split.
    """
    toolchain = toolchain or get_toolchain()
    folders = sorted(p for p in source.iterdir() if p.is_dir() and any(p.glob("*.c")))
    if not folders:
        raise CorpusError(f"no program folders with .c files under {source}")
    split_file = source / "split.json"
    split = json.loads(split_file.read_text()) if split_file.is_file() else {}
    split_of = {program: part for part, programs in split.items() for program in programs}
    output.mkdir(parents=True, exist_ok=True)
    options = ["-O2"]
    bitcode_options = ["-O2", "-gdwarf-4", "-gline-tables-only", "-fno-discard-value-names"]

    def build_one(folder: Path) -> tuple[str, dict]:
        with tempfile.TemporaryDirectory(prefix="mlgo-corpus-") as tmp:
            parts = []
            for c_file in sorted(folder.glob("*.c")):
                part = Path(tmp) / f"{c_file.stem}.bc"
                _compile_to_bitcode(toolchain, c_file, part, [*bitcode_options, f"-I{folder}"])
                parts.append(part)
            link_bitcode(toolchain, parts, output / f"{folder.name}.bc")
        write_module(output, folder.name, options)
        meta_file = folder / "program.json"
        meta = json.loads(meta_file.read_text()) if meta_file.is_file() else {}
        expected_file = folder / "expected_output.txt"
        if expected_file.is_file():
            meta["expected_output"] = expected_file.read_text()
        meta["split"] = split_of.get(folder.name, "train")
        return folder.name, meta

    programs: dict[str, dict] = {}
    with ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 2) as pool:
        results = pool.map(build_one, folders)
        if progress:
            from tqdm import tqdm

            results = tqdm(results, total=len(folders), desc="building corpus", unit="module")
        for module, meta in results:
            programs[module] = meta
    modules = sorted(programs)
    (output / "programs.json").write_text(json.dumps(programs, indent=1, sort_keys=True))
    description = {"name": name, "has_thinlto": False, "modules": modules}
    (output / "corpus_description.json").write_text(json.dumps(description, indent=1))
    return Corpus.load(output, name)


@dataclass
class CorpusBuild:
    """What `build_from_compile_commands` made: the corpus, and each entry it left out with the cause."""

    corpus: Corpus
    failed: dict[str, str]
    """Source file → why it is not in the corpus (compiler message, not a compile, timeout)."""
    duplicates: dict[str, str]
    """Source file → the module that already holds the same source."""


def build_from_compile_commands(
    database: Path,
    output: Path,
    toolchain: Toolchain | None = None,
    name: str = "user-v0",
    progress: bool = False,
    jobs: int | None = None,
    root: Path | None = None,
) -> CorpusBuild:
    """Build a corpus with one module per C/C++ source of a ``compile_commands.json``.

    Each entry is compiled in its own ``directory`` with its own options. An entry that fails
    (a compiler error, a timeout, not a compile) is left out and reported, and the rest becomes a
    valid corpus; ``build_report.json`` in `output` records both, and each module's source. Modules are named by their
    source path relative to `root` (default: the sources' common folder; ``src/lapi``), made unique; a source
    compiled twice (libtool's PIC and non-PIC builds) becomes one module. A module whose bitcode
    and options are already in `output` is kept, so an interrupted build resumes.

    Raises:
        CorpusError: the database is unreadable, or no entry compiled.
    """
    toolchain = toolchain or get_toolchain()
    entries = read_compile_commands(database)
    failed = {entry.source: entry.reason for entry in entries if isinstance(entry, Unusable)}
    jobs_by_source: dict[Path, CompileJob] = {}
    duplicates: dict[str, str] = {}
    for job in (entry for entry in entries if isinstance(entry, CompileJob)):
        if job.source in jobs_by_source:
            duplicates[str(job.source)] = str(jobs_by_source[job.source].source)
        else:
            jobs_by_source[job.source] = job
    names = module_names(list(jobs_by_source), root)
    output.mkdir(parents=True, exist_ok=True)

    def build_one(job: CompileJob) -> tuple[CompileJob, str | None]:
        module = names[job.source]
        bitcode, command = output / f"{module}.bc", output / f"{module}.cmd"
        if bitcode.is_file() and command.is_file() and command.read_text() == "\0".join(job.options):
            return job, None
        bitcode.parent.mkdir(parents=True, exist_ok=True)
        try:
            _compile_to_bitcode(toolchain, job.source, bitcode, list(job.options), cwd=job.directory)
        except CompilerError as exc:
            bitcode.unlink(missing_ok=True)
            return job, first_error(exc.stderr) or str(exc)
        except (subprocess.TimeoutExpired, OSError) as exc:
            bitcode.unlink(missing_ok=True)
            return job, f"{type(exc).__name__}: {exc}"
        write_module(output, module, list(job.options))
        return job, None

    modules = []
    with ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 2) as pool:
        results: Iterable[tuple[CompileJob, str | None]] = pool.map(build_one, jobs_by_source.values())
        if progress:
            from tqdm import tqdm

            results = tqdm(results, total=len(jobs_by_source), desc="building corpus", unit="module")
        for job, error in results:
            if error is None:
                modules.append(names[job.source])
            else:
                failed[str(job.source)] = error
    sources = {names[job.source]: str(job.source) for job in jobs_by_source.values() if names[job.source] in modules}
    report = {"modules": len(modules), "failed": failed, "duplicates": duplicates, "sources": sources}
    (output / "build_report.json").write_text(json.dumps(report, indent=1))
    if not modules:
        raise CorpusError(f"no entry of {database} compiled ({len(failed)} failed); see {output / 'build_report.json'}")
    description = {"name": name, "has_thinlto": False, "modules": modules}
    (output / "corpus_description.json").write_text(json.dumps(description, indent=1))
    return CorpusBuild(Corpus.load(output, name), failed, duplicates)


def module_names(sources: list[Path], root: Path | None = None) -> dict[Path, str]:
    """Readable, unique module names: each source's path below `root` (default: their common folder), no suffix."""
    if not sources:
        return {}
    root = root or Path(os.path.commonpath([s.parent for s in sources]))
    names: dict[Path, str] = {}
    taken: set[str] = set()
    for source in sources:
        base = re.sub(r"[^A-Za-z0-9._/+-]", "_", str(source.relative_to(root).with_suffix("")))
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}-{n}"
        taken.add(name)
        names[source] = name
    return names


def first_error(stderr: str) -> str:
    """The compiler's first ``error:`` line (what a table of failures shows)."""
    return next((line.strip() for line in stderr.splitlines() if "error:" in line), stderr.strip()[:300])


def _sources_digest(source: Path, toolchain: Toolchain) -> str:
    digest = hashlib.sha256(toolchain.version_string().encode())
    for path in sorted(source.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(source)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def default_corpus(toolchain: Toolchain | None = None, progress: bool = False) -> Corpus:
    """The bundled programs as a corpus, built on first use into the cache (safe across processes)."""
    toolchain = toolchain or get_toolchain()
    if not BUNDLED_PROGRAMS.is_dir():
        raise CorpusError(f"the bundled programs are missing: {BUNDLED_PROGRAMS}")
    key = f"mlgo-v0-llvm{toolchain.version}-{_sources_digest(BUNDLED_PROGRAMS, toolchain)}"
    root = cache_dir("corpus", key)
    if (root / "corpus_description.json").is_file():
        return Corpus.load(root, "mlgo-v0")
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.parent / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / "corpus_description.json").is_file():
            staging = Path(tempfile.mkdtemp(prefix=f"{key}-", dir=root.parent))
            try:
                build_from_programs(BUNDLED_PROGRAMS, staging, toolchain, progress=progress)
                staging.rename(root)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
    return Corpus.load(root, "mlgo-v0")
