"""The batched vector environment (`BatchedCompilerEnv`) over the real service and real clang-19."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

import mlgo_env  # noqa: F401 - registers the environments
from mlgo_env.envs.vector import BatchedCompilerEnv
from mlgo_env.errors import EpisodeOver, InvalidAction, ServiceBusy
from mlgo_env.service.server import CompilerServicer, ServiceConfig, start_server
from rewards.base import REWARD_ON_ERROR

ENV_IDS = ["mlgo/Inlining-v0", "mlgo/RegallocEviction-v0", "mlgo/RegallocPriority-v0"]


@pytest.fixture
def service(mini_corpus) -> Iterator[tuple[str, CompilerServicer]]:
    """A service of the test's own (its sessions and compilers are the test's to count)."""
    server, servicer, port = start_server("127.0.0.1:0", ServiceConfig(corpus=mini_corpus.root, insecure=True))
    yield f"127.0.0.1:{port}", servicer
    servicer.shutdown()
    server.stop(0)


def _action(env_id: str, slot: int, step: int, observation: dict[str, np.ndarray]) -> object:
    """A fixed, legal action that differs between slots and steps."""
    if env_id == "mlgo/Inlining-v0":
        return (step + slot) % 2
    if env_id == "mlgo/RegallocEviction-v0":
        legal = np.flatnonzero(observation["mask"].reshape(-1))
        return int(legal[0] if (step + slot) % 4 == 0 else legal[-1])  # evict now and then, else nothing
    return np.array([(step * 7 + slot) % 10], dtype=np.float32)


def _slot(observations: dict[str, np.ndarray], slot: int) -> dict[str, np.ndarray]:
    return {name: value[slot] for name, value in observations.items()}


def _actions(vec: BatchedCompilerEnv, env_id: str, steps: list[int], observations: dict[str, np.ndarray]) -> np.ndarray:
    return np.stack([np.asarray(_action(env_id, i, steps[i], _slot(observations, i))) for i in range(vec.num_envs)])


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_make_vec_gives_the_batched_env(env_id: str, service: tuple[str, CompilerServicer]) -> None:
    vec = gym.make_vec(env_id, num_envs=2, service=service[0], benchmark="huffman", reward="size")
    try:
        assert isinstance(vec, BatchedCompilerEnv) and vec.num_envs == 2
        assert vec.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
        single = vec.envs[0]
        assert vec.single_observation_space == single.observation_space
        assert vec.single_action_space == single.action_space
        assert vec.action_space == batch_space(single.action_space, 2)
        first, info = vec.reset(seed=3)
        assert vec.observation_space.contains(first)
        assert list(info["benchmark"]) == ["benchmark://mini-v0/huffman"] * 2 and info["_benchmark"].all()
        again, _ = vec.reset(seed=3)
        np.testing.assert_equal(first, again)  # exact, NaN (which LLVM sends in some features) equal to NaN
        kept = copy.deepcopy(again)
        steps, observations, done = [0, 0], again, np.zeros(2, dtype=bool)
        while not done.all():
            observations, rewards, terminated, truncated, info = vec.step(_actions(vec, env_id, steps, observations))
            np.testing.assert_equal(again, kept, err_msg="a step changed an observation it returned before")
            # Shapes and dtypes, not contains(): LLVM sends NaN in some eviction features (use_def_density).
            for name, space in vec.observation_space.spaces.items():
                assert observations[name].shape == space.shape and observations[name].dtype == space.dtype
            assert rewards.dtype == np.float64
            assert not truncated.any()
            steps = [s + 1 for s in steps]
            done |= terminated
        assert (info["_text_size"] == terminated).all() and (info["text_size"][terminated] > 0).all()
        assert (info["cost"][terminated] == info["text_size"][terminated]).all()
    finally:
        vec.close()


@pytest.mark.parametrize("env_id", ["mlgo/Inlining-v0", "mlgo/RegallocEviction-v0"])
def test_batched_episodes_are_the_single_envs(env_id: str, service: tuple[str, CompilerServicer]) -> None:
    """Three environments on one stream make the decisions and get the results of three alone."""
    vec = BatchedCompilerEnv(env_id, num_envs=3, service=service[0], split=None, reward="size")
    try:
        observations, _ = vec.reset(seed=23)  # picks huffman, nbody, nbody: the small ones
        batched: list[list[dict]] = [[_slot(observations, i)] for i in range(3)]
        ends: list[tuple[float, dict] | None] = [None, None, None]
        steps = [0, 0, 0]
        while any(end is None for end in ends):
            observations, rewards, terminated, _, info = vec.step(_actions(vec, env_id, steps, observations))
            for i in range(3):
                steps[i] += 1
                if ends[i] is None and terminated[i]:
                    ends[i] = (rewards[i], {k: info[k][i] for k in ("benchmark", "decisions", "text_size", "cost")})
                elif ends[i] is None:
                    batched[i].append(_slot(observations, i))
    finally:
        vec.close()
    for i in range(3):
        env = gym.make(env_id, service=service[0], split=None, reward="size")
        try:
            observation, _ = env.reset(seed=23 + i)
            alone, step, terminated = [observation], 0, False
            while not terminated:
                observation, reward, terminated, _, info = env.step(_action(env_id, i, step, observation))
                step += 1
                if not terminated:
                    alone.append(observation)
        finally:
            env.close()
        np.testing.assert_equal(alone, batched[i], err_msg=f"env {i} saw other decisions on the stream")
        assert ends[i] == (reward, {k: info[k] for k in ("benchmark", "decisions", "text_size", "cost")})


def test_an_error_ends_its_own_episode_only(service: tuple[str, CompilerServicer]) -> None:
    address, servicer = service
    vec = BatchedCompilerEnv(
        "mlgo/Inlining-v0", num_envs=3, service=address, benchmark="sha256", on_invalid_action="terminate"
    )
    try:
        vec.reset(seed=0)
        _, rewards, terminated, _, info = vec.step(np.array([0, 5, 0]))
        assert terminated.tolist() == [False, True, False] and rewards[1] == REWARD_ON_ERROR
        assert info["error_type"][1] == "InvalidAction" and info["_error_type"].tolist() == [False, True, False]
        servicer.sessions.get(vec.envs[2]._session_id).compile.process.kill()  # env 2's compiler dies
        _, rewards, terminated, _, info = vec.step(np.array([0, 0, 0]))
        assert terminated.tolist() == [False, False, True] and rewards.tolist() == [0.0, 0.0, REWARD_ON_ERROR]
        assert info["error_type"][2] == "CompilerCrashed" and info["_error_type"].tolist() == [False, False, True]
        assert info["decisions"][:2].tolist() == [2, 0], "env 0 goes on, env 1 started its next episode"
        _, _, terminated, _, info = vec.step(np.array([0, 0, 0]))
        assert not terminated.any() and info["decisions"].tolist() == [3, 1, 0]
    finally:
        vec.close()
    strict = BatchedCompilerEnv("mlgo/Inlining-v0", num_envs=2, service=address, benchmark="sha256")
    try:
        strict.reset(seed=0)
        with pytest.raises(InvalidAction):  # refused before anything was sent: every episode goes on
            strict.step(np.array([0, 5]))
        assert strict.step(np.array([0, 1]))[4]["decisions"].tolist() == [1, 1]
    finally:
        strict.close()


def _run_out(vec: BatchedCompilerEnv) -> tuple:
    """Step two envs of the same benchmark, always 0, until their episodes end (together)."""
    while True:
        step = vec.step(np.zeros(vec.num_envs, dtype=np.int64))
        if step[2].any():
            assert step[2].all()
            return step


@pytest.mark.parametrize("mode", list(AutoresetMode))
def test_autoreset_modes(mode: AutoresetMode, service: tuple[str, CompilerServicer]) -> None:
    vec = BatchedCompilerEnv("mlgo/Inlining-v0", 2, autoreset_mode=mode, service=service[0], benchmark="huffman")
    try:
        assert vec.metadata["autoreset_mode"] == mode
        first, _ = vec.reset(seed=0)
        observations, rewards, _, _, info = _run_out(vec)
        if mode == AutoresetMode.NEXT_STEP:
            assert info["_text_size"].all() and "final_info" not in info
            observations, rewards, terminated, _, info = vec.step(np.array([1, 1]))  # the actions are ignored
            np.testing.assert_equal(observations, first)
            assert not terminated.any() and not rewards.any()
            assert info["decisions"].tolist() == [0, 0]
        elif mode == AutoresetMode.SAME_STEP:
            np.testing.assert_equal(observations, first)
            assert info["decisions"].tolist() == [0, 0]
            assert info["_final_info"].all() and (info["final_info"]["text_size"] > 0).all()
            assert info["_final_obs"].all() and "callee_basic_block_count" in info["final_obs"][0]
            assert vec.step(np.array([0, 0]))[4]["decisions"].tolist() == [1, 1]
        else:
            with pytest.raises(EpisodeOver):
                vec.step(np.array([0, 0]))
            observations, info = vec.reset(options={"reset_mask": np.array([True, False])})
            assert info["_benchmark"].tolist() == [True, False]
            np.testing.assert_equal(_slot(observations, 0), _slot(first, 0))
            with pytest.raises(EpisodeOver):
                vec.step(np.array([0, 0]))
            vec.reset(options={"reset_mask": np.array([False, True])})
            assert vec.step(np.array([0, 0]))[4]["decisions"].tolist() == [1, 1]
    finally:
        vec.close()


def test_batched_observations_are_the_callers_own(service: tuple[str, CompilerServicer]) -> None:
    """Observations decoded together are copied out: writing into them changes nothing the envs check."""
    vec = BatchedCompilerEnv("mlgo/RegallocEviction-v0", num_envs=2, service=service[0], split=None, reward=None)
    try:
        observations, _ = vec.reset(options={"benchmark": "nbody"})
        observations, *_ = vec.step(_actions(vec, "mlgo/RegallocEviction-v0", [0, 0], observations))
        assert vec._decoded is not None, "both decisions were decoded together"
        pending = [env._observation["mask"].copy() for env in vec.envs]  # what each env checks actions against
        np.testing.assert_array_equal(observations["mask"], np.stack(pending))
        observations["mask"][:] = 0
        assert all((env._observation["mask"] == mask).all() for env, mask in zip(vec.envs, pending, strict=True))
        again, *_ = vec.step(_actions(vec, "mlgo/RegallocEviction-v0", [1, 1], {"mask": np.stack(pending)}))
        assert again["mask"].any()
    finally:
        vec.close()


def test_close_ends_every_session(service: tuple[str, CompilerServicer], child_compilers) -> None:
    address, servicer = service
    before = set(child_compilers())
    vec = gym.make_vec("mlgo/RegallocEviction-v0", num_envs=3, service=address, split=None)
    vec.reset(seed=1)
    compilers = set(child_compilers()) - before
    assert len(compilers) == 3 and servicer.active_sessions == 3
    vec.close()
    assert servicer.active_sessions == 0 and servicer.sessions.slots_in_use == 0
    assert not compilers & set(child_compilers()), "a compiler outlived its closed vector env"


def test_more_envs_than_sessions_are_refused(mini_corpus) -> None:
    server, servicer, port = start_server(
        "127.0.0.1:0", ServiceConfig(corpus=mini_corpus.root, max_sessions=2, insecure=True)
    )
    vec = BatchedCompilerEnv("mlgo/Inlining-v0", num_envs=3, service=f"127.0.0.1:{port}", benchmark="nbody")
    try:
        with pytest.raises(ServiceBusy, match="3 slots exceed"):
            vec.reset(seed=0)
        assert servicer.sessions.slots_in_use == 0
    finally:
        vec.close()
        servicer.shutdown()
        server.stop(0)
