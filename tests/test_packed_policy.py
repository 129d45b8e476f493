"""Policies on the packed observation: the shipped policies exported packed decide as they do, for less."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from gymnasium import spaces

from mlgo_env.episode import run_episode
from mlgo_env.errors import InvalidPolicy
from mlgo_env.onnx_policy import OnnxPolicy
from mlgo_env.packed import PackedLayout
from mlgo_env.protocol import TensorSpec

policy_net = pytest.importorskip("agents.lib.policy_net", reason="needs the agents extra (torch)")
SHIPPED = Path(__file__).resolve().parents[1] / "agents" / "policies"


@pytest.mark.parametrize(
    ("name", "task", "benchmark", "n_actions"),
    [("inlining_size", "inlining", "huffman", 2), ("eviction_perf", "regalloc_eviction", "nbody", 33)],
)
def test_shipped_policy_packed_decides_the_same(mini_corpus, toolchain, name, task, benchmark, n_actions) -> None:
    trajectory = run_episode(mini_corpus.benchmark(benchmark), task, "random", seed=3, toolchain=toolchain)
    observations = trajectory.observations  # in the channel header's order (a Dict space sorts its keys)
    space = spaces.Dict(
        {k: spaces.Box(-np.inf, np.inf, v.shape[1:], v.dtype.newbyteorder("=")) for k, v in observations.items()}
    )
    specs = [TensorSpec(k, v.dtype, v.shape[1:]) for k, v in observations.items()]
    shipped_bytes = (SHIPPED / f"{name}.onnx").read_bytes()
    greedy = policy_net.greedy_from_onnx(shipped_bytes, space, n_actions)
    packed_bytes = policy_net.to_onnx(greedy, space, packed=PackedLayout.of(specs))
    packed_model = onnx.load_from_string(packed_bytes)
    assert [i.name for i in packed_model.graph.input] == ["packed"]
    assert len(packed_model.graph.node) < len(onnx.load_from_string(shipped_bytes).graph.node) / 2
    shipped, packed = OnnxPolicy(shipped_bytes), OnnxPolicy(packed_bytes)
    shipped.check_inputs(specs)
    packed.check_inputs(specs)  # what the service checks before a rollout
    actions = {0: 0, 1: 0} if n_actions == 2 else {}
    for i in range(trajectory.decisions):
        observation = {k: v[i] for k, v in observations.items()}
        action = shipped(observation)
        assert packed(observation) == action, i
        actions[action] = actions.get(action, 0) + 1
    assert len(actions) > 1  # the observations tell actions apart


def test_a_packed_input_of_another_size_is_refused() -> None:
    specs = [TensorSpec("a", np.dtype("<i8"), (1,)), TensorSpec("b", np.dtype("<f4"), (1, 3))]
    assert PackedLayout.of(specs).size == 4
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("ArgMax", ["packed"], ["action"], keepdims=1)],
        "p",
        [onnx.helper.make_tensor_value_info("packed", onnx.TensorProto.FLOAT, [5])],
        [onnx.helper.make_tensor_value_info("action", onnx.TensorProto.INT64, [1])],
    )
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 20)])
    with pytest.raises(InvalidPolicy, match=r"packed are float32 \[4\]"):
        OnnxPolicy(model.SerializeToString()).check_inputs(specs)
