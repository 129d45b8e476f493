"""The service's sessions: one budget of slots, a registry of open Step sessions, and their reaper.

Step sessions and rollouts share one budget of `max_sessions` slots, taken atomically; a request
past it fails with `ServiceBusy`. A session is closed on request, after `idle_timeout` seconds
without one (a client that disconnected), and on shutdown: always between requests, never
during one (each closes under the session's lock).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import grpc

from mlgo_env.compilation import InteractiveCompile
from mlgo_env.errors import ServiceBusy, ServiceUnavailable, SessionNotFound
from mlgo_env.scoring import Scorer
from mlgo_env.service.proto import pb

__all__ = ["Session", "SessionRegistry"]

logger = logging.getLogger(__name__)


@dataclass
class Session:
    """One Step session; its lock is held by every request on it and by whatever closes it."""

    compile: InteractiveCompile
    scorer: Scorer | None
    last_used: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)
    result: pb.EpisodeResult | None = None
    closed: bool = False
    stream: grpc.ServicerContext | None = None
    """The ``Episode`` stream driving the session, if any: cancelled when the session is reaped."""


class SessionRegistry:
    """Open sessions and the slot budget they share with rollouts; reaps idle sessions in a thread.

    Args:
        max_sessions: slots: Step sessions and running rollouts at once.
        idle_timeout: seconds after its last request that a session is closed.
    """

    def __init__(self, max_sessions: int, idle_timeout: float) -> None:
        self.max_sessions = max_sessions
        self.idle_timeout = idle_timeout
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self._busy = 0  # slots in use (under `_lock`)
        self._stop = threading.Event()
        self._reaper = threading.Thread(target=self._reap_idle, name="mlgo-session-reaper", daemon=True)
        self._reaper.start()

    def take_slot(self) -> None:
        """Take one slot of the budget (checked and taken under the lock: atomic).

        Raises:
            ServiceBusy: every slot is taken.
            ServiceUnavailable: the service is shutting down.
        """
        with self._lock:
            if self._stop.is_set():
                raise ServiceUnavailable("the service is shutting down")
            if self._busy >= self.max_sessions:
                raise ServiceBusy(
                    f"the service already runs {self.max_sessions} sessions and rollouts; try again later"
                )
            self._busy += 1

    def give_slot(self) -> None:
        """Give back a slot taken with `take_slot`."""
        with self._lock:
            self._busy -= 1

    @contextmanager
    def slot(self) -> Iterator[None]:
        """A slot of the budget for the duration of one request (a rollout)."""
        self.take_slot()
        try:
            yield
        finally:
            self.give_slot()

    def add(self, session: Session) -> str:
        """Register a session that holds a slot; returns its id.

        Raises:
            ServiceUnavailable: the service is shutting down (the caller closes the session).
        """
        session_id = uuid.uuid4().hex
        with self._lock:
            if self._stop.is_set():  # set under this lock by shutdown(), which then lists the sessions
                raise ServiceUnavailable("the service is shutting down")
            self._sessions[session_id] = session
        return session_id

    def get(self, session_id: str) -> Session | None:
        """The open session of that id, unlocked (None if there is none)."""
        with self._lock:
            return self._sessions.get(session_id)

    @contextmanager
    def request(self, session_id: str) -> Iterator[Session]:
        """The session, locked for one request; its idle time restarts when the request ends.

        Raises:
            SessionNotFound: no such session, or it was closed while this request waited for it.
        """
        session = self.get(session_id)
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
            f"no session {session_id!r}: it ended, timed out after {self.idle_timeout:.0f} s idle, "
            "or the service restarted; call reset()"
        )

    def close(self, session_id: str, session: Session) -> None:
        """Forget and close a session whose lock the caller holds: kill its compiler, free its slot."""
        with self._lock:
            if self._sessions.get(session_id) is session:
                del self._sessions[session_id]
        if not session.closed:
            session.closed = True
            session.compile.close()
            self.give_slot()

    def drop(self, session_id: str) -> None:
        """End a session between requests: waits for a request in progress on it to finish."""
        session = self.get(session_id)
        if session is not None:
            with session.lock:
                self.close(session_id, session)

    def _reap_idle(self) -> None:
        """Close sessions without a request for `idle_timeout` seconds (never one in a request)."""
        while not self._stop.wait(min(5.0, self.idle_timeout / 4)):
            now = time.monotonic()
            with self._lock:
                idle = [(i, s) for i, s in self._sessions.items() if now - s.last_used > self.idle_timeout]
            for session_id, session in idle:
                if not session.lock.acquire(blocking=False):
                    continue  # a request runs or waits: not idle
                try:
                    if time.monotonic() - session.last_used > self.idle_timeout:
                        logger.info("closing idle session %s", session_id)
                        if session.stream is not None:  # frees the worker thread its stream holds
                            session.stream.cancel()
                        self.close(session_id, session)
                finally:
                    session.lock.release()

    def shutdown(self) -> None:
        """Close every session (kills compilers, removes files), each after its request in progress."""
        with self._lock:
            self._stop.set()
            ids = list(self._sessions)
        for session_id in ids:
            self.drop(session_id)
        if self._reaper is not threading.current_thread():
            self._reaper.join()

    @property
    def slots_in_use(self) -> int:
        """Slots taken now: open sessions plus running rollouts."""
        with self._lock:
            return self._busy

    def __len__(self) -> int:
        """Number of open sessions."""
        with self._lock:
            return len(self._sessions)
