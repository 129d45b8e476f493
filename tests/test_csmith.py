"""csmith differential testing with real csmith, clang-19 and random decisions."""

from __future__ import annotations

import pytest

from mlgo_env.csmith import DifferentialReport, run_differential


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


# A recorded option LLVM accepts but then dies on ("fatal error: error in backend", a stack dump,
# exit 74): a real, deterministic LLVM crash, after the inliner ran and before register allocation.
CRASH_OPTIONS = ("-mllvm", "-stop-after=no-such-pass")


@pytest.mark.parametrize(("task", "decided"), [("inlining", True), ("regalloc_eviction", False)])
def test_a_compiler_crash_is_reported_as_a_crash(tmp_path, toolchain, task: str, decided: bool) -> None:
    import shutil
    from dataclasses import replace

    from mlgo_env.csmith import _benchmark, _check

    benchmark = _benchmark(shutil.which("csmith"), 11, toolchain, tmp_path)
    assert benchmark is not None
    crashing = replace(benchmark, options=benchmark.options + CRASH_OPTIONS)
    case = _check(crashing, task, 7, toolchain, tmp_path)
    assert case.status == "crashed", case
    assert "no-such-pass" in case.detail and "Stack dump" in case.detail
    assert (case.decisions > 0) == decided and len(case.actions) == case.decisions
    assert "#0 0x" not in case.detail  # the message stops before the stack frames

    report = DifferentialReport([case])
    assert report.crashes == [case] and report.mismatches == []
    assert report.to_json()["counts"] == {"same": 0, "different": 0, "crashed": 1, "timeout": 0, "skipped": 0}
