"""llvm-mca block costs: its Zen 4 model's known answers, terminator stripping, the cache, the fallback."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from mlgo_env import machine
from mlgo_env.mca import McaBlockModel, McaCache, McaError, block_cycles, iterations_for

# Core cycles per iteration on Zen 4 (shared/notes/measuring-blocks.md: measured, and AMD's figures).
KNOWN_ZNVER4 = {
    "add rax, rbx": 1.0,
    "imul rax, rbx": 3.0,
    "add rax, rbx\nadd rcx, rbx\nadd rdx, rbx\nadd rsi, rbx": 1.0,
    "\n".join(f"add {r}, rbx" for r in ("rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10")): 2.0,
    "vaddps ymm0, ymm0, ymm1": 3.0,
    "vfmadd231ps ymm0, ymm1, ymm2": 4.0,
}


@pytest.fixture
def model(tmp_path: Path) -> McaBlockModel:
    return McaBlockModel(mcpu="znver4", cache=McaCache(tmp_path / "mca.sqlite"))


def test_known_zen4_answers(model: McaBlockModel, assemble) -> None:
    blocks = [assemble(text) for text in KNOWN_ZNVER4]
    cycles = model.cycles(blocks)
    for predicted, expected in zip(cycles, KNOWN_ZNVER4.values(), strict=True):
        assert predicted == pytest.approx(expected, rel=0.02)
    assert model.stats.invocations == 1  # every block had <= 10 instructions: one batch
    assert model.stats.analysed == len(blocks)


def test_terminators_are_stripped(model: McaBlockModel, assemble) -> None:
    body = assemble("imul rax, rbx")
    with_branch = assemble("1:\nimul rax, rbx\ntest rax, rax\njne 1b\njmp 1b")
    branch_only = assemble("1:\njmp 1b")
    returning = assemble("imul rax, rbx\nret")
    cycles = model.cycles([body, with_branch, branch_only, returning])
    assert cycles[0] == pytest.approx(3.0, rel=0.02)
    assert cycles[1] == pytest.approx(3.0, rel=0.1)  # the test is kept, the jumps are not
    assert cycles[2] == 0.0
    assert cycles[3] == pytest.approx(cycles[0])


def test_cache_is_hit_in_memory_and_on_disk(tmp_path: Path, assemble) -> None:
    blocks = [assemble(text) for text in KNOWN_ZNVER4]
    first = McaBlockModel(mcpu="znver4", cache=McaCache(tmp_path / "mca.sqlite"))
    cycles = first.cycles(blocks + blocks[:2])  # repeated blocks are analysed once
    assert first.stats.invocations == 1 and first.stats.analysed == len(blocks)
    assert first.cycles(blocks) == cycles[: len(blocks)]
    assert first.stats.invocations == 1 and first.stats.memory_hits == len(blocks)

    second = McaBlockModel(mcpu="znver4", cache=McaCache(tmp_path / "mca.sqlite"))
    assert second.cycles(blocks) == cycles[: len(blocks)]
    assert second.stats.invocations == 0 and second.stats.disk_hits == len(blocks)

    other_cpu = McaBlockModel(mcpu="skylake", cache=McaCache(tmp_path / "mca.sqlite"))
    other_cpu.cycles(blocks[:1])
    assert other_cpu.stats.invocations == 1  # the CPU is part of the key
    with sqlite3.connect(tmp_path / "mca.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM blocks").fetchone()[0] == len(blocks) + 1


def test_fallback_isolates_the_block_llvm_mca_rejects(tmp_path: Path, assemble) -> None:
    model = McaBlockModel(mcpu="skylake", cache=McaCache(tmp_path / "mca.sqlite"))
    good = [assemble(text) for text in KNOWN_ZNVER4 if "ymm" not in text]
    avx512 = assemble("vpaddd zmm0, zmm1, zmm2\nvpaddd zmm3, zmm1, zmm2")  # Skylake client: no AVX-512
    costs = model.costs([*good, avx512])
    assert [cost.fallback for cost in costs] == [False] * len(good) + [True]
    assert costs[-1].cycles == 2.0  # one cycle per instruction
    assert costs[0].cycles == pytest.approx(1.0, rel=0.02)
    assert model.stats.fallbacks == 1
    model.costs([avx512])
    assert model.stats.fallbacks == 2  # counted per request, remembered in the cache
    assert model.stats.invocations >= 2  # the failed batch was bisected


def test_iterations_shrink_with_block_length() -> None:
    assert iterations_for(1) == 1000 and iterations_for(20) == 300 and iterations_for(500) == 100


def test_host_default_is_the_model_of_this_cpu(assemble) -> None:
    host = machine.host_mcpu()
    assert host != machine.UNKNOWN  # LLVM names this machine's CPU (znver1, skylake, ...)
    chains = [assemble("imul rax, rbx"), assemble("imul rax, rbx\n" * 4)]
    default = block_cycles(chains)
    assert McaBlockModel(cache=McaCache(None)).mcpu == host
    assert default == McaBlockModel(mcpu=host, cache=McaCache(None)).cycles(chains)
    one, four = default
    assert one >= 1.0  # whatever this CPU's multiply latency, a dependent chain costs it per instruction
    assert four == pytest.approx(4 * one, rel=0.05)


def test_a_host_llvm_cannot_name_needs_an_explicit_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("mlgo_env.mca.host_mcpu", lambda toolchain=None: machine.UNKNOWN)
    with pytest.raises(McaError, match="pass mcpu"):
        McaBlockModel(cache=McaCache(None))
    assert McaBlockModel(mcpu="skylake", cache=McaCache(None)).mcpu == "skylake"
