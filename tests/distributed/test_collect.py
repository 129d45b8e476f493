"""Collections on a real local Ray with real services and clang-19, including killed, hung and
stopped workers: every episode ends exactly once, retried elsewhere or reported with its cause."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from mlgo_env.corpus import Corpus
from mlgo_env.episode import run_episode
from mlgo_env.errors import BenchmarkNotFound
from mlgo_env.machine import host
from tests.onnx_models import inline_small_callees

from .conftest import NO_RAY, compilers_under

ray = pytest.importorskip("ray", reason=NO_RAY)

from mlgo_env.distributed.actors import RolloutSettings, WorkerPool  # noqa: E402
from mlgo_env.distributed.collect import collect  # noqa: E402
from mlgo_env.distributed.dataset import dataset_cpu, read_decisions, read_episodes  # noqa: E402

BENCHMARKS = ["sha256", "nbody", "huffman"]


@pytest.fixture(scope="module")
def pool(ray_session: None, mini_corpus: Corpus, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerPool]:
    root = tmp_path_factory.mktemp("ray")
    with WorkerPool(2, mini_corpus.root, share_corpus=True, root=root) as workers:
        yield workers
    assert compilers_under(root) == {}
    assert list(root.iterdir()) == []  # every worker directory removed, the killed ones included


@contextmanager
def sabotage(pool: WorkerPool, action: Callable[[int, int], None], every: bool = False) -> Iterator[list[int]]:
    """Run `action(compiler_pid, worker_pid)` on the first interactive compile under the pool's root
    (or on `every` one) while the block runs; yields the worker pids acted on."""
    root, hits, stop = Path(pool._root), [], threading.Event()

    def watch() -> None:
        seen: set[int] = set()
        while not stop.is_set() and (every or not hits):
            for compiler, worker in compilers_under(root).items():
                if compiler not in seen:
                    seen.add(compiler)
                    action(compiler, worker)
                    hits.append(worker)
                    if not every:
                        return
            time.sleep(0.02)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield hits
    finally:
        stop.set()
        thread.join()


def test_trajectories_match_local_episodes_and_stream_to_parquet(
    pool: WorkerPool, mini_corpus: Corpus, tmp_path: Path
) -> None:
    out = tmp_path / "rollouts.parquet"
    outcomes = list(collect("llvm-default", BENCHMARKS, pool, out=out, progress=False))
    assert sorted(o.episode for o in outcomes) == [0, 1, 2]
    for outcome in outcomes:
        assert outcome.ok and outcome.attempts == 1 and outcome.faults == []
        local = run_episode(mini_corpus.benchmark(outcome.benchmark), "inlining", "llvm-default")
        assert outcome.rollout.actions.tolist() == local.actions.tolist()
        assert outcome.rollout.object_size == local.object_size
        assert outcome.rollout.observations["callee_basic_block_count"].shape == (
            local.decisions,
            1,
        )
        assert outcome.rollout.reward is not None and outcome.latency >= outcome.worker_seconds > 0
    table = read_episodes(out).to_pandas().sort_values("episode")
    assert table["benchmark"].tolist() == [f"benchmark://mini-v0/{b}" for b in BENCHMARKS]
    assert (table["status"] == "ok").all() and table["policy"].unique().tolist() == ["llvm-default"]
    decisions = read_decisions(out)
    assert len(decisions.actions) == table["decisions"].sum()
    assert np.array_equal(decisions.observations["inlining_default"].reshape(-1), decisions.actions)
    assert dataset_cpu(out) == host().record()  # the CPU it was collected for travels with it
    with pytest.raises(FileExistsError):
        collect("llvm-default", BENCHMARKS, pool, out=out, progress=False)


def test_onnx_policy_travels_through_the_object_store(pool: WorkerPool) -> None:
    outcomes = list(collect(inline_small_callees().SerializeToString(), BENCHMARKS, pool, progress=False))
    for outcome in outcomes:
        sizes = outcome.rollout.observations["callee_basic_block_count"].reshape(-1)
        assert outcome.rollout.actions.tolist() == (sizes <= 2).astype(int).tolist()


def test_killed_worker_mid_episode_is_retried_elsewhere(pool: WorkerPool, tmp_path: Path) -> None:
    pool.spaces("inlining", False, None)  # the dataset's schema: a compile the watcher must not kill
    out = tmp_path / "rollouts.parquet"
    with sabotage(pool, lambda compiler, worker: os.kill(worker, signal.SIGKILL)) as killed:
        outcomes = list(collect("random", BENCHMARKS * 2, pool, out=out, progress=False))
    assert killed, "no compile was seen to kill"
    assert sorted(o.episode for o in outcomes) == list(range(6)) and all(o.ok for o in outcomes)
    retried = [o for o in outcomes if o.attempts > 1]
    assert len(retried) == 1 and retried[0].faults[0].type == "WorkerDied"
    assert f":{killed[0]}" not in retried[0].worker
    rows = read_episodes(out).to_pandas()
    assert sorted(rows["episode"]) == list(range(6)) and rows["attempts"].sum() == 7


# Without a reward: the service's cached scorer would impose the timeouts of earlier rollouts.
QUICK_TIMEOUTS = RolloutSettings(reward=None, decision_timeout=2.0, compile_timeout=10.0)


def test_hung_compiler_is_killed_by_its_service_and_retried(pool: WorkerPool) -> None:
    with sabotage(pool, lambda compiler, worker: os.kill(compiler, signal.SIGSTOP)):
        outcomes = list(collect("never", BENCHMARKS, pool, QUICK_TIMEOUTS, progress=False))
    assert all(o.ok for o in outcomes)
    [retried] = [o for o in outcomes if o.attempts > 1]
    assert retried.faults[0].type == "CompilerTimeout"


def test_silent_worker_is_killed_by_the_driver_and_replaced(pool: WorkerPool) -> None:
    started = time.monotonic()
    with sabotage(pool, lambda compiler, worker: os.kill(worker, signal.SIGSTOP)):
        outcomes = list(collect("always", BENCHMARKS, pool, episode_timeout=5.0, progress=False))
    assert time.monotonic() - started < 40
    assert all(o.ok for o in outcomes)
    [retried] = [o for o in outcomes if o.attempts > 1]
    assert retried.faults[0].type == "EpisodeTimeout"


def test_failures_are_reported_with_their_cause(pool: WorkerPool, tmp_path: Path) -> None:
    out = tmp_path / "failed.parquet"
    eviction = RolloutSettings(task="regalloc_eviction")
    [unfit] = list(collect("llvm-default", ["nbody"], pool, eviction, out=out, progress=False))
    assert not unfit.ok and unfit.attempts == 1 and unfit.faults[0].type == "InvalidPolicy"  # not retried
    assert read_episodes(out).to_pandas()["error_type"].tolist() == ["InvalidPolicy"]
    with sabotage(pool, lambda compiler, worker: os.kill(compiler, signal.SIGSTOP), every=True):
        [hung] = list(collect("never", ["nbody"], pool, QUICK_TIMEOUTS, max_attempts=2, progress=False))
    assert not hung.ok and [f.type for f in hung.faults] == ["CompilerTimeout", "CompilerTimeout"]


def test_unknown_benchmarks_fail_before_anything_runs(pool: WorkerPool) -> None:
    with pytest.raises(BenchmarkNotFound):
        collect("never", ["sha256", "no-such-module"], pool)


def test_one_policy_per_episode(pool: WorkerPool, tmp_path: Path) -> None:
    outcomes = sorted(collect(["never", "always"], ["sha256", "sha256"], pool, progress=False), key=lambda o: o.episode)
    assert [int(o.rollout.actions.sum()) for o in outcomes] == [0, outcomes[1].rollout.decisions]
    with pytest.raises(ValueError, match="policies for"):
        collect(["never"], ["sha256", "nbody"], pool)
    with pytest.raises(ValueError, match="one policy"):
        collect(["never", "always"], ["sha256", "nbody"], pool, out=tmp_path / "data")
