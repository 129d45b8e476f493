"""Which measured figures are kept, re-measured or rejected (constructed passes, no timing), the
checks of what the CPU can run, and the CPU a measured CSV records."""

from __future__ import annotations

import csv
import logging
import math

import pytest

import mlgo_env.blocks.measure as measure
from mlgo_env.blocks.measure import (
    IssueBound,
    Judge,
    MeasuredWriter,
    Measurement,
    PassResult,
    Rejection,
    measure_blocks,
    missing_extension,
)
from mlgo_env.machine import MICROARCHITECTURES, CpuInfo, CpuMismatch
from mlgo_env.x86 import decode

MOV_EDI = "bf01000000"  # mov edi, 1
MOV_EDI_INSNS = decode(bytes.fromhex(MOV_EDI)) or []
SIX_WIDE = IssueBound("six-wide", 6)


def passes(*cycles: float, status: str = "ok") -> list[PassResult]:
    return [PassResult(i, status, c, 0.8, 0, 200) for i, c in enumerate(cycles)]


def cpu_info(flags: str, allowed: tuple[int, ...] = (0, 1)) -> CpuInfo:
    return CpuInfo("AuthenticAMD", "test CPU", 23, 1, 2, "testcpu", frozenset(flags.split()), (), allowed)


def test_agreeing_estimates_are_kept():
    result = Judge(SIX_WIDE).verdict(MOV_EDI, MOV_EDI_INSNS, passes(30.0, 30.6, 31.0, 30.2))
    assert isinstance(result, Measurement)
    assert (result.est_a, result.est_b, result.throughput) == (30.0, 30.2, 30.0)


def test_disagreeing_estimates_are_doubted_with_both_in_the_reason():
    result = Judge(SIX_WIDE).verdict(MOV_EDI, MOV_EDI_INSNS, passes(134.0, 205.0, 150.0, 210.0))
    assert result == Rejection(MOV_EDI, "unstable: estimates 134 and 205 differ by 53%", remeasure=True)


def test_disagreement_bound_is_inclusive_and_configurable():
    agreeing = passes(100.0, 110.0)
    assert isinstance(Judge(SIX_WIDE, 0.10).verdict(MOV_EDI, MOV_EDI_INSNS, agreeing), Measurement)
    assert isinstance(Judge(SIX_WIDE, 0.09).verdict(MOV_EDI, MOV_EDI_INSNS, agreeing), Rejection)
    with pytest.raises(ValueError, match="max_disagreement"):
        Judge(SIX_WIDE, -0.1)


@pytest.mark.parametrize("width", [1, 4, 6, 8])
@pytest.mark.parametrize("figure", [0.1, 5.0, 12.4, 12.5, 16.6, 16.7, 25.0, 100.0, 250.0])
def test_a_figure_below_the_issue_width_bound_is_never_kept(width, figure):
    result = Judge(IssueBound("w", width), max_disagreement=math.inf).verdict(
        MOV_EDI, MOV_EDI_INSNS, passes(figure, figure * 1.01)
    )
    floor = 100.0 / width
    if figure < floor:
        assert isinstance(result, Rejection) and result.remeasure, result
        assert result.reason.startswith(f"below the issue-width bound: {figure:.3g} cycles per 100 iterations")
    else:
        assert isinstance(result, Measurement) and result.throughput == figure


def test_nops_do_not_count_towards_the_bound():
    # some cores fuse a nop with the instruction before it: the bound must not count it
    instructions = decode(bytes.fromhex("90" + "0f1f4000" + "4801d8")) or []
    assert SIX_WIDE.cycles(instructions) == pytest.approx(100 / 6)


def test_bound_comes_from_the_table_or_a_conservative_width(caplog):
    for mcpu, arch in MICROARCHITECTURES.items():
        assert IssueBound.for_cpu(mcpu) == IssueBound(mcpu, arch.issue_width)
    with caplog.at_level(logging.WARNING, logger="mlgo_env.blocks.measure"):
        bound = IssueBound.for_cpu("futurecpu9")
    assert not bound.in_table
    assert bound.width == max(a.issue_width for a in MICROARCHITECTURES.values())
    assert "futurecpu9 is not in mlgo_env.machine's table" in caplog.text


def test_a_hypervisors_cpu_model_gets_the_conservative_bound(caplog):
    # QEMU's EPYC model says Zen 1 (6-wide) on any AMD silicon, Zen 5 (8-wide) included
    with caplog.at_level(logging.WARNING, logger="mlgo_env.blocks.measure"):
        bound = IssueBound.for_cpu("znver1", virtual=True)
    assert bound.in_table and bound.virtual
    assert bound.width == max(a.issue_width for a in MICROARCHITECTURES.values())
    assert "znver1 is the CPU model a hypervisor presents" in caplog.text


def test_unstable_pass_is_doubted_and_harness_faults_are_final():
    unstable = Judge(SIX_WIDE).verdict(MOV_EDI, MOV_EDI_INSNS, passes(30.0) + passes(0.0, status="unstable"))
    assert isinstance(unstable, Rejection) and unstable.remeasure
    assert unstable.reason.startswith("unstable: ")
    fault = Judge(SIX_WIDE).verdict(MOV_EDI, MOV_EDI_INSNS, passes(0.0, status="fault"))
    assert fault == Rejection(MOV_EDI, "fault")


def test_one_pass_gives_no_two_estimates():
    with pytest.raises(ValueError, match="no two independent estimates"):
        Judge(SIX_WIDE).verdict(MOV_EDI, MOV_EDI_INSNS, passes(30.0))


class ScriptedHarness:
    """Stands in for the harness: pass k gives each block the k-th figure of its script."""

    def __init__(self, scripts: dict[str, list[float]]) -> None:
        self.scripts = scripts
        self.calls: list[tuple[list[str], int | None]] = []

    def run_pass(self, blocks, cpu=None):
        k = len(self.calls)
        self.calls.append(([h for _, h in blocks], cpu))
        for index, hex_code in blocks:
            yield PassResult(index, "ok", self.scripts[hex_code][k], 0.8, 0, 200)


def test_doubtful_blocks_are_remeasured_with_more_passes_then_judged_afresh():
    steady, settles, stays_low = "4801d8", "480fafc3", MOV_EDI
    scripts = {
        steady: [100.0, 100.5],
        # 134 vs 205 in the first two passes; the four re-measured passes agree
        settles: [134.0, 205.0, 300.0, 301.0, 299.0, 302.0],
        # below a 6-wide CPU's bound of 16.7 every time
        stays_low: [0.2, 0.2, 0.1, 0.1, 0.1, 0.1],
    }
    harness = ScriptedHarness(scripts)
    results = {
        r.hex: r
        for r in measure_blocks(list(scripts), passes=2, workers=1, judge=Judge(SIX_WIDE), harness=harness)  # type: ignore[arg-type]
    }
    assert [blocks for blocks, _ in harness.calls] == [list(scripts)] * 2 + [[settles, stays_low]] * 4
    assert isinstance(results[steady], Measurement)
    kept = results[settles]
    assert isinstance(kept, Measurement) and (kept.est_a, kept.est_b) == (299.0, 301.0)
    low = results[stays_low]
    assert isinstance(low, Rejection) and low.reason.startswith("below the issue-width bound: 0.1 cycles")


def test_workers_are_pinned_to_distinct_allowed_cpus(monkeypatch, caplog):
    monkeypatch.setattr(measure, "host", lambda: cpu_info("avx rdtscp", allowed=(3, 5)))
    harness = ScriptedHarness({h: [100.0] * 6 for h in ("4801d8", "480fafc3", "4801d9")})
    with caplog.at_level(logging.WARNING, logger="mlgo_env.blocks.measure"):
        measure_blocks(list(harness.scripts), passes=2, workers=4, chunk_size=1, judge=Judge(SIX_WIDE), harness=harness)  # type: ignore[arg-type]
    assert {cpu for _, cpu in harness.calls} <= {3, 5}
    assert "4 workers but only 2 usable CPUs (3,5)" in caplog.text


def test_blocks_needing_an_extension_the_cpu_lacks_are_rejected(monkeypatch):
    ymm, xmm, zmm = "c5fc58c1", "0f58c1", "62f17c4858c1"  # vaddps ymm; addps xmm; vaddps zmm
    no_avx = cpu_info("sse sse2 rdtscp")
    assert missing_extension(decode(bytes.fromhex(ymm)) or [], no_avx) == (
        "needs AVX, which this CPU (testcpu) lacks: vaddps ymm0, ymm0, ymm1"
    )
    assert missing_extension(decode(bytes.fromhex(xmm)) or [], no_avx) is None
    assert missing_extension(decode(bytes.fromhex("c5f877")) or [], no_avx) is not None  # vzeroupper
    avx2 = cpu_info("avx avx2 fma")
    assert missing_extension(decode(bytes.fromhex(ymm)) or [], avx2) is None
    assert "needs AVX-512" in (missing_extension(decode(bytes.fromhex(zmm)) or [], avx2) or "")
    monkeypatch.setattr(measure, "host", lambda: no_avx)
    harness = ScriptedHarness({xmm: [300.0, 300.0]})
    results = measure_blocks([ymm, xmm], passes=2, workers=1, judge=Judge(SIX_WIDE), harness=harness)  # type: ignore[arg-type]
    assert results[0] == Rejection(ymm, "needs AVX, which this CPU (testcpu) lacks: vaddps ymm0, ymm0, ymm1")
    assert isinstance(results[1], Measurement)


def test_measured_csv_records_the_cpu_and_refuses_another(tmp_path):
    path = tmp_path / "measured.csv"
    row = Measurement("4801d8", 100.0, 100.0, 100.2, 200, 0)
    MeasuredWriter(path, {"4801d8": ("app", 2.0)}, cpu="znver1").write([row, Rejection("0f0b", "illegal")])
    with path.open() as f:
        (written,) = list(csv.DictReader(f))
    assert list(written)[:2] == ["hex", "throughput"] and written["cpu"] == "znver1"
    writer = MeasuredWriter(path, {}, cpu="znver1")  # same CPU: resumes
    assert writer.done() == {"4801d8", "0f0b"}
    with pytest.raises(CpuMismatch, match=r"measured on znver1, but this CPU is skylake"):
        MeasuredWriter(path, {}, cpu="skylake")


def test_old_csv_without_an_mcpu_is_refused(tmp_path):
    path = tmp_path / "old.csv"
    path.write_text(
        "hex,throughput,source,freq,backend,cpu,noise,est_a,est_b\n4801d8,100,a,1,tsc-harness,AMD EPYC,0,100,100\n"
    )
    with pytest.raises(CpuMismatch, match="measured on AMD EPYC, but this CPU is znver1"):
        MeasuredWriter(path, {}, cpu="znver1")
