"""The timing harness against known Zen 4 answers (core cycles per 100 iterations) and its rejects."""

from __future__ import annotations

import pytest

from mlgo_env.blocks.measure import Harness, Measurement, Rejection, measure_blocks

# (Intel syntax, hex, expected cycles per 100 iterations) from shared/notes/measuring-blocks.md
KNOWN = [
    ("add rax, rbx", "4801d8", 100),
    ("imul rax, rbx", "480fafc3", 300),
    ("4 independent adds", "4801d84801d94801da4801de", 100),
    ("8 independent adds", "4801d84801d94801da4801de4801df4901d84901d94901da", 200),
    ("vaddps ymm0, ymm0, ymm1", "c5fc58c1", 300),
    ("vfmadd231ps ymm0, ymm1, ymm2", "c4e275b8c2", 400),
]
TOLERANCE = 0.10


def _all_within_tolerance(results: dict[str, Measurement | Rejection]) -> bool:
    return all(
        isinstance(results[h], Measurement) and results[h].throughput == pytest.approx(e, rel=TOLERANCE)  # type: ignore[union-attr]
        for _, h, e in KNOWN
    )


@pytest.fixture(scope="module")
def known_results() -> dict[str, Measurement | Rejection]:
    # Many short passes: the minimum over passes escapes the other hyperthread's bursts. A burst of
    # load from another tenant can still skew the add-chain calibration of a whole run, so a run
    # with an answer out of tolerance is repeated (up to three runs); the last run is judged.
    hexes = [h for _, h, _ in KNOWN]
    for _ in range(3):
        results = {r.hex: r for r in measure_blocks(hexes, passes=12, workers=1, chunk_size=len(hexes))}
        if _all_within_tolerance(results):
            break
    return results


@pytest.mark.parametrize(("name", "hex_code", "expected"), KNOWN, ids=[k[0] for k in KNOWN])
def test_known_answers_in_core_cycles(known_results, name, hex_code, expected):
    result = known_results[hex_code]
    assert isinstance(result, Measurement), result
    assert result.throughput == pytest.approx(expected, rel=TOLERANCE), name


def test_two_independent_estimates(known_results):
    chain = known_results["4801d8"]
    assert chain.est_a > 0 and chain.est_b > 0
    assert chain.throughput == min(chain.est_a, chain.est_b)


@pytest.mark.parametrize(
    ("hex_code", "reason"),
    [
        ("48f7f1", "divide"),  # div rcx
        ("0f0b", "unsupported instruction"),  # ud2
        ("0fa2", "unsupported instruction"),  # cpuid
        ("64488b042528000000", "segment"),  # mov rax, fs:[0x28]
        ("4801d874fe", "branch"),  # add; je
        ("ffff", "unsupported instruction"),  # does not decode
        # movabs rax, 0x8000000000000000; mov rbx, [rax]: non-canonical address, cannot be mapped
        ("48b800000000000000804c8b18", "fault"),
    ],
)
def test_rejects_with_reason(hex_code, reason):
    (result,) = measure_blocks([hex_code], passes=2, workers=1)
    assert isinstance(result, Rejection)
    assert result.reason == reason


def test_memory_blocks_get_their_pages_mapped():
    # mov rax, [rax]: a pointer chase through the mapped page; push/pop use the stack pointer
    results = measure_blocks(["488b00", "5350", "488b442408"], passes=2, workers=1)
    assert all(isinstance(r, Measurement) for r in results), results


def test_harness_reports_signals_it_catches():
    # Bypasses the static checks: the harness itself must survive an illegal instruction.
    results = list(Harness().run_pass([(0, "0f0b"), (1, "4801d8")]))
    assert [r.status for r in results] == ["illegal", "ok"]
