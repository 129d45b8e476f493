from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import warnings

import pytest
from typer.testing import CliRunner

import rewards
from mlgo_env.artifacts import ADDRESS_MAP_FLAGS, Artifact, CompiledModule
from mlgo_env.blocks.cli import app
from mlgo_env.blocks.exegesis import CountersUnavailable, choose_backend, counters_available, require_counters
from mlgo_env.blocks.predict import SHIPPED_CHECKPOINT, CostModel, NoModelForCpu, fast_model_path, shipped_model
from mlgo_env.machine import CpuMismatch, host_mcpu
from mlgo_env.toolchain import get_toolchain
from mlgo_env.x86 import strip_terminators
from rewards.learned import LearnedReward

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


def test_learned_reward_picks_the_model_of_its_target_cpu(dot_module: CompiledModule):
    costs = {cpu: rewards.get("learned", mcpu=cpu).cost(dot_module) for cpu in ("znver4", "znver1")}
    assert costs["znver4"] > 0 and costs["znver1"] > 0 and costs["znver4"] != costs["znver1"]
    with pytest.raises(NoModelForCpu, match=r"no learned cost model for skylake.*blocks measure.*blocks train"):
        rewards.get("learned", mcpu="skylake").cost(dot_module)


def test_learned_reward_with_a_model_of_another_cpu_warns_or_refuses(dot_module: CompiledModule):
    zen4 = shipped_model("znver4")
    with pytest.warns(UserWarning, match="made on znver4 but is used for znver1"):
        assert LearnedReward(zen4, mcpu="znver1").cost(dot_module) > 0
    assert dot_module.extra["learned_mcpu"] == "znver1"
    with pytest.raises(CpuMismatch, match="znver1"):
        LearnedReward(zen4, mcpu="znver1", strict_cpu=True).cost(dot_module)


def _kernel_cycle_counter() -> bool:
    """Whether the kernel opens a hardware cycle counter for this process: ``perf_event_open``
    called directly (no LLVM involved), the oracle the llvm-exegesis detection is checked against."""
    libc = ctypes.CDLL(None, use_errno=True)
    attr = (ctypes.c_uint8 * 128)()  # struct perf_event_attr, zeroed
    ctypes.c_uint32.from_buffer(attr, 0).value = 0  # type: PERF_TYPE_HARDWARE
    ctypes.c_uint32.from_buffer(attr, 4).value = len(attr)  # size
    ctypes.c_uint64.from_buffer(attr, 8).value = 0  # config: PERF_COUNT_HW_CPU_CYCLES
    ctypes.c_uint64.from_buffer(attr, 40).value = 1 | 1 << 5 | 1 << 6  # disabled, exclude_kernel, exclude_hv
    fd = libc.syscall(298, ctypes.byref(attr), 0, -1, -1, 0)  # SYS_perf_event_open on x86-64
    if fd >= 0:
        os.close(fd)
    return fd >= 0


def test_exegesis_detects_missing_counters():
    ok, why = counters_available()
    assert ok == _kernel_cycle_counter(), why  # detection agrees with the kernel
    assert choose_backend("auto") == ("exegesis" if ok else "harness")
    if ok:
        require_counters()
    else:
        assert why
        with pytest.raises(CountersUnavailable, match="harness"):
            require_counters()
        with pytest.raises(CountersUnavailable):
            choose_backend("exegesis")


def test_cli_predict_selects_the_model_of_cpu():
    out = {}
    for cpu in ("znver4", "znver1"):
        result = CliRunner().invoke(app, ["predict", "480fafc3", "--cpu", cpu])
        assert result.exit_code == 0 and "imul rax, rbx" in result.output and f"on {cpu}" in result.output
        out[cpu] = result.output.split()[result.output.split().index("480fafc3") - 1]
    assert out["znver4"] != out["znver1"]
    refused = CliRunner().invoke(app, ["predict", "4801d8", "--cpu", "skylake"])
    assert refused.exit_code == 1 and "blocks measure" in refused.output and "add rax" not in refused.output


def test_cli_predict_warns_about_a_model_of_another_cpu():
    out = subprocess.run(
        [sys.executable, "-m", "mlgo_env.blocks.cli", "predict", "4801d8", "--cpu", "znver1",
         "--checkpoint", str(fast_model_path("znver4"))],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "add rax, rbx" in out.stdout and "on znver4" in out.stdout
    assert "made on znver4 but is used for znver1" in out.stderr


@pytest.mark.skipif(not SHIPPED_CHECKPOINT.exists(), reason="no shipped checkpoint")
def test_cli_predict_checks_a_transformer_checkpoint_against_the_target_cpu():
    model_cpu = CostModel().cpu
    assert model_cpu is not None
    args = ["predict", "4801d8", "--checkpoint", str(SHIPPED_CHECKPOINT)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the model's own CPU: no warning
        same = CliRunner().invoke(app, [*args, "--cpu", model_cpu])
    assert same.exit_code == 0 and "add rax, rbx" in same.output and f"on {model_cpu}" in same.output
    other = "skylake" if model_cpu != "skylake" else "znver1"
    refused = CliRunner().invoke(app, [*args, "--cpu", other, "--strict-cpu"])
    assert refused.exit_code == 1 and "add rax, rbx" not in refused.output
    assert f"made on {model_cpu} but is used for {other}" in " ".join(refused.output.split())
