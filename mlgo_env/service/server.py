"""The compiler service: owns the corpus, the compiler processes and their pipes, and the sessions.

Each session compiles one benchmark in its own private temporary directory. Sessions are
closed on `EndSession`, on compiler errors, after `idle_timeout` seconds without a request
(a client that disconnected), and on shutdown; always between requests, never during one (each
closes under the session's lock). Step sessions and rollouts share one budget of
`ServiceConfig.max_sessions`, taken atomically; a request past it fails with `ServiceBusy`.
Clients set only what the service allows: timeouts up to its own, reward options each reward
declares (`rewards.wire`). Who may connect is `mlgo_env.service.security`'s business. Run one
with ``mlgo-env serve``.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import signal
import tempfile
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import grpc

import rewards
from mlgo_env import __version__
from mlgo_env.compilation import CompileOptions, InteractiveCompile, compile_baseline
from mlgo_env.corpus import Corpus, default_corpus
from mlgo_env.episode import run_episode
from mlgo_env.errors import (
    EpisodeOver,
    MlgoEnvError,
    ServiceBusy,
    ServiceError,
    ServiceUnavailable,
    SessionNotFound,
    ValidationFailed,
)
from mlgo_env.onnx_policy import OnnxPolicy, PolicyLimits
from mlgo_env.policies import Policy, builtin_policy
from mlgo_env.programs import run_program, validate_output
from mlgo_env.scoring import Scorer
from mlgo_env.service import convert
from mlgo_env.service.errors import ERROR_METADATA_KEY, error_name, status_of
from mlgo_env.service.proto import pb, pb_grpc
from mlgo_env.service.security import (
    TokenCheck,
    check_listening,
    generate_token,
    is_private_socket,
    server_credentials,
)
from mlgo_env.tasks import Task, get_task
from mlgo_env.toolchain import DEFAULT_VERSION, Toolchain, get_toolchain, installed_versions
from rewards.base import Artifact
from rewards.size import object_sizes

__all__ = ["CompilerServicer", "serve", "ServiceConfig"]

logger = logging.getLogger(__name__)
Reply = TypeVar("Reply")

MAX_REWARDS = 8
"""Most rewards one compile configuration may combine."""
MAX_OPTIONS_BYTES = 4096
"""Longest JSON options string of one reward."""
MAX_WEIGHT = 100.0
"""Largest absolute weight of a reward in a combination (weights are exponents: `rewards.WeightedSum`)."""


@dataclass
class ServiceConfig:
    """How the service runs: corpus, limits, defaults and who may connect.

    Attributes:
        corpus: the corpus served (None: the bundled one).
        max_sessions: Step sessions and running rollouts at once.
        idle_timeout: seconds after its last request that a session is closed.
        decision_timeout: seconds the compiler may take per decision; also the most a client may ask.
        compile_timeout: seconds one compile may take; also the most a client may ask.
        reward_timeout: the most a client may set a reward's own time limit to (``runtime``'s
            ``timeout``, ``perf_model``'s ``profile_timeout``).
        max_scorers: reward configurations kept (least recently used dropped first).
        workdir: where sessions' directories go (None: the system's temporary directory).
        token: the shared token clients must send (None: none, where `security` allows it).
        insecure: accept plain TCP on loopback without a token (the operator's explicit choice).
        tls_cert: PEM certificate chain: the service speaks TLS (with `tls_key`).
        tls_key: PEM private key of `tls_cert`.
        policy_limits: what one uploaded ONNX policy may cost (`mlgo_env.onnx_policy`).
    """

    corpus: Path | None = None
    max_sessions: int = 64
    idle_timeout: float = 600.0
    decision_timeout: float = 60.0
    compile_timeout: float = 600.0
    reward_timeout: float = 3600.0
    max_scorers: int = 32
    workdir: Path | None = None
    token: str | None = None
    insecure: bool = False
    tls_cert: Path | None = None
    tls_key: Path | None = None
    policy_limits: PolicyLimits = field(default_factory=PolicyLimits)

    def __post_init__(self) -> None:
        if self.max_sessions < 1 or self.max_scorers < 1:
            raise ValueError(
                f"max_sessions and max_scorers must be at least 1, not {self.max_sessions}, {self.max_scorers}"
            )
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("TLS needs both a certificate (--tls-cert) and its key (--tls-key)")


@dataclass
class _Session:
    """One Step session; its lock is held by every request on it and by whatever closes it."""

    compile: InteractiveCompile
    scorer: Scorer | None
    last_used: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)
    result: pb.EpisodeResult | None = None
    closed: bool = False


def _capped(name: str, asked: float, cap: float) -> float:
    """A client's time limit: the service's `cap` when it asked none (0); refused when not in (0, cap]."""
    if not asked:
        return cap
    if not math.isfinite(asked) or asked < 0 or asked > cap:
        raise ValueError(f"{name}={asked:g} is outside (0, {cap:g}], the limit of this service")
    return asked


def _reward_options(spec: pb.RewardSpec) -> dict[str, object]:
    """The options a client sent for one reward: a JSON object, small."""
    if len(spec.options_json) > MAX_OPTIONS_BYTES:
        raise ValueError(f"options of reward {spec.name!r} exceed {MAX_OPTIONS_BYTES} bytes")
    try:
        options = json.loads(spec.options_json) if spec.options_json else {}
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"options of reward {spec.name!r} are not valid JSON: {exc}") from None
    if not isinstance(options, dict):
        raise ValueError(f"options of reward {spec.name!r} must be a JSON object, not {spec.options_json[:80]!r}")
    return options


def _weight(spec: pb.RewardSpec) -> float:
    weight = spec.weight or 1.0
    if not math.isfinite(weight) or abs(weight) > MAX_WEIGHT:
        raise ValueError(f"weight of reward {spec.name!r} must be finite and at most {MAX_WEIGHT:g} in size")
    return weight


def _handles_errors(method: Callable[..., Reply]) -> Callable[..., Reply]:
    """Turn mlgo-env exceptions into gRPC status codes with the class name in trailing metadata.

    Handlers raise, never abort: the abort happens here, outside the ``try`` (gRPC's abort raises,
    and inside the ``try`` that would be caught and turned into an internal error).
    """

    @functools.wraps(method)
    def wrapper(self: CompilerServicer, request: Any, context: grpc.ServicerContext) -> Reply:
        try:
            return method(self, request, context)
        except (MlgoEnvError, ValueError, KeyError, TypeError) as exc:
            # A plain KeyError's str() is its argument in quotes; send the argument itself.
            message = str(exc.args[0]) if type(exc) is KeyError and exc.args else str(exc)
            code, name = status_of(exc), error_name(exc)
        except Exception as exc:  # the service must answer, not die: report it as internal
            logger.exception("internal error in %s", method.__name__)
            code, name = grpc.StatusCode.INTERNAL, "ServiceError"
            message = f"internal error: {type(exc).__name__}: {exc}"
        context.set_trailing_metadata(((ERROR_METADATA_KEY, name),))
        context.abort(code, message)
        raise AssertionError("unreachable")  # pragma: no cover - abort raises

    return wrapper


class CompilerServicer(pb_grpc.CompilerServiceServicer):
    """Implements the RPCs of ``mlgo_service.proto``."""

    def __init__(self, config: ServiceConfig) -> None:
        self.config = config
        self._corpus = Corpus.load(config.corpus) if config.corpus else None
        self._sessions: dict[str, _Session] = {}
        self._lock = threading.Lock()
        self._busy = 0  # slots of the session budget in use (under `_lock`)
        self._scorers: OrderedDict[tuple, Scorer] = OrderedDict()
        self._spaces: dict[tuple, pb.GetSpacesReply] = {}
        self._stop = threading.Event()
        self._reaper = threading.Thread(target=self._reap_idle, name="mlgo-session-reaper", daemon=True)
        self._reaper.start()

    # -- helpers -------------------------------------------------------------------------
    @property
    def corpus(self) -> Corpus:
        """The corpus served (the bundled one, built on first use, unless configured)."""
        if self._corpus is None:
            self._corpus = default_corpus()
        return self._corpus

    def _options(self, config: pb.CompileConfig) -> CompileOptions:
        """The compile options a client asked for, its timeouts within the service's."""
        return CompileOptions(
            opt_level=config.opt_level or None,
            decision_timeout=_capped("decision_timeout_s", config.decision_timeout_s, self.config.decision_timeout),
            compile_timeout=_capped("compile_timeout_s", config.compile_timeout_s, self.config.compile_timeout),
        )

    def _scorer(self, config: pb.CompileConfig, options: CompileOptions) -> Scorer | None:
        """The scorer of the client's rewards (checked options only), from a bounded cache."""
        if not config.rewards:
            return None
        if len(config.rewards) > MAX_REWARDS:
            raise ValueError(f"at most {MAX_REWARDS} rewards may be combined, not {len(config.rewards)}")
        parts = [
            (
                _weight(r),
                r.name,
                rewards.check_wire_options(r.name, _reward_options(r), self.config.reward_timeout),
            )
            for r in config.rewards
        ]
        key = (
            tuple((name, json.dumps(checked, sort_keys=True), weight) for weight, name, checked in parts),
            config.llvm_version,
            options.opt_level,
        )
        with self._lock:
            if key in self._scorers:
                self._scorers.move_to_end(key)
                return self._scorers[key]
        built = [(weight, rewards.get(name, **checked)) for weight, name, checked in parts]
        reward = built[0][1] if len(built) == 1 and built[0][0] == 1.0 else rewards.WeightedSum(built)
        scorer = Scorer(reward, get_toolchain(config.llvm_version or None), options)
        with self._lock:
            scorer = self._scorers.setdefault(key, scorer)  # another thread may have built it meanwhile
            self._scorers.move_to_end(key)
            while len(self._scorers) > self.config.max_scorers:
                self._scorers.popitem(last=False)
        return scorer

    def _result(self, session: _Session) -> pb.EpisodeResult:
        compile_ = session.compile
        module = compile_.result(session.scorer.artifacts if session.scorer else None)
        text, total = object_sizes(module.object_path)
        result = pb.EpisodeResult(
            decisions=compile_.decisions,
            text_size=text,
            object_size=total,
            object_path=str(module.object_path),
            compile_seconds=compile_.compile_seconds,
        )
        if session.scorer is not None:
            score = session.scorer.score(module, compile_.benchmark)
            result.cost, result.baseline_cost, result.reward = score.cost, score.baseline_cost, score.reward
            result.has_reward = True
        return result

    # -- the session budget and session lifetimes -----------------------------------------
    def _take_slot(self) -> None:
        """Take one slot of the session budget (checked and taken under the lock: atomic).

        Raises:
            ServiceBusy: every slot is taken.
            ServiceUnavailable: the service is shutting down.
        """
        with self._lock:
            if self._stop.is_set():
                raise ServiceUnavailable("the service is shutting down")
            if self._busy >= self.config.max_sessions:
                raise ServiceBusy(
                    f"the service already runs {self.config.max_sessions} sessions and rollouts; try again later"
                )
            self._busy += 1

    def _give_slot(self) -> None:
        with self._lock:
            self._busy -= 1

    @contextmanager
    def _slot(self) -> Iterator[None]:
        """A slot of the session budget for the duration of one request (a rollout)."""
        self._take_slot()
        try:
            yield
        finally:
            self._give_slot()

    @contextmanager
    def _request(self, session_id: str) -> Iterator[_Session]:
        """The session, locked for one request; its idle time restarts when the request ends.

        Raises:
            SessionNotFound: no such session, or it was closed while this request waited for it.
        """
        with self._lock:
            session = self._sessions.get(session_id)
        if session is not None:
            session.last_used = time.monotonic()  # the reaper leaves a session alone while a request waits
            with session.lock:
                if not session.closed:
                    try:
                        yield session
                    finally:
                        session.last_used = time.monotonic()
                    return
        raise SessionNotFound(
            f"no session {session_id!r}: it ended, timed out after {self.config.idle_timeout:.0f} s idle, "
            "or the service restarted; call reset()"
        )

    def _close(self, session_id: str, session: _Session) -> None:
        """Forget and close a session whose lock the caller holds: kill its compiler, free its slot."""
        with self._lock:
            if self._sessions.get(session_id) is session:
                del self._sessions[session_id]
        if not session.closed:
            session.closed = True
            session.compile.close()
            self._give_slot()

    def _drop(self, session_id: str) -> None:
        """End a session between requests: waits for a request in progress on it to finish."""
        with self._lock:
            session = self._sessions.get(session_id)
        if session is not None:
            with session.lock:
                self._close(session_id, session)

    def _reap_idle(self) -> None:
        """Close sessions without a request for `idle_timeout` seconds (never one in a request)."""
        while not self._stop.wait(min(5.0, self.config.idle_timeout / 4)):
            now = time.monotonic()
            with self._lock:
                idle = [(i, s) for i, s in self._sessions.items() if now - s.last_used > self.config.idle_timeout]
            for session_id, session in idle:
                if not session.lock.acquire(blocking=False):
                    continue  # a request runs or waits: not idle
                try:
                    if time.monotonic() - session.last_used > self.config.idle_timeout:
                        logger.info("closing idle session %s", session_id)
                        self._close(session_id, session)
                finally:
                    session.lock.release()

    def shutdown(self) -> None:
        """Close every session (kills compilers, removes files), each after its request in progress."""
        with self._lock:
            self._stop.set()
            ids = list(self._sessions)
        for session_id in ids:
            self._drop(session_id)
        if self._reaper is not threading.current_thread():
            self._reaper.join()

    @property
    def active_sessions(self) -> int:
        """Number of open sessions."""
        with self._lock:
            return len(self._sessions)

    # -- RPCs ----------------------------------------------------------------------------
    @_handles_errors
    def GetVersion(self, request: pb.GetVersionRequest, context: grpc.ServicerContext) -> pb.GetVersionReply:  # noqa: N802
        """Version and health."""
        return pb.GetVersionReply(
            service_version=__version__,
            llvm_versions=installed_versions(),
            default_llvm_version=int(os.environ.get("MLGO_LLVM_VERSION", DEFAULT_VERSION)),
            corpus=self._corpus.name if self._corpus else "mlgo-v0 (bundled)",
            active_sessions=self.active_sessions,
        )

    @_handles_errors
    def ListBenchmarks(
        self, request: pb.ListBenchmarksRequest, context: grpc.ServicerContext
    ) -> pb.ListBenchmarksReply:  # noqa: N802
        """The corpus's benchmarks."""
        return pb.ListBenchmarksReply(
            benchmarks=[
                pb.BenchmarkInfo(
                    uri=b.uri,
                    split=b.split or "",
                    runnable=b.program is not None,
                    memory_bound=bool(b.program and b.program.memory_bound),
                )
                for b in self.corpus.benchmarks(request.split or None)
            ]
        )

    @_handles_errors
    def GetSpaces(self, request: pb.GetSpacesRequest, context: grpc.ServicerContext) -> pb.GetSpacesReply:  # noqa: N802
        """The task's tensors, read from a real compile's channel header (cached)."""
        return self._spaces_of(
            get_task(request.task), get_toolchain(request.llvm_version or None), request.include_default
        )

    def _spaces_of(self, task: Task, toolchain: Toolchain, include_default: bool) -> pb.GetSpacesReply:
        """The task's tensors, read from a real compile's channel header (cached)."""
        key = (task.name, toolchain.version, include_default)
        with self._lock:
            cached = self._spaces.get(key)
        if cached is not None:
            return cached
        benchmark = self.corpus.benchmark(self.corpus.modules[0])
        with self._slot():
            compile_ = InteractiveCompile(
                toolchain, benchmark, task, self._options(pb.CompileConfig()), include_default
            )
            try:
                compile_.start()
                features, advice = convert.header_specs(compile_.header)
            finally:
                compile_.close()
        reply = pb.GetSpacesReply(features=features, advice=advice)
        with self._lock:
            self._spaces[key] = reply
        return reply

    @_handles_errors
    def StartSession(self, request: pb.StartSessionRequest, context: grpc.ServicerContext) -> pb.StartSessionReply:  # noqa: N802
        """Start a compile and return its first decision; the session holds a slot of the budget until it ends."""
        benchmark = self.corpus.benchmark(request.benchmark)
        task = get_task(request.config.task)
        toolchain = get_toolchain(request.config.llvm_version or None)
        options = self._options(request.config)
        scorer = self._scorer(request.config, options)
        if scorer is not None:
            options = replace(options, artifacts=options.artifacts | scorer.artifacts)
        self._take_slot()
        try:
            compile_ = InteractiveCompile(
                toolchain, benchmark, task, options, request.config.include_default, self.config.workdir
            )
        except BaseException:
            self._give_slot()
            raise
        session = _Session(compile_, scorer)
        session_id = uuid.uuid4().hex
        with self._lock:
            stopping = self._stop.is_set()  # set under this lock by shutdown(), which then lists the sessions
            if not stopping:
                self._sessions[session_id] = session
        if stopping:
            compile_.close()
            self._give_slot()
            raise ServiceUnavailable("the service is shutting down")
        try:
            with session.lock:
                observation = compile_.start()
                features, advice = convert.header_specs(compile_.header)
                reply = pb.StartSessionReply(
                    session_id=session_id, benchmark=benchmark.uri, features=features, advice=advice
                )
                if observation is None:
                    session.result = self._result(session)
                    reply.done = True
                    reply.result.CopyFrom(session.result)
                else:
                    reply.observation.CopyFrom(
                        convert.observation_to_pb(observation, compile_.header, compile_.context)
                    )
                session.last_used = time.monotonic()  # idle from the end of this request
        except BaseException:
            self._drop(session_id)
            raise
        return reply

    @_handles_errors
    def Step(self, request: pb.StepRequest, context: grpc.ServicerContext) -> pb.StepReply:  # noqa: N802
        """Answer the pending decision."""
        with self._request(request.session_id) as session:
            compile_ = session.compile
            if compile_.done:
                raise EpisodeOver("the episode is over: the compiler finished; call reset()")
            which = request.action.WhichOneof("value")
            if which is None:
                raise ValueError("Step needs an action")
            action = request.action.index if which == "index" else request.action.number
            try:
                observation = compile_.step(action)
                if observation is None:
                    session.result = self._result(session)
                    return pb.StepReply(done=True, result=session.result)
                return pb.StepReply(
                    observation=convert.observation_to_pb(observation, compile_.header, compile_.context)
                )
            except MlgoEnvError:
                if compile_.done:  # the compiler failed or hung: the session is closed
                    self._close(request.session_id, session)
                raise

    @_handles_errors
    def Validate(self, request: pb.ValidateRequest, context: grpc.ServicerContext) -> pb.ValidateReply:  # noqa: N802
        """Link, run and compare the finished session's program (in the session's own slot of the budget)."""
        with self._request(request.session_id) as session:
            if session.result is None:
                raise EpisodeOver("validation needs a finished episode")
            module = session.compile.result(session.compile.options.artifacts | Artifact.EXECUTABLE)
            assert module.executable_path is not None and module.program is not None
            run = run_program(module.executable_path, module.program)
            try:
                validate_output(run, module.program)
            except ValidationFailed as exc:
                return pb.ValidateReply(ok=False, message=str(exc), runtime_s=run.seconds)
            return pb.ValidateReply(ok=True, message="output matches the reference", runtime_s=run.seconds)

    @_handles_errors
    def GetObject(self, request: pb.GetObjectRequest, context: grpc.ServicerContext) -> pb.GetObjectReply:  # noqa: N802
        """The finished session's object bytes."""
        with self._request(request.session_id) as session:
            if request.baseline:
                compile_ = session.compile
                with tempfile.TemporaryDirectory(prefix="mlgo-baseline-") as tmp:
                    module = compile_baseline(compile_.toolchain, compile_.benchmark, compile_.options, Path(tmp))
                    return pb.GetObjectReply(object=module.object_path.read_bytes())
            if session.result is None:
                raise EpisodeOver("the object exists once the episode finished")
            return pb.GetObjectReply(object=session.compile.object_path.read_bytes())

    @_handles_errors
    def EndSession(self, request: pb.EndSessionRequest, context: grpc.ServicerContext) -> pb.EndSessionReply:  # noqa: N802
        """Close a session (idempotent)."""
        self._drop(request.session_id)
        return pb.EndSessionReply()

    def _uploaded_policy(self, data: bytes, task: Task, toolchain: Toolchain, include_default: bool) -> OnnxPolicy:
        """An uploaded ONNX policy, checked against the task's tensors before its compile starts."""
        policy = OnnxPolicy(data, self.config.policy_limits)
        spaces = self._spaces_of(task, toolchain, include_default)
        policy.check_inputs([convert.spec_from_pb(s) for s in spaces.features], convert.spec_from_pb(spaces.advice))
        return policy

    @_handles_errors
    def Rollout(self, request: pb.RolloutRequest, context: grpc.ServicerContext) -> pb.RolloutReply:  # noqa: N802
        """Run a whole episode with the policy inside the service."""
        benchmark = self.corpus.benchmark(request.benchmark)
        task = get_task(request.config.task)
        toolchain = get_toolchain(request.config.llvm_version or None)
        options = self._options(request.config)
        kind = request.policy.WhichOneof("kind")
        policy: Policy
        if kind == "onnx":
            include_default = request.config.include_default
            policy = self._uploaded_policy(request.policy.onnx, task, toolchain, include_default)
        elif kind == "builtin":
            policy = builtin_policy(request.policy.builtin, task, request.policy.seed)
            include_default = request.config.include_default or request.policy.builtin == "llvm-default"
        else:
            raise ValueError("Rollout needs a policy (builtin or onnx)")
        scorer = self._scorer(request.config, options)
        with self._slot():
            trajectory = run_episode(
                benchmark,
                task,
                policy,
                scorer=scorer,
                toolchain=toolchain,
                options=options,
                include_default=include_default,
                record_observations=request.return_observations,
            )
        result = pb.EpisodeResult(
            decisions=trajectory.decisions,
            text_size=trajectory.text_size,
            object_size=trajectory.object_size,
            compile_seconds=trajectory.compile_seconds,
        )
        if trajectory.score is not None:
            result.cost, result.baseline_cost = trajectory.score.cost, trajectory.score.baseline_cost
            result.reward, result.has_reward = trajectory.score.reward, True
        reply = pb.RolloutReply(
            benchmark=benchmark.uri, actions=convert.array_to_pb("actions", trajectory.actions), result=result
        )
        if request.return_observations:
            reply.observations.extend(convert.array_to_pb(k, v) for k, v in trajectory.observations.items())
        return reply


def start_server(
    address: str, config: ServiceConfig, allow_remote: bool = False, workers: int = 32
) -> tuple[grpc.Server, CompilerServicer, int]:
    """Start a service on `address`; returns the server, its servicer and the bound port.

    Raises:
        PermissionDenied: listening there would let others in unchecked or expose the token
            (`security.check_listening` says what is missing).
        ServiceError: `address` cannot be bound.
    """
    tls = config.tls_cert is not None and config.tls_key is not None
    check_listening(address, config.token, tls, allow_remote, config.insecure)
    credentials = server_credentials(config.tls_cert, config.tls_key) if tls else None  # type: ignore[arg-type]
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mlgo-rpc"),
        interceptors=[TokenCheck(config.token)] if config.token else [],
        options=[("grpc.max_send_message_length", 256 << 20), ("grpc.max_receive_message_length", 256 << 20)],
    )
    servicer = CompilerServicer(config)
    pb_grpc.add_CompilerServiceServicer_to_server(servicer, server)
    try:
        port = server.add_secure_port(address, credentials) if credentials else server.add_insecure_port(address)
    except RuntimeError:
        port = 0
    if port == 0:
        servicer.shutdown()
        raise ServiceError(f"could not bind {address}")
    server.start()
    return server, servicer, port


def _with_token(address: str, config: ServiceConfig) -> tuple[ServiceConfig, bool]:
    """`config` with a fresh token where the address needs one and none was given; whether one was made."""
    if config.token or config.insecure or is_private_socket(address):
        return config, False
    return replace(config, token=generate_token()), True


def _how_to_connect(address: str, port: int, config: ServiceConfig, generated: bool) -> str:
    """What a client sets to reach this service (the token itself only when the service made it)."""
    host = address if address.startswith("unix") else f"{address.rsplit(':', 1)[0]}:{port}"
    settings = [f"MLGO_SERVICE={host}"]
    if config.token:
        settings.append(f"MLGO_SERVICE_TOKEN={config.token if generated else '<your token>'}")
    if config.tls_cert:
        settings.append(f"MLGO_SERVICE_TLS_ROOT={config.tls_cert}")
    return "connect with: " + " ".join(settings)


def serve(
    address: str,
    config: ServiceConfig,
    allow_remote: bool = False,
    parent_pid: int | None = None,
    ready_file: Path | None = None,
) -> None:
    """Run a service until SIGINT/SIGTERM (or until `parent_pid` exits), then clean up every session.

    Where clients need a token and none was given, the service makes one and logs how to connect
    (as notebook servers do).
    """
    config, generated = _with_token(address, config)
    server, servicer, port = start_server(address, config, allow_remote)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    if ready_file is not None:
        ready_file.write_text(str(port))
    logger.info("mlgo-env service listening on %s (port %d)", address, port)
    if not address.startswith("unix:") or config.token:
        logger.info(_how_to_connect(address, port, config, generated))
    while not stop.wait(0.5):
        if parent_pid is not None and os.getppid() != parent_pid:
            logger.info("parent %d exited; shutting down", parent_pid)
            break
    server.stop(grace=2).wait()
    servicer.shutdown()
