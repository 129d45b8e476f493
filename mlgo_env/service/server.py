"""The compiler service's RPCs and its serve loop: the corpus, the compilers and their pipes.

Each session compiles one benchmark in its own private temporary directory. The sessions, their
shared slot budget and the idle reaper are `mlgo_env.service.sessions`; what a client may ask
(timeouts, rewards, options) is checked by `mlgo_env.service.config`; who may connect is
`mlgo_env.service.security`'s business. Run one with ``mlgo-env serve``.
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
import logging
import os
import signal
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent import futures
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import grpc

import rewards
from mlgo_env.artifacts import Artifact
from mlgo_env.compilation import CompileOptions, InteractiveCompile, compile_baseline
from mlgo_env.corpus import Corpus, default_corpus
from mlgo_env.episode import run_episode
from mlgo_env.errors import (
    EpisodeOver,
    MlgoEnvError,
    ServiceBusy,
    ServiceError,
    ServiceUnavailable,
    ValidationFailed,
)
from mlgo_env.onnx_policy import OnnxPolicy
from mlgo_env.policies import Policy, builtin_policy, replay_policy
from mlgo_env.programs import run_program, validate_output
from mlgo_env.scoring import Scorer
from mlgo_env.service import convert
from mlgo_env.service.config import MAX_REWARDS, ServiceConfig, capped, reward_options, weight
from mlgo_env.service.errors import ERROR_METADATA_KEY, error_name, status_of
from mlgo_env.service.proto import pb, pb_grpc
from mlgo_env.service.security import (
    TokenCheck,
    check_listening,
    generate_token,
    is_private_socket,
    server_credentials,
)
from mlgo_env.service.sessions import Session, SessionRegistry
from mlgo_env.tasks import Task, get_task
from mlgo_env.toolchain import DEFAULT_VERSION, Toolchain, get_toolchain, installed_versions
from rewards.size import object_sizes

__all__ = ["CompilerServicer", "serve", "ServiceConfig"]

logger = logging.getLogger(__name__)
Reply = TypeVar("Reply")

SPACES_TRIES = 20
"""Modules GetSpaces compiles (at ``-O2``: a build without ``-O`` records ``-O0``, where neither the
inliner nor the greedy allocator runs), in order, until one writes the channel header (a user's
corpus may start with modules that fail to compile)."""


def _status(exc: Exception, where: str) -> tuple[grpc.StatusCode, str, str]:
    """The status code, the class name (for "mlgo-error") and the message `exc` is reported with."""
    if isinstance(exc, (MlgoEnvError, ValueError, KeyError, TypeError)):
        # A plain KeyError's str() is its argument in quotes; send the argument itself.
        message = str(exc.args[0]) if type(exc) is KeyError and exc.args else str(exc)
        return status_of(exc), error_name(exc), message
    # The service must answer, not die: report it as internal.
    logger.error("internal error in %s", where, exc_info=exc)
    return grpc.StatusCode.INTERNAL, "ServiceError", f"internal error: {type(exc).__name__}: {exc}"


def _abort(context: grpc.ServicerContext, exc: Exception, where: str) -> None:
    """End the call with the status of `exc`, its class named in trailing metadata (gRPC's abort raises)."""
    code, name, message = _status(exc, where)
    context.set_trailing_metadata(((ERROR_METADATA_KEY, name),))
    context.abort(code, message)


def _slot_error(exc: Exception) -> pb.SlotError:
    """One slot's error in an ``Episodes`` reply: what the same request would have ended a call with."""
    code, name, message = _status(exc, "Episodes")
    return pb.SlotError(error=name, message=message, status=code.name)


def _handles_errors(method: Callable[..., Reply]) -> Callable[..., Reply]:
    """Turn mlgo-env exceptions into gRPC status codes with the class name in trailing metadata.

    Handlers raise, never abort: the abort happens here, outside the ``try`` (gRPC's abort raises,
    and inside the ``try`` that would be caught and turned into an internal error).
    """

    @functools.wraps(method)
    def wrapper(self: CompilerServicer, request: Any, context: grpc.ServicerContext) -> Reply:
        try:
            return method(self, request, context)
        except Exception as exc:
            error = exc
        _abort(context, error, method.__name__)
        raise AssertionError("unreachable")  # pragma: no cover - abort raises

    return wrapper


def _handles_stream_errors(method: Callable[..., Iterator[Reply]]) -> Callable[..., Iterator[Reply]]:
    """`_handles_errors` for a streaming handler: an error ends the stream with its status."""

    @functools.wraps(method)
    def wrapper(self: CompilerServicer, requests: Iterator[Any], context: grpc.ServicerContext) -> Iterator[Reply]:
        try:
            yield from method(self, requests, context)
            return
        except grpc.RpcError:  # reading the requests: the client left or the stream was cancelled
            return
        except Exception as exc:
            error = exc
        _abort(context, error, method.__name__)

    return wrapper


class CompilerServicer(pb_grpc.CompilerServiceServicer):
    """Implements the RPCs of ``mlgo_service.proto``."""

    def __init__(self, config: ServiceConfig) -> None:
        self.config = config
        self._corpus = Corpus.load(config.corpus) if config.corpus else None
        self.sessions = SessionRegistry(config.max_sessions, config.idle_timeout)
        self._lock = threading.Lock()  # of the caches below
        self._scorers: OrderedDict[tuple, Scorer] = OrderedDict()
        self._spaces: dict[tuple, pb.GetSpacesReply] = {}

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
            decision_timeout=capped("decision_timeout_s", config.decision_timeout_s, self.config.decision_timeout),
            compile_timeout=capped("compile_timeout_s", config.compile_timeout_s, self.config.compile_timeout),
        )

    def _scorer(self, config: pb.CompileConfig, options: CompileOptions) -> Scorer | None:
        """The scorer of the client's rewards (checked options only), from a bounded cache."""
        if not config.rewards:
            return None
        if len(config.rewards) > MAX_REWARDS:
            raise ValueError(f"at most {MAX_REWARDS} rewards may be combined, not {len(config.rewards)}")
        parts = [
            (
                weight(r),
                r.name,
                rewards.check_wire_options(r.name, reward_options(r), self.config.reward_timeout),
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

    def _result(self, session: Session) -> pb.EpisodeResult:
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

    def shutdown(self) -> None:
        """Close every session (kills compilers, removes files), each after its request in progress."""
        self.sessions.shutdown()

    @property
    def active_sessions(self) -> int:
        """Number of open sessions."""
        return len(self.sessions)

    # -- RPCs ----------------------------------------------------------------------------
    @_handles_errors
    def GetVersion(self, request: pb.GetVersionRequest, context: grpc.ServicerContext) -> pb.GetVersionReply:  # noqa: N802
        """Version and health."""
        return pb.GetVersionReply(
            service_version=importlib.metadata.version("mlgo-env"),
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
        failure: MlgoEnvError | None = None
        for module in self.corpus.modules[:SPACES_TRIES]:  # a module that fails to compile has no header
            benchmark = self.corpus.benchmark(module)
            with self.sessions.slot():
                compile_ = InteractiveCompile(
                    toolchain, benchmark, task, self._options(pb.CompileConfig(opt_level="-O2")), include_default
                )
                try:
                    compile_.start()
                    features, advice = convert.header_specs(compile_.header)
                    break
                except MlgoEnvError as exc:
                    failure = exc
                finally:
                    compile_.close()
        else:
            assert failure is not None, "the corpus lists no module"
            raise failure
        reply = pb.GetSpacesReply(features=features, advice=advice)
        with self._lock:
            self._spaces[key] = reply
        return reply

    @_handles_errors
    def StartSession(self, request: pb.StartSessionRequest, context: grpc.ServicerContext) -> pb.StartSessionReply:  # noqa: N802
        """Start a compile and return its first decision; the session holds a slot of the budget until it ends."""
        return self._start_session(request)

    @_handles_errors
    def Step(self, request: pb.StepRequest, context: grpc.ServicerContext) -> pb.StepReply:  # noqa: N802
        """Answer the pending decision."""
        return self._step(request.session_id, request.action)

    @_handles_stream_errors
    def Episode(  # noqa: N802
        self, requests: Iterator[pb.EpisodeRequest], context: grpc.ServicerContext
    ) -> Iterator[pb.EpisodeReply]:
        """StartSession, then one Step per request, on one stream."""
        first = next(requests, None)
        if first is None or first.WhichOneof("kind") != "start":
            raise ValueError("the first request of an Episode stream starts the session (start=)")
        started = self._start_session(first.start, stream=context)
        yield pb.EpisodeReply(start=started)
        for request in requests:
            if request.WhichOneof("kind") != "action":
                raise ValueError("after its start, an Episode stream carries actions only")
            yield pb.EpisodeReply(step=self._step(started.session_id, request.action))

    @_handles_stream_errors
    def Episodes(  # noqa: N802
        self, requests: Iterator[pb.EpisodesRequest], context: grpc.ServicerContext
    ) -> Iterator[pb.EpisodesReply]:
        """Step mode for several environments on one stream; the slots' sessions end with it."""
        slots: list[str | None] = []  # each slot's session
        try:
            for request in requests:
                if not slots:
                    slots = [None] * self._slot_count(len(request.slots))
                elif len(request.slots) != len(slots):
                    raise ValueError(f"this Episodes stream has {len(slots)} slots, not {len(request.slots)}")
                yield self._batch(slots, request, context)
        finally:
            for session_id in slots:
                if session_id is not None:
                    self.sessions.drop(session_id)

    def _slot_count(self, count: int) -> int:
        """The slots of a new ``Episodes`` stream: at least one, and no more than the whole session budget."""
        if count < 1:
            raise ValueError("an Episodes stream needs at least one slot")
        if count > self.sessions.max_sessions:
            raise ServiceBusy(
                f"{count} slots exceed this service's {self.sessions.max_sessions} sessions; use fewer environments"
            )
        return count

    def _batch(
        self, slots: list[str | None], request: pb.EpisodesRequest, context: grpc.ServicerContext
    ) -> pb.EpisodesReply:
        """One request of an ``Episodes`` stream: every slot's start or action is written before any reply is read.

        The compilers work on the batch's decisions in parallel while the service waits for the
        first of them. Each session stays locked from its write to its read; an error is its
        slot's reply only.
        """
        replies = [pb.SlotReply() for _ in slots]
        reads: list[tuple[int, str, Callable[[], Any]]] = []  # slot, reply field, read half
        with ExitStack() as locked:
            for index, item in enumerate(request.slots):
                kind = item.WhichOneof("kind")
                try:
                    if kind == "start":
                        old = slots[index]
                        slots[index] = None
                        if old is not None:
                            self.sessions.drop(old)
                        session_id, session = locked.enter_context(self._open_session(item.start, context))
                        slots[index] = session_id
                        reads.append((index, "start", functools.partial(self._first_decision, session_id, session)))
                    elif kind == "action":
                        current = slots[index]
                        if current is None:
                            raise EpisodeOver(f"slot {index} has no episode: start one first")
                        session = locked.enter_context(self.sessions.request(current))
                        self._send(session, item.action)
                        reads.append((index, "step", functools.partial(self._receive, current, session)))
                except Exception as exc:
                    replies[index].error.CopyFrom(_slot_error(exc))
            for index, field_name, read in reads:
                try:
                    getattr(replies[index], field_name).CopyFrom(read())
                except Exception as exc:
                    replies[index].error.CopyFrom(_slot_error(exc))
        now = time.monotonic()
        for current in slots:  # the stream is in use: none of its sessions is idle
            held = self.sessions.get(current) if current is not None else None
            if held is not None:
                held.last_used = now
        return pb.EpisodesReply(slots=replies)

    def _start_session(
        self, request: pb.StartSessionRequest, stream: grpc.ServicerContext | None = None
    ) -> pb.StartSessionReply:
        with self._open_session(request, stream) as (session_id, session):
            return self._first_decision(session_id, session)

    @contextmanager
    def _open_session(
        self, request: pb.StartSessionRequest, stream: grpc.ServicerContext | None = None
    ) -> Iterator[tuple[str, Session]]:
        """The write half of a start: a new session in a slot of the budget, its compiler spawned.

        The session stays locked until the block ends (the read half, `_first_decision`, runs in
        it); `stream` is the stream cancelled if the session is reaped.

        Raises:
            ServiceBusy: every slot of the budget is taken.
        """
        benchmark = self.corpus.benchmark(request.benchmark)
        task = get_task(request.config.task)
        toolchain = get_toolchain(request.config.llvm_version or None)
        options = self._options(request.config)
        scorer = self._scorer(request.config, options)
        if scorer is not None:
            options = replace(options, artifacts=options.artifacts | scorer.artifacts)
        self.sessions.take_slot()
        try:
            compile_ = InteractiveCompile(
                toolchain, benchmark, task, options, request.config.include_default, self.config.workdir
            )
        except BaseException:
            self.sessions.give_slot()
            raise
        session = Session(compile_, scorer, stream=stream)
        try:
            session_id = self.sessions.add(session)
        except ServiceUnavailable:
            compile_.close()
            self.sessions.give_slot()
            raise
        with session.lock:
            try:
                compile_.spawn()
            except BaseException:
                self.sessions.close(session_id, session)
                raise
            yield session_id, session
            session.last_used = time.monotonic()  # idle from the end of this request

    def _first_decision(self, session_id: str, session: Session) -> pb.StartSessionReply:
        """The read half of a start: the channel header and the first decision; a failure closes the session."""
        compile_ = session.compile
        try:
            compile_.read_header()
            first = self._next_decision(session)
        except BaseException:
            self.sessions.close(session_id, session)
            raise
        features, advice = convert.header_specs(compile_.header)
        reply = pb.StartSessionReply(
            session_id=session_id, benchmark=compile_.benchmark.uri, features=features, advice=advice, done=first.done
        )
        if first.done:
            reply.result.CopyFrom(first.result)
        else:
            reply.observation.CopyFrom(first.observation)
        return reply

    def _step(self, session_id: str, message: pb.Action) -> pb.StepReply:
        with self.sessions.request(session_id) as session:
            self._send(session, message)
            return self._receive(session_id, session)

    def _send(self, session: Session, message: pb.Action) -> None:
        """The write half of a step: check the action and send it to the compiler (nothing is sent when refused)."""
        if session.compile.done:
            raise EpisodeOver("the episode is over: the compiler finished; call reset()")
        which = message.WhichOneof("value")
        if which is None:
            raise ValueError("Step needs an action")
        session.compile.send(message.index if which == "index" else message.number)

    def _receive(self, session_id: str, session: Session) -> pb.StepReply:
        """The read half of a step: the next decision or the result; a failed or hung compiler closes the session."""
        try:
            return self._next_decision(session)
        except MlgoEnvError:
            if session.compile.done:
                self.sessions.close(session_id, session)
            raise

    def _next_decision(self, session: Session) -> pb.StepReply:
        """The compiler's next decision, or, when it finished, the episode's result."""
        compile_ = session.compile
        observation = compile_.receive()
        if observation is None:
            session.result = self._result(session)
            return pb.StepReply(done=True, result=session.result)
        return pb.StepReply(observation=pb.Observation(raw=compile_.record, context=list(compile_.context)))

    @_handles_errors
    def Validate(self, request: pb.ValidateRequest, context: grpc.ServicerContext) -> pb.ValidateReply:  # noqa: N802
        """Link, run and compare the finished session's program (in the session's own slot of the budget)."""
        with self.sessions.request(request.session_id) as session:
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
        with self.sessions.request(request.session_id) as session:
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
        self.sessions.drop(request.session_id)
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
        elif kind == "replay":
            policy = replay_policy(task, convert.array_from_pb(request.policy.replay))
            include_default = request.config.include_default
        elif kind == "builtin":
            policy = builtin_policy(request.policy.builtin, task, request.policy.seed)
            include_default = request.config.include_default or request.policy.builtin == "llvm-default"
        else:
            raise ValueError("Rollout needs a policy (builtin, onnx or replay)")
        scorer = self._scorer(request.config, options)
        with self.sessions.slot():
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

    An ``Episode`` or ``Episodes`` stream holds a worker thread while it is open: there are
    `ServiceConfig.max_sessions` workers more than `workers`, so open streams never starve the calls.

    Raises:
        PermissionDenied: listening there would let others in unchecked or expose the token
            (`security.check_listening` says what is missing).
        ServiceError: `address` cannot be bound.
    """
    tls = config.tls_cert is not None and config.tls_key is not None
    check_listening(address, config.token, tls, allow_remote, config.insecure)
    credentials = server_credentials(config.tls_cert, config.tls_key) if tls else None  # type: ignore[arg-type]
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=workers + config.max_sessions, thread_name_prefix="mlgo-rpc"),
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
