"""What a compile produces and what a reward measures: the artifacts of one compiled module.

These are the core's data types: the corpus describes programs (`ProgramInfo`), compilation
produces `CompiledModule` with the `Artifact` set a reward asked for; rewards read them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlgo_env.toolchain import Toolchain

__all__ = ["ADDRESS_MAP_FLAGS", "Artifact", "CompiledModule", "ProgramInfo", "artifact_flags"]

ADDRESS_MAP_FLAGS = (
    "-fbasic-block-address-map",
    "-mllvm",
    "-pgo-analysis-map=func-entry-count,bb-freq,br-prob",
)
"""clang flags that make an object carry `Artifact.BB_ADDR_MAP` (read by `mlgo_env.bbaddrmap`)."""


class Artifact(enum.Flag):
    """What a reward needs the service to prepare; the service builds only what is asked for."""

    OBJECT = enum.auto()
    """The compiled object file (always there)."""
    BB_ADDR_MAP = enum.auto()
    """The object carries ``.llvm_bb_addr_map`` with PGO analysis (block frequencies)."""
    DEBUG_INFO = enum.auto()
    """The object carries DWARF line tables (``-gdwarf-4``)."""
    EXECUTABLE = enum.auto()
    """The object linked with the program's other modules into a runnable program."""


@dataclass(frozen=True)
class ProgramInfo:
    """How to link and run the program a module belongs to (from the corpus)."""

    name: str
    link_args: tuple[str, ...] = ()
    run_args: tuple[str, ...] = ()
    expected_output: str | None = None
    memory_bound: bool = False
    directory: Path | None = None
    """Directory the program runs in (its data files live there)."""


@dataclass
class CompiledModule:
    """One compiled module and what was prepared for it: what a reward measures."""

    benchmark: str
    object_path: Path
    toolchain: Toolchain
    workdir: Path
    artifacts: Artifact = Artifact.OBJECT
    executable_path: Path | None = None
    program: ProgramInfo | None = None
    bitcode_path: Path | None = None
    extra: dict[str, object] = field(default_factory=dict)


def artifact_flags(artifacts: Artifact) -> list[str]:
    """Clang options that make the object carry what `artifacts` asks for."""
    return list(ADDRESS_MAP_FLAGS) if Artifact.BB_ADDR_MAP in artifacts else []
