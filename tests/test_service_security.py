"""A hostile client against a real compiler service: options, tokens and TLS, the session budget, lifetimes.

Every service here listens on loopback or on a Unix socket; "beyond loopback" is checked on the
refusal logic, which refuses before anything is bound or sent.
"""

from __future__ import annotations

import inspect
import json
import os
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import rewards
from mlgo_env.artifacts import CompiledModule
from mlgo_env.corpus import Corpus
from mlgo_env.distributed.actors import backing_off
from mlgo_env.errors import PermissionDenied, ServiceBusy, ServiceError, ServiceUnavailable
from mlgo_env.service.client import ServiceConnection
from mlgo_env.service.proto import pb
from mlgo_env.service.security import check_listening, is_loopback
from mlgo_env.service.server import CompilerServicer, ServiceConfig, start_server
from rewards.base import Reward
from rewards.size import text_size
from rewards.wire import MCPU, WireOption


@contextmanager
def _service(corpus: Corpus, address: str = "127.0.0.1:0", **config) -> Iterator[tuple[CompilerServicer, str]]:
    server, servicer, port = start_server(address, ServiceConfig(corpus=corpus.root, **config))
    try:
        yield servicer, (f"127.0.0.1:{port}" if address.startswith("127.") else address)
    finally:
        servicer.shutdown()
        server.stop(0)


@contextmanager
def _client(address: str, **kwargs) -> Iterator[ServiceConnection]:
    connection = ServiceConnection(address, **kwargs)
    try:
        yield connection
    finally:
        connection.close()


def _config(task: str = "inlining", **kwargs) -> pb.CompileConfig:
    return pb.CompileConfig(task=task, **kwargs)


def _reward(name: str, options: dict | str | None = None, weight: float = 0.0) -> pb.RewardSpec:
    text = options if isinstance(options, str) else json.dumps(options or {})
    return pb.RewardSpec(name=name, options_json=text, weight=weight)


def _start(client: ServiceConnection, benchmark: str = "sha256", **config) -> pb.StartSessionReply:
    return client.call("StartSession", pb.StartSessionRequest(benchmark=benchmark, config=_config(**config)))


def _finish(client: ServiceConnection, session_id: str) -> pb.StepReply:
    while not (step := client.call("Step", pb.StepRequest(session_id=session_id, action=pb.Action(index=0)))).done:
        pass
    return step


def _fds_under(directory: Path) -> list[str]:
    """What this process's descriptors open under `directory` (session FIFOs and files live there)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(directory)):
            found.append(target)
    return found


def _assert_nothing_left(servicer: CompilerServicer, workdir: Path, child_compilers: Callable[[], list[int]]) -> None:
    assert servicer.active_sessions == 0 and servicer.sessions.slots_in_use == 0
    assert child_compilers() == []
    assert list(workdir.iterdir()) == []
    assert _fds_under(workdir) == []


# -- options: declared, typed, bounded -------------------------------------------------------------


@pytest.mark.parametrize(
    ("reward", "options", "named"),
    [
        ("perf_model", {"profile_dir": "/tmp/mlgo-hostile-profiles"}, "profile_dir"),  # a path: local-only
        ("size", {"nope": 1}, "nope"),
        ("size", {"all_sections": 1}, "all_sections"),  # an integer is not a boolean
        ("mca", {"mcpu": "../../etc/passwd"}, "mcpu"),
        ("runtime", {"repeats": 10**6}, "repeats"),
        ("runtime", {"timeout": 1e9}, "timeout"),  # past the service's reward_timeout
        ("perf_model", {"latency": float("nan")}, "latency"),
        ("size", "[1]", "JSON object"),
        ("size", "[" * 3000, "JSON"),
        ("size", {"all_sections": "x" * 5000}, "4096 bytes"),
    ],
)
def test_undeclared_or_out_of_bounds_reward_options_are_refused_and_nothing_is_created(
    mini_corpus: Corpus, tmp_path: Path, child_compilers, reward: str, options: dict | str, named: str
) -> None:
    workdir = tmp_path / "sessions"
    workdir.mkdir()
    with _service(mini_corpus, workdir=workdir, insecure=True) as (servicer, address), _client(address) as client:
        with pytest.raises(ValueError, match=named):
            _start(client, rewards=[_reward(reward, options)])
        rollout = pb.RolloutRequest(
            benchmark="sha256", config=_config(rewards=[_reward(reward, options)]), policy=pb.Policy(builtin="never")
        )
        with pytest.raises(ValueError, match=named):
            client.call("Rollout", rollout)
        assert not Path("/tmp/mlgo-hostile-profiles").exists()
        assert servicer._scorers == {}
        _assert_nothing_left(servicer, workdir, child_compilers)
        assert client.version().active_sessions == 0  # still healthy


@pytest.mark.parametrize("field", ["decision_timeout_s", "compile_timeout_s"])
@pytest.mark.parametrize("value", [1e9, -1.0, float("inf")])
def test_client_timeouts_past_the_service_limit_are_refused(
    mini_corpus: Corpus, tmp_path: Path, child_compilers, field: str, value: float
) -> None:
    workdir = tmp_path / "sessions"
    workdir.mkdir()
    config = {"workdir": workdir, "insecure": True, "decision_timeout": 30.0, "compile_timeout": 120.0}
    with _service(mini_corpus, **config) as (servicer, address), _client(address) as client:
        with pytest.raises(ValueError, match=field):
            _start(client, **{field: value})
        _assert_nothing_left(servicer, workdir, child_compilers)
        reply = _start(client, **{field: 20.0})  # within the limit: kept
        options = servicer.sessions.get(reply.session_id).compile.options
        assert getattr(options, field.removesuffix("_s")) == 20.0
        client.call("EndSession", pb.EndSessionRequest(session_id=reply.session_id))


def test_declared_options_work_and_the_scorer_cache_is_bounded(mini_corpus: Corpus) -> None:
    with _service(mini_corpus, insecure=True, max_scorers=2) as (servicer, address), _client(address) as client:
        sizes = {}
        for options in ({"all_sections": False}, ' { "all_sections" : false } ', {"all_sections": True}):
            reply = _start(client, rewards=[_reward("size", options)])
            sizes[json.dumps(options)] = _finish(client, reply.session_id).result
            client.call("EndSession", pb.EndSessionRequest(session_id=reply.session_id))
        code, same, everything = sizes.values()
        assert code.cost == same.cost == code.text_size and everything.cost == everything.object_size
        assert len(servicer._scorers) == 2  # the two spellings of one option share a scorer
        for weight in (0.5, 2.0, 3.0):
            _start(client, rewards=[_reward("size", weight=weight)])
        assert len(servicer._scorers) == 2  # least recently used dropped


def test_every_wire_option_is_a_constructor_option_and_never_a_path() -> None:
    for name in rewards.available():
        declared = rewards.wire_options(name)
        if not declared:
            continue
        factory = rewards._REGISTRY[name]
        cls = factory.load() if hasattr(factory, "load") else factory
        parameters = inspect.signature(cls.__init__).parameters
        for option in declared:
            assert option in parameters, f"{name} declares {option!r}, which its constructor does not take"
            assert "Path" not in str(parameters[option].annotation), f"{name}.{option} is a path"


def test_wire_option_types_and_caps() -> None:
    timeout = WireOption(float, low=0.1, high=3600.0, seconds=True)
    assert timeout.check("timeout", 5) == 5.0
    with pytest.raises(ValueError, match="timeout"):
        timeout.check("timeout", 700, max_seconds=600)
    with pytest.raises(ValueError, match="a number"):
        timeout.check("timeout", True)
    with pytest.raises(ValueError, match="an integer"):
        WireOption(int, low=1, high=5).check("repeats", 2.0)
    assert MCPU.check("mcpu", "skylake-avx512") == "skylake-avx512"
    for bad in ("Skylake", "-x", "a" * 33, "x y", "znver4\n"):
        with pytest.raises(ValueError, match="mcpu"):
            MCPU.check("mcpu", bad)
    with pytest.raises(ValueError, match="free text"):
        WireOption(str)


# -- who may connect ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "loopback"),
    [
        ("127.0.0.1:1", True),
        ("127.9.9.9:1", True),
        ("[::1]:1", True),
        ("localhost:1", True),
        ("[::ffff:127.0.0.1]:1", True),
        ("unix:/tmp/x.sock", True),
        ("0.0.0.0:1", False),
        ("[::]:1", False),
        ("10.1.2.3:1", False),
        ("127.evil.example:1", False),
        ("myhost:1", False),
    ],
)
def test_what_is_loopback(address: str, loopback: bool) -> None:
    assert is_loopback(address) is loopback


def test_beyond_loopback_needs_the_flag_a_token_and_tls() -> None:
    for address in ("0.0.0.0:50051", "[::]:50051", "192.0.2.1:50051"):
        with pytest.raises(PermissionDenied, match="allow-remote"):
            check_listening(address, token="t", tls=True)
        with pytest.raises(PermissionDenied, match="token"):
            check_listening(address, token=None, tls=True, allow_remote=True, insecure=True)
        with pytest.raises(PermissionDenied, match="plain text"):
            check_listening(address, token="t", tls=False, allow_remote=True, insecure=True)
        check_listening(address, token="t", tls=True, allow_remote=True)
    with pytest.raises(PermissionDenied, match="plain text"):  # nor will a client send it so
        ServiceConnection("192.0.2.1:50051", token="t")


def test_loopback_tcp_needs_a_token_unless_insecure(mini_corpus: Corpus) -> None:
    with pytest.raises(PermissionDenied, match="--insecure"):
        start_server("127.0.0.1:0", ServiceConfig(corpus=mini_corpus.root))
    with _service(mini_corpus, token="s3cret") as (_, address):
        for token in ("", "wrong", "s3cret "):
            with _client(address, token=token) as client, pytest.raises(PermissionDenied, match="token"):
                client.version()
        with _client(address, token="s3cret") as client:
            assert client.version().service_version
        start = pb.StartSessionRequest(benchmark="sha256", config=_config())
        for token in ("", "wrong"):  # the Episode and Episodes streams are refused the same way
            with _client(address, token=token) as client, pytest.raises(PermissionDenied, match="token"):
                client.episode(start)
            with _client(address, token=token) as client, pytest.raises(PermissionDenied, match="token"):
                client.episodes(1).batch([start])
        with _client(address, token="s3cret") as client:
            stream = client.episode(start)
            assert stream.started.observation.raw
            stream.close()
            client.call("EndSession", pb.EndSessionRequest(session_id=stream.started.session_id))


def test_a_unix_socket_others_can_reach_needs_a_token(mini_corpus: Corpus, tmp_path: Path) -> None:
    shared, private = tmp_path / "shared", tmp_path / "private"
    shared.mkdir(mode=0o755)
    private.mkdir(mode=0o700)
    with pytest.raises(PermissionDenied, match="token"):
        start_server(f"unix:{shared / 's.sock'}", ServiceConfig(corpus=mini_corpus.root))
    with _service(mini_corpus, f"unix:{private / 's.sock'}") as (_, address), _client(address) as client:
        assert client.version().service_version


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate and key for 127.0.0.1 and localhost, made by the openssl command."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def test_tls_and_token_on_loopback(mini_corpus: Corpus, tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    with _service(mini_corpus, token="s3cret", tls_cert=cert, tls_key=key) as (_, address):
        with _client(address, token="s3cret", tls_root=cert) as client:
            names = client.call("ListBenchmarks", pb.ListBenchmarksRequest()).benchmarks
            assert len(names) == 3
        with _client(address, tls_root=cert, token="") as client, pytest.raises(PermissionDenied):
            client.version()
        with _client(address, token="s3cret", rpc_timeout=5) as client, pytest.raises(ServiceUnavailable):
            client.version()  # plain text to a TLS port: no answer
        with _client(address, token="s3cret", tls=True, rpc_timeout=5) as client, pytest.raises(ServiceUnavailable):
            client.version()  # TLS, but the self-signed certificate is not trusted


def test_serve_makes_a_token_and_says_how_to_connect(mini_corpus: Corpus, tmp_path: Path) -> None:
    ready, log = tmp_path / "ready", tmp_path / "log"
    env = {k: v for k, v in os.environ.items() if k != "MLGO_SERVICE_TOKEN"}
    command = [sys.executable, "-m", "mlgo_env.service", "--address", "127.0.0.1:0", "--ready-file", str(ready),
               "--corpus", str(mini_corpus.root), "--parent-pid", str(os.getpid())]  # fmt: skip
    with open(log, "wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=output, env=env)
    try:
        deadline = time.monotonic() + 60
        while "MLGO_SERVICE_TOKEN=" not in log.read_text() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        line = next((line for line in log.read_text().splitlines() if "MLGO_SERVICE_TOKEN=" in line), None)
        assert line is not None, log.read_text()
        settings = dict(word.split("=", 1) for word in line.split() if word.startswith("MLGO_SERVICE"))
        assert settings["MLGO_SERVICE"] == f"127.0.0.1:{ready.read_text()}"
        with _client(settings["MLGO_SERVICE"], token=settings["MLGO_SERVICE_TOKEN"]) as client:
            assert client.version().service_version
        with _client(settings["MLGO_SERVICE"], token="") as client, pytest.raises(PermissionDenied):
            client.version()
    finally:
        process.terminate()
        process.wait(timeout=30)


# -- limits that hold --------------------------------------------------------------------------------


class _SlowToBuild(Reward):
    """Code size, from a reward slow to build: it widens any gap between checking the budget and taking it."""

    name = "slow_to_build"

    def __init__(self) -> None:
        time.sleep(0.5)

    def cost(self, module: CompiledModule) -> float:
        return float(text_size(module.object_path))


def test_concurrent_starts_get_exactly_max_sessions(
    mini_corpus: Corpus, tmp_path: Path, child_compilers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(rewards._REGISTRY, "slow_to_build", _SlowToBuild)
    limit = 2
    workdir = tmp_path / "sessions"
    workdir.mkdir()
    with _service(mini_corpus, workdir=workdir, insecure=True, max_sessions=limit) as (servicer, address):
        barrier = threading.Barrier(3 * limit)
        outcomes: list[pb.StartSessionReply | Exception] = []

        def start() -> None:
            with _client(address) as client:
                barrier.wait()
                try:
                    outcomes.append(_start(client, benchmark="nbody", rewards=[_reward("slow_to_build")]))
                except Exception as exc:
                    outcomes.append(exc)

        threads = [threading.Thread(target=start) for _ in range(3 * limit)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        started = [o for o in outcomes if isinstance(o, pb.StartSessionReply)]
        refused = [o for o in outcomes if not isinstance(o, pb.StartSessionReply)]
        assert len(started) == limit and all(type(o) is ServiceBusy for o in refused), refused
        with _client(address) as client:
            for reply in started:
                assert _finish(client, reply.session_id).result.decisions > 0
                client.call("EndSession", pb.EndSessionRequest(session_id=reply.session_id))
            _assert_nothing_left(servicer, workdir, child_compilers)
            assert _start(client).session_id  # the budget is free again


def test_rollout_shares_the_budget_and_validate_runs_in_its_session(mini_corpus: Corpus) -> None:
    rollout = pb.RolloutRequest(benchmark="sha256", config=_config(), policy=pb.Policy(builtin="never"))
    with _service(mini_corpus, insecure=True, max_sessions=1) as (_, address), _client(address) as client:
        session = _start(client).session_id
        with pytest.raises(ServiceBusy, match="1 sessions"):
            client.call("Rollout", rollout)
        with pytest.raises(ServiceBusy):
            client.call("GetSpaces", pb.GetSpacesRequest(task="regalloc_eviction"))  # a compile too
        with pytest.raises(ServiceBusy):  # an Episode stream takes its slot too
            client.episode(pb.StartSessionRequest(benchmark="sha256", config=_config()))
        _finish(client, session)
        assert client.call("Validate", pb.ValidateRequest(session_id=session)).ok
        client.call("EndSession", pb.EndSessionRequest(session_id=session))
        assert client.call("Rollout", rollout).result.decisions > 0


def test_ray_workers_back_off_while_the_service_is_busy(mini_corpus: Corpus) -> None:
    rollout = pb.RolloutRequest(benchmark="sha256", config=_config(), policy=pb.Policy(builtin="never"))
    with _service(mini_corpus, insecure=True, max_sessions=1) as (_, address), _client(address) as client:
        session = _start(client).session_id
        with pytest.raises(ServiceBusy):
            backing_off(lambda: client.call("Rollout", rollout), first=0.1, total=0.5)
        timer = threading.Timer(1.0, client.call, ("EndSession", pb.EndSessionRequest(session_id=session)))
        started = time.monotonic()
        timer.start()
        reply = backing_off(lambda: client.call("Rollout", rollout), first=0.1, total=20.0)
        assert reply.result.decisions > 0 and time.monotonic() - started >= 1.0
        timer.join()


# -- sessions end only between requests --------------------------------------------------------------


class _Gated(Reward):
    """Code size, computed only once the test opens the gate: a long reward computation on demand."""

    name = "gated"
    entered = threading.Event()
    gate = threading.Event()

    def cost(self, module: CompiledModule) -> float:
        type(self).entered.set()
        assert type(self).gate.wait(60), "the test never opened the gate"
        return float(text_size(module.object_path))


@pytest.fixture
def gated(monkeypatch: pytest.MonkeyPatch) -> type[_Gated]:
    monkeypatch.setitem(rewards._REGISTRY, "gated", _Gated)
    _Gated.entered.clear()
    _Gated.gate.clear()
    yield _Gated
    _Gated.gate.set()


def _step_in_background(client: ServiceConnection, session_id: str) -> tuple[threading.Thread, list]:
    outcome: list = []

    def run() -> None:
        try:
            outcome.append(_finish(client, session_id))
        except Exception as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def test_end_session_waits_for_the_step_in_progress(
    mini_corpus: Corpus, tmp_path: Path, gated, child_compilers
) -> None:
    workdir = tmp_path / "sessions"
    workdir.mkdir()
    with _service(mini_corpus, workdir=workdir, insecure=True) as (servicer, address), _client(address) as client:
        first = _start(client, rewards=[_reward("gated")]).session_id
        channel = servicer.sessions.get(first).compile.channel
        fifos = {channel._in_fd: str(channel.in_path), channel._out_fd: str(channel.out_path)}
        stepping, outcome = _step_in_background(client, first)
        assert gated.entered.wait(60)  # the last step is computing its reward
        ending = threading.Thread(target=client.call, args=("EndSession", pb.EndSessionRequest(session_id=first)))
        ending.start()
        time.sleep(0.5)
        assert ending.is_alive() and servicer.sessions.get(first).compile.workdir.exists()
        second = _start(client, benchmark="nbody")  # opens descriptors while the first session waits to end
        assert {fd: os.readlink(f"/proc/self/fd/{fd}") for fd in fifos} == fifos  # none of them reused
        gated.gate.set()
        stepping.join(60)
        ending.join(60)
        (step,) = outcome
        assert isinstance(step, pb.StepReply) and step.done and step.result.has_reward, step
        assert step.result.cost == step.result.text_size
        assert _finish(client, second.session_id).result.decisions > 0
        client.call("EndSession", pb.EndSessionRequest(session_id=second.session_id))
        _assert_nothing_left(servicer, workdir, child_compilers)


def test_the_reaper_ends_an_idle_episode_stream(mini_corpus: Corpus) -> None:
    # An open stream holds a worker thread: reaping its session cancels it (a client that kept it
    # open and idle would otherwise hold the thread until it sent again).
    with _service(mini_corpus, insecure=True, idle_timeout=0.4) as (servicer, address), _client(address) as client:
        stream = client.episode(pb.StartSessionRequest(benchmark="sha256", config=_config()))
        deadline = time.monotonic() + 10
        while servicer.active_sessions and time.monotonic() < deadline:
            time.sleep(0.05)
        assert servicer.active_sessions == 0
        with pytest.raises(ServiceError, match="CANCELLED"):  # not SessionNotFound: the stream ended with the session
            stream.step(pb.Action(index=0))


def test_the_reaper_leaves_a_session_in_a_long_request_alone(mini_corpus: Corpus, gated) -> None:
    idle = 0.3
    with _service(mini_corpus, insecure=True, idle_timeout=idle) as (servicer, address), _client(address) as client:
        session = _start(client, rewards=[_reward("gated")]).session_id
        workdir = servicer.sessions.get(session).compile.workdir
        stepping, outcome = _step_in_background(client, session)
        assert gated.entered.wait(60)
        time.sleep(5 * idle)  # the reaper looked about 20 times meanwhile
        assert servicer.active_sessions == 1 and workdir.exists()
        gated.gate.set()
        stepping.join(60)
        (step,) = outcome
        assert isinstance(step, pb.StepReply) and step.done and step.result.has_reward, step
        deadline = time.monotonic() + 10  # idle from the end of that request: reaped soon after
        while servicer.active_sessions and time.monotonic() < deadline:
            time.sleep(0.05)
        assert servicer.active_sessions == 0 and not workdir.exists()


def test_sessions_work_with_descriptors_above_1024(mini_corpus: Corpus) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.fail(f"this test needs a descriptor limit of 1200 at least; the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200) if soft != resource.RLIM_INFINITY else soft, hard))
    filler: list[int] = []
    try:
        while not filler or filler[-1] < 1030:
            filler.append(os.open(os.devnull, os.O_RDONLY))
        with _service(mini_corpus, insecure=True) as (servicer, address), _client(address) as client:
            session = _start(client).session_id
            assert servicer.sessions.get(session).compile.channel._out_fd > 1024
            assert _finish(client, session).result.decisions > 0
    finally:
        for fd in filler:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
