"""The ``mca`` reward: Σ block frequency × llvm-mca cycles over a compiled module."""

from __future__ import annotations

from pathlib import Path

import pytest

import rewards
from mlgo_env import machine
from mlgo_env.artifacts import Artifact, CompiledModule
from mlgo_env.bbaddrmap import read_blocks
from mlgo_env.mca import McaBlockModel, McaCache

KERNEL = """
double poly(const double *x, int n) {
  double s = 0;
  for (int i = 0; i < n; i++)
    s += ((x[i] * 3.0 + 2.0) * x[i] + 1.0) * x[i];
  return s;
}
"""


def _module(obj: Path, toolchain, tmp_path: Path) -> CompiledModule:
    return CompiledModule(
        benchmark="t",
        object_path=obj,
        toolchain=toolchain,
        workdir=tmp_path,
        artifacts=Artifact.OBJECT | Artifact.BB_ADDR_MAP,
    )


def test_mca_reward_is_frequency_weighted_block_cycles(compile_c, toolchain, tmp_path: Path) -> None:
    obj = compile_c(KERNEL)
    reward = rewards.get("mca", mcpu="znver4")
    assert reward.requires == Artifact.OBJECT | Artifact.BB_ADDR_MAP
    module = _module(obj, toolchain, tmp_path)
    cost = reward.cost(module)

    blocks = read_blocks(obj)
    cycles = McaBlockModel(mcpu="znver4", cache=McaCache(None)).cycles([b.code for b in blocks])
    assert cost == pytest.approx(sum(b.frequency * c for b, c in zip(blocks, cycles, strict=True)))
    assert module.extra["mca_mcpu"] == "znver4"
    assert module.extra["mca_blocks"] == len(blocks)
    assert module.extra["mca_fallback_blocks"] == 0
    hottest = max(range(len(blocks)), key=lambda i: blocks[i].frequency * cycles[i])
    assert blocks[hottest].frequency > 10  # the loop dominates the cost


def test_more_work_in_the_loop_costs_more(compile_c, toolchain, tmp_path: Path) -> None:
    light = compile_c(KERNEL, name="light", flags=("-O2", "-fno-unroll-loops"))
    heavy = compile_c(
        KERNEL.replace("* x[i];", "* x[i] / (x[i] + 4.0);"), name="heavy", flags=("-O2", "-fno-unroll-loops")
    )
    reward = rewards.get("mca", mcpu="znver4")
    assert reward.cost(_module(heavy, toolchain, tmp_path)) > 1.5 * reward.cost(_module(light, toolchain, tmp_path))


def test_the_target_defaults_to_this_host_resolved_once(
    compile_c, toolchain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = machine.host_mcpu()
    here = rewards.get("mca")
    assert here.mcpu == host and here.platform_dependent  # type: ignore[attr-defined]
    assert rewards.pinned_options("mca") == {"mcpu": host}
    assert rewards.pinned_options("size", {"all_sections": True}) == {"all_sections": True}  # nothing to pin
    monkeypatch.setattr(machine, "host_mcpu", lambda toolchain=None: "skylake")
    module = _module(compile_c(KERNEL), toolchain, tmp_path)
    here.cost(module)
    assert module.extra["mca_mcpu"] == host  # resolved when built, not when asked
    other = rewards.get("mca")
    assert other.mcpu == "skylake" and not rewards.get("mca", mcpu="skylake").platform_dependent  # type: ignore[attr-defined]
    other.cost(module)
    assert module.extra["mca_mcpu"] == "skylake"
    monkeypatch.setattr(machine, "host_mcpu", lambda toolchain=None: machine.UNKNOWN)
    with pytest.raises(ValueError, match="give mca its target"):
        rewards.get("mca")
