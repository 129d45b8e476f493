"""The fidelity study's out-of-program calibration of perf_model's cache term (benchmarks/reward_fidelity.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
_SPEC = importlib.util.spec_from_file_location("reward_fidelity", ROOT / "benchmarks" / "reward_fidelity.py")
assert _SPEC is not None and _SPEC.loader is not None
fidelity = importlib.util.module_from_spec(_SPEC)
sys.modules["reward_fidelity"] = fidelity
_SPEC.loader.exec_module(fidelity)

STALL_SHARE = 0.25  # the machine's true share of the stall cycles (1 / MLP): what the fit must find
CYCLE_S = 1e-9


def _program(name: str, terms: list[tuple[float, float]], stall_share: float = STALL_SHARE) -> Any:
    """A program whose variants run exactly throughput + `stall_share` × stall cycles."""
    seconds = {f"v{k}": CYCLE_S * (t + stall_share * m) for k, (t, m) in enumerate(terms)}
    parts = [{"throughput_cycles": t, "stream_cycles": 0.0, "fault_cycles": 0.0, "stall_cycles": m} for t, m in terms]
    variants = [fidelity.Variant(f"v{k}", SimpleNamespace(extra={"perf_model": p}), 1.0) for k, p in enumerate(parts)]
    timing = SimpleNamespace(seconds=seconds.__getitem__)
    return fidelity.ProgramResult(name, False, variants, timing, 0.0, [])


def test_each_program_is_costed_with_the_weight_fitted_on_the_others() -> None:
    # program a's own runtimes say MLP 1: its prediction must not have seen them
    odd_one = _program("a", [(1e6, 0.0), (1e6, 1e4), (2e6, 5e3)], stall_share=1.0)
    results = [odd_one, _program("b", [(3e6, 2e4), (3e6, 0.0)]), _program("c", [(5e5, 1e4), (6e5, 1e3)])]
    assert fidelity.fit_out_of_program(results) == {}
    for v in odd_one.variants:
        parts = v.module.extra["perf_model"]
        expected = parts["throughput_cycles"] + STALL_SHARE * parts["stall_cycles"]
        assert v.costs["perf_model_fitted"] == pytest.approx(expected, rel=1e-6)
    assert all("perf_model_fitted" in v.costs for r in results for v in r.variants)


def test_a_program_with_no_other_program_to_fit_on_is_reported() -> None:
    results = [_program("alone", [(1e6, 0.0), (1e6, 1e4)])]
    assert list(fidelity.fit_out_of_program(results)) == ["perf_model_fitted (alone)"]
    assert all("perf_model_fitted" not in v.costs for v in results[0].variants)


def _timed(name: str, true_seconds: list[float], noise: float, rounds: int = 40) -> Any:
    """A program whose variants were timed `rounds` times with multiplicative noise of up to `noise`."""
    import zlib

    import numpy as np

    from mlgo_env.timing import Timing

    rng = np.random.default_rng(zlib.crc32(name.encode()))
    runs = np.array(true_seconds)[:, None] * (1 + noise * rng.random((len(true_seconds), rounds)))
    labels = tuple(f"v{k}" for k in range(len(true_seconds)))
    timing = Timing(labels, runs, runs, 0, "cpu", 0.1, 0.95, 1.0, "budget")
    return fidelity.ProgramResult(name, False, [], timing, 0.0, [])


def test_the_measurement_against_itself_tells_apart_only_what_differs_beyond_its_noise() -> None:
    apart = [_timed(f"p{k}", [1.0, 1.2 + k / 10, 1.5 + k / 8, 0.8 - k / 20, 2.0 + k / 3], 0.01) for k in range(3)]
    assert fidelity.split_half_tau(apart) > 0.9
    tied = [_timed(f"q{k}", [1.0, 1.001, 0.999, 1.002, 1.0], 0.3) for k in range(3)]
    assert fidelity.split_half_tau(tied) < 0.6
