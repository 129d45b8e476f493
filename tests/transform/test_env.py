from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from mlgo_env.errors import EpisodeOver
from mlgo_env.transform.checker import verify_mlir
from mlgo_env.transform.env import TransformScheduleEnv
from mlgo_env.transform.library import Choice


@pytest.fixture(scope="module")
def size_env(tools):
    """A deterministic reward ("size"), so check_env's determinism checks hold."""
    env = TransformScheduleEnv(payload="elementwise", reward="size", max_steps=3, llvm_version=tools.version)
    yield env
    env.close()


def test_check_env(size_env: TransformScheduleEnv) -> None:
    check_env(size_env, skip_render_check=True)


def test_registered_entry_point_takes_keywords_only(tools) -> None:
    with pytest.raises(TypeError):
        TransformScheduleEnv("matmul")  # type: ignore[misc]
    spec = gym.envs.registration.EnvSpec(
        "mlgo-test/TransformSchedule-v0", entry_point="mlgo_env.transform.env:TransformScheduleEnv"
    )
    env = spec.make(payload="elementwise", reward="size", max_steps=1, llvm_version=tools.version)
    assert isinstance(env.unwrapped, TransformScheduleEnv)
    env.close()


def test_episode_schedule_verifies_and_program_is_correct(size_env: TransformScheduleEnv, tools) -> None:
    _, info = size_env.reset(seed=0)
    assert info["mlir_version"] == tools.release and size_env.mlir.version == tools.version
    lib = size_env.library
    _, reward, terminated, _, info = size_env.step(size_env.encode(Choice(lib["tile_fuse_2d"], (8, 64))))
    assert (reward, terminated, info["valid"]) == (0.0, False, True)
    size_env.step(size_env.encode(Choice(lib["vectorize"])))
    _, reward, terminated, truncated, info = size_env.step(size_env.encode(None))
    assert terminated and not truncated
    assert "error" not in info, info.get("error")  # built, ran, and matched the reference
    assert info["schedule"] == ["tile_fuse_2d(8,64)", "vectorize"]
    assert verify_mlir(info["schedule_mlir"], tools) is None
    assert reward == pytest.approx((info["baseline_cost"] - info["cost"]) / info["baseline_cost"])
    with pytest.raises(EpisodeOver):
        size_env.step(size_env.encode(None))


def test_invalid_choice_is_penalised_not_fatal(size_env: TransformScheduleEnv, tools) -> None:
    obs, _ = size_env.reset(seed=1)
    lib = size_env.library
    bad = size_env.encode(Choice(lib["tile_decompose_conv"], (8, 8, 8)))  # a conv step on a generic
    obs, reward, terminated, truncated, info = size_env.step(bad)
    assert reward == size_env.invalid_penalty
    assert not (terminated or truncated)
    assert info["valid"] is False and "tile_decompose_conv" in info["error"]
    assert obs[size_env.observation_space.shape[0] - len(size_env.step_names) - 1] == 1.0  # last invalid
    assert size_env.choices == []
    # a tensor step after a buffer step: refused by the composer, same penalty
    size_env.step(size_env.encode(Choice(lib["hoist_transfers"])))
    *_, truncated, info = size_env.step(size_env.encode(Choice(lib["vectorize"])))
    assert "already bufferized" in info["error"]
    assert truncated  # max_steps=3 reached: evaluated anyway
    assert verify_mlir(info["schedule_mlir"], tools) is None


def test_action_decoding_wraps_parameters(size_env: TransformScheduleEnv) -> None:
    index = 1 + size_env.step_names.index("tile_fuse_2d")
    choice = size_env.decode(np.array([index, 5, 7, 0]))
    assert choice is not None and choice.values == (4, 16)  # 5 % 5 -> 4, 7 % 5 -> 16
