"""Helpers for the reward tests: compile C snippets and assemble instruction sequences with LLVM 19."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from mlgo_env.artifacts import ADDRESS_MAP_FLAGS
from mlgo_env.toolchain import Toolchain

CompileC = Callable[..., Path]


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own llvm-mca and profile caches, so it measures what it claims."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("MLGO_CACHE_DIR", str(cache))
    return cache


@pytest.fixture
def compile_c(tmp_path: Path, toolchain: Toolchain) -> CompileC:
    """Compiles C source text to an object (``link=True``: to a program) with the address map."""

    def compile_(
        source: str,
        name: str = "prog",
        flags: Sequence[str] = ("-O2",),
        link: bool = False,
        address_map: bool = True,
        output_name: str | None = None,
    ) -> Path:
        path = tmp_path / f"{name}.c"
        path.write_text(source)
        stem = output_name or name
        output = tmp_path / (stem if link else f"{stem}.o")
        command = [str(toolchain.clang), *flags, *(ADDRESS_MAP_FLAGS if address_map else ())]
        command += [str(path), "-o", str(output)] if link else ["-c", str(path), "-o", str(output)]
        subprocess.run(command, check=True, capture_output=True)
        return output

    return compile_


@pytest.fixture
def assemble(tmp_path: Path, toolchain: Toolchain) -> Callable[[str], bytes]:
    """Machine code of Intel-syntax instructions (one per line)."""
    counter = iter(range(1_000_000))

    def assemble_(text: str) -> bytes:
        index = next(counter)
        source = tmp_path / f"block{index}.s"
        source.write_text(".intel_syntax noprefix\n" + text.strip() + "\n")
        obj = tmp_path / f"block{index}.o"
        subprocess.run(
            [str(toolchain.clang), "-c", "-x", "assembler", str(source), "-o", str(obj)],
            check=True,
            capture_output=True,
        )
        with open(obj, "rb") as handle:
            section = ELFFile(handle).get_section_by_name(".text")
            assert section is not None
            return section.data()

    return assemble_
