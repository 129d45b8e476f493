"""agents.evaluate on a user's corpus built by `mlgo-env corpus build`: bad modules are rows, and a run resumes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SOURCES = {
    # Compiles to bitcode, then fails in the backend: a compile error the evaluation meets. First, so
    # the service's first module fails too (it must read the spaces from another).
    "badasm.c": 'int g(int x) { __asm__ volatile("bogus_mnemonic %0" : : "r"(x)); return x + 1; }\n'
    "int h(int x) { return g(x) * 2; }\n",
    "main.c": "static int sq(int x) { return x * x; }\n"
    "int add(int a, int b) { return sq(a) + b; }\n"
    "int twice(int a) { return add(a, a) + add(a, 1); }\n",
    "tables.c": 'const int table[4] = {1, 2, 3, 4};\nconst char name[] = "tables";\n',
    # Fails in the front end: corpus build leaves it out and reports it.
    "broken.c": "int f(void) { return undeclared_thing; }\n",
}


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    """A command of the project, with no running service in its environment (it must embed its own)."""
    env = {k: v for k, v in os.environ.items() if k != "MLGO_SERVICE"}
    return subprocess.run(command, capture_output=True, text=True, timeout=240, env=env, cwd=Path(__file__).parents[2])


def _evaluate(corpus: Path, output: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return _run(
        sys.executable, "-m", "agents.evaluate", "--corpus", str(corpus), "--skip-eviction",
        "--json", str(output), "--plot", "", *flags,
    )  # fmt: skip


@pytest.fixture(scope="module")
def user_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A corpus built by the command line from a compile_commands.json of four files."""
    source = tmp_path_factory.mktemp("project")
    for name, text in SOURCES.items():
        (source / name).write_text(text)
    entries = [
        {"directory": str(source), "file": name, "arguments": ["clang", "-O2", "-c", name, "-o", f"{name}.o"]}
        for name in SOURCES
    ]
    (source / "compile_commands.json").write_text(json.dumps(entries))
    corpus = tmp_path_factory.mktemp("corpus")
    mlgo_env_command = str(Path(sys.executable).parent / "mlgo-env")
    built = _run(mlgo_env_command, "corpus", "build", str(source / "compile_commands.json"), "-o", str(corpus))
    assert built.returncode == 0, built.stderr
    report = json.loads((corpus / "build_report.json").read_text())
    assert list(report["failed"]) == [str(source / "broken.c")]
    assert json.loads((corpus / "corpus_description.json").read_text())["modules"][0] == "badasm"
    return corpus


@pytest.fixture(scope="module")
def evaluated(user_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The JSON of one evaluation of the user's corpus (its journal beside it)."""
    output = tmp_path_factory.mktemp("evaluation") / "eval.json"
    result = _evaluate(user_corpus, output)
    assert result.returncode == 0, result.stderr[-3000:]
    return output


def test_evaluate_lists_bad_modules_with_their_cause(evaluated: Path) -> None:
    output = evaluated
    results = json.loads(output.read_text())
    inlining = results["inlining_size"]
    assert set(inlining["per_program"]) == {"main"}
    assert inlining["per_program"]["main"]["decisions"] > 0
    assert isinstance(inlining["geomean_reduction_vs_default"], float)
    assert inlining["default"].startswith("plain -Oz"), "the figure says which default it is"
    assert set(inlining["failed"]) == {"tables", "badasm"}
    assert "empty .text" in inlining["failed"]["tables"]
    assert "CompilerCrashed" in inlining["failed"]["badasm"]
    assert "invalid instruction mnemonic" in inlining["failed"]["badasm"], "the compiler's own message"
    assert results["failed"] == inlining["failed"]
    journal = [json.loads(line) for line in output.with_suffix(".jsonl").read_text().splitlines()]
    assert "settings" in journal[0]
    assert sorted(entry["benchmark"] for entry in journal[1:]) == ["badasm", "main", "tables"]


def test_a_killed_evaluation_resumes_from_its_journal(user_corpus: Path, evaluated: Path, tmp_path: Path) -> None:
    output, journal = tmp_path / "eval.json", tmp_path / "eval.jsonl"
    header, *entries = [json.loads(line) for line in evaluated.with_suffix(".jsonl").read_text().splitlines()]
    kept = [e for e in entries if e["benchmark"] != "tables"]  # killed while "tables" was compiling ...
    for entry in kept:
        if entry["benchmark"] == "main":  # ... and a mark that shows where a resumed row came from
            entry["record"]["decisions"] = 12345
    lines = [json.dumps(e) + "\n" for e in [header, *kept]]
    journal.write_text("".join(lines) + '{"part": "inlining_size", "benc')  # a line cut by the kill

    result = _evaluate(user_corpus, output, "--resume")
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads(output.read_text())["inlining_size"]
    assert results["per_program"]["main"]["decisions"] == 12345, "finished modules are not compiled again"
    assert "empty .text" in results["failed"]["tables"] and "badasm" in results["failed"]
    resumed = [json.loads(line) for line in journal.read_text().splitlines()[1:]]
    assert sorted(e["benchmark"] for e in resumed) == ["badasm", "main", "tables"], "the missing module was added"

    other = _evaluate(user_corpus, output, "--resume", "--seed", "7")
    assert other.returncode != 0 and "seed differ" in other.stderr, "a journal of other flags is not mixed in"


def test_a_timeout_is_a_failed_row_with_its_cause() -> None:
    from agents.evaluate import inlining_record

    timeout = {"benchmark": "slow", "reward": None, "error": "CompilerTimeout: the compiler did not exit within 1 s"}
    fine = {"reward": 0.1, "baseline_cost": 100, "text_size": 90, "decisions": 3}
    record = inlining_record({"policy": timeout, "ml_default": fine, "random": fine}, "-Oz")
    assert record == {"failed": "CompilerTimeout: the compiler did not exit within 1 s"}
    record = inlining_record({"policy": fine, "ml_default": fine, "random": timeout}, "-Oz")
    assert record["random_error"].startswith("CompilerTimeout") and record["policy_reduction_vs_ml_default"] == 0.0
