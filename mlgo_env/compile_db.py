"""Reads a compilation database (``compile_commands.json``, as ``bear`` or CMake write it) into compile jobs.

Each entry becomes a `CompileJob`: the directory the build ran the command in, the source file,
and the compiler options without the compiler, its wrappers (``libtool``, ``ccache``), inputs,
outputs and emit mode. Response files (``@file``) are expanded relative to the entry's directory.
Entries that are not a compile of a C or C++ source (an assembler file, a tool that is not a compiler)
become `Unusable` with the reason, so a build with a few odd entries still gives a corpus.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mlgo_env.errors import CorpusError

__all__ = ["CompileJob", "Unusable", "read_compile_commands", "sanitize_command"]

# Options of a recorded command line that name inputs/outputs or change what is emitted; the
# service supplies its own. Value-taking ones drop their next argument too.
_DROP_WITH_VALUE = {"-o", "-x", "-MF", "-MT", "-MQ", "-main-file-name", "-dependency-file"}
_DROP = {"-c", "-S", "-E", "-emit-llvm", "-emit-obj", "-emit-llvm-bc", "-MD", "-MMD", "-M", "-MM", "-MP"}
_DROP_PREFIX = ("-fembed-bitcode", "-o", "-fdebug-compilation-dir", "-fcoverage-compilation-dir")
_SOURCE_SUFFIXES = (".c", ".cc", ".cpp", ".cxx", ".bc", ".ll", ".i", ".ii", ".m", ".mm")
_COMPILABLE = (".c", ".cc", ".cpp", ".cxx", ".c++", ".C")
_COMPILER = re.compile(r"^(?:[\w.-]+-)?(?:cc|c\+\+|gcc|g\+\+|clang|clang\+\+)(?:-\d+(?:\.\d+)*)?$")
"""A compiler's base name: ``cc``, ``gcc-12``, ``x86_64-linux-gnu-gcc``, ``clang++-19``."""
_MAX_RESPONSE_DEPTH = 8


def sanitize_command(options: Iterable[str]) -> list[str]:
    """A recorded command line without its inputs, outputs and emit mode (the service adds its own)."""
    result: list[str] = []
    skip = False
    for option in options:
        if skip:
            skip = False
            continue
        if option in _DROP_WITH_VALUE:
            skip = True
            continue
        if option in _DROP or option.startswith(_DROP_PREFIX) or option in ("clang", "clang++"):
            continue
        if not option.startswith("-") and option.endswith(_SOURCE_SUFFIXES):
            continue
        result.append(option)
    return result


@dataclass(frozen=True)
class CompileJob:
    """One compile of one source file, as the build ran it.

    Attributes:
        directory: where the build ran the command (relative paths in `options` are relative to it).
        source: the source file (absolute).
        options: compiler options without the compiler, inputs, outputs and emit mode.
    """

    directory: Path
    source: Path
    options: tuple[str, ...]


@dataclass(frozen=True)
class Unusable:
    """An entry that is not a compile of a C/C++ source, and why."""

    source: str
    reason: str


def read_compile_commands(database: Path) -> list[CompileJob | Unusable]:
    """The entries of `database`, in order.

    Raises:
        CorpusError: the file is not a JSON list of entries.
    """
    try:
        entries = json.loads(Path(database).read_text())
    except (OSError, ValueError) as exc:
        raise CorpusError(f"cannot read the compilation database {database}: {exc}") from exc
    if not isinstance(entries, list):
        raise CorpusError(f"{database} is not a compilation database (a JSON list of entries)")
    return [_job(entry) for entry in entries]


def _job(entry: object) -> CompileJob | Unusable:
    if not isinstance(entry, dict) or "file" not in entry or "directory" not in entry:
        return Unusable(str(entry)[:80], "entry lacks 'file' or 'directory'")
    directory = Path(entry["directory"])
    source = Path(os.path.normpath(directory / entry["file"]))
    try:
        arguments = list(entry["arguments"]) if "arguments" in entry else shlex.split(entry["command"])
        arguments = _expand_response_files(arguments, directory)
    except (KeyError, ValueError, OSError) as exc:
        return Unusable(str(source), f"unreadable command: {exc}")
    compiler = next((i for i, a in enumerate(arguments) if _COMPILER.match(os.path.basename(a))), None)
    if compiler is None:
        return Unusable(str(source), f"no C/C++ compiler in the command: {shlex.join(arguments[:4])}")
    if source.suffix not in _COMPILABLE:
        return Unusable(str(source), f"not a C or C++ source ({source.suffix or 'no suffix'})")
    return CompileJob(directory, source, tuple(sanitize_command(arguments[compiler + 1 :])))


def _expand_response_files(arguments: list[str], directory: Path, depth: int = 0) -> list[str]:
    """``@file`` arguments replaced by the file's arguments (relative to `directory`), recursively."""
    if depth > _MAX_RESPONSE_DEPTH:
        raise ValueError("response files nest too deeply")
    expanded: list[str] = []
    for argument in arguments:
        if argument.startswith("@") and len(argument) > 1:
            inner = shlex.split((directory / argument[1:]).read_text())
            expanded += _expand_response_files(inner, directory, depth + 1)
        else:
            expanded.append(argument)
    return expanded
