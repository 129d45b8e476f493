"""The real gRPC compiler service: RPCs, errors, cleanup, security, rollout, generated code.

Uploaded ONNX policies, hostile ones included, are tested in test_policy_upload.py.
"""

from __future__ import annotations

import time
from pathlib import Path

import grpc
import numpy as np
import pytest

from mlgo_env.errors import (
    BenchmarkNotFound,
    CompilerCrashed,
    EpisodeOver,
    InvalidAction,
    PermissionDenied,
    ServiceBusy,
    ServiceUnavailable,
    SessionNotFound,
)
from mlgo_env.service import convert
from mlgo_env.service.client import ServiceConnection
from mlgo_env.service.proto import pb
from mlgo_env.service.server import ServiceConfig, start_server


@pytest.fixture
def client(service_address: str):
    connection = ServiceConnection(service_address)
    yield connection
    connection.close()


def _start(
    client: ServiceConnection, benchmark: str = "sha256", task: str = "inlining", **config
) -> pb.StartSessionReply:
    return client.call(
        "StartSession", pb.StartSessionRequest(benchmark=benchmark, config=pb.CompileConfig(task=task, **config))
    )


def test_version_and_benchmarks(client: ServiceConnection) -> None:
    version = client.version()
    assert 19 in version.llvm_versions
    names = {b.uri: b for b in client.call("ListBenchmarks", pb.ListBenchmarksRequest()).benchmarks}
    assert set(names) == {f"benchmark://mini-v0/{n}" for n in ("sha256", "nbody", "huffman")}
    test = client.call("ListBenchmarks", pb.ListBenchmarksRequest(split="test")).benchmarks
    assert [b.uri for b in test] == ["benchmark://mini-v0/huffman"]


@pytest.mark.parametrize("name", ["nope", "../../../etc/passwd", "/etc/passwd", "benchmark://other-v0/sha256"])
def test_unknown_or_outside_benchmarks_are_not_found(client: ServiceConnection, name: str) -> None:
    with pytest.raises(BenchmarkNotFound):
        _start(client, name)


def test_bad_task_and_reward_are_invalid_arguments(client: ServiceConnection) -> None:
    with pytest.raises(ValueError, match="unknown task"):
        _start(client, task="loop_unroll")
    with pytest.raises(ValueError, match="No reward named"):
        _start(client, rewards=[pb.RewardSpec(name="sizee")])
    with pytest.raises(ValueError, match="opt_level"):
        _start(client, opt_level="-fplugin=/tmp/evil.so")


def test_step_to_the_end_and_cleanup(client: ServiceConnection) -> None:
    reply = _start(client, rewards=[pb.RewardSpec(name="size")])
    session = reply.session_id
    with pytest.raises(InvalidAction):
        client.call("Step", pb.StepRequest(session_id=session, action=pb.Action(index=5)))
    steps = 0
    while True:
        step = client.call("Step", pb.StepRequest(session_id=session, action=pb.Action(index=0)))
        steps += 1
        if step.done:
            break
    assert step.result.decisions == steps
    assert step.result.text_size > 0 and step.result.has_reward and step.result.baseline_cost > 0
    workdir = Path(step.result.object_path).parent
    assert workdir.is_dir()
    with pytest.raises(EpisodeOver):
        client.call("Step", pb.StepRequest(session_id=session, action=pb.Action(index=0)))
    client.call("EndSession", pb.EndSessionRequest(session_id=session))
    assert not workdir.exists()
    client.call("EndSession", pb.EndSessionRequest(session_id=session))  # idempotent
    with pytest.raises(SessionNotFound):
        client.call("Step", pb.StepRequest(session_id=session, action=pb.Action(index=0)))


def test_idle_sessions_are_reaped(mini_corpus) -> None:
    config = ServiceConfig(corpus=mini_corpus.root, idle_timeout=0.5, insecure=True)
    server, servicer, port = start_server("127.0.0.1:0", config)
    client = ServiceConnection(f"127.0.0.1:{port}")
    try:
        reply = _start(client)
        assert servicer.active_sessions == 1
        deadline = time.monotonic() + 10
        while servicer.active_sessions and time.monotonic() < deadline:
            time.sleep(0.1)
        assert servicer.active_sessions == 0
        with pytest.raises(SessionNotFound):
            client.call("Step", pb.StepRequest(session_id=reply.session_id, action=pb.Action(index=0)))
    finally:
        client.close()
        servicer.shutdown()
        server.stop(0)


def test_shutdown_closes_every_session(mini_corpus, child_compilers) -> None:
    server, servicer, port = start_server("127.0.0.1:0", ServiceConfig(corpus=mini_corpus.root, insecure=True))
    client = ServiceConnection(f"127.0.0.1:{port}")
    workdirs = []
    for name in ("sha256", "nbody"):
        reply = _start(client, name)
        workdirs.append(servicer.sessions.get(reply.session_id).compile.workdir)
    assert len(child_compilers()) == 2
    servicer.shutdown()
    server.stop(0)
    client.close()
    assert child_compilers() == []
    assert not any(w.exists() for w in workdirs)


def test_remote_listening_needs_flag_and_token(mini_corpus) -> None:
    config = ServiceConfig(corpus=mini_corpus.root)
    with pytest.raises(PermissionDenied, match="allow-remote"):
        start_server("0.0.0.0:0", config)
    with pytest.raises(PermissionDenied, match="token"):
        start_server("0.0.0.0:0", config, allow_remote=True)
    with pytest.raises(PermissionDenied, match="TLS"):
        start_server("0.0.0.0:0", ServiceConfig(corpus=mini_corpus.root, token="s3cret"), allow_remote=True)


def test_token_is_checked(mini_corpus) -> None:
    server, servicer, port = start_server("127.0.0.1:0", ServiceConfig(corpus=mini_corpus.root, token="s3cret"))
    try:
        with pytest.raises(PermissionDenied):
            ServiceConnection(f"127.0.0.1:{port}", token="wrong").version()
        assert ServiceConnection(f"127.0.0.1:{port}", token="s3cret").version().service_version
    finally:
        servicer.shutdown()
        server.stop(0)


def test_dead_service_is_unavailable() -> None:
    with pytest.raises(ServiceUnavailable, match="unavailable"):
        ServiceConnection("127.0.0.1:1", rpc_timeout=5).version()


@pytest.mark.parametrize("policy", ["always", "never", "random", "llvm-default"])
def test_rollout_builtin_policies(client: ServiceConnection, policy: str) -> None:
    request = pb.RolloutRequest(
        benchmark="huffman",
        config=pb.CompileConfig(task="inlining", rewards=[pb.RewardSpec(name="size")]),
        policy=pb.Policy(builtin=policy, seed=1),
        return_observations=True,
    )
    reply = client.call("Rollout", request)
    decisions = reply.result.decisions
    assert decisions > 0 and reply.actions.spec.shape == [decisions]
    features = {t.spec.name: convert.array_from_pb(t) for t in reply.observations}
    assert features["callee_basic_block_count"].shape == (decisions, 1)
    actions = convert.array_from_pb(reply.actions)
    if policy == "always":
        assert (actions == 1).all()
    elif policy == "never":
        assert (actions == 0).all()
    elif policy == "random":
        assert set(actions.tolist()) == {0, 1}
    else:  # LLVM's own decision, repaired on LLVM 19: the plain compile, so no size change
        np.testing.assert_array_equal(actions, features["inlining_default"][:, 0])
        assert 0 < actions.sum() < decisions
        assert reply.result.reward == 0.0


def test_rollout_replays_actions(client: ServiceConnection) -> None:
    config = pb.CompileConfig(task="inlining", rewards=[pb.RewardSpec(name="size")])
    llvm = client.call(
        "Rollout", pb.RolloutRequest(benchmark="huffman", config=config, policy=convert.policy_to_pb("llvm-default"))
    )
    actions = convert.array_from_pb(llvm.actions)
    request = pb.RolloutRequest(benchmark="huffman", config=config, policy=convert.policy_to_pb(actions))
    replayed = client.call("Rollout", request)
    np.testing.assert_array_equal(convert.array_from_pb(replayed.actions), actions)
    assert replayed.result.reward == 0.0 and replayed.result.text_size == llvm.result.text_size
    request.policy.CopyFrom(convert.policy_to_pb(np.full_like(actions, 2)))
    with pytest.raises(InvalidAction, match="0 .do not inline. or 1"):
        client.call("Rollout", request)
    request.policy.CopyFrom(convert.policy_to_pb(actions[:-1]))
    with pytest.raises(InvalidAction, match="compiler asks more"):
        client.call("Rollout", request)


def test_episode_stream_is_the_step_calls(client: ServiceConnection) -> None:
    start = pb.StartSessionRequest(benchmark="nbody", config=pb.CompileConfig(task="regalloc_eviction"))
    unary = client.call("StartSession", start)
    stream = client.episode(start)
    assert stream.started.observation.raw == unary.observation.raw and stream.started.session_id != unary.session_id
    header = convert.header_from_pb(list(unary.features), unary.advice)
    observation, steps = stream.started.observation, 0
    while True:  # evict nothing (the last legal candidate), on both
        mask = convert.observation_from_pb(observation, header)["mask"].reshape(-1)
        action = pb.Action(index=int(np.flatnonzero(mask)[-1]))
        by_call = client.call("Step", pb.StepRequest(session_id=unary.session_id, action=action))
        by_stream = stream.step(action)
        steps += 1
        assert by_stream.done == by_call.done and by_stream.observation.raw == by_call.observation.raw
        if by_stream.done:
            break
        observation = by_stream.observation
    assert by_stream.result.decisions == by_call.result.decisions == steps
    assert by_stream.result.text_size == by_call.result.text_size
    stream.close()  # the session outlives its stream
    assert client.call("Validate", pb.ValidateRequest(session_id=stream.started.session_id)).ok
    for session in (unary.session_id, stream.started.session_id):
        client.call("EndSession", pb.EndSessionRequest(session_id=session))


def test_episode_stream_errors(client: ServiceConnection) -> None:
    start = pb.StartSessionRequest(benchmark="sha256", config=pb.CompileConfig(task="inlining"))
    with pytest.raises(BenchmarkNotFound):
        client.episode(pb.StartSessionRequest(benchmark="nope", config=start.config))
    stream = client.episode(start)
    with pytest.raises(InvalidAction):  # ends the stream; nothing was sent, the session goes on by Step
        stream.step(pb.Action(index=7))
    session = stream.started.session_id
    assert not client.call("Step", pb.StepRequest(session_id=session, action=pb.Action(index=0))).done
    client.call("EndSession", pb.EndSessionRequest(session_id=session))


def test_validate_after_episode(client: ServiceConnection) -> None:
    reply = _start(client, "sha256")
    with pytest.raises(EpisodeOver):
        client.call("Validate", pb.ValidateRequest(session_id=reply.session_id))
    while not client.call("Step", pb.StepRequest(session_id=reply.session_id, action=pb.Action(index=1))).done:
        pass
    result = client.call("Validate", pb.ValidateRequest(session_id=reply.session_id))
    assert result.ok, result.message
    client.call("EndSession", pb.EndSessionRequest(session_id=reply.session_id))


def test_generated_code_is_fresh(tmp_path: Path) -> None:
    from mlgo_env.service import generate_proto

    for path in generate_proto.generate(tmp_path):
        checked_in = generate_proto.HERE / path.name
        assert path.read_text() == checked_in.read_text(), (
            f"{checked_in} is stale: run python -m mlgo_env.service.generate_proto"
        )


def test_each_session_keeps_its_own_timeouts(mini_corpus) -> None:
    server, servicer, port = start_server("127.0.0.1:0", ServiceConfig(corpus=mini_corpus.root, insecure=True))
    client = ServiceConnection(f"127.0.0.1:{port}")
    size = [pb.RewardSpec(name="size")]
    try:
        client.call("Rollout", pb.RolloutRequest(benchmark="sha256", policy=pb.Policy(builtin="never"),
                                                 config=pb.CompileConfig(task="inlining", rewards=size)))  # fmt: skip
        reply = _start(client, rewards=size, decision_timeout_s=1.5, compile_timeout_s=30)
        options = servicer.sessions.get(reply.session_id).compile.options
        assert (options.decision_timeout, options.compile_timeout) == (1.5, 30)
    finally:
        client.close()
        servicer.shutdown()
        server.stop(0)


def test_episodes_stream_keeps_errors_in_their_slot(mini_corpus, child_compilers) -> None:
    server, servicer, port = start_server("127.0.0.1:0", ServiceConfig(corpus=mini_corpus.root, insecure=True))
    client = ServiceConnection(f"127.0.0.1:{port}")
    config = pb.CompileConfig(task="inlining")
    try:
        stream = client.episodes(3)
        started = stream.batch(
            [pb.StartSessionRequest(benchmark=b, config=config) for b in ("sha256", "nope", "huffman")]
        )
        assert isinstance(started[0], pb.StartSessionReply) and isinstance(started[2], pb.StartSessionReply)
        assert isinstance(started[1], BenchmarkNotFound)
        assert servicer.sessions.slots_in_use == 2
        compilers = [servicer.sessions.get(s.session_id).compile.process.pid for s in (started[0], started[2])]
        assert set(compilers) <= set(child_compilers())
        stepped = stream.batch([pb.Action(index=7), pb.Action(index=0), pb.Action(index=0)])
        assert isinstance(stepped[0], InvalidAction) and isinstance(stepped[1], EpisodeOver)
        assert isinstance(stepped[2], pb.StepReply) and not stepped[2].done
        # Nothing was sent for the refused action: slot 0's decision is still pending, and the same as by Step.
        unary = client.call("StartSession", pb.StartSessionRequest(benchmark="sha256", config=config))
        by_call = client.call("Step", pb.StepRequest(session_id=unary.session_id, action=pb.Action(index=0)))
        again = stream.batch([pb.Action(index=0), None, None])
        assert isinstance(again[0], pb.StepReply) and again[1:] == [None, None]
        assert again[0].observation.raw == by_call.observation.raw
        client.call("EndSession", pb.EndSessionRequest(session_id=unary.session_id))
        servicer.sessions.get(started[2].session_id).compile.process.kill()  # slot 2's compiler dies
        crashed = stream.batch([pb.Action(index=0), None, pb.Action(index=0)])
        assert isinstance(crashed[0], pb.StepReply) and isinstance(crashed[2], CompilerCrashed)
        stream.close()  # ends every slot's session: compilers and budget
        assert servicer.sessions.slots_in_use == 0 and servicer.active_sessions == 0
        assert not set(compilers) & set(child_compilers())
        with pytest.raises(SessionNotFound):
            client.call("Step", pb.StepRequest(session_id=started[0].session_id, action=pb.Action(index=0)))
    finally:
        client.close()
        servicer.shutdown()
        server.stop(0)


def test_episodes_slots_are_bounded_by_the_session_budget(mini_corpus) -> None:
    server, servicer, port = start_server(
        "127.0.0.1:0", ServiceConfig(corpus=mini_corpus.root, max_sessions=2, insecure=True)
    )
    client = ServiceConnection(f"127.0.0.1:{port}")
    start = pb.StartSessionRequest(benchmark="sha256", config=pb.CompileConfig(task="inlining"))
    try:
        # More slots than the whole budget: the stream is refused before anything starts.
        replies = client._stub.Episodes(iter([pb.EpisodesRequest(slots=[pb.SlotRequest(start=start)] * 3)]))
        with pytest.raises(grpc.RpcError) as refused:
            next(replies)
        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        with pytest.raises(ServiceBusy):
            client.episodes(3).batch([start] * 3)
        assert servicer.sessions.slots_in_use == 0
        # Within it, each slot's session takes a slot of the budget shared with the other calls.
        held = client.call("StartSession", start)
        stream = client.episodes(2)
        first, second = stream.batch([start, start])
        assert isinstance(first, pb.StartSessionReply) and isinstance(second, ServiceBusy)
        for _ in range(3):  # a restart ends the slot's previous session first: never more than one per slot
            restarted = stream.batch([start, None])[0]
            assert isinstance(restarted, pb.StartSessionReply) and restarted.session_id != first.session_id
            assert servicer.sessions.slots_in_use == 2
        stream.close()
        assert servicer.sessions.slots_in_use == 1
        client.call("EndSession", pb.EndSessionRequest(session_id=held.session_id))
        stream = client.episodes(2)
        stream.batch([None, None])
        with pytest.raises(ValueError, match="2 slots, not 1"):  # every request of a stream has its slot count
            stream._exchange(pb.EpisodesRequest(slots=[pb.SlotRequest()]))
    finally:
        client.close()
        servicer.shutdown()
        server.stop(0)


def test_episodes_batch_writes_every_slot_before_reading_any(mini_corpus, monkeypatch) -> None:
    """The compilers of a batch work in parallel: every start and action is sent before any reply is read."""
    from mlgo_env.compilation import InteractiveCompile

    calls: list[tuple[str, int]] = []

    def logged(name: str):
        method = getattr(InteractiveCompile, name)

        def wrapper(self, *args):
            calls.append((name, id(self)))
            return method(self, *args)

        return wrapper

    for name in ("spawn", "read_header", "send", "receive"):
        monkeypatch.setattr(InteractiveCompile, name, logged(name))
    server, servicer, port = start_server("127.0.0.1:0", ServiceConfig(corpus=mini_corpus.root, insecure=True))
    client = ServiceConnection(f"127.0.0.1:{port}")
    try:
        stream = client.episodes(2)
        config = pb.CompileConfig(task="inlining")
        stream.batch([pb.StartSessionRequest(benchmark=b, config=config) for b in ("sha256", "nbody")])
        first, second = calls[0][1], calls[1][1]
        assert calls == [("spawn", first), ("spawn", second), ("read_header", first), ("receive", first),
                         ("read_header", second), ("receive", second)]  # fmt: skip
        calls.clear()
        stream.batch([pb.Action(index=0), pb.Action(index=1)])
        assert calls == [("send", first), ("send", second), ("receive", first), ("receive", second)]
        stream.close()
    finally:
        client.close()
        servicer.shutdown()
        server.stop(0)
