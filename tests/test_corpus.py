"""Corpora in the mlgo-utils layout: loading, naming, building, the bundled programs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlgo_env.corpus import BUNDLED_PROGRAMS, Corpus, build_from_compile_commands, sanitize_command
from mlgo_env.errors import BenchmarkNotFound, CorpusError
from mlgo_env.validation import validate_corpus


def test_layout_and_names(mini_corpus: Corpus) -> None:
    root = mini_corpus.root
    description = json.loads((root / "corpus_description.json").read_text())
    assert description["modules"] == ["huffman", "nbody", "sha256"]
    for module in description["modules"]:
        assert (root / f"{module}.bc").read_bytes()[:4] == b"BC\xc0\xde"
        assert (root / f"{module}.cmd").read_text().split("\0") == ["-O2"]
    assert mini_corpus.benchmark("sha256") == mini_corpus.benchmark("benchmark://mini-v0/sha256")
    assert [b.name for b in mini_corpus.benchmarks("test")] == ["huffman"]
    with pytest.raises(BenchmarkNotFound, match="corpus list"):
        mini_corpus.benchmark("sha257")


def test_not_a_corpus(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="corpus_description.json"):
        Corpus.load(tmp_path)
    (tmp_path / "corpus_description.json").write_text("{not json")
    with pytest.raises(CorpusError, match="malformed"):
        Corpus.load(tmp_path)


def test_sanitize_recorded_command() -> None:
    recorded = ["clang", "-O2", "-DX=1", "-Iinc", "-c", "-o", "out.o", "-MD", "-MF", "dep.d", "src/a.c",
                "-fembed-bitcode=all", "-x", "c", "-Wall"]  # fmt: skip
    assert sanitize_command(recorded) == ["-O2", "-DX=1", "-Iinc", "-Wall"]


def test_build_from_compile_commands(tmp_path: Path, toolchain) -> None:
    (tmp_path / "a.c").write_text('#include "a.h"\nint twice(int x) { return SCALE * x; }\n')
    (tmp_path / "a.h").write_text("#define SCALE 2\n")
    (tmp_path / "b.c").write_text("int twice(int);\nint main(void) { return twice(3) != 6; }\n")
    database = [
        {"directory": str(tmp_path), "file": "a.c", "arguments": ["clang", "-O2", "-c", "a.c", "-o", "a.o"]},
        {"directory": str(tmp_path), "command": "cc -Os -DNDEBUG -c b.c -o b.o", "file": "b.c"},
    ]
    (tmp_path / "compile_commands.json").write_text(json.dumps(database))
    corpus = build_from_compile_commands(tmp_path / "compile_commands.json", tmp_path / "corpus", toolchain)
    assert len(corpus) == 2
    options = sorted(b.options for b in corpus)
    assert options == [("-O2",), ("-Os", "-DNDEBUG")]


def test_bundled_programs_are_complete() -> None:
    folders = sorted(p for p in BUNDLED_PROGRAMS.iterdir() if p.is_dir())
    assert len(folders) >= 30
    split = json.loads((BUNDLED_PROGRAMS / "split.json").read_text())
    assert sorted(split["train"] + split["test"]) == [f.name for f in folders]
    assert not set(split["train"]) & set(split["test"])
    memory_bound = 0
    for folder in folders:
        meta = json.loads((folder / "program.json").read_text())
        memory_bound += meta["memory_bound"]
        assert len(list(folder.glob("*.c"))) >= 2, folder.name
        assert (folder / "expected_output.txt").read_text().strip(), folder.name
    assert memory_bound >= 3


def test_validate_runs_and_compares(mini_corpus: Corpus) -> None:
    results = list(validate_corpus(mini_corpus))
    assert [r.ok for r in results] == [True, True, True], [r.message for r in results]


def test_validation_catches_a_wrong_reference(tmp_path: Path, mini_corpus: Corpus) -> None:
    import shutil

    copy = tmp_path / "corpus"
    shutil.copytree(mini_corpus.root, copy)
    programs = json.loads((copy / "programs.json").read_text())
    programs["sha256"]["expected_output"] = "not what it prints\n"
    (copy / "programs.json").write_text(json.dumps(programs))
    results = {r.benchmark.rsplit("/", 1)[1]: r for r in validate_corpus(Corpus.load(copy))}
    assert not results["sha256"].ok and "different output" in results["sha256"].message
    assert results["huffman"].ok
