"""`corpus validate` tells a compiler crash apart from a compile error and a wrong output (real clang)."""

from __future__ import annotations

import shutil
from pathlib import Path

from mlgo_env.corpus import Corpus
from mlgo_env.validation import validate_corpus


def _with_options(tmp_path: Path, corpus: Corpus, module: str, *options: str) -> Corpus:
    """A copy of `corpus` whose `module` records `options` too."""
    copy = tmp_path / "corpus"
    shutil.copytree(corpus.root, copy)
    command = copy / f"{module}.cmd"
    command.write_text("\0".join([*command.read_text().split("\0"), *options]))
    return Corpus.load(copy)


def test_a_compiler_crash_is_reported_as_a_crash(tmp_path: Path, mini_corpus: Corpus) -> None:
    # LLVM accepts the option, then dies with "error in backend" and a stack dump: a real crash.
    corpus = _with_options(tmp_path, mini_corpus, "sha256", "-mllvm", "-stop-after=no-such-pass")
    results = {r.benchmark.rsplit("/", 1)[1]: r for r in validate_corpus(corpus)}
    crash = results["sha256"]
    assert crash.status == "crashed" and not crash.ok
    assert "no-such-pass" in crash.message and "PLEASE submit a bug report" in crash.message
    assert results["huffman"].ok


def test_a_compile_error_is_not_a_crash(tmp_path: Path, mini_corpus: Corpus) -> None:
    corpus = _with_options(tmp_path, mini_corpus, "sha256", "-fno-such-option")
    results = {r.benchmark.rsplit("/", 1)[1]: r for r in validate_corpus(corpus)}
    assert results["sha256"].status == "compile error", results["sha256"]
    assert "unknown argument" in results["sha256"].message
