"""Extracts basic blocks from compiled code through LLVM's basic-block address map.

C sources, and LLVM bitcode modules from ComPile-format Parquet files (a ``content`` column of
bitcode, one module per row; one input per row group), are compiled with
`mlgo_env.artifacts.ADDRESS_MAP_FLAGS` at each optimisation level asked for; every machine block of
every function is read with `mlgo_env.bbaddrmap.read_blocks`, its trailing jumps/returns dropped
(BHive blocks exclude the final branch: the block is timed as a loop body), and blocks are
deduplicated by bytes within each input (across its modules and levels) with their frequencies
summed. Output rows are BHive's source layout, ``HEX,FREQ`` plus the input's name as a third
column; `dataset.read_sources` deduplicates across inputs.
"""

from __future__ import annotations

import csv
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mlgo_env.artifacts import ADDRESS_MAP_FLAGS
from mlgo_env.bbaddrmap import read_blocks
from mlgo_env.toolchain import get_toolchain
from mlgo_env.x86 import strip_terminators

__all__ = ["PARQUET_COLUMN", "ParquetModules", "done_inputs", "expand_inputs", "extract_input"]

PARQUET_COLUMN = "content"
"""The column of LLVM bitcode modules in ComPile's Parquet files."""


@dataclass(frozen=True)
class ParquetModules:
    """The bitcode modules of one row group of a ComPile-format Parquet file."""

    path: Path
    row_group: int

    def modules(self) -> list[bytes]:
        """The bitcode of each row.

        Raises:
            ValueError: the file has no `PARQUET_COLUMN` column.
        """
        import pyarrow.parquet as pq

        parquet = pq.ParquetFile(self.path)
        names = parquet.schema_arrow.names
        if PARQUET_COLUMN not in names:
            raise ValueError(
                f"{self.path} has no {PARQUET_COLUMN!r} column of bitcode (ComPile's layout); its columns: "
                + ", ".join(names)
            )
        column = parquet.read_row_group(self.row_group, columns=[PARQUET_COLUMN])[0]
        return [bytes(v) for v in column.to_pylist()]


Source = Path | ParquetModules
"""Where an input's code comes from: a C file or object, or Parquet bitcode modules."""


def expand_inputs(paths: Iterable[Path]) -> list[tuple[str, list[Source]]]:
    """Named inputs to extract from.

    An object or C file is one input; a Parquet file gives one per row group (``STEM.rgK``); a
    folder with C files (a program) is one, named after the folder; a folder of such folders or
    of Parquet files (a corpus) gives one per program or row group.
    """
    inputs: list[tuple[str, list[Source]]] = []
    for path in map(Path, paths):
        if path.suffix == ".parquet":
            import pyarrow.parquet as pq

            groups = pq.ParquetFile(path).num_row_groups
            inputs.extend((f"{path.stem}.rg{k}", [ParquetModules(path, k)]) for k in range(groups))
        elif path.is_file():
            inputs.append((path.stem, [path]))
        elif sources := sorted(path.glob("*.c")):
            inputs.append((path.name, list(sources)))
        else:
            inputs.extend(expand_inputs(sorted(p for p in path.iterdir() if p.is_dir() or p.suffix == ".parquet")))
    return inputs


def _compile(source: Path, obj: Path, opt: str, extra: Sequence[str] = ()) -> Path:
    cmd = [str(get_toolchain().clang), opt, "-c", *ADDRESS_MAP_FLAGS, *extra, "-o", str(obj), str(source)]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return obj


def _objects(files: list[Source], workdir: Path, opts: Sequence[str]) -> list[Path]:
    """Objects of an input: C files and bitcode modules compiled at each of `opts`, objects as they are."""
    objects = []
    for src in files:
        if isinstance(src, ParquetModules):
            for row, bitcode in enumerate(src.modules()):
                module = workdir / f"rg{src.row_group}-{row}.bc"
                module.write_bytes(bitcode)
                objects += [_compile(module, workdir / f"{module.stem}{opt}.o", opt) for opt in opts]
        elif src.suffix == ".c":
            objects += [_compile(src, workdir / f"{src.stem}{opt}.o", opt, [f"-I{src.parent}"]) for opt in opts]
        else:
            objects.append(src)
    return objects


def extract_input(name: str, files: list[Source], opt: str = "-O2") -> list[tuple[str, float, str]]:
    """``(hex, frequency, name)`` for each distinct block body of one input.

    C sources and bitcode modules are compiled at each level of `opt` (comma-separated:
    ``"-O1,-O2,-O3"``); objects must carry the address map (`ADDRESS_MAP_FLAGS`).
    """
    freq: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="mlgo-blocks-") as tmp:
        for obj in _objects(files, Path(tmp), opt.split(",")):
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
