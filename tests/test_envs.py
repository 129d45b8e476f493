"""The Gymnasium environments over the real service and real clang-19."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import mlgo_env  # noqa: F401 - registers the environments
from mlgo_env.artifacts import CompiledModule
from mlgo_env.errors import EpisodeOver, InvalidAction
from rewards.base import Reward

ENV_IDS = ["mlgo/Inlining-v0", "mlgo/RegallocEviction-v0", "mlgo/RegallocPriority-v0"]


def _make(env_id: str, service_address: str, **kwargs) -> gym.Env:
    kwargs.setdefault("benchmark", "nbody")
    return gym.make(env_id, service=service_address, **kwargs)


def _finish(env: gym.Env, action=None) -> tuple[float, dict]:
    done = False
    reward, info = 0.0, {}
    while not done:
        if action is None:
            choice = (
                env.action_space.sample(mask=env.unwrapped.action_masks().astype(np.int8))
                if isinstance(env.action_space, gym.spaces.Discrete)
                else env.action_space.sample()
            )
        else:
            choice = action
        _, reward, done, _, info = env.step(choice)
    return float(reward), info


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_check_env(env_id: str, service_address: str) -> None:
    # The checkers sample actions without the eviction mask: end such episodes instead of raising.
    env = _make(env_id, service_address, on_invalid_action="terminate")
    try:
        check_env(env.unwrapped, skip_render_check=True)
    finally:
        env.close()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_sb3_check_env(env_id: str, service_address: str) -> None:
    sb3_checker = pytest.importorskip("stable_baselines3.common.env_checker", reason="needs the agents extra")
    env = _make(env_id, service_address, on_invalid_action="terminate")
    try:
        sb3_checker.check_env(env.unwrapped, warn=False)
    finally:
        env.close()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_observation_space_is_the_header(env_id: str, service_address: str) -> None:
    env = _make(env_id, service_address)
    try:
        observation, info = env.reset(seed=0)
        assert env.observation_space.contains(observation)
        specs = {s.name: s for s in env.unwrapped.feature_specs}
        assert set(observation) == set(specs)
        for name, value in observation.items():
            assert value.shape == specs[name].shape and value.dtype == specs[name].dtype.newbyteorder("=")
    finally:
        env.close()


def test_same_seed_same_episode(service_address: str) -> None:
    first = gym.make("mlgo/Inlining-v0", service=service_address, split=None)
    second = gym.make("mlgo/Inlining-v0", service=service_address, split=None)
    try:
        for seed in (1, 2, 3):
            a, info_a = first.reset(seed=seed)
            b, info_b = second.reset(seed=seed)
            assert info_a["benchmark"] == info_b["benchmark"]
            assert all(np.array_equal(a[k], b[k]) for k in a)
    finally:
        first.close()
        second.close()


def test_inlining_episode_reward_and_info(service_address: str) -> None:
    env = _make("mlgo/Inlining-v0", service_address, benchmark="sha256", reward="size", opt_level="-Oz")
    try:
        env.reset(seed=0)
        reward, info = _finish(env, action=0)
        assert info["decisions"] > 0 and info["text_size"] > 0
        assert reward == pytest.approx((info["baseline_cost"] - info["cost"]) / info["baseline_cost"])
        assert info["cost"] == info["text_size"]
        with pytest.raises(EpisodeOver):
            env.step(0)
        assert env.unwrapped.validate().ok
    finally:
        env.close()


def test_include_default_adds_llvm_decision(service_address: str) -> None:
    """Following ``inlining_default`` reproduces the plain compile: it is LLVM's decision.

    LLVM 19 writes its decision into the wrong tensor and leaves ``inlining_default`` at 0: read
    raw, following it never inlines and the ``.text`` differs from the plain compile.
    """
    env = _make("mlgo/Inlining-v0", service_address, benchmark="sha256", reward="size", opt_level="-Oz",
                include_default=True)  # fmt: skip
    try:
        observation, _ = env.reset(seed=0)
        decisions, done, info = [], False, {}
        while not done:
            decisions.append(int(observation["inlining_default"].item()))
            observation, _, done, _, info = env.step(decisions[-1])
        assert set(decisions) == {0, 1}, "LLVM inlines some call sites of sha256 at -Oz and not others"
        assert info["cost"] == info["baseline_cost"], "following LLVM's decision must give the plain compile"
    finally:
        env.close()


def test_eviction_mask(service_address: str) -> None:
    env = _make("mlgo/RegallocEviction-v0", service_address)
    try:
        observation, info = env.reset(seed=0)
        mask = info["action_mask"]
        assert mask.shape == (env.action_space.n,) and mask.dtype == bool
        assert np.array_equal(mask, observation["mask"].reshape(-1).astype(bool))
        assert np.array_equal(mask, env.unwrapped.action_masks())
        illegal = int(np.flatnonzero(~mask)[0])
        with pytest.raises(InvalidAction):
            env.step(illegal)
        reward, info = _finish(env)
        assert info["decisions"] > 0
    finally:
        env.close()


class TextBytes(Reward):
    """A client-side reward: bytes of .text, measured here."""

    name = "client_text"

    def cost(self, module: CompiledModule) -> float:
        from rewards.size import text_size

        return float(text_size(module.object_path))


def test_client_side_reward_object(service_address: str) -> None:
    env = _make("mlgo/Inlining-v0", service_address, benchmark="sha256", reward=TextBytes())
    try:
        env.reset(seed=0)
        reward, info = _finish(env, action=1)
        assert info["cost"] == info["text_size"]
        assert reward == pytest.approx((info["baseline_cost"] - info["cost"]) / info["baseline_cost"])
    finally:
        env.close()


def test_embedded_service_killed_mid_episode(tmp_path, monkeypatch, mini_corpus) -> None:
    monkeypatch.delenv("MLGO_SERVICE", raising=False)
    env = gym.make("mlgo/Inlining-v0", corpus=str(mini_corpus.root), benchmark="sha256")
    try:
        env.reset(seed=0)
        embedded = env.unwrapped._embedded
        assert embedded is not None
        compilers = _children(embedded.process.pid)
        assert compilers, "the service runs the compiler"
        sessions = list((Path(embedded.address.removeprefix("unix:")).parent / "sessions").iterdir())
        assert sessions, "the session's files are in the embedded service's directory"
        os.kill(embedded.process.pid, signal.SIGKILL)
        embedded.process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in compilers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(pid) for pid in compilers), "a compiler outlived its killed service"
        _, reward, terminated, _, info = env.step(0)
        assert terminated and reward == -1.0
        assert info["error_type"] == "ServiceUnavailable"
        observation, _ = env.reset(seed=0)  # a fresh embedded service
        assert not any(path.exists() for path in sessions), "the killed service's session files were left"
        assert env.observation_space.contains(observation)
        _finish(env, action=0)
    finally:
        env.close()
    assert env.unwrapped._embedded is None


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                status = (entry / "status").read_text()
            except OSError:
                continue
            if f"\nPPid:\t{pid}\n" in status:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("State"))
    except (OSError, StopIteration):
        return False
    return "Z" not in state
