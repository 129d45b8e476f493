from __future__ import annotations

import subprocess
import sys

import pytest

import rewards
from mlgo_env.bbaddrmap import ADDRESS_MAP_FLAGS
from mlgo_env.blocks.exegesis import CountersUnavailable, counters_available, require_counters
from mlgo_env.blocks.extract import block_body
from mlgo_env.blocks.predict import SHIPPED_CHECKPOINT
from mlgo_env.toolchain import get_toolchain
from rewards.base import Artifact, CompiledModule

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
    assert block_body(bytes.fromhex("4801d875f9")) == bytes.fromhex("4801d8")  # add; jne
    assert block_body(bytes.fromhex("c3")) == b""  # ret


@pytest.mark.skipif(not SHIPPED_CHECKPOINT.exists(), reason="no shipped checkpoint")
def test_learned_reward_on_a_compiled_module(tmp_path):
    toolchain = get_toolchain()
    src, obj = tmp_path / "dot.c", tmp_path / "dot.o"
    src.write_text(SOURCE)
    subprocess.run([str(toolchain.clang), "-O2", "-c", *ADDRESS_MAP_FLAGS, "-o", str(obj), str(src)], check=True)
    reward = rewards.get("learned")
    assert reward.requires == Artifact.OBJECT | Artifact.BB_ADDR_MAP
    module = CompiledModule("dot", obj, toolchain, tmp_path, artifacts=reward.requires)
    cost = reward.cost(module)
    assert cost > 0 and module.extra["learned_blocks"] > 1
    assert reward.cost(module) == cost


def test_exegesis_detects_missing_counters():
    ok, why = counters_available()
    if ok:
        require_counters()
    else:
        assert why
        with pytest.raises(CountersUnavailable, match="harness"):
            require_counters()


@pytest.mark.skipif(not SHIPPED_CHECKPOINT.exists(), reason="no shipped checkpoint")
def test_cli_predict():
    out = subprocess.run(
        [sys.executable, "-m", "mlgo_env.blocks.cli", "predict", "4801d8"], capture_output=True, text=True, check=True
    )
    assert "add rax, rbx" in out.stdout
