"""agents/search.py over real clang-19: the search never loses, replays reproduce it, labels clone."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from agents import behavioral_cloning, search
from agents.lib import labels
from mlgo_env.compilation import CompileOptions
from mlgo_env.corpus import default_corpus
from mlgo_env.errors import BenchmarkNotFound, InvalidPolicy


def test_search_finds_no_larger_text_and_its_decisions_replay(tmp_path: Path) -> None:
    benchmark = default_corpus().benchmark("knapsack")
    options = CompileOptions(opt_level="-Oz")
    result = search.search_program(benchmark, options, start_policy=None, passes=1)
    assert result.start_text <= result.plain_text, "LLVM's own decisions (= the plain compile) are a start"
    assert result.best_text <= result.start_text
    assert result.compiles > 2, "the two starts, then flips"
    replayed = labels.record_labels(benchmark, result.actions, options)
    assert replayed.text_size == result.best_text, "the labels are the decisions that gave the best size"
    assert "inlining_default" not in replayed.observations, "labels hold what a policy sees"
    labels.save_labels(tmp_path / "labels.npz", [result.benchmark], [result.actions], [replayed.observations])
    observations, actions = labels.load_labels(tmp_path / "labels.npz")
    np.testing.assert_array_equal(actions, result.actions)
    assert observations.keys() == replayed.observations.keys()


def test_search_command_writes_json_and_labels_that_clone(service_address: str, tmp_path: Path) -> None:
    args = search.Args(
        benchmarks=("knapsack",), passes=1, workers=1, json=str(tmp_path / "s.json"), output=str(tmp_path / "l.npz")
    )
    (result,) = search.main(args)
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["per_program"]["knapsack"]["best_text"] == result.best_text
    assert summary["geomean_reduction_vs_default"] == result.reduction
    bc_args = behavioral_cloning.Args(
        teacher=str(tmp_path / "l.npz"), hidden=(8,), epochs=20, service=service_address,
        runs_dir=str(tmp_path), output=str(tmp_path / "bc.pt"),
    )  # fmt: skip
    behavioral_cloning.main(bc_args)
    meta = json.loads((tmp_path / "bc.json").read_text())
    assert meta["decisions"] == len(result.actions) and meta["accuracy"] > 0.5
    bc_args.more_labels = (str(tmp_path / "l.npz"),)  # e.g. a real corpus's labels beside the bundled ones
    behavioral_cloning.main(bc_args)
    assert json.loads((tmp_path / "bc.json").read_text())["decisions"] == 2 * len(result.actions)


def test_a_killed_search_resumes_from_its_journal(tmp_path: Path) -> None:
    def run(resume: bool) -> dict:
        args = search.Args(
            benchmarks=("knapsack", "binsearch"), passes=1, workers=1, json=str(tmp_path / "s.json"),
            output=str(tmp_path / "l.npz"), resume=resume,
        )  # fmt: skip
        search.main(args)
        return json.loads((tmp_path / "s.json").read_text())

    first = run(resume=False)
    journal = tmp_path / "s.jsonl"
    header, *rows = journal.read_text().splitlines()
    assert len(rows) == 2, "one line per finished program"
    kept = json.loads(rows[0])
    kept["record"]["result"]["seconds"] = 12345.0  # marks the row that must come from the journal
    journal.write_text(f"{header}\n{json.dumps(kept)}\n")  # killed after the first program
    resumed = run(resume=True)
    assert resumed["per_program"][kept["benchmark"]]["seconds"] == 12345.0, "not searched again"
    for name, row in first["per_program"].items():
        assert resumed["per_program"][name]["best_text"] == row["best_text"]
    assert len(journal.read_text().splitlines()) == 3, "the missing program was searched and journaled"
    _, actions = labels.load_labels(tmp_path / "l.npz")
    assert len(actions) == sum(len(row["actions"]) for row in first["per_program"].values())
    with pytest.raises(ValueError, match="other settings"):
        search.main(search.Args(benchmarks=("knapsack",), passes=2, json=str(tmp_path / "s.json"), resume=True))


def test_programs_over_max_decisions_are_left_out_and_said(tmp_path: Path) -> None:
    args = search.Args(benchmarks=("knapsack",), passes=1, workers=1, max_decisions=1, json=str(tmp_path / "s.json"))
    assert search.main(args) == []
    summary = json.loads((tmp_path / "s.json").read_text())
    assert "decisions > --max-decisions 1" in summary["skipped"]["knapsack"]
    assert summary["failed"] == {} and summary["per_program"] == {}


def test_bad_input_fails_before_any_compile(tmp_path: Path) -> None:
    with pytest.raises(BenchmarkNotFound):
        search.main(search.Args(benchmarks=("no_such_program",)))
    (tmp_path / "junk.onnx").write_bytes(b"not an onnx model")
    with pytest.raises(InvalidPolicy):
        search.main(search.Args(benchmarks=("knapsack",), start_policy=str(tmp_path / "junk.onnx")))


def test_a_program_whose_search_fails_is_reported_not_fatal(tmp_path: Path) -> None:
    eviction_policy = Path(__file__).parents[2] / "agents" / "policies" / "eviction_perf.onnx"
    args = search.Args(
        benchmarks=("knapsack",), start_policy=str(eviction_policy), passes=1, workers=1, json=str(tmp_path / "s.json")
    )
    assert search.main(args) == []  # an eviction policy cannot answer inlining decisions
    summary = json.loads((tmp_path / "s.json").read_text())
    assert "knapsack" in summary["failed"] and summary["per_program"] == {}
    assert summary["geomean_reduction_vs_default"] is None
