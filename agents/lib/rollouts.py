"""Whole-episode rollouts of policies on benchmarks: on one compiler service, or on Ray workers.

ES, behavioural cloning and the evaluations score policies this way (one RPC per compile, the
service's fast path). A compile that fails comes back as a result with ``reward=None`` and an
``error``, never as an exception, so one bad program does not stop a run.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import gymnasium as gym

__all__ = ["RayRolloutPool", "RolloutPool", "rollout_pool"]


class RolloutPool:
    """Whole-episode rollouts in the compiler service (the fast path), a few at a time.

    One environment (one embedded service over ``corpus`` unless `service` is given) serves every
    rollout; a thread pool keeps `workers` compiles running at once. A compile that fails is reported with
    ``reward=None`` and an ``error`` entry rather than raised, so one bad program does not stop
    a training run.
    """

    def __init__(self, env_id: str, workers: int | None = None, **env_kwargs: Any) -> None:
        import mlgo_env  # noqa: F401 - registers the environments

        self.env = gym.make(env_id, **env_kwargs)
        self.workers = workers or os.cpu_count() or 2
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="rollout")

    @property
    def observation_space(self) -> gym.spaces.Dict:
        """The environment's observation space (a Dict of the tensors LLVM declares)."""
        space = self.env.observation_space
        if not isinstance(space, gym.spaces.Dict):
            raise TypeError(f"{self.env.spec.id if self.env.spec else self.env} has no Dict observation space")
        return space

    @property
    def action_count(self) -> int:
        """How many discrete actions the environment has."""
        space = self.env.action_space
        if not isinstance(space, gym.spaces.Discrete):
            raise TypeError("ES and behavioural cloning need a Discrete action space")
        return int(space.n)

    @property
    def task_name(self) -> str:
        """The decision the environment asks (``inlining``, ``regalloc_eviction``, ...)."""
        return str(self.env.unwrapped.task.name)  # type: ignore[attr-defined]

    def rollout(self, policy: str | bytes, benchmark: str, seed: int = 0, observations: bool = False) -> dict:
        """One episode of `policy` on `benchmark` (see `CompilerEnv.rollout`)."""
        from mlgo_env.errors import MlgoEnvError

        try:
            return self.env.unwrapped.rollout(policy, benchmark=benchmark, seed=seed, return_observations=observations)  # type: ignore[attr-defined]
        except MlgoEnvError as exc:
            return {"benchmark": benchmark, "reward": None, "error": f"{type(exc).__name__}: {exc}"}

    def map(self, jobs: Sequence[tuple[str | bytes, str]], seed: int = 0, observations: bool = False) -> list[dict]:
        """Run every ``(policy, benchmark)`` job; results in the same order."""
        return list(self.imap(jobs, seed, observations))

    def imap(
        self, jobs: Sequence[tuple[str | bytes, str]], seed: int = 0, observations: bool = False
    ) -> Iterator[dict]:
        """Run every job, `workers` at a time; yield each result, in order, as soon as it is done."""
        futures = [self._pool.submit(self.rollout, policy, benchmark, seed, observations) for policy, benchmark in jobs]
        try:
            for future in futures:
                yield future.result()
        finally:
            for future in futures:
                future.cancel()  # the caller stopped early: leave the rest unstarted

    def close(self) -> None:
        """Stop the threads and the environment's service."""
        self._pool.shutdown(wait=True)
        self.env.close()

    def __enter__(self) -> RolloutPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RayRolloutPool:
    """A `RolloutPool` whose compiles run on Ray workers, each owning a compiler service.

    The same interface, so ES takes either: on a laptop a local Ray (one worker per core), on a
    cluster its address. Episodes of a worker that dies run again on another
    (`mlgo_env.distributed.collect`); an episode that still fails comes back with ``reward=None``
    and an ``error``, as from `RolloutPool`.

    Args:
        env_id: the environment whose task, reward and options the rollouts use.
        address: the Ray cluster (``"auto"``, ``"ray://host:10001"``); None: ``$RAY_ADDRESS`` or a
            local Ray.
        workers: Ray workers (default: one per CPU of the cluster).
        env_kwargs: ``reward``, ``reward_options``, ``opt_level``, ``llvm_version``, ``corpus``;
            ``split``, ``service`` and ``include_default`` are ignored (workers run their own services
            over the pool's corpus, and their services send LLVM's decision to the ``llvm-default``
            policy only).

    Attributes:
        settings: what every rollout shares; its reward options name the reward's target as this
            machine resolved it (`RolloutSettings.pinned`), so every worker scores for this machine.
    """

    def __init__(self, env_id: str, address: str | None = None, workers: int | None = None, **env_kwargs: Any) -> None:
        from mlgo_env.distributed import connect
        from mlgo_env.distributed.actors import RolloutSettings, WorkerPool
        from mlgo_env.envs.compiler_env import observation_space_for
        from mlgo_env.tasks import TASKS, RegallocEvictionTask

        task = next((t for t in TASKS.values() if t.env_id == env_id), None)
        if task is None:
            raise ValueError(f"no task has the environment {env_id!r}")
        cluster = connect(address)
        self.settings = RolloutSettings(
            task=task.name,
            reward=env_kwargs.get("reward", "size"),
            reward_options=env_kwargs.get("reward_options") or {},
            opt_level=env_kwargs.get("opt_level"),
            llvm_version=env_kwargs.get("llvm_version"),
        ).pinned()
        # One machine: the workers read the corpus where it is; a cluster: it travels to each node.
        self.pool = WorkerPool(workers, corpus=env_kwargs.get("corpus"), share_corpus=cluster.nodes == 1)
        features, _ = self.pool.spaces(task.name, False, self.settings.llvm_version)
        self.observation_space = observation_space_for(features)
        mask = self.observation_space.spaces.get("mask")
        self.action_count = math.prod(mask.shape or ()) if isinstance(task, RegallocEvictionTask) and mask else 2
        self.task_name = task.name

    def map(self, jobs: Sequence[tuple[str | bytes, str]], seed: int = 0, observations: bool = False) -> list[dict]:
        """Run every ``(policy, benchmark)`` job on the workers; results in the same order."""
        from mlgo_env.distributed.collect import collect

        settings = dataclasses.replace(self.settings, return_observations=observations)
        policies = [policy for policy, _ in jobs]
        benchmarks = [benchmark for _, benchmark in jobs]
        results: list[dict] = [{} for _ in jobs]
        for outcome in collect(policies, benchmarks, self.pool, settings, seed=seed, progress=False):
            if outcome.rollout is not None:
                results[outcome.episode] = dict(vars(outcome.rollout))
            else:
                error = outcome.faults[-1]
                results[outcome.episode] = {"benchmark": outcome.benchmark, "reward": None, "error": str(error)}
        return results

    def close(self) -> None:
        """Stop the workers (Ray itself stays up for the rest of the process)."""
        self.pool.close()

    def __enter__(self) -> RayRolloutPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def rollout_pool(
    env_id: str, workers: int | None, ray: bool = False, ray_address: str | None = None, **env_kwargs: Any
) -> RolloutPool | RayRolloutPool:
    """A `RayRolloutPool` when `ray` (or an address) is given, else a `RolloutPool` on one service."""
    if ray or ray_address:
        return RayRolloutPool(env_id, ray_address, workers, **env_kwargs)
    return RolloutPool(env_id, workers=workers, **env_kwargs)
