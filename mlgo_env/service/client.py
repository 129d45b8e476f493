"""The client side of the compiler service: the connection, and the embedded service.

The connection raises mlgo-env exceptions; the embedded service is the one an environment
starts by itself when no address is given.
"""

from __future__ import annotations

import atexit
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Generic, TypeVar

import grpc

from mlgo_env.errors import MlgoEnvError, PermissionDenied, ServiceUnavailable
from mlgo_env.service.errors import ERROR_METADATA_KEY, exception_from
from mlgo_env.service.proto import pb, pb_grpc
from mlgo_env.service.security import client_credentials, is_loopback

__all__ = [
    "ServiceConnection",
    "EpisodeStream",
    "BatchedEpisodeStream",
    "SlotItem",
    "SlotOutcome",
    "EmbeddedService",
    "connect",
]

Request = TypeVar("Request")
Reply = TypeVar("Reply")

# Calls that change nothing on the service may be retried when it is briefly unavailable.
_IDEMPOTENT = {"GetVersion", "ListBenchmarks", "GetSpaces", "EndSession"}


class ServiceConnection:
    """A gRPC channel to a compiler service.

    Args:
        address: ``host:port`` or ``unix:/path``.
        token: shared token, when the service requires one (default ``$MLGO_SERVICE_TOKEN``).
        rpc_timeout: seconds any one call may take (a rollout or the first build of the
            bundled corpus can take minutes).
        tls: speak TLS (needed beyond loopback when sending a token).
        tls_root: PEM certificate(s) to trust, e.g. a service's self-signed one (default
            ``$MLGO_SERVICE_TLS_ROOT``); implies `tls`. Without it, TLS trusts the system's roots.

    Raises:
        PermissionDenied: a token would cross the network in plain text (beyond loopback, no TLS).
    """

    def __init__(
        self,
        address: str,
        token: str | None = None,
        rpc_timeout: float = 900.0,
        tls: bool = False,
        tls_root: Path | None = None,
    ) -> None:
        self.address = address
        self.rpc_timeout = rpc_timeout
        token = token if token is not None else os.environ.get("MLGO_SERVICE_TOKEN")
        root = tls_root or os.environ.get("MLGO_SERVICE_TLS_ROOT")
        tls = tls or bool(root)
        if token and not tls and not is_loopback(address):
            raise PermissionDenied(
                f"refusing to send the token in plain text to {address}: use TLS (tls_root= or MLGO_SERVICE_TLS_ROOT)"
            )
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        options = [("grpc.max_send_message_length", 256 << 20), ("grpc.max_receive_message_length", 256 << 20)]
        self._channel = (
            grpc.secure_channel(address, client_credentials(Path(root) if root else None), options=options)
            if tls
            else grpc.insecure_channel(address, options=options)
        )
        self._stub = pb_grpc.CompilerServiceStub(self._channel)

    def call(self, method: str, request: Any, timeout: float | None = None, retries: int = 3) -> Any:
        """Call `method`; errors come back as the service raised them (see `service.errors`).

        Raises:
            ServiceUnavailable: the service cannot be reached (after retries for idempotent calls).
        """
        stub_method: Callable[..., Any] = getattr(self._stub, method)
        attempts = retries if method in _IDEMPOTENT else 1
        delay = 0.1
        for attempt in range(attempts):
            try:
                return stub_method(request, timeout=timeout or self.rpc_timeout, metadata=self._metadata)
            except grpc.RpcError as error:
                code = error.code()  # type: ignore[attr-defined]
                if code == grpc.StatusCode.UNAVAILABLE and attempt + 1 < attempts:
                    time.sleep(delay)
                    delay *= 4
                    continue
                raise self._exception(error, method) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _exception(self, error: grpc.RpcError, method: str) -> Exception:
        code = error.code()  # type: ignore[attr-defined]
        details = error.details() or ""  # type: ignore[attr-defined]
        if code == grpc.StatusCode.UNAVAILABLE:
            return ServiceUnavailable(
                f"the compiler service at {self.address} is unavailable ({details}); "
                "is it running? (`mlgo-env serve`, or leave service= unset for an embedded one)"
            )
        if code == grpc.StatusCode.UNAUTHENTICATED:
            return PermissionDenied(f"{details} (set MLGO_SERVICE_TOKEN or pass token=)")
        trailing = dict(error.trailing_metadata() or ())  # type: ignore[attr-defined]
        name = str(trailing.get(ERROR_METADATA_KEY, ""))
        return exception_from(name, details, code)

    def episode(self, start: pb.StartSessionRequest) -> EpisodeStream:
        """Start a session on an ``Episode`` stream: `EpisodeStream.step` then answers each decision."""
        return EpisodeStream(self, start)

    def episodes(self, slots: int) -> BatchedEpisodeStream:
        """An ``Episodes`` stream of `slots` episodes: `BatchedEpisodeStream.batch` starts and steps them together."""
        return BatchedEpisodeStream(self, slots)

    def version(self) -> pb.GetVersionReply:
        """The service's version and health."""
        return self.call("GetVersion", pb.GetVersionRequest())

    def close(self) -> None:
        """Close the channel."""
        self._channel.close()


class _Stream(Generic[Request, Reply]):
    """A bidirectional stream of `method`: one request in, one reply out; errors raised as calls raise them."""

    def __init__(self, connection: ServiceConnection, method: str, timeout: float | None) -> None:
        self._connection = connection
        self._method = method
        self._requests: queue.SimpleQueue[Request | None] = queue.SimpleQueue()
        call: Callable[..., Any] = getattr(connection._stub, method)
        self._replies = call(iter(self._requests.get, None), timeout=timeout, metadata=connection._metadata)

    def _exchange(self, request: Request) -> Reply:
        """Send `request` and wait for its reply."""
        self._requests.put(request)
        try:
            return next(self._replies)
        except grpc.RpcError as error:
            raise self._connection._exception(error, self._method) from None
        except StopIteration:
            raise ServiceUnavailable(f"the service ended the {self._method} stream") from None


class EpisodeStream(_Stream[pb.EpisodeRequest, pb.EpisodeReply]):
    """One episode's ``Episode`` stream: the session's start, then one message each way per decision.

    The session outlives the stream (``Validate``, ``GetObject``, ``EndSession`` take its id).
    An error ends the stream; it is raised as `ServiceConnection.call` raises it.

    Attributes:
        started: the session's start (its id, the tensors, the first decision).
    """

    def __init__(self, connection: ServiceConnection, start: pb.StartSessionRequest) -> None:
        super().__init__(connection, "Episode", connection.rpc_timeout)
        self.started: pb.StartSessionReply = self._exchange(pb.EpisodeRequest(start=start)).start

    def step(self, action: pb.Action) -> pb.StepReply:
        """Answer the pending decision; the next one, or the result."""
        return self._exchange(pb.EpisodeRequest(action=action)).step

    def close(self) -> None:
        """End the stream (not the session)."""
        self._requests.put(None)
        self._replies.cancel()


SlotItem = pb.StartSessionRequest | pb.Action | None
"""What a batch asks of one slot: start (or restart) its episode, answer its decision, or nothing."""
SlotOutcome = pb.StartSessionReply | pb.StepReply | MlgoEnvError | ValueError | None
"""One slot's answer: the start's or the step's reply, the error the same call would have raised, or None."""


class BatchedEpisodeStream(_Stream[pb.EpisodesRequest, pb.EpisodesReply]):
    """`slots` episodes on one ``Episodes`` stream: one message each way per batch of decisions.

    The service sends a batch's actions to every compiler before it reads any next decision, so
    the compilers work in parallel. Each slot's session belongs to the stream: a slot's start ends
    its previous session, and `close` ends them all. A slot's error is that slot's outcome; only
    the stream's own errors are raised (`ServiceBusy` for more slots than the service's whole
    session budget, `ServiceUnavailable`, `PermissionDenied`). The stream has no deadline (a
    training run keeps it open for hours): each reply is bounded by the service's decision timeout.
    """

    def __init__(self, connection: ServiceConnection, slots: int) -> None:
        super().__init__(connection, "Episodes", None)
        self.slots = slots

    def batch(self, items: Sequence[SlotItem]) -> list[SlotOutcome]:
        """Send one item per slot; each slot's outcome, in slot order."""
        if len(items) != self.slots:
            raise ValueError(f"a batch holds one item per slot: {self.slots}, not {len(items)}")
        request = pb.EpisodesRequest()
        for item in items:
            slot = request.slots.add()
            if isinstance(item, pb.StartSessionRequest):
                slot.start.CopyFrom(item)
            elif isinstance(item, pb.Action):
                slot.action.CopyFrom(item)
        return [_outcome(reply) for reply in self._exchange(request).slots]

    def close(self) -> None:
        """End the stream and wait until the service has ended its sessions (their compilers are gone)."""
        self._requests.put(None)
        try:
            for _ in self._replies:  # the stream's end comes once the service closed its sessions
                pass
        except grpc.RpcError:
            pass  # cancelled or failed: the service ends the sessions of a broken stream too


def _outcome(reply: pb.SlotReply) -> SlotOutcome:
    """One slot's reply as its message, or as the exception the same call would have raised."""
    kind = reply.WhichOneof("kind")
    if kind == "error":
        error = reply.error
        code = grpc.StatusCode.__members__.get(error.status, grpc.StatusCode.UNKNOWN)
        return exception_from(error.error, error.message, code)
    return getattr(reply, kind) if kind is not None else None


class EmbeddedService:
    """A private service in a child process on a Unix socket; stops with `close()` or its parent.

    The socket lives in a fresh 0700 directory, so only this user can reach it; the sessions' files
    (compilers' pipes and outputs) live there too, so `close()` removes them even if the service
    was killed before it could.
    """

    def __init__(self, corpus: Path | None = None, startup_timeout: float = 60.0, idle_timeout: float = 600.0) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="mlgo-service-"))
        os.chmod(self._dir, 0o700)
        self.address = f"unix:{self._dir / 'service.sock'}"
        ready = self._dir / "ready"
        command = [
            sys.executable, "-m", "mlgo_env.service",
            "--address", self.address,
            "--parent-pid", str(os.getpid()),
            "--ready-file", str(ready),
            "--idle-timeout", str(idle_timeout),
            "--workdir", str(self._dir / "sessions"),
        ]  # fmt: skip
        if corpus is not None:
            command += ["--corpus", str(corpus)]
        (self._dir / "sessions").mkdir(mode=0o700)
        self._log = open(self._dir / "service.log", "wb")
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log)
        deadline = time.monotonic() + startup_timeout
        while not ready.exists():
            if self.process.poll() is not None:
                log = (self._dir / "service.log").read_text(errors="replace")[-4000:]
                self.close()
                raise ServiceUnavailable(f"the embedded compiler service failed to start:\n{log}")
            if time.monotonic() > deadline:
                self.close()
                raise ServiceUnavailable(f"the embedded compiler service did not start within {startup_timeout:.0f} s")
            time.sleep(0.02)
        atexit.register(self.close)

    def close(self) -> None:
        """Stop the service (it closes its sessions) and remove its directory."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        shutil.rmtree(self._dir, ignore_errors=True)
        atexit.unregister(self.close)


def connect(
    service: str | None = None, token: str | None = None, corpus: Path | None = None
) -> tuple[ServiceConnection, EmbeddedService | None]:
    """A connection to `service` (or ``$MLGO_SERVICE``), or to a new embedded service if neither is set."""
    address = service or os.environ.get("MLGO_SERVICE")
    if address:
        if corpus is not None:
            raise ValueError("corpus= selects the embedded service's corpus; a running service serves its own")
        return ServiceConnection(address, token), None
    embedded = EmbeddedService(corpus)
    return ServiceConnection(embedded.address), embedded
