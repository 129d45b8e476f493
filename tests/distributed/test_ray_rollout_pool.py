"""agents' RayRolloutPool on a real local Ray: the same rollouts as one local service, and ES on it."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from mlgo_env import machine
from mlgo_env.corpus import Corpus

from .conftest import NO_RAY

pytest.importorskip("ray", reason=NO_RAY)

from agents import es  # noqa: E402
from agents.lib.policy_io import load_policy  # noqa: E402
from agents.lib.rollouts import RayRolloutPool, RolloutPool  # noqa: E402
from mlgo_env.distributed.collect import collect  # noqa: E402


def test_ray_pool_answers_as_a_local_service_does(ray_session: None, mini_corpus: Corpus, service_address: str) -> None:
    jobs = [("never", "sha256"), ("always", "nbody"), ("never", "huffman"), ("always", "sha256")]
    kwargs = {"reward": "size", "opt_level": "-Oz"}
    with RayRolloutPool("mlgo/Inlining-v0", workers=2, corpus=mini_corpus.root, **kwargs) as ray_pool:
        assert ray_pool.action_count == 2 and ray_pool.task_name == "inlining"
        remote = ray_pool.map(jobs)
        with RolloutPool("mlgo/Inlining-v0", workers=2, service=service_address, **kwargs) as local:
            assert ray_pool.observation_space == local.observation_space
            expected = local.map(jobs)
    for got, want in zip(remote, expected, strict=True):
        assert (got["text_size"], got["decisions"]) == (want["text_size"], want["decisions"])
        assert got["reward"] == pytest.approx(want["reward"])


def test_ray_workers_score_for_the_drivers_cpu(
    ray_session: None, mini_corpus: Corpus, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The driver resolves another CPU than the one the workers (other processes) would resolve.
    worker_cpu = machine.host_mcpu()
    driver_cpu = "skylake" if worker_cpu != "skylake" else "znver4"
    monkeypatch.setattr(machine, "host_mcpu", lambda toolchain=None: driver_cpu)
    kwargs = {"reward": "mca", "opt_level": "-Oz"}
    with RayRolloutPool("mlgo/Inlining-v0", workers=1, corpus=mini_corpus.root, **kwargs) as ray_pool:
        assert ray_pool.settings.reward_options == {"mcpu": driver_cpu}
        assert json.loads(ray_pool.settings.config().rewards[0].options_json) == {"mcpu": driver_cpu}
        (remote,) = ray_pool.map([("never", "sha256")])
        costs = {}
        for cpu in (driver_cpu, worker_cpu):
            explicit = dataclasses.replace(ray_pool.settings, reward_options={"mcpu": cpu})
            (outcome,) = collect("never", ["sha256"], ray_pool.pool, explicit, progress=False)
            assert outcome.rollout is not None
            costs[cpu] = outcome.rollout.cost
    assert costs[driver_cpu] != pytest.approx(costs[worker_cpu])  # the two targets tell apart
    assert remote["cost"] == pytest.approx(costs[driver_cpu])


def test_ray_pool_for_eviction_counts_the_candidates(ray_session: None, mini_corpus: Corpus) -> None:
    with RayRolloutPool("mlgo/RegallocEviction-v0", workers=1, corpus=mini_corpus.root, opt_level="-O2") as pool:
        assert pool.action_count == 33 and "mask" in pool.observation_space.spaces


def test_es_scores_its_candidates_on_ray(ray_session: None, tmp_path: Path) -> None:
    """ES on Ray scores its candidates as on one local service: same seed, same fitness, same policy."""
    fitness, theta = {}, {}
    for ray in (True, False):
        out = tmp_path / ("ray" if ray else "local")
        args = es.Args(
            ray=ray, workers=2, generations=1, population=1, benchmarks=("sha256", "huffman"), eval_every=1,
            runs_dir=str(out), output=str(out / "es.onnx"), seed=3,
        )  # fmt: skip
        es.main(args)
        policy, metadata = load_policy(out / "es.onnx")
        assert policy and metadata["task"] == "inlining"
        fitness[ray] = json.loads((out / "es.json").read_text())["train_geomean_reduction"]
        (checkpoint,) = out.rglob("checkpoint.pt")  # θ after the generation: moved by the candidates' scores
        theta[ray] = torch.load(checkpoint, weights_only=False)["theta"]
    assert fitness[True] == pytest.approx(fitness[False], abs=1e-9)
    assert np.abs(theta[False]).max() > 0  # the update moved θ: the candidates were told apart
    np.testing.assert_allclose(theta[True], theta[False], atol=1e-12)
    assert fitness[True] != -1.0  # not every rollout failed (the reward on error)
