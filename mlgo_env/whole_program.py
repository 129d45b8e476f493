"""Whole-program modules: each executable a build linked, as one bitcode module of its corpus's modules.

MLGO's published inlining gains come from whole-program (ThinLTO) builds: there the inliner sees
every caller of a function, and a function inlined into all of them disappears. `link_programs`
(``mlgo-env corpus link``) makes such a corpus from a per-source one (``corpus build`` or ``corpus
fetch``) and the build tree it came from:

1. the build's executables are found (ELF files with a program interpreter; shared libraries,
   objects and scripts are not programs);
2. the sources each was linked from are read off its DWARF compile units (``-g`` builds, which
   Debian's are: a static library's members are there too); a relative compilation directory
   (``-ffile-prefix-map=TREE=.``, as Debian builds) is taken relative to the build root, or, where
   the maps moved it (a folder below the root mapped, an out-of-tree build folder), matched by
   the one source whose path ends the same;
3. those sources' corpus modules are linked with ``llvm-link`` and every symbol but ``main`` is
   internalized, unused ones dropped (``opt -passes=internalize,globaldce``), as a link-time
   optimiser would see the program.

A program none of whose sources is in the corpus is left out; one with some missing (a generated
source, a compile that failed) is linked from the rest, and the report says which. Programs linked
from the same modules (a binary installed twice) are kept once.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from elftools.common.exceptions import DWARFError, ELFError
from elftools.elf.elffile import ELFFile

from mlgo_env.corpus import Corpus, first_error, link_bitcode, module_names, write_module
from mlgo_env.errors import CompilerError, CorpusError
from mlgo_env.toolchain import Toolchain, get_toolchain

__all__ = ["LinkReport", "LinkedProgram", "executables", "link_programs", "linked_sources"]

_ELF_MAGIC = b"\x7fELF"


@dataclass
class LinkedProgram:
    """One executable as a module: the corpus modules it was linked from, and its sources the corpus lacks."""

    module: str
    executable: str
    modules: list[str]
    missing: list[str] = field(default_factory=list)


@dataclass
class LinkReport:
    """What `link_programs` made: each program's module, and the executables left out with the cause."""

    programs: list[LinkedProgram] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    duplicates: dict[str, str] = field(default_factory=dict)
    """Executable -> the program module already linked from the same modules."""

    def to_json(self) -> dict:
        """The report as JSON values (``link_report.json``)."""
        return {"programs": [asdict(p) for p in self.programs], "failed": self.failed, "duplicates": self.duplicates}


def executables(root: Path) -> Iterator[Path]:
    """ELF executables under `root` (files with a program interpreter), not following links."""
    for folder, _, files in os.walk(root):
        for name in sorted(files):
            path = Path(folder) / name
            if path.is_symlink() or not os.access(path, os.X_OK):
                continue
            with open(path, "rb") as handle:
                if handle.read(4) != _ELF_MAGIC:
                    continue
                try:
                    elf = ELFFile(handle)
                    if any(segment["p_type"] == "PT_INTERP" for segment in elf.iter_segments()):
                        yield path
                except ELFError:
                    continue


def linked_sources(executable: Path, root: Path) -> list[Path]:
    """The source files `executable` was linked from: its DWARF compile units, relative ones under `root`.

    Raises:
        CorpusError: the executable has no debug information, or its ELF or DWARF is unreadable.
    """
    with open(executable, "rb") as handle:
        try:
            elf = ELFFile(handle)
            if not elf.has_dwarf_info():
                raise CorpusError(f"{executable} has no DWARF: build with -g to know what it was linked from")
            units = [unit.get_top_DIE().attributes for unit in elf.get_dwarf_info().iter_CUs()]
        except (ELFError, DWARFError) as exc:
            raise CorpusError(f"{executable}: unreadable ELF or DWARF: {exc}") from exc
    sources = []
    for attributes in units:
        if "DW_AT_name" not in attributes:
            continue
        name = Path(os.fsdecode(attributes["DW_AT_name"].value))
        folder = Path(os.fsdecode(attributes["DW_AT_comp_dir"].value)) if "DW_AT_comp_dir" in attributes else root
        sources.append(Path(os.path.normpath(root / folder / name)))  # an absolute part replaces root
    return sources


def link_programs(
    corpus_dir: Path,
    roots: Sequence[Path],
    output: Path,
    toolchain: Toolchain | None = None,
    name: str = "whole-program-v0",
    progress: bool = False,
) -> LinkReport:
    """A corpus in `output` with one module per executable found under `roots` (see the module).

    Args:
        corpus_dir: a corpus ``corpus build`` or ``corpus fetch`` made (its ``build_report.json``
            names each module's source).
        roots: build trees to search for executables; a relative compilation directory in the
            DWARF is taken relative to the root the executable was found under.
        output: the new corpus's directory (``link_report.json`` in it lists what was left out).
        toolchain: the LLVM whose llvm-link and opt link the modules (the corpus's).
        name: the new corpus's name (``benchmark://NAME/...``).
        progress: show a progress bar.

    Raises:
        CorpusError: the corpus does not say which source each module holds, or no program linked.
    """
    toolchain = toolchain or get_toolchain()
    corpus = Corpus.load(corpus_dir)
    report_file = corpus_dir / "build_report.json"
    recorded = json.loads(report_file.read_text()).get("sources") if report_file.is_file() else None
    if not recorded:
        raise CorpusError(
            f"{corpus_dir} does not record each module's source (build_report.json 'sources'): "
            "rebuild it with this version of mlgo-env corpus build (finished modules are kept)"
        )
    module_of = {Path(source): module for module, source in recorded.items() if module in corpus.modules}
    by_name: dict[str, list[Path]] = {}
    for source in module_of:
        by_name.setdefault(source.name, []).append(source)
    found = [(exe, root) for root in roots for exe in executables(root)]
    names = module_names([exe for exe, _ in found])
    report = LinkReport()
    linked_from: dict[tuple[str, ...], str] = {}
    iterator: Sequence[tuple[Path, Path]] | Iterator[tuple[Path, Path]] = found
    if progress:
        from tqdm import tqdm

        iterator = tqdm(found, desc="linking programs", unit="program")
    for exe, root in iterator:
        try:
            sources = linked_sources(exe, root)
        except CorpusError as exc:
            report.failed[str(exe)] = str(exc)
            continue
        found_in = {s: _module_for(s, root, module_of, by_name) for s in sources}
        modules = sorted({m for m in found_in.values() if m is not None})
        if not modules:
            report.failed[str(exe)] = "none of its sources is in the corpus"
            continue
        key = tuple(modules)
        if key in linked_from:
            report.duplicates[str(exe)] = linked_from[key]
            continue
        missing = sorted({str(s) for s, m in found_in.items() if m is None})
        program = LinkedProgram(names[exe], str(exe), modules, missing)
        try:
            _link(toolchain, [corpus.benchmark(m).bitcode for m in modules], output / f"{program.module}.bc")
        except CompilerError as exc:
            report.failed[str(exe)] = first_error(exc.stderr) or str(exc)
            continue
        except subprocess.TimeoutExpired as exc:
            report.failed[str(exe)] = f"{Path(str(exc.cmd[0])).name} ran past {exc.timeout:.0f} s"
            continue
        write_module(output, program.module, list(corpus.benchmark(modules[0]).options))
        linked_from[key] = program.module
        report.programs.append(program)
    output.mkdir(parents=True, exist_ok=True)
    (output / "link_report.json").write_text(json.dumps(report.to_json(), indent=1))
    if not report.programs:
        raise CorpusError(f"no program was linked from {corpus_dir}; see {output / 'link_report.json'}")
    description = {"name": name, "has_thinlto": False, "modules": [p.module for p in report.programs]}
    (output / "corpus_description.json").write_text(json.dumps(description, indent=1))
    return report


def _module_for(source: Path, root: Path, module_of: dict[Path, str], by_name: dict[str, list[Path]]) -> str | None:
    """The corpus module holding `source`, or None.

    A source read relative to `root` that is not there was compiled with prefix maps that moved it:
    a map to a folder below the root (lua's ``-ffile-prefix-map=TREE/src=.``), or a source path
    mapped apart from an out-of-tree build folder (CMake's ``obj-x86_64-linux-gnu``). Then the
    source under the root whose path ends with the longest part of its path that one source does is it.
    """
    if source in module_of:
        return module_of[source]
    if not source.is_relative_to(root):
        return None
    tail = source.relative_to(root).parts
    named = [s for s in by_name.get(source.name, []) if s.is_relative_to(root)]
    for length in range(len(tail), 0, -1):
        candidates = [s for s in named if s.parts[-length:] == tail[-length:]]
        if candidates:
            return module_of[candidates[0]] if len(candidates) == 1 else None
    return None


def _link(toolchain: Toolchain, inputs: list[Path], output: Path) -> None:
    """llvm-link `inputs` into `output`, every symbol but ``main`` internalized and unused ones dropped.

    Raises:
        CompilerError: llvm-link or opt failed (its stderr attached).
        subprocess.TimeoutExpired: one of them ran past 300 s.
    """
    output.parent.mkdir(parents=True, exist_ok=True)
    linked = output.with_suffix(".linked.bc")
    try:
        link_bitcode(toolchain, inputs, linked)
        command = [
            str(toolchain.tool("opt")), "-passes=internalize,globaldce", "-internalize-public-api-list=main",
            str(linked), "-o", str(output),
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
        if result.returncode != 0:
            raise CompilerError(f"internalizing {output.name} failed", result.stderr)
    finally:
        linked.unlink(missing_ok=True)
