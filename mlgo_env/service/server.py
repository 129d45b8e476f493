"""The compiler service: owns the corpus, the compiler processes and their pipes, and the sessions.

Each session compiles one benchmark in its own private temporary directory. Sessions are
closed on `EndSession`, on compiler errors, after `idle_timeout` seconds without a request
(a client that disconnected), and on shutdown. Run one with ``mlgo-env serve``.
"""

from __future__ import annotations

import functools
import hmac
import json
import logging
import os
import signal
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent import futures
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
    PermissionDenied,
    ServiceError,
    SessionNotFound,
    ValidationFailed,
)
from mlgo_env.policies import builtin_policy, torchscript_policy
from mlgo_env.programs import run_program, validate_output
from mlgo_env.scoring import Scorer
from mlgo_env.service import convert
from mlgo_env.service.errors import ERROR_METADATA_KEY, error_name, status_of
from mlgo_env.service.proto import pb, pb_grpc
from mlgo_env.tasks import get_task
from mlgo_env.toolchain import DEFAULT_VERSION, get_toolchain, installed_versions
from rewards.base import Artifact
from rewards.size import object_sizes

__all__ = ["CompilerServicer", "serve", "ServiceConfig"]

logger = logging.getLogger(__name__)
Reply = TypeVar("Reply")


@dataclass
class ServiceConfig:
    """How the service runs: corpus, limits and defaults."""

    corpus: Path | None = None
    max_sessions: int = 64
    idle_timeout: float = 600.0
    decision_timeout: float = 60.0
    compile_timeout: float = 600.0
    workdir: Path | None = None
    token: str | None = None


@dataclass
class _Session:
    compile: InteractiveCompile
    scorer: Scorer | None
    last_used: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)
    result: pb.EpisodeResult | None = None


def _handles_errors(method: Callable[..., Reply]) -> Callable[..., Reply]:
    """Turn mlgo-env exceptions into gRPC status codes with the class name in trailing metadata."""

    @functools.wraps(method)
    def wrapper(self: CompilerServicer, request: Any, context: grpc.ServicerContext) -> Reply:
        try:
            return method(self, request, context)
        except (MlgoEnvError, ValueError, KeyError, TypeError) as exc:
            # A plain KeyError's str() is its argument in quotes; send the argument itself.
            message = str(exc.args[0]) if type(exc) is KeyError and exc.args else str(exc)
            context.set_trailing_metadata(((ERROR_METADATA_KEY, error_name(exc)),))
            context.abort(status_of(exc), message)
        except Exception as exc:  # the service must answer, not die: report it as internal
            logger.exception("internal error in %s", method.__name__)
            context.set_trailing_metadata(((ERROR_METADATA_KEY, "ServiceError"),))
            context.abort(grpc.StatusCode.INTERNAL, f"internal error: {type(exc).__name__}: {exc}")
        raise AssertionError("unreachable")  # pragma: no cover - abort raises

    return wrapper


class CompilerServicer(pb_grpc.CompilerServiceServicer):
    """Implements the RPCs of ``mlgo_service.proto``."""

    def __init__(self, config: ServiceConfig) -> None:
        self.config = config
        self._corpus = Corpus.load(config.corpus) if config.corpus else None
        self._sessions: dict[str, _Session] = {}
        self._lock = threading.Lock()
        self._scorers: dict[tuple, Scorer] = {}
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
        return CompileOptions(
            opt_level=config.opt_level or None,
            decision_timeout=config.decision_timeout_s or self.config.decision_timeout,
            compile_timeout=config.compile_timeout_s or self.config.compile_timeout,
        )

    def _scorer(self, config: pb.CompileConfig, options: CompileOptions) -> Scorer | None:
        if not config.rewards:
            return None
        key = (
            tuple((r.name, r.options_json, r.weight) for r in config.rewards),
            config.llvm_version,
            options.opt_level,
        )
        with self._lock:
            if key not in self._scorers:
                parts = [
                    (r.weight or 1.0, rewards.get(r.name, **(json.loads(r.options_json) if r.options_json else {})))
                    for r in config.rewards
                ]
                reward = parts[0][1] if len(parts) == 1 and parts[0][0] == 1.0 else rewards.WeightedSum(parts)
                self._scorers[key] = Scorer(reward, get_toolchain(config.llvm_version or None), options)
            return self._scorers[key]

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

    def _session(self, session_id: str) -> _Session:
        with self._lock:
            session = self._sessions.get(session_id)
        if session is None:
            raise SessionNotFound(
                f"no session {session_id!r}: it ended, timed out after {self.config.idle_timeout:.0f} s idle, "
                "or the service restarted; call reset()"
            )
        session.last_used = time.monotonic()
        return session

    def _drop(self, session_id: str) -> None:
        with self._lock:
            session = self._sessions.pop(session_id, None)
        if session is not None:
            session.compile.close()

    def _reap_idle(self) -> None:
        while not self._stop.wait(min(5.0, self.config.idle_timeout / 4)):
            now = time.monotonic()
            with self._lock:
                idle = [sid for sid, s in self._sessions.items() if now - s.last_used > self.config.idle_timeout]
            for session_id in idle:
                logger.info("closing idle session %s", session_id)
                self._drop(session_id)

    def shutdown(self) -> None:
        """Close every session (kills compilers, removes files)."""
        self._stop.set()
        with self._lock:
            ids = list(self._sessions)
        for session_id in ids:
            self._drop(session_id)

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
        task = get_task(request.task)
        toolchain = get_toolchain(request.llvm_version or None)
        key = (task.name, toolchain.version, request.include_default)
        with self._lock:
            cached = self._spaces.get(key)
        if cached is not None:
            return cached
        benchmark = self.corpus.benchmark(self.corpus.modules[0])
        compile_ = InteractiveCompile(
            toolchain, benchmark, task, self._options(pb.CompileConfig()), request.include_default
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
        """Start a compile and return its first decision."""
        if self.active_sessions >= self.config.max_sessions:
            context.set_trailing_metadata(((ERROR_METADATA_KEY, "ServiceError"),))
            context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED, f"the service already runs {self.config.max_sessions} sessions"
            )
        benchmark = self.corpus.benchmark(request.benchmark)
        task = get_task(request.config.task)
        toolchain = get_toolchain(request.config.llvm_version or None)
        options = self._options(request.config)
        scorer = self._scorer(request.config, options)
        if scorer is not None:
            options = replace(options, artifacts=options.artifacts | scorer.artifacts)
        compile_ = InteractiveCompile(
            toolchain, benchmark, task, options, request.config.include_default, self.config.workdir
        )
        session = _Session(compile_, scorer)
        session_id = uuid.uuid4().hex
        with self._lock:
            self._sessions[session_id] = session
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
        except BaseException:
            self._drop(session_id)
            raise
        return reply

    @_handles_errors
    def Step(self, request: pb.StepRequest, context: grpc.ServicerContext) -> pb.StepReply:  # noqa: N802
        """Answer the pending decision."""
        session = self._session(request.session_id)
        with session.lock:
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
                    self._drop(request.session_id)
                raise

    @_handles_errors
    def Validate(self, request: pb.ValidateRequest, context: grpc.ServicerContext) -> pb.ValidateReply:  # noqa: N802
        """Link, run and compare the finished session's program."""
        session = self._session(request.session_id)
        with session.lock:
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
        session = self._session(request.session_id)
        with session.lock:
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

    @_handles_errors
    def Rollout(self, request: pb.RolloutRequest, context: grpc.ServicerContext) -> pb.RolloutReply:  # noqa: N802
        """Run a whole episode with the policy inside the service."""
        benchmark = self.corpus.benchmark(request.benchmark)
        task = get_task(request.config.task)
        toolchain = get_toolchain(request.config.llvm_version or None)
        options = self._options(request.config)
        kind = request.policy.WhichOneof("kind")
        if kind == "torchscript":
            policy = torchscript_policy(request.policy.torchscript)
            include_default = request.config.include_default
        elif kind == "builtin":
            policy = builtin_policy(request.policy.builtin, task, request.policy.seed)
            include_default = request.config.include_default or request.policy.builtin == "llvm-default"
        else:
            raise ValueError("Rollout needs a policy (builtin or torchscript)")
        trajectory = run_episode(
            benchmark,
            task,
            policy,
            scorer=self._scorer(request.config, options),
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


class _TokenCheck(grpc.ServerInterceptor):
    """Refuses calls without the shared token (``authorization: Bearer <token>``)."""

    def __init__(self, token: str) -> None:
        self._expected = f"Bearer {token}".encode()

        def deny(request: Any, context: grpc.ServicerContext) -> None:
            context.set_trailing_metadata(((ERROR_METADATA_KEY, PermissionDenied.__name__),))
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong token (MLGO_SERVICE_TOKEN)")

        self._deny = grpc.unary_unary_rpc_method_handler(deny)

    def intercept_service(self, continuation: Callable, handler_call_details: grpc.HandlerCallDetails) -> Any:
        metadata = dict(handler_call_details.invocation_metadata or ())
        given = str(metadata.get("authorization", "")).encode()
        if hmac.compare_digest(given, self._expected):
            return continuation(handler_call_details)
        return self._deny


def is_loopback(address: str) -> bool:
    """Whether `address` (``host:port`` or ``unix:PATH``) can only be reached from this machine."""
    if address.startswith("unix:"):
        return True
    host = address.rsplit(":", 1)[0].strip("[]")
    return host in ("localhost", "::1") or host.startswith("127.")


def start_server(
    address: str, config: ServiceConfig, allow_remote: bool = False, workers: int = 32
) -> tuple[grpc.Server, CompilerServicer, int]:
    """Start a service on `address`; returns the server, its servicer and the bound port.

    Raises:
        PermissionDenied: `address` is not loopback and `allow_remote` or a token is missing.
    """
    if not is_loopback(address):
        if not allow_remote:
            raise PermissionDenied(f"refusing to listen on {address}: pass --allow-remote to listen beyond loopback")
        if not config.token:
            raise PermissionDenied("listening beyond loopback needs a shared token (--token or MLGO_SERVICE_TOKEN)")
    interceptors = [_TokenCheck(config.token)] if config.token else []
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mlgo-rpc"),
        interceptors=interceptors,
        options=[("grpc.max_send_message_length", 256 << 20), ("grpc.max_receive_message_length", 256 << 20)],
    )
    servicer = CompilerServicer(config)
    pb_grpc.add_CompilerServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port(address)
    if port == 0:
        raise ServiceError(f"could not bind {address}")
    server.start()
    return server, servicer, port


def serve(
    address: str,
    config: ServiceConfig,
    allow_remote: bool = False,
    parent_pid: int | None = None,
    ready_file: Path | None = None,
) -> None:
    """Run a service until SIGINT/SIGTERM (or until `parent_pid` exits), then clean up every session."""
    server, servicer, port = start_server(address, config, allow_remote)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    if ready_file is not None:
        ready_file.write_text(str(port))
    logger.info("mlgo-env service listening on %s (port %d)", address, port)
    while not stop.wait(0.5):
        if parent_pid is not None and os.getppid() != parent_pid:
            logger.info("parent %d exited; shutting down", parent_pid)
            break
    servicer.shutdown()
    server.stop(grace=2).wait()
