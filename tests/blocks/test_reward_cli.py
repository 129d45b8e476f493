from __future__ import annotations

import subprocess
import sys
import warnings

import pytest
from typer.testing import CliRunner

import rewards
from mlgo_env.artifacts import ADDRESS_MAP_FLAGS, Artifact, CompiledModule
from mlgo_env.blocks.cli import app
from mlgo_env.blocks.exegesis import CountersUnavailable, counters_available, require_counters
from mlgo_env.blocks.predict import SHIPPED_CHECKPOINT, CostModel
from mlgo_env.machine import CpuMismatch, host_mcpu
from mlgo_env.toolchain import get_toolchain
from mlgo_env.x86 import strip_terminators

SOURCE = """
long dot(const long *a, const long *b, int n) {
  long s = 0;
  for (int i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}
"""


def test_learned_is_registered_iff_the_model_ships():
    assert ("learned" in rewards.available()) == SHIPPED_CHECKPOINT.exists()


def test_block_body_drops_trailing_branches():
    assert strip_terminators(bytes.fromhex("4801d875f9")) == bytes.fromhex("4801d8")  # add; jne
    assert strip_terminators(bytes.fromhex("c3")) == b""  # ret


@pytest.fixture
def dot_module(tmp_path) -> CompiledModule:
    """``dot`` compiled with block frequencies in its address map, as the learned reward needs."""
    toolchain = get_toolchain()
    src, obj = tmp_path / "dot.c", tmp_path / "dot.o"
    src.write_text(SOURCE)
    subprocess.run([str(toolchain.clang), "-O2", "-c", *ADDRESS_MAP_FLAGS, "-o", str(obj), str(src)], check=True)
    return CompiledModule("dot", obj, toolchain, tmp_path, artifacts=Artifact.OBJECT | Artifact.BB_ADDR_MAP)


@pytest.mark.skipif(not SHIPPED_CHECKPOINT.exists(), reason="no shipped checkpoint")
def test_learned_reward_on_a_compiled_module(dot_module: CompiledModule):
    model_cpu = CostModel().cpu
    reward = rewards.get("learned", mcpu=model_cpu)
    assert reward.requires == Artifact.OBJECT | Artifact.BB_ADDR_MAP
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the model's own CPU: no warning
        cost = reward.cost(dot_module)
    assert cost > 0 and dot_module.extra["learned_blocks"] > 1 and dot_module.extra["learned_mcpu"] == model_cpu
    assert reward.cost(dot_module) == cost
    assert rewards.get("learned").mcpu == host_mcpu()  # the default target: this host
    assert rewards.pinned_options("learned") == {"mcpu": host_mcpu()}  # other machines score for this target
    assert rewards.check_wire_options("learned", {"mcpu": "skylake", "strict_cpu": True})


@pytest.mark.skipif(not SHIPPED_CHECKPOINT.exists(), reason="no shipped checkpoint")
def test_learned_reward_for_another_cpu_warns_or_refuses(dot_module: CompiledModule):
    other = "skylake" if CostModel().cpu != "skylake" else "znver1"
    with pytest.warns(UserWarning, match=f"made on {CostModel().cpu} but is used for {other}"):
        assert rewards.get("learned", mcpu=other).cost(dot_module) > 0
    assert dot_module.extra["learned_mcpu"] == other
    with pytest.raises(CpuMismatch, match=other):
        rewards.get("learned", mcpu=other, strict_cpu=True).cost(dot_module)


def test_exegesis_detects_missing_counters():
    ok, why = counters_available()
    if ok:
        require_counters()
    else:
        assert why
        with pytest.raises(CountersUnavailable, match="harness"):
            require_counters()


@pytest.mark.skipif(not SHIPPED_CHECKPOINT.exists(), reason="no shipped checkpoint")
def test_cli_predict_warns_about_a_model_of_another_cpu():
    model_cpu = CostModel().cpu
    other = "skylake" if model_cpu != "skylake" else "znver1"
    out = subprocess.run(
        [sys.executable, "-m", "mlgo_env.blocks.cli", "predict", "4801d8", "--cpu", other],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "add rax, rbx" in out.stdout and f"on {model_cpu}" in out.stdout and "this CPU" not in out.stdout
    assert f"made on {model_cpu} but is used for {other}" in out.stderr


@pytest.mark.skipif(not SHIPPED_CHECKPOINT.exists(), reason="no shipped checkpoint")
def test_cli_predict_checks_the_target_cpu():
    model_cpu = CostModel().cpu
    assert model_cpu is not None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the model's own CPU: no warning
        same = CliRunner().invoke(app, ["predict", "4801d8", "--cpu", model_cpu])
    assert same.exit_code == 0 and "add rax, rbx" in same.output and f"on {model_cpu}" in same.output
    other = "skylake" if model_cpu != "skylake" else "znver1"
    refused = CliRunner().invoke(app, ["predict", "4801d8", "--cpu", other, "--strict-cpu"])
    assert refused.exit_code == 1 and "add rax, rbx" not in refused.output
    assert f"made on {model_cpu} but is used for {other}" in " ".join(refused.output.split())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        default = CliRunner().invoke(app, ["predict", "4801d8"])  # target: this host
    assert default.exit_code == 0
    assert any("made on" in str(w.message) for w in caught) == (host_mcpu() != model_cpu)
