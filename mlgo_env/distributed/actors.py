"""Ray actors that own a compiler service each, and the pool that keeps one per worker CPU.

Actor classes live here, away from SB3 and torch, so starting an actor imports neither.

A `RolloutWorker` holds one CPU, runs a compiler service inside its process (`ServiceHost`) and
answers one rollout at a time through that service's ``Rollout`` RPC, so episodes run exactly as
they do on a local service. Workers never receive commands or paths, only benchmark ids of the
corpus the pool gave them.

A failed rollout comes back as a value (`Attempt` with a `Fault`), never as an exception, so the
driver decides about retries; a worker that dies makes Ray raise instead.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import gymnasium as gym

import rewards
from mlgo_env.corpus import Corpus, default_corpus
from mlgo_env.distributed import connect, require_ray
from mlgo_env.distributed.host import CorpusRef, ServiceHost, default_root
from mlgo_env.errors import CompilerError, MlgoEnvError, ServiceBusy, ServiceError, ServiceUnavailable
from mlgo_env.protocol import TensorSpec
from mlgo_env.service import convert
from mlgo_env.service.convert import Rollout
from mlgo_env.service.proto import pb

__all__ = [
    "Attempt",
    "EnvWorker",
    "Fault",
    "Rollout",
    "RolloutSettings",
    "RolloutWorker",
    "Worker",
    "WorkerPool",
    "backing_off",
]

Policy = str | bytes
"""A built-in policy name (``"llvm-default"``, ``"random"``, …) or an ONNX model's bytes."""
Reply = TypeVar("Reply")
EnvFactory = Callable[[], gym.Env]
"""Makes one environment (a thunk, as SB3's vectorised environments take)."""


@dataclass(frozen=True)
class RolloutSettings:
    """What every episode of a collection shares: task, reward, options and time limits.

    Attributes:
        task: ``"inlining"``, ``"regalloc_eviction"`` or ``"regalloc_priority"``.
        reward: a registered reward name scored against LLVM's heuristic, or None for none.
        reward_options: the reward's options (JSON values); `pinned` adds what it would take from
            the machine that computes it (a CPU-dependent reward's target).
        opt_level: override the recorded optimisation level (``"-Oz"``, …).
        llvm_version: the LLVM version (None: the service's default).
        decision_timeout: seconds the compiler may take to ask its next decision; past it the
            service kills the compiler and the attempt fails with ``CompilerTimeout``.
        compile_timeout: seconds one compile may take.
        return_observations: keep every observation (False: actions and sizes only).
    """

    task: str = "inlining"
    reward: str | None = "size"
    reward_options: dict[str, Any] = dataclasses.field(default_factory=dict, hash=False)
    opt_level: str | None = None
    llvm_version: int | None = None
    decision_timeout: float = 60.0
    compile_timeout: float = 600.0
    return_observations: bool = True

    def config(self) -> pb.CompileConfig:
        """The service's compile configuration for these settings."""
        return pb.CompileConfig(
            task=self.task,
            llvm_version=self.llvm_version or 0,
            opt_level=self.opt_level or "",
            rewards=[pb.RewardSpec(name=self.reward, options_json=json.dumps(self.reward_options, sort_keys=True))]
            if self.reward
            else [],
            decision_timeout_s=self.decision_timeout,
            compile_timeout_s=self.compile_timeout,
        )

    def pinned(self) -> RolloutSettings:
        """These settings with the reward's target resolved on this machine (`rewards.pinned_options`).

        A CPU-dependent reward left to choose takes the CPU of whichever worker computes it, so one
        job on a cluster of mixed nodes would score with several CPU models; pinned on the driver,
        every worker scores for the driver's target.
        """
        if self.reward is None:
            return self
        return dataclasses.replace(self, reward_options=rewards.pinned_options(self.reward, self.reward_options))

    @property
    def rpc_timeout(self) -> float:
        """Seconds a rollout RPC may take: the baseline and the episode's compile, plus a margin."""
        return 2 * self.compile_timeout + 60.0


def backing_off(call: Callable[[], Reply], first: float = 0.5, largest: float = 8.0, total: float = 30.0) -> Reply:
    """`call()`, called again while the service is busy, after pauses that double (jittered) up to `largest`.

    A busy service refuses at once (`ServiceBusy`); asking again at once would only keep it busy
    answering refusals. The pauses add up to `total` seconds at most, well inside the driver's
    margin over a rollout's own time limit.

    Raises:
        ServiceBusy: still busy after waiting `total` seconds.
    """
    delay, waited = first, 0.0
    while True:
        try:
            return call()
        except ServiceBusy:
            pause = delay * random.uniform(0.5, 1.0)
            if waited + pause > total:
                raise
            time.sleep(pause)
            waited += pause
            delay = min(2 * delay, largest)


@dataclass(frozen=True)
class Fault:
    """Why an attempt failed: the error's class name, its message, and whether to try again.

    Another attempt may succeed after a hung or crashed compiler or a dead worker, not after an
    unknown benchmark or a policy that cannot run on the task.
    """

    type: str
    details: str
    retryable: bool

    @classmethod
    def from_exception(cls, exc: Exception) -> Fault:
        """The fault a service error stands for."""
        retryable = isinstance(exc, CompilerError | ServiceUnavailable | ServiceBusy) or type(exc) is ServiceError
        return cls(type=type(exc).__name__, details=str(exc), retryable=retryable)

    def __str__(self) -> str:
        return f"{self.type}: {self.details}"


@dataclass
class Attempt:
    """What a worker returns for one rollout: the rollout, or the fault that stopped it."""

    worker: str
    seconds: float
    """Time spent inside the worker, from the call's arrival to its answer."""
    rollout: Rollout | None = None
    fault: Fault | None = None


class RolloutWorker:
    """A Ray actor (one CPU) owning a compiler service; runs one rollout at a time.

    Args:
        name: the pool's name for this worker (shown in outcomes and logs).
        corpus: where the corpus comes from (`CorpusRef`).
        root: the node's directory for workers (None: `default_root`).
    """

    def __init__(self, name: str, corpus: CorpusRef, root: str | None = None) -> None:
        node_root = Path(root) if root else default_root()
        self._host = ServiceHost(corpus.materialize(node_root), node_root)
        node = require_ray().get_runtime_context().get_node_id()
        self.name = f"{name}@{node[:8]}:{os.getpid()}"

    def identity(self) -> str:
        """``name@node:pid``; answering also tells the driver the worker has started."""
        return self.name

    def spaces(self, task: str, include_default: bool, llvm_version: int | None) -> tuple[list[TensorSpec], TensorSpec]:
        """The task's feature specs and advice spec, read from a real compile."""
        request = pb.GetSpacesRequest(task=task, llvm_version=llvm_version or 0, include_default=include_default)
        reply = self._host.connection.call("GetSpaces", request)
        return [convert.spec_from_pb(s) for s in reply.features], convert.spec_from_pb(reply.advice)

    def rollout(self, benchmark: str, seed: int, policy: Policy, settings: RolloutSettings) -> Attempt:
        """Run one episode of `benchmark` with `policy`; failures come back as a `Fault`."""
        started = time.monotonic()
        message = convert.policy_to_pb(policy, seed)
        request = pb.RolloutRequest(
            benchmark=benchmark,
            config=settings.config(),
            policy=message,
            return_observations=settings.return_observations,
        )
        try:
            reply = backing_off(lambda: self._host.connection.call("Rollout", request, timeout=settings.rpc_timeout))
        except (MlgoEnvError, ValueError) as exc:
            return Attempt(self.name, time.monotonic() - started, fault=Fault.from_exception(exc))
        return Attempt(self.name, time.monotonic() - started, rollout=Rollout.from_reply(reply))

    def close(self) -> None:
        """Stop the service: close every session, kill its compilers, remove its files."""
        self._host.close()


class EnvWorker:
    """A Ray actor (one CPU) holding one environment, with SB3's auto-reset on episode end.

    Args:
        env_fn: makes the environment (called after ``$MLGO_SERVICE`` points to this actor's service).
        corpus: where the corpus comes from.
        root: the node's directory for workers (None: `default_root`).
    """

    def __init__(self, env_fn: EnvFactory, corpus: CorpusRef, root: str | None = None) -> None:
        node_root = Path(root) if root else default_root()
        self._host = ServiceHost(corpus.materialize(node_root), node_root)
        os.environ["MLGO_SERVICE"] = self._host.address
        self.env = env_fn()

    def spaces(self) -> tuple[gym.Space, gym.Space]:
        """The observation and action spaces."""
        return self.env.observation_space, self.env.action_space

    def reset(self, seed: int | None, options: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        """Reset the environment."""
        return self.env.reset(seed=seed, **({"options": options} if options else {}))

    def step(self, action: Any) -> tuple[Any, float, bool, dict[str, Any], dict[str, Any]]:
        """One step in SB3's form: ``(obs, reward, done, info, reset_info)``, resetting on ``done``."""
        observation, reward, terminated, truncated, info = self.env.step(action)
        done = terminated or truncated
        info["TimeLimit.truncated"] = truncated and not terminated
        reset_info: dict[str, Any] = {}
        if done:
            info["terminal_observation"] = observation
            observation, reset_info = self.env.reset()
        return observation, float(reward), done, info, reset_info

    def get_attr(self, name: str) -> Any:
        """An attribute of the environment or of one of its wrappers."""
        return self.env.get_wrapper_attr(name)

    def set_attr(self, name: str, value: Any) -> None:
        """Set an attribute on the outermost wrapper (as SB3's SubprocVecEnv does)."""
        setattr(self.env, name, value)

    def call(self, name: str, args: tuple, kwargs: dict[str, Any]) -> Any:
        """Call a method of the environment or of one of its wrappers."""
        return self.env.get_wrapper_attr(name)(*args, **kwargs)

    def is_wrapped(self, wrapper_class: type[gym.Wrapper]) -> bool:
        """Whether the environment is wrapped in `wrapper_class`."""
        env = self.env
        while isinstance(env, gym.Wrapper):
            if isinstance(env, wrapper_class):
                return True
            env = env.env
        return False

    def close(self) -> None:
        """Close the environment, then the service (its sessions, compilers and files)."""
        self.env.close()
        self._host.close()


@functools.cache
def remote_class(cls: type) -> Any:
    """`cls` as a Ray actor class holding one CPU; retries are the driver's business, not Ray's."""
    return require_ray().remote(num_cpus=1, max_restarts=0, max_task_retries=0)(cls)


@dataclass(eq=False)
class Worker:
    """The driver's handle on one worker actor."""

    handle: Any
    name: str
    started: bool = False
    """Whether the worker has answered a call (until then, calls also wait for its start)."""


class WorkerPool:
    """A fixed number of `RolloutWorker` actors; dead or hung ones are replaced on request.

    Args:
        workers: how many (default: one per CPU of the cluster).
        corpus: the corpus directory (default: the bundled programs, built on first use).
        share_corpus: the corpus path is visible on every node (an NFS mount, or one machine);
            otherwise its bytes travel once through Ray's object store to each node.
        root: the directory for workers' files on every node (default: `default_root`).

    Connects to Ray (`connect`) if this process is not connected yet.
    """

    def __init__(
        self,
        workers: int | None = None,
        corpus: str | Path | None = None,
        share_corpus: bool = False,
        root: str | Path | None = None,
    ) -> None:
        cluster = connect()
        self.corpus = Corpus.load(corpus) if corpus else default_corpus()
        self.size = workers or cluster.cpus
        if self.size < 1:
            raise ValueError(f"a pool needs at least one worker, not {self.size}")
        self._corpus_ref = CorpusRef.shared(self.corpus.root) if share_corpus else CorpusRef.ship(self.corpus.root)
        self._root = str(root) if root else None
        self._started = 0
        self._spaces: dict[tuple, tuple[list[TensorSpec], TensorSpec]] = {}
        self.workers = [self._start() for _ in range(self.size)]

    def _start(self) -> Worker:
        name = f"worker-{self._started}"
        self._started += 1
        handle = remote_class(RolloutWorker).remote(name, self._corpus_ref, self._root)
        return Worker(handle=handle, name=name)

    def replace(self, worker: Worker) -> Worker:
        """Kill `worker` (if it still runs) and start another in its place."""
        require_ray().kill(worker.handle, no_restart=True)
        fresh = self._start()
        self.workers[self.workers.index(worker)] = fresh
        return fresh

    def spaces(
        self, task: str, include_default: bool, llvm_version: int | None, timeout: float = 420.0
    ) -> tuple[list[TensorSpec], TensorSpec]:
        """A task's feature and advice specs, asked of a worker once per pool (a real compile).

        A worker that dies meanwhile is replaced and the question asked again (three times at most).

        Raises:
            TimeoutError: no worker answered within `timeout` seconds (a cluster short of CPUs).
            ServiceError: workers kept dying.
            ValueError: the task is unknown.
        """
        key = (task, include_default, llvm_version)
        ray = require_ray()
        for _ in range(3):
            if key in self._spaces:
                return self._spaces[key]
            worker = self.workers[0]
            try:
                self._spaces[key] = ray.get(worker.handle.spaces.remote(*key), timeout=timeout)
                worker.started = True
            except ray.exceptions.GetTimeoutError as exc:
                raise TimeoutError(f"no worker answered within {timeout:.0f} s: is the cluster short of CPUs?") from exc
            except ray.exceptions.RayTaskError:
                raise  # the service's own error (an unknown task, a missing LLVM): also an instance of it
            except ray.exceptions.RayError:
                self.replace(worker)
        if key not in self._spaces:
            raise ServiceError("workers kept dying while starting; see the Ray logs (`ray logs`) of the workers")
        return self._spaces[key]

    def close(self, timeout: float = 30.0) -> None:
        """Stop every worker: a clean shutdown first, then kill what did not stop in `timeout` s."""
        ray = require_ray()
        closing = [w.handle.close.remote() for w in self.workers]
        ray.wait(closing, num_returns=len(closing), timeout=timeout)
        for worker in self.workers:
            ray.kill(worker.handle, no_restart=True)
        self.workers = []

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
