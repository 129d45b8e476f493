"""Extracts basic blocks from compiled code through LLVM's basic-block address map.

C sources are compiled with `mlgo_env.artifacts.ADDRESS_MAP_FLAGS`; every machine block of every
function is read with `mlgo_env.bbaddrmap.read_blocks`, its trailing jumps/returns dropped (BHive
blocks exclude the final branch: the block is timed as a loop body), and blocks are deduplicated
by bytes within each input with their frequencies summed. Output rows are BHive's source layout,
``HEX,FREQ`` plus the input's name as a third column.
"""

from __future__ import annotations

import csv
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path

from mlgo_env.artifacts import ADDRESS_MAP_FLAGS
from mlgo_env.bbaddrmap import read_blocks
from mlgo_env.toolchain import get_toolchain
from mlgo_env.x86 import strip_terminators

__all__ = ["done_inputs", "expand_inputs", "extract_input"]


def expand_inputs(paths: Iterable[Path]) -> list[tuple[str, list[Path]]]:
    """Named inputs to extract from.

    An object or C file is one input; a folder with C files (a program) is one, named after the
    folder; a folder of such folders (a corpus) gives one per program.
    """
    inputs: list[tuple[str, list[Path]]] = []
    for path in map(Path, paths):
        if path.is_file():
            inputs.append((path.stem, [path]))
        elif sources := sorted(path.glob("*.c")):
            inputs.append((path.name, sources))
        else:
            inputs.extend(expand_inputs(sorted(p for p in path.iterdir() if p.is_dir())))
    return inputs


def _objects(files: list[Path], workdir: Path, opt: str) -> list[Path]:
    clang = get_toolchain().clang
    objects = []
    for src in files:
        if src.suffix != ".c":
            objects.append(src)
            continue
        obj = workdir / f"{src.stem}.o"
        cmd = [str(clang), opt, "-c", *ADDRESS_MAP_FLAGS, f"-I{src.parent}", "-o", str(obj), str(src)]
        subprocess.run(cmd, check=True, capture_output=True, text=True)
        objects.append(obj)
    return objects


def extract_input(name: str, files: list[Path], opt: str = "-O2") -> list[tuple[str, float, str]]:
    """``(hex, frequency, name)`` for each distinct block body of one input.

    C sources are compiled at `opt`; objects must carry the address map (`ADDRESS_MAP_FLAGS`).
    """
    freq: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="mlgo-blocks-") as tmp:
        for obj in _objects(files, Path(tmp), opt):
            for block in read_blocks(obj):
                body = strip_terminators(block.code)
                if body:
                    freq[body.hex()] = freq.get(body.hex(), 0.0) + block.frequency
    return [(h, f, name) for h, f in freq.items()]


def done_inputs(out: Path) -> set[str]:
    """Input names already in `out` (to resume)."""
    if not out.exists():
        return set()
    with out.open() as f:
        return {row[2] for row in csv.reader(f) if len(row) > 2}
