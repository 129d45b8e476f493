"""The native rollout loop against the Python one on real compiles: same decisions, same recorded observations."""

from __future__ import annotations

import numpy as np
import pytest

from mlgo_env import rollout_loop
from mlgo_env.episode import run_episode
from mlgo_env.errors import InvalidAction
from mlgo_env.policies import replay_policy
from mlgo_env.tasks import get_task

pytestmark = pytest.mark.skipif(
    not rollout_loop.NATIVE, reason="the native rollout loop is not built (pip install -e . with a C compiler)"
)


@pytest.mark.parametrize(
    ("task", "benchmark", "policy"),
    [
        ("inlining", "huffman", "llvm-default"),  # reads LLVM 19's misplaced default from its raw slot
        ("inlining", "sha256", "random"),  # a Python policy called back from the native loop
        ("regalloc_eviction", "nbody", "never"),
        ("regalloc_eviction", "nbody", "always"),
        ("regalloc_priority", "sha256", "random"),
    ],
)
def test_native_loop_is_the_python_loop(mini_corpus, toolchain, task: str, benchmark: str, policy: str) -> None:
    module = mini_corpus.benchmark(benchmark)
    native = run_episode(module, task, policy, seed=7, toolchain=toolchain, native=True)
    python = run_episode(module, task, policy, seed=7, toolchain=toolchain, native=False)
    assert native.decisions == python.decisions > 1
    np.testing.assert_array_equal(native.actions, python.actions)
    assert native.observations.keys() == python.observations.keys()
    for name, values in python.observations.items():
        assert native.observations[name].dtype == values.dtype
        np.testing.assert_array_equal(native.observations[name], values, err_msg=name)
    assert (native.text_size, native.object_size) == (python.text_size, python.object_size)
    if policy == "llvm-default":
        np.testing.assert_array_equal(native.actions, native.observations["inlining_default"][:, 0])
        assert 0 < native.actions.sum() < native.decisions


def test_replay_is_the_recorded_episode_and_refuses_masked_actions(mini_corpus, toolchain) -> None:
    module, task = mini_corpus.benchmark("nbody"), get_task("regalloc_eviction")
    recorded = run_episode(module, task, "always", toolchain=toolchain)
    replayed = run_episode(module, task, replay_policy(task, recorded.actions), toolchain=toolchain)
    np.testing.assert_array_equal(replayed.actions, recorded.actions)
    assert replayed.text_size == recorded.text_size
    masks = recorded.observations["mask"].reshape(recorded.decisions, -1)
    decision = int(np.flatnonzero((masks == 0).any(axis=1))[0])
    illegal = recorded.actions.copy()
    illegal[decision] = int(np.flatnonzero(masks[decision] == 0)[0])
    for native in (True, False):
        with pytest.raises(InvalidAction, match="masked"):
            run_episode(module, task, replay_policy(task, illegal), toolchain=toolchain, native=native)
        with pytest.raises(InvalidAction, match="not the episode"):  # one action too many
            run_episode(module, task, replay_policy(task, [*recorded.actions, 32]), toolchain=toolchain, native=native)
