"""The timing harness on this CPU: its known answers from `mlgo_env.machine`, relations every x86-64
obeys, doubtful figures re-measured then rejected, and the blocks it rejects with a reason."""

from __future__ import annotations

import dataclasses
import logging
import math
import re
import time

import pytest

from mlgo_env.blocks.measure import Harness, IssueBound, Judge, Measurement, Rejection, measure_blocks
from mlgo_env.machine import MICROARCHITECTURES, Microarchitecture, host, microarchitecture
from mlgo_env.x86 import decode

CPU = host()
# The designs this CPU may be: its table entry; under a hypervisor also every design of its vendor,
# since a virtual CPU model (QEMU's EPYC is a Zen 1) need not be the silicon: CI once measured
# 2-cycle vaddps (as on Zen 5) on a CPU that said znver1.
DESIGNS = CPU.candidate_designs()
BOUND = IssueBound.for_cpu(CPU.mcpu, virtual=CPU.virtual)

# Encodings of the blocks whose latency mlgo_env.machine's table gives, and the CPU flag each needs.
LATENCY_BLOCKS = {
    "add rax, rbx": ("4801d8", None),
    "imul rax, rbx": ("480fafc3", None),
    "vaddps ymm0, ymm0, ymm1": ("c5fc58c1", "avx"),
    "vfmadd231ps ymm0, ymm1, ymm2": ("c4e275b8c2", "fma"),
}
ADD = LATENCY_BLOCKS["add rax, rbx"][0]
# add rcx, rax; add rdx, rcx; add rsi, rdx; add rax, rsi: one loop-carried chain of 4 adds
DEPENDENT_CHAIN = "4801c14801ca4801d64801f0"
CHAIN_LENGTH = 4
_DESTINATIONS = (0, 1, 2, 5, 6, 7, *range(8, 16))  # every general register but rbx (the source) and rsp
TOLERANCE = 0.10


def independent_adds(n: int) -> str:
    """``add REG, rbx`` for `n` distinct registers: `n` independent chains of latency 1."""
    return "".join(f"{0x48 | dest >> 3:02x}01{0xD8 | dest & 7:02x}" for dest in _DESTINATIONS[:n])


FOUR_ADDS = independent_adds(CHAIN_LENGTH)


def _skip_reason(design: Microarchitecture | None, name: str) -> str | None:
    if design is None:
        return f"mlgo_env.machine has no microarchitecture entry for this CPU ({CPU.mcpu}): no known answers"
    if name == "independent adds":
        return None
    if name not in design.latency:
        return f"mlgo_env.machine gives no latency of {name} on {design.name}"
    flag = LATENCY_BLOCKS[name][1]
    if flag and flag not in CPU.flags:
        return f"this CPU ({CPU.mcpu}) lacks {flag}"
    return None


def _known_answer(design: Microarchitecture, name: str) -> tuple[str, float]:
    """(hex, expected core cycles per 100 iterations) of a known answer of `design`.

    Independent adds: 2 x int_alus of them, which take 2 cycles; exactly int_alus of them (one
    cycle, every ALU busy every cycle) is a case some cores do not schedule perfectly (Zen 1: 116).
    """
    if name == "independent adds":
        n = 2 * design.int_alus
        return independent_adds(n), 100.0 * math.ceil(n / design.int_alus)
    return LATENCY_BLOCKS[name][0], 100.0 * design.latency[name]


KNOWN = [*LATENCY_BLOCKS, "independent adds"]


def _fits(design: Microarchitecture, name: str, results: dict[str, Measurement | Rejection]) -> bool:
    """Whether the known answer `name` of `design` was measured within tolerance."""
    hex_code, expected = _known_answer(design, name)
    result = results[hex_code]
    return isinstance(result, Measurement) and result.throughput == pytest.approx(expected, rel=TOLERANCE)


def _runnable(name: str) -> list[Microarchitecture]:
    """The candidate designs that give a known answer `name` this CPU can run."""
    return [d for d in DESIGNS if _skip_reason(d, name) is None]


def _answers_hold(results: dict[str, Measurement | Rejection]) -> bool:
    basics = all(isinstance(results[h], Measurement) for h in (ADD, DEPENDENT_CHAIN, FOUR_ADDS))
    return basics and all(any(_fits(d, name, results) for d in _runnable(name)) for name in KNOWN if _runnable(name))


@pytest.fixture(scope="module")
def measured() -> dict[str, Measurement | Rejection]:
    # Many short passes: the minimum over passes escapes the other hyperthread's bursts. A burst of
    # load from another tenant can still skew a whole run, so a run with a known answer that fits
    # no candidate design is repeated, seconds apart (up to five runs); the last run is judged.
    # Every figure judged has passed measure_blocks' checks (agreeing estimates, not below the
    # issue-width bound).
    answers = {_known_answer(d, name)[0] for name in KNOWN for d in _runnable(name)}
    hexes = list({*answers, ADD, DEPENDENT_CHAIN, FOUR_ADDS})
    for attempt in range(5):
        time.sleep(2.0 * bool(attempt))
        results = {r.hex: r for r in measure_blocks(hexes, passes=12, workers=1, chunk_size=len(hexes))}
        if _answers_hold(results):
            break
    return results


def test_every_latency_in_the_table_has_a_block():
    assert {name for arch in MICROARCHITECTURES.values() for name in arch.latency} <= set(LATENCY_BLOCKS)


@pytest.mark.parametrize("name", KNOWN)
def test_known_answers_in_core_cycles(measured, name):
    """Each known answer is that of this CPU's design; under a hypervisor, whose CPU model need not
    be the silicon, that of some design of its vendor (a harness off by a factor matches none)."""
    designs = _runnable(name)
    if not designs:
        pytest.skip(_skip_reason(microarchitecture(CPU.mcpu), name) or f"no candidate design runs {name}")
    fitting = [d.name for d in designs if _fits(d, name, measured)]
    if fitting and fitting[0] != CPU.mcpu:
        logging.getLogger(__name__).warning(
            "%s: this CPU says %s (a hypervisor's model); measured as on %s", name, CPU.mcpu, fitting
        )
    expected = {d.name: _known_answer(d, name)[1] for d in designs}
    assert fitting, f"{name}: measured {measured[_known_answer(designs[0], name)[0]]}, expected one of {expected}"


def test_dependent_adds_cost_n_times_one(measured):
    one, chain = measured[ADD], measured[DEPENDENT_CHAIN]
    assert isinstance(one, Measurement) and isinstance(chain, Measurement), (one, chain)
    assert chain.throughput == pytest.approx(CHAIN_LENGTH * one.throughput, rel=TOLERANCE)


def test_independent_adds_between_issue_width_and_dependent_chain(measured):
    independent, chain = measured[FOUR_ADDS], measured[DEPENDENT_CHAIN]
    assert isinstance(independent, Measurement) and isinstance(chain, Measurement), (independent, chain)
    assert BOUND.cycles(decode(bytes.fromhex(FOUR_ADDS)) or []) <= independent.throughput
    assert independent.throughput <= chain.throughput * (1 + TOLERANCE)


def test_no_kept_figure_below_the_issue_width_bound(measured):
    for hex_code, result in measured.items():
        if isinstance(result, Measurement):
            assert result.throughput >= BOUND.cycles(decode(bytes.fromhex(hex_code)) or []), result


def test_two_independent_estimates(measured):
    chain = measured[ADD]
    assert isinstance(chain, Measurement), chain
    assert chain.est_a > 0 and chain.est_b > 0
    assert chain.throughput == min(chain.est_a, chain.est_b)
    assert chain.noise <= Judge(BOUND).max_disagreement


class CountingHarness(Harness):
    """The real harness, counting the passes it runs; `odd_skew` scales the figures of odd passes
    (another tenant's load on every other pass)."""

    def __init__(self, odd_skew: float = 1.0) -> None:
        super().__init__()
        self.passes = 0
        self.odd_skew = odd_skew

    def run_pass(self, blocks, cpu=None):
        skew = self.odd_skew if self.passes % 2 else 1.0
        self.passes += 1
        for result in super().run_pass(blocks, cpu):
            yield dataclasses.replace(result, cycles=result.cycles * skew)


def test_disagreeing_estimates_are_remeasured_then_rejected():
    # Odd passes read 3x slow: the estimates disagree, the block is measured again (twice the
    # passes) and still disagrees, so it is rejected with both estimates in the reason. (At 1.6x, an
    # even pass that another tenant slowed by 64% once made the estimates agree: CI of session 7.)
    harness = CountingHarness(odd_skew=3.0)
    (result,) = measure_blocks([FOUR_ADDS], passes=2, workers=1, judge=Judge(BOUND), harness=harness)
    assert isinstance(result, Rejection)
    assert re.fullmatch(r"unstable: estimates \S+ and \S+ differ by \d+%", result.reason), result.reason
    assert harness.passes == 2 + 4


def test_figure_below_the_issue_width_bound_is_remeasured_then_rejected():
    # Four independent adds take less than 4 cycles on any x86-64: below a pretended 1-wide CPU's bound.
    harness = CountingHarness()
    judge = Judge(IssueBound("pretend-1-wide", 1), max_disagreement=math.inf)
    (result,) = measure_blocks([FOUR_ADDS], passes=2, workers=1, judge=judge, harness=harness)
    assert isinstance(result, Rejection)
    assert result.reason.startswith("below the issue-width bound:") and "at least 400" in result.reason, result.reason
    assert harness.passes == 2 + 4


def test_fallbacks_without_avx_and_rdtscp():
    # xmm-only register set-up and lfence; rdtsc: what a CPU without AVX or RDTSCP gets.
    harness = Harness(avoid=("avx", "avx512", "rdtscp"))
    results = measure_blocks(
        [ADD, "0f58c1"], passes=4, workers=1, judge=Judge(BOUND, math.inf), harness=harness
    )  # addps
    assert all(isinstance(r, Measurement) for r in results), results


def test_unknown_feature_to_avoid():
    with pytest.raises(ValueError, match="unknown harness features"):
        Harness(avoid=("sse9",))


def test_failed_pin_is_reported(caplog):
    not_allowed = max(CPU.allowed_cpus) + 1024
    with caplog.at_level(logging.WARNING, logger="mlgo_env.blocks.measure"):
        results = list(Harness().run_pass([(0, ADD)], cpu=not_allowed))
    assert [r.status for r in results] == ["ok"]
    assert f"could not pin the harness to CPU {not_allowed}" in caplog.text


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
    results = measure_blocks(["488b00", "5350", "488b442408"], passes=2, workers=1, judge=Judge(BOUND, math.inf))
    assert all(isinstance(r, Measurement) for r in results), results


def test_harness_reports_signals_it_catches():
    # Bypasses the static checks: the harness itself must survive an illegal instruction.
    results = list(Harness().run_pass([(0, "0f0b"), (1, "4801d8")]))
    assert [r.status for r in results] == ["illegal", "ok"]
