"""RayVecEnv: sub-environments in Ray actors, accepted unchanged by SB3's PPO, with a shipped corpus."""

from __future__ import annotations

import functools
from pathlib import Path

import gymnasium as gym
import pytest

from mlgo_env.corpus import Corpus

from .conftest import NO_RAY

ray = pytest.importorskip("ray", reason=NO_RAY)
sb3 = pytest.importorskip("stable_baselines3", reason="the VecEnv needs the agents extra (stable-baselines3)")

from mlgo_env.distributed.vec_env import RayVecEnv  # noqa: E402


def test_ppo_learns_on_ray_sub_environments_and_survives_a_dead_actor(
    ray_session: None, mini_corpus: Corpus, worker_root: Path
) -> None:
    make = functools.partial(gym.make, "mlgo/Inlining-v0", benchmark="nbody", reward="size")
    venv = RayVecEnv([make, make], corpus=mini_corpus.root, root=worker_root)
    try:
        assert [p.name for p in worker_root.glob("corpus-*") if p.is_dir()]  # shipped, unpacked once
        model = sb3.PPO("MultiInputPolicy", venv, n_steps=16, batch_size=16, n_epochs=1, seed=0)
        model.learn(total_timesteps=32)
        assert model.num_timesteps == 32
        assert venv.get_attr("current_benchmark") == ["benchmark://mini-v0/nbody"] * 2
        ray.kill(venv.actors[0], no_restart=True)
        venv.step_async([0, 0])
        _, rewards, dones, infos = venv.step_wait()
        assert dones[0] and rewards[0] == -1.0 and infos[0]["error_type"] == "ActorDiedError"
        assert "terminal_observation" in infos[0] and not dones[1]
    finally:
        venv.close()
    assert [p.name for p in worker_root.iterdir() if p.name.startswith("worker-")] == []
