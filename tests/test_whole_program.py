"""Whole-program corpora: a real ``clang -g`` build, its DWARF, llvm-link and opt, compiled by the env."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from mlgo_env.compilation import CompileOptions, compile_baseline
from mlgo_env.corpus import Corpus, build_from_compile_commands
from mlgo_env.errors import CorpusError
from mlgo_env.toolchain import Toolchain
from mlgo_env.whole_program import executables, link_programs, linked_sources

SOURCES = {
    "lib/util.c": "int helper(int x) { return 2 * x + 1; }\nint unused(int x) { return x - 1; }\n",
    "app/main.c": "int helper(int);\nint main(int argc, char **argv) { (void)argv; return helper(argc); }\n",
    "app/other.c": "int helper(int);\nint generated(void);\nint main(void) { return helper(generated()); }\n",
    "app/generated.c": "int generated(void) { return 7; }\n",  # built, but not in the compilation database
    "tool/cli.c": "int helper(int);\nint main(void) { return helper(5); }\n",  # its own folder mapped to '.'
}


def _build(root: Path, toolchain: Toolchain) -> Path:
    """Compile and link the project as Debian does (-g, the tree mapped to '.'); return its compile_commands.json."""
    entries = []
    for relative, text in SOURCES.items():
        source = root / relative
        source.parent.mkdir(parents=True, exist_ok=True)
        source.write_text(text)
        mapped = root / "tool" if relative.startswith("tool/") else root  # as lua maps TREE/src
        arguments = [str(toolchain.clang), "-g", "-O2", f"-ffile-prefix-map={mapped}=.", "-c", source.name]
        subprocess.run([*arguments, "-o", source.with_suffix(".o").name], cwd=source.parent, check=True)
        if relative != "app/generated.c":
            entries.append({"directory": str(source.parent), "arguments": arguments, "file": source.name})
    objects = {str(Path(name).with_suffix(".o")): str(root / Path(name).with_suffix(".o")) for name in SOURCES}

    def link(output: str, *inputs: str, shared: bool = False) -> None:
        flags = ["-shared"] if shared else []
        subprocess.run([str(toolchain.clang), *flags, *inputs, "-o", str(root / output)], check=True)

    link("app/prog", objects["app/main.o"], objects["lib/util.o"])
    link("app/other", objects["app/other.o"], objects["lib/util.o"], objects["app/generated.o"])
    link("tool/cli", objects["tool/cli.o"], objects["lib/util.o"])
    shutil.copy(root / "app/prog", root / "app/prog-copy")  # installed twice: one program
    link("lib/libutil.so", objects["lib/util.o"], shared=True)  # a library, not a program
    (root / "app/script").write_text("#!/bin/sh\necho hi\n")
    (root / "app/script").chmod(0o755)
    database = root / "compile_commands.json"
    database.write_text(json.dumps(entries))
    return database


def test_each_executable_becomes_one_internalized_module(tmp_path: Path, toolchain: Toolchain) -> None:
    root = tmp_path / "project"
    database = _build(root, toolchain)
    assert sorted(p.name for p in executables(root)) == ["cli", "other", "prog", "prog-copy"]
    assert sorted(linked_sources(root / "app/prog", root)) == [root / "app/main.c", root / "lib/util.c"]

    build_from_compile_commands(database, tmp_path / "corpus", toolchain)
    report = link_programs(tmp_path / "corpus", [root], tmp_path / "whole", toolchain)
    programs = {Path(p.executable).name: p for p in report.programs}
    assert sorted(programs) == ["cli", "other", "prog"] and list(report.duplicates) == [str(root / "app/prog-copy")]
    assert programs["cli"].modules == ["lib/util", "tool/cli"] and programs["cli"].missing == []
    assert programs["prog"].modules == ["app/main", "lib/util"] and programs["prog"].missing == []
    assert programs["other"].missing == [str(root / "app/generated.c")], "linked from the rest, and said"
    assert json.loads((tmp_path / "whole" / "link_report.json").read_text()) == report.to_json()

    corpus = Corpus.load(tmp_path / "whole")
    prog = corpus.benchmark(programs["prog"].module)
    text = subprocess.run(
        [str(toolchain.tool("llvm-dis")), str(prog.bitcode), "-o", "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "define internal" in text and "@helper" in text, "every symbol but main is internal"
    assert "@unused" not in text, "what nothing uses is dropped"
    assert "define dso_local i32 @main" in text or "define i32 @main" in text

    # Whole-program: at -Oz the inliner sees helper's only caller, inlines it and deletes it.
    compiled = compile_baseline(toolchain, prog, CompileOptions(opt_level="-Oz"), tmp_path)
    with open(compiled.object_path, "rb") as handle:
        symbols = {s.name for s in ELFFile(handle).get_section_by_name(".symtab").iter_symbols()}
    assert "main" in symbols and "helper" not in symbols


def test_an_unreadable_executable_is_a_clear_error(tmp_path: Path) -> None:
    truncated = tmp_path / "truncated"
    truncated.write_bytes(b"\x7fELF\x02\x01\x01" + bytes(9) + b"garbage")
    with pytest.raises(CorpusError, match="unreadable ELF or DWARF"):
        linked_sources(truncated, tmp_path)


def test_a_corpus_that_does_not_record_sources_is_refused(tmp_path: Path, toolchain: Toolchain) -> None:
    root = tmp_path / "project"
    build_from_compile_commands(_build(root, toolchain), tmp_path / "corpus", toolchain)
    report = tmp_path / "corpus" / "build_report.json"
    report.write_text(json.dumps({k: v for k, v in json.loads(report.read_text()).items() if k != "sources"}))
    with pytest.raises(CorpusError, match="does not record each module's source"):
        link_programs(tmp_path / "corpus", [root], tmp_path / "whole", toolchain)
