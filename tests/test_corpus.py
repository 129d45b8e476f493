"""Corpora in the mlgo-utils layout: loading, naming, building, the bundled programs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlgo_env.compile_db import CompileJob, Unusable, read_compile_commands, sanitize_command
from mlgo_env.corpus import BUNDLED_PROGRAMS, Corpus, build_from_compile_commands
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
    build = build_from_compile_commands(tmp_path / "compile_commands.json", tmp_path / "corpus", toolchain)
    assert len(build.corpus) == 2 and build.failed == {}
    options = sorted(b.options for b in build.corpus)
    assert options == [("-O2",), ("-Os", "-DNDEBUG")]


def _autotools_tree(root: Path) -> list[dict]:
    """A build like autotools + libtool under bear: relative -I paths, a build folder apart from the
    sources, libtool wrappers, a response file, PIC and non-PIC compiles of one source, C++, an
    entry the compiler rejects and an assembler file."""
    src, build = root / "src", root / "build"
    (src / "lib").mkdir(parents=True)
    (src / "include").mkdir()
    build.mkdir()
    (src / "include" / "util.h").write_text("#define LIMIT 10\nint clamp(int);\n")
    (src / "lib" / "util.c").write_text('#include "util.h"\nint clamp(int x) { return x > LIMIT ? LIMIT : x; }\n')
    (src / "main.c").write_text('#include "util.h"\nint main(void) { return clamp(3) != 3; }\n')
    (src / "shape.cpp").write_text("struct S { int f() const { return 1; } };\nint g() { return S().f(); }\n")
    (src / "broken.c").write_text("int broken( { return; }\n")
    (src / "start.S").write_text("ret\n")
    (build / "flags.rsp").write_text("-I../src/include -DHAVE_CONFIG_H\n")
    libtool = ["/bin/bash", "../libtool", "--tag=CC", "--mode=compile", "gcc-12", "-O2", "-I../src/include"]
    return [
        {"directory": str(build), "file": "../src/lib/util.c",
         "arguments": [*libtool, "-fPIC", "-DPIC", "-c", "../src/lib/util.c", "-o", ".libs/util.o"]},
        {"directory": str(build), "file": "../src/lib/util.c",
         "arguments": [*libtool, "-c", "../src/lib/util.c", "-o", "util.o"]},
        {"directory": str(build), "file": str(src / "main.c"), "command": "cc -Os @flags.rsp -c ../src/main.c"},
        {"directory": str(build), "file": "../src/shape.cpp", "arguments": ["c++", "-O2", "-c", "../src/shape.cpp"]},
        {"directory": str(build), "file": "../src/broken.c", "arguments": ["cc", "-c", "../src/broken.c"]},
        {"directory": str(build), "file": "../src/start.S", "arguments": ["cc", "-c", "../src/start.S"]},
        {"directory": str(build), "file": "x.c", "arguments": ["python3", "gen.py", "x.c"]},
    ]  # fmt: skip


def test_compile_commands_of_a_real_build_layout(tmp_path: Path) -> None:
    (tmp_path / "compile_commands.json").write_text(json.dumps(_autotools_tree(tmp_path)))
    jobs = read_compile_commands(tmp_path / "compile_commands.json")
    util = jobs[0]
    assert isinstance(util, CompileJob) and util.source == tmp_path / "src" / "lib" / "util.c"
    assert util.options == ("-O2", "-I../src/include", "-fPIC", "-DPIC")  # libtool and gcc are not options
    main = jobs[2]
    assert isinstance(main, CompileJob) and main.options == ("-Os", "-I../src/include", "-DHAVE_CONFIG_H")
    assert isinstance(jobs[5], Unusable) and "not a C or C++ source" in jobs[5].reason
    assert isinstance(jobs[6], Unusable) and "no C/C++ compiler" in jobs[6].reason


def test_build_skips_and_reports_failures_and_resumes(tmp_path: Path, toolchain) -> None:
    (tmp_path / "compile_commands.json").write_text(json.dumps(_autotools_tree(tmp_path)))
    out = tmp_path / "corpus"
    build = build_from_compile_commands(tmp_path / "compile_commands.json", out, toolchain, jobs=2)
    assert sorted(build.corpus.modules) == ["lib/util", "main", "shape"]  # readable names below src/
    assert set(build.failed) == {str(tmp_path / "src" / n) for n in ("broken.c", "start.S")} | {
        str(tmp_path / "build" / "x.c")
    }
    assert "error:" in build.failed[str(tmp_path / "src" / "broken.c")]
    assert build.duplicates == {str(tmp_path / "src/lib/util.c"): str(tmp_path / "src/lib/util.c")}
    report = json.loads((out / "build_report.json").read_text())
    assert report["modules"] == 3 and set(report["failed"]) == set(build.failed)
    for benchmark in build.corpus:
        assert benchmark.bitcode.read_bytes()[:4] == b"BC\xc0\xde"
    # An interrupted build resumes: modules already built are kept, not compiled again.
    stamp = (out / "main.bc").stat().st_mtime_ns
    again = build_from_compile_commands(tmp_path / "compile_commands.json", out, toolchain, jobs=2)
    assert sorted(again.corpus.modules) == sorted(build.corpus.modules)
    assert (out / "main.bc").stat().st_mtime_ns == stamp


def test_build_with_nothing_compiled_says_so(tmp_path: Path, toolchain) -> None:
    (tmp_path / "bad.c").write_text("nope(\n")
    database = [{"directory": str(tmp_path), "file": "bad.c", "arguments": ["cc", "-c", "bad.c"]}]
    (tmp_path / "compile_commands.json").write_text(json.dumps(database))
    with pytest.raises(CorpusError, match="no entry .* compiled"):
        build_from_compile_commands(tmp_path / "compile_commands.json", tmp_path / "corpus", toolchain)
    assert "bad.c" in (tmp_path / "corpus" / "build_report.json").read_text()


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
