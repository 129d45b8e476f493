"""csmith differential testing with real csmith, clang-19 and random decisions."""

from __future__ import annotations

import pytest

from mlgo_env.csmith import run_differential


def test_random_decisions_keep_csmith_checksums() -> None:
    report = run_differential(3, first_seed=11, tasks=("inlining", "regalloc_eviction"))
    counted = report.to_json()["counts"]
    assert counted["different"] == 0, report.mismatches
    assert counted["same"] >= 4, report.cases
    assert sum(c.decisions for c in report.cases) > 100


@pytest.mark.slow
def test_csmith_many_programs() -> None:
    report = run_differential(100, first_seed=1000)
    assert report.mismatches == []


def test_csmith_leaves_no_files_behind(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    run_differential(1, first_seed=5, tasks=("inlining",))
    assert list(tmp_path.iterdir()) == []
