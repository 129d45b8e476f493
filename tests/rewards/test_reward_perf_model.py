"""The ``perf_model`` reward: callgrind profiles, the caches simulated, mapping onto variants, LLC misses, fitting."""

from __future__ import annotations

import dataclasses
import io
import logging
import subprocess
from pathlib import Path

import numpy as np
import pytest

import rewards
from mlgo_env import load_latency, machine
from mlgo_env.artifacts import CompiledModule, ProgramInfo
from mlgo_env.bbaddrmap import read_blocks
from mlgo_env.blocks.predict import NoModelForCpu
from mlgo_env.callgrind import (
    CacheConfig,
    LineCost,
    ProfileError,
    memory_bytes,
    parse_callgrind,
    profile_program,
    valgrind_geometry,
)
from mlgo_env.dwarf import InlineSites, SourceLines
from mlgo_env.load_latency import LevelCost
from mlgo_env.machine import CacheLevel
from mlgo_env.x86 import decode
from rewards.perf_model import (
    FALLBACK_LATENCY,
    MissCosts,
    PerfModelReward,
    PerfSample,
    fit_perf_model,
    hot_blocks,
    locate,
    map_profile,
    miss_latency,
)

# One statement per line, so the profile's lines separate the loops.
STREAM = """\
#include <stdio.h>
#include <stdlib.h>

static long touch(const long *a, long n, int reps) {
  long s = 0;
  for (int r = 0; r < reps; r++)
    for (long i = 0; i < n; i += 8)
      s += a[i];
  return s;
}

int main(int argc, char **argv) {
  long n = atol(argv[1]) / sizeof(long);
  long *a = malloc(n * sizeof(long));
  for (long i = 0; i < n; i++)
    a[i] = i;
  printf("%ld\\n", touch(a, n, 2));
  free(a);
  return 0;
}
"""

DEBUG = ("-O2", "-gdwarf-4")

# A profile in callgrind's format, written by hand: compressed names, relative positions, a call.
PROFILE = """\
# callgrind format
version: 1
positions: instr line
events: Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw
summary: 1

ob=(1) /bin/prog
fl=(1) /src/k.c
fn=(1) kernel
0x1000 10 5 5 0 0 1 0 0 1
+4 * 5 5 0 0 2 0 0 2
+3 +1 100 100 0 0 50 0 0 40
cfn=(2) helper
calls=100 0x2000 20
* * 700 0 0 0 0 0 0 999
+2 * 100
fi=(2) /src/k.h
+1 3 100 0 100 0 0 9 0 0 7
fe=(1)
+1 12 5
fn=(2)
0x2000 20 600
fi=(2)
+1 3 50
totals: 1
"""


def _build(compile_c, toolchain, tmp_path: Path, name: str, flags=DEBUG) -> tuple[Path, Path]:
    obj = compile_c(STREAM, name=name, flags=flags)
    program = tmp_path / f"{name}.bin"
    subprocess.run([str(toolchain.clang), str(obj), "-o", str(program)], check=True)
    return obj, program


def _module(obj: Path, program: Path | None, toolchain, tmp_path: Path, size: int) -> CompiledModule:
    return CompiledModule(
        benchmark="stream",
        object_path=obj,
        toolchain=toolchain,
        workdir=tmp_path,
        executable_path=program,
        program=ProgramInfo(name=f"stream-{size}", run_args=(str(size),)),
    )


def test_parse_callgrind_format() -> None:
    data = parse_callgrind(io.StringIO(PROFILE))
    assert data.calls == {("/bin/prog", "helper", ("k.c", 11)): 700}  # inclusive cost, at the calling line
    lines = data.lines()
    assert lines[("k.c", 10)] == LineCost(instructions=10, executions=5, misses=3, d1_misses=3)
    assert lines[("k.c", 11)] == LineCost(instructions=200, executions=100, misses=40, d1_misses=50)  # call skipped
    assert lines[("k.h", 3)] == LineCost(instructions=150, executions=150, misses=7, d1_misses=9)  # two functions
    assert lines[("k.c", 12)] == LineCost(instructions=5, executions=5, misses=0)
    assert lines[("k.c", 20)] == LineCost(instructions=600, executions=600, misses=0)
    assert set(lines) == {("k.c", 10), ("k.c", 11), ("k.h", 3), ("k.c", 12), ("k.c", 20)}


# A 26-core Intel server's L3 (35.75 MiB, 11-way: 53,248 sets), which valgrind refuses as it is.
SERVER_L3 = CacheLevel(3, "Unified", 37486592, 11, 64)


def _caches(ll: CacheLevel) -> CacheConfig:
    return CacheConfig(CacheLevel(1, "Instruction", 32 << 10, 8, 64), CacheLevel(1, "Data", 48 << 10, 12, 64), ll)


def test_host_caches_come_from_the_machine() -> None:
    cache = CacheConfig.of_host()
    assert cache == CacheConfig.from_caches(machine.host().caches)
    assert cache.ll == machine.host().last_level_cache and cache.d1.size <= cache.ll.size
    assert CacheConfig.parse(cache.spec()) == cache
    with pytest.raises(ProfileError, match="L1 instruction"):
        CacheConfig.from_caches([c for c in machine.host().caches if c.kind != "Instruction"])
    with pytest.raises(ValueError, match="written as"):
        CacheConfig.parse("LL=8388608,16,64")


def test_valgrind_geometry_keeps_the_line_and_the_size_nearest() -> None:
    assert valgrind_geometry(SERVER_L3) == CacheLevel(3, "Unified", 36 << 20, 9, 64)  # 65,536 sets
    # 12,288 sets: 16,384 sets of 12 ways and 8,192 of 24 both keep 12 MiB; 12 ways is nearer 16.
    assert valgrind_geometry(CacheLevel(3, "Unified", 12 << 20, 16, 64)) == CacheLevel(3, "Unified", 12 << 20, 12, 64)
    for valid in (CacheLevel(1, "Data", 48 << 10, 12, 64), CacheLevel(3, "Unified", 8 << 20, 16, 64)):
        assert valgrind_geometry(valid) is valid
    for bad in (CacheLevel(3, "Unified", 3 << 20, 12, 48), CacheLevel(1, "Data", 64, 1, 64)):
        with pytest.raises(ValueError, match="valgrind simulates|cannot simulate"):
            valgrind_geometry(bad)
    assert _caches(SERVER_L3).simulated().valgrind_args() == [
        "--I1=32768,8,64", "--D1=49152,12,64", f"--LL={36 << 20},9,64"
    ]  # fmt: skip


def test_a_geometry_valgrind_refuses_is_simulated_rounded(
    compile_c, toolchain, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    obj, program = _build(compile_c, toolchain, tmp_path, "server")
    profile = profile_program(program, args=["16384"], cache=_caches(SERVER_L3))
    assert sum(cost.instructions for cost in profile.lines.values()) > 0

    with caplog.at_level(logging.INFO, logger="rewards.perf_model"):
        reward = PerfModelReward(mcpu="skylake", cache=_caches(SERVER_L3))
    assert f"instead of the CPU's {_caches(SERVER_L3).spec()}" in caplog.text
    module = _module(obj, program, toolchain, tmp_path, 16384)
    reward.cost(module)
    parts = module.extra["perf_model"]
    assert isinstance(parts, dict)
    assert parts["caches"] == f"I1=32768,8,64 D1=49152,12,64 L3={36 << 20},9,64"
    assert parts["mcpu"] == "skylake" and parts["latency"] == machine.microarchitecture("skylake").llc_miss_cycles  # type: ignore[union-attr]


def test_the_target_is_resolved_once_and_travels(monkeypatch: pytest.MonkeyPatch) -> None:
    here = rewards.get("perf_model")
    assert here.mcpu == machine.host_mcpu() and here.platform_dependent  # type: ignore[attr-defined]
    pinned = rewards.pinned_options("perf_model", {"frequencies": "static"})
    costs = here.miss_costs  # type: ignore[attr-defined]  # measured on this machine
    told = CacheConfig.of_host()  # the last level as this machine holds working sets in it
    assert here.cache == dataclasses.replace(  # type: ignore[attr-defined]
        told, ll=dataclasses.replace(told.ll, size=load_latency.measure().effective_last_level(told.ll.size))
    )
    host = {"mcpu": machine.host_mcpu(), "cache": here.cache.spec(), "costs": costs.spec()}  # type: ignore[attr-defined]
    assert pinned == {"frequencies": "static", **host}
    rewards.check_wire_options("perf_model", pinned)  # they cross the wire as the service's options
    monkeypatch.setattr(machine, "host_mcpu", lambda toolchain=None: "sapphirerapids")
    with monkeypatch.context() as patched:
        patched.setattr(load_latency, "measure", lambda *a, **k: pytest.fail("measured again on the worker"))
        elsewhere = rewards.get("perf_model", **pinned)  # as a Ray worker (or the service) on another CPU builds it
    assert elsewhere.mcpu == here.mcpu and not elsewhere.platform_dependent  # type: ignore[attr-defined]
    assert elsewhere.simulated_cache == here.simulated_cache  # type: ignore[attr-defined]
    assert elsewhere.miss_costs.spec() == costs.spec()  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="miss costs"):
        rewards.get("perf_model", costs="mid=1 last=2 memory=3")
    assert rewards.get("perf_model").mcpu == "sapphirerapids"  # type: ignore[attr-defined]


def test_miss_costs_travel_as_text_with_or_without_page_faults() -> None:
    curve = ((64 << 20, LevelCost(4.0, 5.0, 2.0)), (1 << 31, LevelCost(6.0, 7.0, 3.0)))
    costs = MissCosts(LevelCost(1.0, 2.0, 0.5), LevelCost(3.0, 4.0, 1.5), LevelCost(5.0, 6.0, 2.5), 7.5, curve)
    assert MissCosts.parse(costs.spec()) == costs
    assert costs.for_footprint(1 << 20).memory == curve[0][1] and costs.for_footprint(1 << 40).memory == curve[1][1]
    assert 4.0 < costs.for_footprint(256 << 20).memory.latency < 6.0  # between the working sets measured
    with pytest.raises(ValueError, match="miss costs"):
        MissCosts.parse("mid=1/2 last=3/4 memory=5/6 curve=12:,34")
    older = MissCosts(LevelCost(1.0, 2.0), LevelCost(3.0, 4.0), LevelCost(5.0, 6.0))  # no overlap measured, no faults
    assert MissCosts.parse("mid=1/2 last=3/4 memory=5/6") == older


def test_latency_is_the_target_cpus() -> None:
    for mcpu in ("znver1", "skylake"):
        expected = machine.microarchitecture(mcpu).llc_miss_cycles  # type: ignore[union-attr]
        assert PerfModelReward(mcpu=mcpu, cache=_caches(SERVER_L3)).latency == expected
    assert PerfModelReward(mcpu="skylake", latency=123.0, cache=_caches(SERVER_L3)).latency == 123.0
    with pytest.warns(UserWarning, match="no last-level-cache miss latency is known for 'bdver2'"):
        assert miss_latency("bdver2") == FALLBACK_LATENCY


def test_source_lines_with_and_without_function_sections(compile_c) -> None:
    for flags in (DEBUG, (*DEBUG, "-ffunction-sections")):
        obj = compile_c(STREAM, name="lines" + str(len(flags)), flags=flags)
        table = SourceLines(obj)
        blocks = read_blocks(obj)
        first = next(b for b in blocks if b.function == "main")
        assert table.line_at(first.section_index, first.offset) == ("lines" + str(len(flags)) + ".c", 12)
        located = [table.line_at(b.section_index, b.offset) for b in blocks]
        assert all(line is None or 1 <= line[1] <= 20 for line in located)


def _overflowed_by(size: int, reward: PerfModelReward) -> PerfModelReward:
    """`reward`, or, where a stream of `size` bytes does not overflow this machine's last level twice
    (480 MiB on a Granite Rapids guest: streaming past that under valgrind takes minutes), the same
    reward on this machine's caches with the last level cut to a quarter of `size`, at its costs."""
    ll = reward.cache.ll
    if 2 * ll.size <= size:
        return reward
    cut = dataclasses.replace(reward.cache, ll=dataclasses.replace(ll, size=size // 4))
    return PerfModelReward(mcpu=reward.mcpu, cache=cut, costs=reward.miss_costs)


def test_streaming_64_mib_misses_the_llc_far_more_than_16_kib(compile_c, toolchain, tmp_path: Path) -> None:
    reward = _overflowed_by(64 << 20, rewards.get("perf_model", mcpu="znver4"))  # type: ignore[arg-type]
    parts = {}
    for size in (16 << 10, 64 << 20):
        obj, program = _build(compile_c, toolchain, tmp_path, f"stream{size}")
        module = _module(obj, program, toolchain, tmp_path, size)
        cost = reward.cost(module)
        parts[size] = module.extra["perf_model"]
        assert cost == pytest.approx(parts[size]["cycles"])  # type: ignore[index]
    small, large = parts[16 << 10], parts[64 << 20]
    assert small["llc_misses"] < 1000  # type: ignore[index]  # 256 compulsory misses of the array
    assert large["llc_misses"] > 2e6  # type: ignore[index]  # 1 Mi lines written, read twice
    # this machine's own caches: each level's misses cost what this machine's loads cost there
    measured = load_latency.measure()
    # a miss to memory costs what this machine's loads cost in a working set of the program's footprint
    beyond = [c.latency - measured.at(1).latency for _, c in measured.beyond(reward.cache.ll.size)]  # type: ignore[attr-defined]
    assert large["mcpu"] == "znver4" and min(beyond) - 1e-6 <= large["latency"] <= max(beyond) + 1e-6  # type: ignore[index,operator]
    if reward.cache.mid is not None:  # simulated apart: every level misses at least what the next does
        assert large["d1_misses"] >= large["mid_misses"] >= large["llc_misses"]  # type: ignore[index,operator]
    else:
        assert large["mid_misses"] == 0 and large["d1_misses"] >= large["llc_misses"]  # type: ignore[index,operator]
    # each miss costs between a prefetched line of memory and a dependent load from memory
    costs = reward.miss_costs  # type: ignore[attr-defined]
    spent = large["stall_cycles"] + large["stream_cycles"]  # type: ignore[index,operator]
    assert large["llc_misses"] * costs.memory.stream <= spent <= large["d1_misses"] * costs.memory.latency  # type: ignore[index,operator]
    assert large["stall_cycles"] > 0 and large["stream_cycles"] > 0  # type: ignore[index,operator]  # sparse reads, dense writes
    assert spent > 100 * (small["stall_cycles"] + small["stream_cycles"])  # type: ignore[index,operator]
    # random misses as this machine overlaps independent loads: no dearer than each at its full latency
    assert 0 < large["scattered_cycles"] <= large["stall_cycles"]  # type: ignore[index,operator]
    assert large["miss_cycles"] == pytest.approx(large["scattered_cycles"] + large["stream_cycles"])  # type: ignore[index,operator]
    given = PerfModelReward(mcpu=reward.mcpu, cache=reward.cache, costs=costs, mlp=4.0)  # an MLP instead
    assert given.breakdown(module).miss_cycles == pytest.approx(large["stall_cycles"] / 4 + large["stream_cycles"])  # type: ignore[index,operator]
    # the array's pages are touched first once each: faults counted natively, at this machine's cost
    assert large["page_faults"] > small["page_faults"]  # type: ignore[index,operator]
    assert large["fault_cycles"] == pytest.approx(large["page_faults"] * costs.page_fault)  # type: ignore[index,operator]
    assert costs.page_fault == measured.page_fault > 0
    # 2 sweeps of n/8 loads: the hot loop's count comes from the profile, not LLVM's guess.
    assert large["throughput_cycles"] > 1000 * small["throughput_cycles"] / 2  # type: ignore[index]


def test_learned_block_costs_share_the_profile_and_differ_only_in_block_cycles(
    compile_c, toolchain, tmp_path: Path
) -> None:
    size = 1 << 20
    obj, program = _build(compile_c, toolchain, tmp_path, "stream")
    by_mca, by_learned = (
        _module(obj, program, toolchain, tmp_path, size),
        _module(obj, program, toolchain, tmp_path, size),
    )
    rewards.get("perf_model", mcpu="znver4").cost(by_mca)
    rewards.get("perf_model", mcpu="znver4", blocks="learned").cost(by_learned)
    mca, learned = by_mca.extra["perf_model"], by_learned.extra["perf_model"]
    assert learned["llc_misses"] == mca["llc_misses"]  # type: ignore[index]  # the same profile and mapping
    assert learned["throughput_cycles"] != mca["throughput_cycles"]  # type: ignore[index]
    # the hot loop's cycles agree within what the two block models disagree on (tens of percent)
    assert learned["throughput_cycles"] == pytest.approx(mca["throughput_cycles"], rel=0.5)  # type: ignore[index]
    with pytest.raises(NoModelForCpu):
        rewards.get("perf_model", mcpu="skylake", blocks="learned")
    with pytest.raises(ValueError, match="blocks must be"):
        rewards.get("perf_model", mcpu="znver4", blocks="osaca")


def test_profile_is_reused_for_variants(compile_c, toolchain, tmp_path: Path, private_cache: Path) -> None:
    size = 1 << 20
    reward = rewards.get("perf_model", mcpu="znver4")
    obj, program = _build(compile_c, toolchain, tmp_path, "base")
    base_module = _module(obj, program, toolchain, tmp_path, size)
    baseline = reward.cost(base_module)
    profiles = list((private_cache / "profiles").iterdir())
    assert len(profiles) == 1

    variant_obj = compile_c(STREAM, name="base", output_name="variant", flags=("-O1", "-gdwarf-4", "-fno-inline"))
    variant = _module(variant_obj, None, toolchain, tmp_path, size)  # not even linked: never run
    cost = reward.cost(variant)
    assert cost > 0 and cost != baseline
    # The variants sweep the same working set (one with its loop out of line, one vectorised and
    # unrolled: other counts, other access widths): the profile's misses (16,384 lines of the array).
    wide_obj = compile_c(STREAM, name="base", output_name="wide", flags=("-O3", "-gdwarf-4", "-march=x86-64-v3"))
    wide = _module(wide_obj, None, toolchain, tmp_path, size)
    reward.cost(wide)
    for other in (variant, wide):
        assert other.extra["perf_model"]["llc_misses"] == pytest.approx(  # type: ignore[index]
            base_module.extra["perf_model"]["llc_misses"]  # type: ignore[index]
        )

    fresh = rewards.get("perf_model", mcpu="znver4")  # a new process would find the profile on disk
    assert fresh.cost(_module(obj, program, toolchain, tmp_path, size)) == pytest.approx(baseline)
    assert list((private_cache / "profiles").iterdir()) == profiles

    static = rewards.get("perf_model", mcpu="znver4", frequencies="static")
    module = _module(obj, program, toolchain, tmp_path, size)
    static.cost(module)
    assert module.extra["perf_model"]["throughput_cycles"] < 1000  # type: ignore[index]  # one call each


def test_hot_blocks_leave_out_what_never_runs_and_the_cold_tail() -> None:
    sizes = np.array([4.0, 4.0, 1.0, 2.0])  # instructions per block
    hot, cold = hot_blocks(sizes, np.array([0.0, 1000.0, 1.0, 5.0]), coverage=0.99)
    assert hot.tolist() == [1] and cold.tolist() == [2, 3]  # 4,000 of 4,011 estimated cycles: 99.7%
    hot, cold = hot_blocks(sizes, np.array([0.0, 1000.0, 1.0, 5.0]), coverage=1.0)
    assert hot.tolist() == [1, 2, 3] and cold.tolist() == []
    assert [a.tolist() for a in hot_blocks(sizes, np.zeros(4), coverage=1.0)] == [[], []]


def test_modelling_the_hot_blocks_only_moves_the_prediction_within_the_tail(
    compile_c, toolchain, tmp_path: Path
) -> None:
    size = 1 << 20
    obj, program = _build(compile_c, toolchain, tmp_path, "stream")
    full, hot = _module(obj, program, toolchain, tmp_path, size), _module(obj, program, toolchain, tmp_path, size)
    rewards.get("perf_model", mcpu="znver4", coverage=1.0).cost(full)
    rewards.get("perf_model", mcpu="znver4").cost(hot)
    every, hottest = full.extra["perf_model"], hot.extra["perf_model"]
    ran = len(read_blocks(obj, toolchain))
    assert hottest["blocks_modelled"] < every["blocks_modelled"] <= ran  # type: ignore[index,operator]
    assert every["blocks_estimated"] == 0 and hottest["blocks_estimated"] > 0  # type: ignore[index,operator]
    assert hottest["throughput_cycles"] == pytest.approx(every["throughput_cycles"], rel=0.005)  # type: ignore[index]
    with pytest.raises(ValueError, match="coverage"):
        rewards.get("perf_model", mcpu="znver4", coverage=0.1)


def test_fit_recovers_the_mlp() -> None:
    truth_mlp, hz = 6.0, 3.5e9
    samples = [
        PerfSample(t, stall, (t + stall / truth_mlp) / hz)
        for t, stall in [(1e9, 3e8), (2e9, 1.5e8), (1.5e9, 2.4e9), (3e9, 6e8), (5e8, 1.2e9)]
    ]
    assert fit_perf_model(samples) == pytest.approx(truth_mlp, rel=1e-6)
    assert fit_perf_model([PerfSample(1e9, 0, 1.0), PerfSample(2e9, 0, 2.0)]) == float("inf")
    with pytest.raises(ValueError):
        fit_perf_model(samples[:1])


# `work` is called 100 times over n/400 elements from line 16 and once over n from line 17: the
# call on line 17 does 4x the work of all those on line 16. INLINE decides whether it is inlined.
TWO_SITES = """\
#include <stdio.h>
#include <stdlib.h>

static INLINE long work(const long *a, long n) {
  long s = 0;
  for (long i = 0; i < n; i++)
    s = s * 3 + a[i];
  return s;
}

int main(int argc, char **argv) {
  long n = atol(argv[1]);
  long *a = calloc(n, sizeof(long));
  long total = 0;
  for (int r = 0; r < 100; r++)
    total += work(a + r, n / 400);
  total += work(a, n);
  printf("%ld\\n", total);
  free(a);
  return 0;
}
"""
PLAIN = (*DEBUG, "-fno-vectorize", "-fno-unroll-loops")


def test_counts_follow_inlining_to_each_call_site(compile_c, toolchain, tmp_path: Path) -> None:
    n = 400_000
    called = compile_c(TWO_SITES, name="sites", flags=(*PLAIN, "-DINLINE=__attribute__((noinline))"))
    program = tmp_path / "sites.bin"
    subprocess.run([str(toolchain.clang), str(called), "-o", str(program)], check=True)
    profile = profile_program(program, args=[str(n)])
    assert profile.site_work[("work", ("sites.c", 17))] > 3 * profile.site_work[("work", ("sites.c", 16))]

    inlined = compile_c(
        TWO_SITES, name="sites", output_name="inlined", flags=(*PLAIN, "-DINLINE=__attribute__((always_inline)) inline")
    )
    blocks = read_blocks(inlined)
    sites = InlineSites(inlined)
    mapped = map_profile(blocks, locate(blocks, SourceLines(inlined), sites), profile)
    loop = {16: 0.0, 17: 0.0}  # the hottest block of each inlined copy: its loop
    for block, count in zip(blocks, mapped.counts, strict=True):
        chain = sites.chain_at(block.function, block.offset)
        if chain and chain[-1].callee == "work":
            site = chain[-1].call_site[1]
            loop[site] = max(loop[site], count)
    # Split evenly between the copies, both loops would get 5n/8 iterations.
    assert loop[17] == pytest.approx(n, rel=0.1) and loop[16] == pytest.approx(n / 4, rel=0.1)


def test_memory_bytes_leave_the_stack_out(assemble) -> None:
    def moved(text: str) -> int:
        (insn,) = decode(assemble(text))  # type: ignore[misc]
        return memory_bytes(insn)

    assert moved("mov rax, qword ptr [rdi + 8*rcx]") == 8
    assert moved("vmovups ymm0, ymmword ptr [rsi]") == 32
    assert moved("add dword ptr [rbx], eax") == 4
    assert moved("mov rax, qword ptr [rbp + 16]") == 8  # rbp as a general register
    for stack in ("mov rax, qword ptr [rsp + 8]", "mov qword ptr [rbp - 8], rax", "lea rax, [rdi + 8]", "add rax, rbx"):
        assert moved(stack) == 0
