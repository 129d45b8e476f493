"""The mlgo-env command line, run as users run it."""

from __future__ import annotations

import subprocess
import sys


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mlgo_env.cli", *args], capture_output=True, text=True, timeout=300)


def test_help_lists_commands() -> None:
    result = _cli("--help")
    assert result.returncode == 0
    for command in ("serve", "doctor", "corpus", "csmith"):
        assert command in result.stdout


def test_doctor_reports_tools_and_counters() -> None:
    result = _cli("doctor")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "clang-19" in result.stdout and "found" in result.stdout
    assert "hardware performance counters" in result.stdout
    assert "load latency, cycles" in result.stdout and "L1 " in result.stdout
    from mlgo_env.blocks import features

    assert ("featuriser: native" in result.stdout) == features.NATIVE
    assert "mlir-cpu-runner-19" in result.stdout and "mlir-runner-22" in result.stdout  # renamed in LLVM 20


def test_transform_says_which_mlir_or_what_to_install() -> None:
    from mlgo_env.transform.tools import installed_mlir_versions

    result = _cli("transform", "check", "--llvm-version", "19")
    assert result.returncode == 0, result.stderr
    assert "using MLIR 19." in result.stderr and "schedules" in result.stdout
    result = _cli("transform", "check", "--llvm-version", "22")
    if 22 in installed_mlir_versions():
        assert result.returncode == 0 and "using MLIR 22." in result.stderr
    else:
        assert result.returncode == 1
        assert "MLIR 22 is not installed" in result.stderr and "mlir-22-tools" in result.stderr


def test_corpus_list_json(mini_corpus) -> None:
    import json

    result = _cli("corpus", "list", str(mini_corpus.root), "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert {r["uri"] for r in rows} == {f"benchmark://mini-v0/{n}" for n in ("huffman", "nbody", "sha256")}
