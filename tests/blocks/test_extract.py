"""`blocks extract` on ComPile-format Parquet: bitcode modules lowered at several levels, deduplicated."""

from __future__ import annotations

import csv
import subprocess

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from mlgo_env.blocks.cli import app
from mlgo_env.blocks.extract import ParquetModules, expand_inputs, extract_input
from mlgo_env.toolchain import get_toolchain
from mlgo_env.x86 import decode

SOURCES = {
    "dot": "long dot(const long *a, const long *b, int n) { long s = 0; "
    "for (int i = 0; i < n; ++i) s += a[i] * b[i]; return s; }",
    "clamp": "int clamp(int x, int lo, int hi) { return x < lo ? lo : x > hi ? hi : x; }",
}


@pytest.fixture
def compile_parquet(tmp_path):
    """A ComPile-layout Parquet file of clang-19 bitcode: ``content`` plus a metadata column."""
    clang = get_toolchain().clang
    modules = []
    for name, code in SOURCES.items():
        src, bc = tmp_path / f"{name}.c", tmp_path / f"{name}.bc"
        src.write_text(code)
        subprocess.run([str(clang), "-O1", "-Xclang", "-disable-llvm-optzns", "-emit-llvm", "-c", "-o", str(bc),
                        str(src)], check=True)  # fmt: skip
        modules.append(bc.read_bytes())
    table = pa.table({"content": modules + modules[:1], "language": ["c"] * 3})  # "dot" twice: deduplicated
    path = tmp_path / "compile-sample.parquet"
    pq.write_table(table, path, row_group_size=3)
    return path


def test_parquet_modules_are_lowered_at_each_level_and_deduplicated(compile_parquet):
    inputs = expand_inputs([compile_parquet])
    assert inputs == [("compile-sample.rg0", [ParquetModules(compile_parquet, 0)])]
    name, files = inputs[0]
    one = extract_input(name, files, "-O2")
    both = extract_input(name, files, "-O0,-O2")
    for rows in (one, both):
        hexes = [h for h, _, _ in rows]
        assert len(hexes) == len(set(hexes)) > 0  # one row per distinct block
        assert all(decode(bytes.fromhex(h)) for h in hexes) and {n for _, _, n in rows} == {name}
    assert {h for h, _, _ in one} < {h for h, _, _ in both}  # -O0 adds blocks -O2 does not have


def test_cli_extract_reads_parquet(compile_parquet, tmp_path):
    out = tmp_path / "blocks.csv"
    result = CliRunner().invoke(app, ["extract", str(compile_parquet), "--out", str(out), "--opt", "-O1,-O3",
                                      "--workers", "1"])  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(out.open()))
    assert rows and all(r[2] == "compile-sample.rg0" for r in rows)
    assert len({r[0] for r in rows}) == len(rows)


def test_parquet_without_bitcode_column_is_refused(tmp_path):
    path = tmp_path / "other.parquet"
    pq.write_table(pa.table({"text": ["int main() {}"]}), path)
    with pytest.raises(ValueError, match="no 'content' column"):
        ParquetModules(path, 0).modules()
