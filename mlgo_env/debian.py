"""Real projects as a corpus: fetch Debian source packages, build them under ``bear``, compile the result.

`fetch_corpus` is ``mlgo-env corpus fetch PKG... -o DIR``. For each package it runs ``apt-get source``
(into ``DIR/sources/PKG``), ``apt-get build-dep`` when ``dpkg-checkbuilddeps`` finds something
missing, and ``dpkg-buildpackage -T build-arch`` under ``bear`` with the corpus's clang as CC/CXX
(tests and docs off; ``gcc``, ``cc``, ``g++`` and the host triplet's names lead to it too, for rules
that name their compiler), then turns every package's ``compile_commands.json`` into one corpus in DIR
with `mlgo_env.corpus.build_from_compile_commands`. Only Debian's package archive is used. A package
that cannot be fetched or built is a row of the report with its cause; the others go on. A package
already fetched or built is not redone, and the corpus build resumes module by module.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rich.table import Table

from mlgo_env.compile_db import CompileJob, read_compile_commands
from mlgo_env.corpus import build_from_compile_commands
from mlgo_env.errors import CorpusError, MlgoEnvError, ToolNotFound
from mlgo_env.toolchain import Toolchain, get_toolchain

__all__ = [
    "APT_SOURCES",
    "FetchReport",
    "PackageResult",
    "deb_src_entry",
    "ensure_deb_src",
    "fetch_corpus",
    "only_signatures_missing",
    "package_trees",
]

APT_SOURCES = Path("/etc/apt/sources.list.d/debian.sources")
"""Debian's deb822 sources file (bookworm and later), where the ``deb-src`` entry is added."""

_PACKAGE_NAME = re.compile(r"^[a-z0-9][a-z0-9.+-]+$")
_BUILT_MARK = "compile_commands.json"
_FETCHED_MARK = ".fetched"
_APT_TIMEOUT = 1800.0
_GCC12_C = (
    "-Wno-error=implicit-function-declaration -Wno-error=implicit-int -Wno-error=int-conversion "
    "-Wno-error=incompatible-function-pointer-types"
)
"""Old C that clang 16+ rejects and GCC 12 (what Debian bookworm builds with) only warns about: warnings again."""


@dataclass
class PackageResult:
    """One package of a fetch: built (with the modules it gave) or failed (with the cause)."""

    package: str
    status: str = "failed"
    """"built" or "failed"."""
    reason: str = ""
    version: str = ""
    modules: int = 0
    seconds: float = 0.0
    note: str = ""
    """What was done differently from a plain fetch and build, and why."""


@dataclass
class FetchReport:
    """Every package's result, the ``deb-src`` entry added (if any) and the corpus's size."""

    packages: list[PackageResult] = field(default_factory=list)
    added_source: str | None = None
    modules: int = 0

    def to_json(self) -> dict:
        """The report as plain data (what ``DIR/fetch_report.json`` holds)."""
        return {
            "modules": self.modules,
            "added_source": self.added_source,
            "packages": {p.package: asdict(p) for p in self.packages},
        }

    def table(self) -> Table:
        """One row per package: status, version, modules, seconds, cause of a failure or note."""
        table = Table(title=f"corpus fetch: {self.modules} modules")
        for column in ("package", "status", "version", "modules", "seconds", "cause or note"):
            table.add_column(column, overflow="fold")
        for p in sorted(self.packages, key=lambda p: p.package):
            status = "[green]built" if p.status == "built" else "[red]failed"
            table.add_row(p.package, status, p.version, str(p.modules), f"{p.seconds:.0f}", p.reason or p.note)
        return table


def deb_src_entry(text: str) -> str | None:
    """The ``deb-src`` stanza a deb822 sources file needs, or None when it already has one.

    The stanza copies the first ``deb`` stanza's archive (URIs, Suites, Components, Signed-By).

    Raises:
        CorpusError: the file has no ``deb`` stanza to copy.
    """
    stanzas = [s for s in re.split(r"\n\s*\n", text) if s.strip()]
    fields = [_deb822_fields(stanza) for stanza in stanzas]
    if any("deb-src" in f.get("Types", "").split() for f in fields):
        return None
    binary = next((f for f in fields if "deb" in f.get("Types", "").split()), None)
    if binary is None:
        raise CorpusError("the apt sources file has no 'Types: deb' entry to copy a deb-src entry from")
    lines = ["Types: deb-src"] + [f"{key}: {binary[key]}" for key in binary if key != "Types"]
    return "\n".join(lines) + "\n"


def _deb822_fields(stanza: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in stanza.splitlines():
        if line.startswith("#") or ":" not in line or line[0].isspace():
            continue
        key, value = line.split(":", 1)
        fields[key.strip()] = value.strip()
    return fields


def ensure_deb_src(sources: Path = APT_SOURCES, update: Callable[[], None] | None = None) -> str | None:
    """Add the ``deb-src`` entry `sources` lacks, then refresh apt's lists; return what was added (or None).

    Raises:
        CorpusError: the file is missing or cannot be written (not root): the message says what to add.
    """
    try:
        entry = deb_src_entry(sources.read_text())
    except OSError as exc:
        raise CorpusError(f"cannot read {sources} (Debian bookworm or later is needed): {exc}") from exc
    if entry is None:
        return None
    try:
        with sources.open("a") as file:
            file.write(f"\n# added by mlgo-env corpus fetch (apt-get source, apt-get build-dep)\n{entry}")
    except OSError as exc:
        raise CorpusError(f"cannot add a deb-src entry to {sources} ({exc}); as root, append:\n{entry}") from exc
    (update or _apt_update)()
    return entry


def _apt_update() -> None:
    result = _run([*_root(), "apt-get", "update", "-q"], timeout=_APT_TIMEOUT)
    if result.returncode != 0:
        raise CorpusError(f"apt-get update failed: {_cause(result.stdout)}")


def _root() -> list[str]:
    """``sudo -n`` when not root (apt-get build-dep and update need root)."""
    return [] if os.geteuid() == 0 else ["sudo", "-n"]


def _run(
    command: Sequence[str], timeout: float, cwd: Path | None = None, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run `command` with stdout and stderr together; a timeout becomes status 124 with a message."""
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C", **(env or {})}
    try:
        return subprocess.run(
            command, cwd=cwd, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            errors="replace", timeout=timeout, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(command, 124, f"error: timed out after {timeout:.0f} s")


def only_signatures_missing(log: str) -> bool:
    """Whether every file ``apt-get source`` failed to fetch (its log: `log`) is an upstream signature (``.asc``).

    Some mirrors lack them; the tarballs and the ``.dsc`` apt did fetch are checked against its signed index.
    """
    failed = re.findall(r"^E: Failed to fetch (\S+://\S+)", log, re.MULTILINE)
    return bool(failed) and all(url.endswith(".asc") for url in failed)


def _cause(log: str) -> str:
    """The line of a tool's output that says why it failed: the last error line, else the last line."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    errors = [line for line in lines if re.search(r"(^E: |error:|Error \d|\berror\b)", line, re.IGNORECASE)]
    first_compile_error = next((line for line in errors if ": error:" in line), None)
    return (first_compile_error or (errors[-1] if errors else lines[-1] if lines else "no output"))[:300]


class _PackageBuild:
    """Fetch, build-dep and build of one package in ``DIR/sources/PKG``; resumable at each step."""

    def __init__(self, package: str, folder: Path, toolchain: Toolchain, make_jobs: int, timeout: float) -> None:
        self.package, self.folder, self.toolchain = package, folder, toolchain
        self.make_jobs, self.timeout = make_jobs, timeout
        self.note = ""

    @property
    def database(self) -> Path:
        """The package's compilation database, present once it built."""
        return self.folder / _BUILT_MARK

    def source_tree(self) -> Path:
        """The unpacked source (the folder ``apt-get source`` made), fetching it first if needed."""
        mark = self.folder / _FETCHED_MARK
        if mark.is_file() and (self.folder / mark.read_text().strip() / "debian").is_dir():
            return self.folder / mark.read_text().strip()
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        result = _run(["apt-get", "source", "-q", self.package], timeout=_APT_TIMEOUT, cwd=self.folder)
        dsc = next(self.folder.glob("*.dsc"), None)
        if result.returncode != 0 and dsc is not None and only_signatures_missing(result.stdout):
            # apt checked what it fetched against the signed index; only the upstream signature is missing
            unpacked = _run(["dpkg-source", "-x", "--no-check", dsc.name], timeout=_APT_TIMEOUT, cwd=self.folder)
            if unpacked.returncode == 0:
                result = unpacked
                self.note = "the mirror lacks the upstream signature (.asc): unpacked with dpkg-source --no-check"
        trees = [p for p in self.folder.iterdir() if (p / "debian").is_dir()]
        if result.returncode != 0 or len(trees) != 1:
            raise MlgoEnvError(f"apt-get source failed: {_cause(result.stdout)}")
        mark.write_text(trees[0].name)
        return trees[0]

    def install_build_deps(self, tree: Path, apt_lock: threading.Lock) -> None:
        """``apt-get build-dep`` when ``dpkg-checkbuilddeps`` finds a build dependency missing."""
        if _run(["dpkg-checkbuilddeps"], timeout=120, cwd=tree).returncode == 0:
            return
        command = [*_root(), "apt-get", "build-dep", "-y", "-q", "-o", "DPkg::Lock::Timeout=600", self.package]
        with apt_lock:  # one apt at a time here; the lock timeout waits for any other apt
            result = _run(command, timeout=_APT_TIMEOUT)
        if result.returncode != 0:
            raise MlgoEnvError(f"apt-get build-dep failed: {_cause(result.stdout)}")

    def build(self, tree: Path) -> None:
        """``dpkg-buildpackage -T build-arch`` under bear with the corpus's clang; the log is ``build.log``."""
        partial = self.folder / "compile_commands.partial.json"
        env = {
            "PATH": f"{self._compiler_shims()}{os.pathsep}{os.environ.get('PATH', os.defpath)}",
            "CC": str(self.toolchain.clang),
            "CXX": str(self.toolchain.tool("clang++")),
            "DEB_BUILD_OPTIONS": f"nocheck nodoc parallel={self.make_jobs}",
            "DEB_CFLAGS_APPEND": _GCC12_C,
        }
        command = ["bear", "--output", str(partial), "--", "dpkg-buildpackage", "-T", "build-arch", "--no-sign"]
        result = _run(command, timeout=self.timeout, cwd=tree, env=env)
        (self.folder / "build.log").write_text(result.stdout)
        if result.returncode != 0:
            raise MlgoEnvError(f"build failed (status {result.returncode}): {_cause(result.stdout)}")
        if not partial.is_file():
            raise MlgoEnvError("bear wrote no compilation database")
        partial.rename(self.database)

    def _compiler_shims(self) -> Path:
        """A folder of ``gcc``, ``g++``, ``cc``, ``c++`` (bare and with the host triplet) leading to the corpus's clang.

        Some packages' rules set ``CC=$(DEB_HOST_GNU_TYPE)-gcc`` themselves, which would build them with
        GCC and reject the clang-only flags the build adds; clang takes its C or C++ mode from the name.
        """
        shims = self.folder / ".compilers"
        shims.mkdir(exist_ok=True)
        triplet = _run(["dpkg-architecture", "-qDEB_HOST_GNU_TYPE"], timeout=60).stdout.strip()
        for name in ("cc", "gcc", "c++", "g++"):
            for prefix in ("", f"{triplet}-" if triplet else ""):
                shim = shims / f"{prefix}{name}"
                target = self.toolchain.tool("clang++") if "++" in name else self.toolchain.clang
                shim.unlink(missing_ok=True)
                shim.symlink_to(target)
        return shims

    def jobs(self) -> list[CompileJob]:
        """The package's compiles of its own sources that still exist (configure's test programs are gone)."""
        entries = read_compile_commands(self.database)
        return [e for e in entries if isinstance(e, CompileJob) and self._kept(e.source)]

    def entries(self) -> list[dict]:
        """The compilation database entries of `jobs`, as bear wrote them."""
        return [
            entry
            for entry in json.loads(self.database.read_text())
            if isinstance(entry, dict)
            and self._kept(Path(os.path.normpath(Path(entry.get("directory", "/")) / entry.get("file", ""))))
        ]

    def _kept(self, source: Path) -> bool:
        return source.is_relative_to(self.folder) and source.is_file()

    def run(self, apt_lock: threading.Lock) -> PackageResult:
        """Every step not done yet; a failure becomes the result's cause."""
        start = time.monotonic()
        result = PackageResult(self.package)
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        with open(self.folder.parent / f"{self.package}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # another run on the same DIR builds it first; this one resumes
            self._steps(apt_lock, result)
        result.seconds = time.monotonic() - start
        return result

    def _steps(self, apt_lock: threading.Lock, result: PackageResult) -> None:
        """Fetch, build-dep and build as needed, filling `result` (status, version, or the cause)."""
        try:
            tree = self.source_tree()
            result.version = tree.name.removeprefix(f"{self.package}-")
            if not self.database.is_file():
                self.install_build_deps(tree, apt_lock)
                self.build(tree)
            if not self.jobs():
                raise MlgoEnvError("the build compiled no C/C++ source (nothing for bear to record)")
            result.status = "built"
        except MlgoEnvError as exc:
            result.reason = str(exc)
        result.note = self.note


def fetch_corpus(
    packages: Sequence[str],
    output: Path,
    toolchain: Toolchain | None = None,
    name: str = "debian-v0",
    parallel: int = 2,
    jobs: int | None = None,
    timeout: float = 3600.0,
    sources: Path = APT_SOURCES,
    progress: bool = False,
) -> FetchReport:
    """Fetch and build `packages` (Debian source package names) and make one corpus of them in `output`.

    Args:
        packages: source package names (``lua5.4``, ``xz-utils``).
        output: the corpus directory; sources and build logs go to ``output/sources/PKG``.
        toolchain: the corpus's LLVM (its clang builds the packages and the corpus).
        name: corpus name (``benchmark://NAME/PKG/...``).
        parallel: packages fetched and built at once.
        jobs: make jobs per package build and compiles at once for the corpus (default: one per core).
        timeout: seconds one package's build may take.
        sources: the apt sources file that gets the ``deb-src`` entry.
        progress: show a progress bar.

    Raises:
        CorpusError: a package name is malformed, a tool is missing, or no package gave a module.
    """
    bad = [p for p in packages if not _PACKAGE_NAME.match(p)]
    if bad or not packages:
        raise CorpusError(f"not Debian source package names: {bad or 'none given'}")
    for tool, package in (("bear", "bear"), ("dpkg-buildpackage", "dpkg-dev"), ("apt-get", "apt")):
        if shutil.which(tool) is None:
            raise ToolNotFound(f"{tool} is not installed: sudo apt-get install {package}")
    toolchain = toolchain or get_toolchain()
    jobs = jobs or os.cpu_count() or 2
    output = output.resolve()
    report = FetchReport(added_source=ensure_deb_src(sources))
    builds = {p: _PackageBuild(p, output / "sources" / p, toolchain, jobs, timeout) for p in dict.fromkeys(packages)}
    apt_lock = threading.Lock()
    output.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        futures = [pool.submit(build.run, apt_lock) for build in builds.values()]
        done = as_completed(futures)
        if progress:
            from tqdm import tqdm

            done = tqdm(done, total=len(futures), desc="fetching and building", unit="package")
        for future in done:
            report.packages.append(future.result())
            _write_report(output, report)
    built = [builds[p.package] for p in report.packages if p.status == "built"]
    if not built:
        _write_report(output, report)
        raise CorpusError(f"no package built; see {output / 'fetch_report.json'}")
    _make_corpus(built, output, toolchain, name, jobs, progress, report)
    _write_report(output, report)
    return report


def package_trees(output: Path) -> list[Path]:
    """The unpacked source trees of the packages a fetch into `output` built (where their programs are)."""
    trees = []
    for mark in sorted((output / "sources").glob(f"*/{_FETCHED_MARK}")):
        tree = mark.parent / mark.read_text().strip()
        if (mark.parent / _BUILT_MARK).is_file() and tree.is_dir():
            trees.append(tree)
    return trees


def _make_corpus(
    built: list[_PackageBuild], output: Path, toolchain: Toolchain, name: str, jobs: int, progress: bool,
    report: FetchReport,
) -> None:  # fmt: skip
    """One corpus from every built package's compiles; each package's row gets its module count."""
    jobs_of = {build.package: build.jobs() for build in built}
    merged = output / "sources" / "compile_commands.json"
    entries = [entry for build in built for entry in build.entries()]
    merged.write_text(json.dumps(entries, indent=1))
    corpus_build = build_from_compile_commands(
        merged, output, toolchain, name=name, progress=progress, jobs=jobs, root=merged.parent
    )  # modules are named PKG/...
    report.modules = len(corpus_build.corpus)
    left_out = set(corpus_build.failed)
    for row in report.packages:
        if row.package in jobs_of:
            sources = {str(job.source) for job in jobs_of[row.package]}
            row.modules = len(sources - left_out)
            if row.modules == 0:
                row.status, row.reason = "failed", "every compile failed; see build_report.json"


def _write_report(output: Path, report: FetchReport) -> None:
    (output / "fetch_report.json").write_text(json.dumps(report.to_json(), indent=1))
