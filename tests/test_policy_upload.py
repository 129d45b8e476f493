"""Policies cross the wire as data: a hostile client uploads ONNX models to a real service.

Each model that breaks a rule of `mlgo_env.onnx_policy` is refused with its own message before
the compile starts, and the service still answers a normal rollout afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from mlgo_env.errors import InvalidPolicy
from mlgo_env.onnx_policy import OnnxPolicy, PolicyLimits
from mlgo_env.protocol import TensorSpec
from mlgo_env.service import server
from mlgo_env.service.client import ServiceConnection
from mlgo_env.service.convert import array_from_pb
from mlgo_env.service.proto import pb
from mlgo_env.service.server import ServiceConfig, start_server
from tests.onnx_models import FEATURE, feature, inline_small_callees, model


def _matmuls(count: int, size: int) -> onnx.ModelProto:
    """`count` chained (size × size) MatMuls of the feature broadcast to a matrix: work that scales."""
    nodes = [
        helper.make_node("Cast", [FEATURE], ["x"], to=TensorProto.FLOAT),
        helper.make_node("Expand", ["x", "square"], ["m0"]),
    ]
    nodes += [helper.make_node("MatMul", [f"m{i}", "m0"], [f"m{i + 1}"]) for i in range(count)]
    nodes += [
        helper.make_node("ReduceSum", [f"m{count}"], ["sum"], keepdims=0),
        helper.make_node("Reshape", ["sum", "one"], ["flat"]),
        helper.make_node("Mul", ["flat", "zero"], ["never"]),
        helper.make_node("Cast", ["never"], ["action"], to=TensorProto.INT64),
    ]
    constants = [
        numpy_helper.from_array(np.array([size, size]), "square"),
        numpy_helper.from_array(np.array([1]), "one"),
        numpy_helper.from_array(np.zeros(1, np.float32), "zero"),
    ]
    return model(nodes, [feature()], constants)


def _external_data() -> onnx.ModelProto:
    """The policy above, its constant kept "in" /etc/passwd."""
    model = inline_small_callees()
    tensor = model.graph.initializer[0]
    tensor.ClearField("raw_data")
    tensor.ClearField("int64_data")
    tensor.data_location = TensorProto.EXTERNAL
    entry = tensor.external_data.add()
    entry.key, entry.value = "location", "/etc/passwd"
    return model


def _custom_domain_op() -> onnx.ModelProto:
    node = helper.make_node("ReadFile", [FEATURE], ["action"], domain="com.evil")
    return model([node], [feature()], opsets=[("", 20), ("com.evil", 1)])


def _off_list_op() -> onnx.ModelProto:
    nodes = [
        helper.make_node("RandomUniformLike", [FEATURE], ["noise"], dtype=TensorProto.FLOAT),
        helper.make_node("Cast", ["noise"], ["action"], to=TensorProto.INT64),
    ]
    return model(nodes, [feature()])


def _oversized() -> onnx.ModelProto:
    model = inline_small_callees()
    model.graph.initializer.append(numpy_helper.from_array(np.zeros(600_000, np.float32), "padding"))
    return model


def _float_action() -> onnx.ModelProto:
    nodes = [helper.make_node("Cast", [FEATURE], ["action"], to=TensorProto.FLOAT)]
    return model(nodes, [feature()], outputs=[helper.make_tensor_value_info("action", TensorProto.FLOAT, [1])])


REFUSED = {
    "external data": (_external_data, "external file \\('/etc/passwd'\\)"),
    "unknown operator set": (_custom_domain_op, "operator set 'com.evil' is not allowed"),
    "operator off the list": (_off_list_op, "operator RandomUniformLike .* is not on the allow-list"),
    "wrong input name": (lambda: inline_small_callees("callee_basic_blocks"), "'callee_basic_blocks' is not a feature"),
    "wrong input dtype": (
        lambda: inline_small_callees(elem_type=TensorProto.FLOAT),
        "'callee_basic_block_count' is float32 \\[1\\] but the task sends int64 \\[1\\]",
    ),
    "wrong input shape": (
        lambda: inline_small_callees(shape=(1, 1)),
        "is int64 \\[1, 1\\] but the task sends int64 \\[1\\]",
    ),
    "over the size cap": (_oversized, "over the cap of 1,048,576 bytes"),
    "too much work": (lambda: _matmuls(1, 512), "multiply-accumulates per decision, over the cap"),
    "float action for a discrete task": (_float_action, "output is float32 but the task's action is int64"),
}


@pytest.fixture
def client(service_address: str) -> Iterator[ServiceConnection]:
    connection = ServiceConnection(service_address)
    yield connection
    connection.close()


@pytest.fixture
def compiles(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The benchmarks whose rollout compile the in-process service started."""
    started: list[str] = []
    run_episode = server.run_episode

    def spy(benchmark, *args, **kwargs):
        started.append(benchmark.name)
        return run_episode(benchmark, *args, **kwargs)

    monkeypatch.setattr(server, "run_episode", spy)
    return started


def _rollout(client: ServiceConnection, model: bytes | onnx.ModelProto) -> pb.RolloutReply:
    data = model if isinstance(model, bytes) else model.SerializeToString()
    request = pb.RolloutRequest(
        benchmark="sha256",
        config=pb.CompileConfig(task="inlining"),
        policy=pb.Policy(onnx=data),
        return_observations=True,
    )
    return client.call("Rollout", request)


def _assert_follows_themodel(reply: pb.RolloutReply) -> None:
    observations = {t.spec.name: array_from_pb(t) for t in reply.observations}
    expected = (observations[FEATURE].reshape(-1) <= 2).astype(int)
    assert reply.result.decisions > 0 and 0 < expected.sum() < len(expected), "both decisions occur"
    assert array_from_pb(reply.actions).tolist() == expected.tolist()


def test_an_onnx_policy_answers_every_decision(client: ServiceConnection, compiles: list[str]) -> None:
    _assert_follows_themodel(_rollout(client, inline_small_callees()))
    assert compiles == ["sha256"]


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_hostile_model_is_refused_before_the_compile(
    client: ServiceConnection, compiles: list[str], case: str
) -> None:
    build, message = REFUSED[case]
    with pytest.raises(InvalidPolicy, match=message) as refusal:
        _rollout(client, build())
    assert "root:" not in str(refusal.value)
    assert compiles == [], "refused before its compile started"
    _assert_follows_themodel(_rollout(client, inline_small_callees()))  # the service is healthy


def test_junk_is_not_amodel(client: ServiceConnection) -> None:
    with pytest.raises(InvalidPolicy, match="not an ONNX model"):
        _rollout(client, b"\x08\x07junk")


@pytest.fixture(scope="module")
def roomy_service(mini_corpus) -> Iterator[ServiceConnection]:
    """A service whose static caps let a slow model through, so only the time cap can stop it."""
    limits = PolicyLimits(max_macs=1 << 32, max_elements=1 << 24)
    config = ServiceConfig(corpus=mini_corpus.root, insecure=True, policy_limits=limits)
    grpc_server, servicer, port = start_server("127.0.0.1:0", config)
    connection = ServiceConnection(f"127.0.0.1:{port}")
    yield connection
    connection.close()
    servicer.shutdown()
    grpc_server.stop(grace=1).wait()


def test_a_model_slower_than_the_time_cap_is_refused(roomy_service: ServiceConnection, compiles: list[str]) -> None:
    # 16 (512 x 512) MatMuls: 2.1e9 multiply-accumulates, over 10 ms on any CPU core of today.
    with pytest.raises(InvalidPolicy, match="ms of CPU on one decision, over the cap of 10.0 ms"):
        _rollout(roomy_service, _matmuls(16, 512))
    assert compiles == []
    _assert_follows_themodel(_rollout(roomy_service, inline_small_callees()))


def test_local_runs_check_the_observation_and_the_time_cap() -> None:
    """The same runner serves local code: it checks its inputs on the first observation it sees."""
    policy = OnnxPolicy(inline_small_callees().SerializeToString())
    assert policy({FEATURE: np.array([2]), "callee_users": np.array([7])}) == 1
    assert policy({FEATURE: np.array([3]), "callee_users": np.array([7])}) == 0
    with pytest.raises(InvalidPolicy, match="is int64 \\[1\\] but the task sends float32 \\[1\\]"):
        OnnxPolicy(inline_small_callees().SerializeToString())({FEATURE: np.array([2.0], np.float32)})
    policy.check_inputs([TensorSpec(FEATURE, np.dtype("int64"), (1,))])  # the service's check, no compile
    policy.limits = PolicyLimits(decision_seconds=0.0)
    with pytest.raises(InvalidPolicy, match="over the cap of 0.0 ms"):
        policy({FEATURE: np.array([2])})
    model = inline_small_callees()
    model.graph.output.append(helper.make_tensor_value_info("small", TensorProto.BOOL, [1]))
    with pytest.raises(InvalidPolicy, match="has 2 outputs"):
        OnnxPolicy(model.SerializeToString())
