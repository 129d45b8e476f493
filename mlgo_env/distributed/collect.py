"""The collection API: run a policy over a list of benchmarks on a `WorkerPool`, stream the results.

Every episode of the list ends exactly once, as an `EpisodeOutcome` yielded when it completes
(with a progress bar) and, when an output is given, as one row of a Parquet dataset
(`mlgo_env.distributed.dataset`):

- a worker that dies mid-episode (killed, out of memory, its node lost) is replaced, and the
  episode runs again on another worker;
- a compiler that hangs is killed by the service after ``decision_timeout`` (``CompilerTimeout``),
  and a worker that stops answering is killed by the driver after ``episode_timeout``; both
  episodes run again elsewhere;
- an episode runs at most ``max_attempts`` times, and errors another attempt cannot fix (an
  unknown benchmark, a policy that cannot run on the task) are not retried: the episode is then
  reported failed, with the cause of every attempt.

Late answers of abandoned attempts are ignored, so no episode is counted twice, and the driver
never blocks on Ray for longer than a second, so it cannot hang.
"""

from __future__ import annotations

import hashlib
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from mlgo_env.distributed import require_ray
from mlgo_env.distributed.actors import Fault, Policy, RolloutSettings, Worker, WorkerPool
from mlgo_env.distributed.dataset import EpisodeRow, ParquetWriter, check_new_dataset
from mlgo_env.errors import InvalidPolicy
from mlgo_env.policies import BUILTIN_POLICIES
from mlgo_env.service.convert import Rollout

__all__ = ["Collection", "CollectionStats", "EpisodeOutcome", "collect"]


@dataclass
class EpisodeOutcome:
    """How one episode of the collection ended."""

    episode: int
    """Position of the episode in the collection's benchmark list."""
    benchmark: str
    seed: int
    attempts: int
    worker: str
    """The worker of the last attempt (``name@node:pid`` once it answered)."""
    rollout: Rollout | None
    faults: list[Fault]
    """Why each failed attempt failed, in order (empty when the first attempt succeeded)."""
    latency: float
    """Seconds from sending the last attempt to receiving its answer, as the driver saw them."""
    worker_seconds: float
    """Seconds the last attempt spent inside its worker (0 when the worker never answered)."""

    @property
    def ok(self) -> bool:
        """Whether the episode finished (its rollout is set)."""
        return self.rollout is not None

    def row(self) -> EpisodeRow:
        """The episode as a dataset row."""
        error = None if self.ok else self.faults[-1]
        return EpisodeRow(
            episode=self.episode,
            benchmark=self.benchmark,
            seed=self.seed,
            attempts=self.attempts,
            worker=self.worker,
            rollout=self.rollout,
            error_type=error.type if error else None,
            error_details=" | ".join(map(str, self.faults)) if error else None,
        )


@dataclass
class CollectionStats:
    """Counts so far: finished and failed episodes, attempts run again, seconds elapsed."""

    ok: int = 0
    failed: int = 0
    retries: int = 0
    seconds: float = 0.0


@dataclass
class _Episode:
    index: int
    benchmark: str
    seed: int
    policy: Any
    """A built-in name, or the object-store reference of an ONNX model's bytes."""
    faults: list[Fault] = field(default_factory=list)
    workers: set[str] = field(default_factory=set)


@dataclass
class _Running:
    episode: _Episode
    worker: Worker
    submitted: float
    deadline: float


class Collection:
    """One collection run; iterate it to run the episodes and receive their outcomes.

    Use `collect` to make one. Iterating a second time raises `RuntimeError`; stopping early
    (``break``) replaces the workers still busy, so the pool stays usable.
    """

    def __init__(
        self,
        policy: Policy | Sequence[Policy],
        benchmarks: Sequence[str],
        pool: WorkerPool,
        settings: RolloutSettings,
        seed: int,
        out: Path | None,
        max_attempts: int,
        episode_timeout: float | None,
        start_timeout: float,
        progress: bool,
    ) -> None:
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, not {max_attempts}")
        policies = [policy] * len(benchmarks) if isinstance(policy, str | bytes) else list(policy)
        if len(policies) != len(benchmarks):
            raise ValueError(
                f"{len(policies)} policies for {len(benchmarks)} benchmarks: give one each, or one for all"
            )
        for one in set(p for p in policies if isinstance(p, str)):
            if one not in BUILTIN_POLICIES:
                raise InvalidPolicy(
                    f"no built-in policy {one!r}; choose from {BUILTIN_POLICIES} or pass an ONNX model's bytes"
                )
        distinct = list(dict.fromkeys(policies))
        if out is not None:
            if len(distinct) > 1:
                raise ValueError("a dataset records one policy: collect each policy into its own dataset")
            check_new_dataset(out)
        self._ray = require_ray()
        self.pool = pool
        self.settings = settings.pinned()  # every worker scores for this machine's target
        refs = {p: self._ray.put(p) if isinstance(p, bytes) else p for p in distinct}  # each model stored once
        self._episodes = [
            _Episode(i, pool.corpus.benchmark(b).uri, seed + i, refs[p])
            for i, (b, p) in enumerate(zip(benchmarks, policies, strict=True))
        ]
        self._label = _label(distinct[0]) if len(distinct) == 1 else f"{len(distinct)} policies"
        self._include_default = distinct == ["llvm-default"]
        self._out = out
        self._max_attempts = max_attempts
        self._episode_timeout = episode_timeout or settings.rpc_timeout + 60.0
        self._start_timeout = start_timeout
        self._progress = progress
        self._iterated = False
        self.stats = CollectionStats()

    def __len__(self) -> int:
        return len(self._episodes)

    def _writer(self) -> ParquetWriter | None:
        """The dataset writer, with the task's tensors asked of the pool (this waits for a worker)."""
        if self._out is None:
            return None
        settings = self.settings
        features, advice = self.pool.spaces(
            settings.task,
            self._include_default,
            settings.llvm_version,
            timeout=self._start_timeout + 120.0,
        )
        return ParquetWriter(
            self._out,
            features if settings.return_observations else [],
            advice,
            self._label,
            settings.task,
        )

    def __iter__(self) -> Iterator[EpisodeOutcome]:
        if self._iterated:
            raise RuntimeError("a collection runs once; call collect() again for another")
        self._iterated = True
        started = time.monotonic()
        writer = self._writer()
        queue: deque[_Episode] = deque(self._episodes)
        idle: deque[Worker] = deque(self.pool.workers)
        running: dict[Any, _Running] = {}
        bar = tqdm(
            total=len(self._episodes),
            desc=f"rollouts ({self._label})",
            unit="episode",
            disable=not self._progress,
        )
        try:
            while queue or running:
                self._dispatch(queue, idle, running)
                for outcome in self._settle(queue, idle, running):
                    if writer is not None:
                        writer.add(outcome.row())
                    self.stats.ok += outcome.ok
                    self.stats.failed += not outcome.ok
                    self.stats.seconds = time.monotonic() - started
                    bar.update()
                    bar.set_postfix(failed=self.stats.failed, retries=self.stats.retries)
                    yield outcome
        finally:
            for job in running.values():  # abandoned mid-episode (the caller stopped early)
                self.pool.replace(job.worker)
            if writer is not None:
                writer.close()
            bar.close()
            self.stats.seconds = time.monotonic() - started

    def _dispatch(self, queue: deque[_Episode], idle: deque[Worker], running: dict[Any, _Running]) -> None:
        """Give queued episodes to idle workers, preferring workers an episode has not tried."""
        while queue and idle:
            episode = queue.popleft()
            worker = next((w for w in idle if w.name not in episode.workers), idle[0])
            idle.remove(worker)
            episode.workers.add(worker.name)
            now = time.monotonic()
            limit = self._episode_timeout + (0.0 if worker.started else self._start_timeout)
            ref = worker.handle.rollout.remote(episode.benchmark, episode.seed, episode.policy, self.settings)
            running[ref] = _Running(episode, worker, now, now + limit)

    def _settle(
        self, queue: deque[_Episode], idle: deque[Worker], running: dict[Any, _Running]
    ) -> Iterator[EpisodeOutcome]:
        """Wait (at most a second) for answers, handle them and expired attempts; yield finished episodes."""
        now = time.monotonic()
        timeout = min(1.0, max(0.0, min(job.deadline for job in running.values()) - now))
        refs = list(running)
        ready, _ = self._ray.wait(refs, num_returns=1, timeout=timeout)
        if ready:
            ready, _ = self._ray.wait(refs, num_returns=len(refs), timeout=0)
        for ref in ready:
            outcome = self._answer(running.pop(ref), ref, queue, idle)
            if outcome is not None:
                yield outcome
        now = time.monotonic()
        for ref in [ref for ref, job in running.items() if job.deadline <= now]:
            job = running.pop(ref)
            idle.append(self.pool.replace(job.worker))
            fault = Fault(
                "EpisodeTimeout",
                f"{job.worker.name} gave no answer within {now - job.submitted:.0f} s and was killed",
                True,
            )
            outcome = self._failed_attempt(job, fault, queue, latency=now - job.submitted, worker_seconds=0.0)
            if outcome is not None:
                yield outcome

    def _answer(self, job: _Running, ref: Any, queue: deque[_Episode], idle: deque[Worker]) -> EpisodeOutcome | None:
        """The outcome of an answered attempt, or None when the episode goes back in the queue."""
        latency = time.monotonic() - job.submitted
        exceptions = self._ray.exceptions
        try:
            attempt = self._ray.get(ref)
        except exceptions.RayTaskError as exc:  # a bug in the worker's code, not a fault of the episode
            idle.append(self.pool.replace(job.worker))
            fault = Fault(type(exc.cause).__name__, f"{job.worker.name}: {exc.cause}", retryable=False)
            return self._failed_attempt(job, fault, queue, latency, 0.0)
        except exceptions.RayError as exc:  # the worker or its node died
            idle.append(self.pool.replace(job.worker))
            fault = Fault(
                "WorkerDied",
                f"{job.worker.name}: {type(exc).__name__}: {str(exc)[:500]}",
                retryable=True,
            )
            return self._failed_attempt(job, fault, queue, latency, 0.0)
        job.worker.started = True
        idle.append(job.worker)
        if attempt.fault is not None:
            return self._failed_attempt(job, attempt.fault, queue, latency, attempt.seconds, attempt.worker)
        episode = job.episode
        return EpisodeOutcome(
            episode.index,
            episode.benchmark,
            episode.seed,
            len(episode.faults) + 1,
            attempt.worker,
            attempt.rollout,
            episode.faults,
            latency,
            attempt.seconds,
        )

    def _failed_attempt(
        self,
        job: _Running,
        fault: Fault,
        queue: deque[_Episode],
        latency: float,
        worker_seconds: float,
        worker: str = "",
    ) -> EpisodeOutcome | None:
        """Queue the episode again (first in line), or its failed outcome when no attempt is left."""
        episode = job.episode
        episode.faults.append(fault)
        if fault.retryable and len(episode.faults) < self._max_attempts:
            self.stats.retries += 1
            queue.appendleft(episode)
            return None
        return EpisodeOutcome(
            episode.index,
            episode.benchmark,
            episode.seed,
            len(episode.faults),
            worker or job.worker.name,
            None,
            episode.faults,
            latency,
            worker_seconds,
        )


def _label(policy: Policy) -> str:
    """How a dataset names its policy: the built-in name, or a hash of the ONNX model's bytes."""
    return f"onnx:{hashlib.sha256(policy).hexdigest()[:12]}" if isinstance(policy, bytes) else policy


def collect(
    policy: Policy | Sequence[Policy],
    benchmarks: Sequence[str],
    pool: WorkerPool,
    settings: RolloutSettings | None = None,
    *,
    seed: int = 0,
    out: Path | None = None,
    max_attempts: int = 3,
    episode_timeout: float | None = None,
    start_timeout: float = 300.0,
    progress: bool = True,
) -> Collection:
    """Run `policy` once on each benchmark of the list (or each policy on its benchmark) with `pool`'s workers.

    Iterate the result to run it: outcomes come in completion order, one per list entry.

    Args:
        policy: a built-in policy name (``"llvm-default"``, ``"random"``, ``"always"``,
            ``"never"``) or the bytes of an ONNX model (put into Ray's object store
            once); or one of those per benchmark (e.g. the candidates of an ES generation), each
            distinct model stored once. A dataset (`out`) records one policy.
        benchmarks: benchmark ids of the pool's corpus; repeat one to run it several times.
        pool: the workers.
        settings: task, reward and time limits shared by every episode; the reward's target (a
            CPU-dependent reward's CPU) is resolved here, on the driver (`RolloutSettings.pinned`).
        seed: episode ``i`` runs with seed ``seed + i`` (the random policy's seed), also when retried.
        out: a Parquet dataset directory to stream the outcomes into (None: none).
        max_attempts: attempts per episode, the first included.
        episode_timeout: seconds an attempt may go unanswered before its worker is killed and
            replaced (default: `RolloutSettings.rpc_timeout` plus a minute).
        start_timeout: extra seconds allowed for a worker's start (its corpus and service).
        progress: show a progress bar.

    Raises:
        BenchmarkNotFound: a benchmark id is not in the pool's corpus (nothing ran).
        InvalidPolicy: `policy` names no built-in policy.
        ValueError: the policies do not match the benchmarks one to one, or several go to one dataset.
        FileExistsError: `out` already holds a dataset.
    """
    return Collection(
        policy,
        benchmarks,
        pool,
        settings or RolloutSettings(),
        seed,
        out,
        max_attempts,
        episode_timeout,
        start_timeout,
        progress,
    )
