"""An SB3 `VecEnv` whose sub-environments live in Ray actors, each next to its own compiler service.

``RayVecEnv([make_env] * 8)`` behaves like SB3's ``SubprocVecEnv`` (same auto-reset, same
``terminal_observation`` and ``TimeLimit.truncated`` infos) and SB3's algorithms accept it
unchanged; the sub-environments may run on any node of the cluster. Each actor starts a compiler
service in its process and sets ``$MLGO_SERVICE`` to it before calling the thunk, so thunks that
make mlgo-env environments without a ``service=`` argument use it; give the corpus to
`RayVecEnv`, not to the environments.

A sub-environment whose actor dies, or does not answer within ``step_timeout``, is replaced: the
step ends its episode as the environments end episodes on service failures (``done`` with
``reward_on_error`` and ``info["error_type"]``), and the new actor's first observation follows.
Errors raised by the environment itself (such as ``InvalidAction``) reach the caller unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import (
    VecEnv,
    VecEnvIndices,
    VecEnvObs,
    VecEnvStepReturn,
)

from mlgo_env.corpus import Corpus, default_corpus
from mlgo_env.distributed import connect, require_ray
from mlgo_env.distributed.actors import EnvFactory, EnvWorker, remote_class
from mlgo_env.distributed.host import CorpusRef
from rewards.base import REWARD_ON_ERROR

__all__ = ["RayVecEnv"]


class RayVecEnv(VecEnv):
    """A vectorised environment whose sub-environments are `EnvWorker` actors on a Ray cluster.

    Args:
        env_fns: one thunk per sub-environment (pickled to the actors, as for SubprocVecEnv).
        corpus: the corpus directory (default: the bundled programs).
        share_corpus: the corpus path is visible on every node (otherwise it is shipped).
        root: the directory for workers' files on every node (default: `default_root`).
        step_timeout: seconds a step or reset may take before its actor is replaced.
        reward_on_error: the reward of a step whose actor died or timed out.

    Connects to Ray (`connect`) if this process is not connected yet.
    """

    def __init__(
        self,
        env_fns: Sequence[EnvFactory],
        corpus: str | Path | None = None,
        share_corpus: bool = False,
        root: str | Path | None = None,
        step_timeout: float = 900.0,
        reward_on_error: float = REWARD_ON_ERROR,
    ) -> None:
        if not env_fns:
            raise ValueError("RayVecEnv needs at least one environment factory")
        connect()
        self._ray = require_ray()
        path = Corpus.load(corpus).root if corpus else default_corpus().root
        self._corpus = CorpusRef.shared(path) if share_corpus else CorpusRef.ship(path)
        self._root = str(root) if root else None
        self._env_fns = list(env_fns)
        self.step_timeout = step_timeout
        self.reward_on_error = reward_on_error
        self.actors = [self._start(i) for i in range(len(env_fns))]
        try:
            spaces = self._ray.get(self.actors[0].spaces.remote(), timeout=step_timeout)
        except self._ray.exceptions.GetTimeoutError as exc:
            for actor in self.actors:  # nothing started: nothing to close cleanly
                self._ray.kill(actor, no_restart=True)
            raise TimeoutError(
                f"the first sub-environment did not start within {step_timeout:.0f} s: "
                "RayVecEnv needs one free CPU per sub-environment on the cluster"
            ) from exc
        observation_space, action_space = spaces
        self._last: list[Any] = [None] * len(env_fns)
        self._pending: list[Any] = []
        self.closed = False
        super().__init__(len(env_fns), observation_space, action_space)

    def _start(self, index: int) -> Any:
        return remote_class(EnvWorker).remote(self._env_fns[index], self._corpus, self._root)

    def _replace(self, index: int) -> tuple[Any, dict[str, Any]]:
        """Start a new actor for sub-environment `index`; its first observation and info."""
        self._ray.kill(self.actors[index], no_restart=True)
        self.actors[index] = self._start(index)
        return self._ray.get(self.actors[index].reset.remote(None, {}), timeout=self.step_timeout)

    def _gather(self, refs: list[Any]) -> list[Any]:
        """Each answer, or the Ray error (dead actor) / `TimeoutError` that took its place."""
        ready, _ = self._ray.wait(refs, num_returns=len(refs), timeout=self.step_timeout)
        answers: list[Any] = []
        for ref in refs:
            if ref not in ready:
                answers.append(TimeoutError(f"no answer within {self.step_timeout:.0f} s"))
                continue
            try:
                answers.append(self._ray.get(ref))
            except self._ray.exceptions.RayTaskError:
                raise  # the environment raised: the caller's error, as with SubprocVecEnv
            except self._ray.exceptions.RayError as exc:
                answers.append(exc)
        return answers

    def reset(self) -> VecEnvObs:
        """Reset every sub-environment (with the seeds and options set since the last reset)."""
        refs = [a.reset.remote(self._seeds[i], self._options[i]) for i, a in enumerate(self.actors)]
        results = []
        for index, answer in enumerate(self._gather(refs)):
            results.append(self._replace(index) if isinstance(answer, Exception) else answer)
        observations, self.reset_infos = zip(*results, strict=True)  # type: ignore[assignment]
        self._last = list(observations)
        self._reset_seeds()
        self._reset_options()
        return _stack(list(observations), self.observation_space)

    def step_async(self, actions: np.ndarray) -> None:
        """Send each sub-environment its action."""
        self._pending = [actor.step.remote(action) for actor, action in zip(self.actors, actions, strict=True)]

    def step_wait(self) -> VecEnvStepReturn:
        """The sub-environments' steps; replaced actors end their episode with `reward_on_error`."""
        results = []
        for index, answer in enumerate(self._gather(self._pending)):
            if isinstance(answer, Exception):
                observation, reset_info = self._replace(index)
                info = {
                    "error_type": type(answer).__name__,
                    "error_details": str(answer)[:1000],
                    "terminal_observation": self._last[index],
                    "TimeLimit.truncated": False,
                }
                answer = (observation, self.reward_on_error, True, info, reset_info)
            results.append(answer)
        self._pending = []
        observations, rewards, dones, infos, self.reset_infos = zip(*results, strict=True)  # type: ignore[assignment]
        self._last = list(observations)
        return (
            _stack(list(observations), self.observation_space),
            np.array(rewards),
            np.array(dones),
            list(infos),
        )

    def close(self) -> None:
        """Close every sub-environment and its service, then stop the actors."""
        if self.closed:
            return
        closing = [a.close.remote() for a in self.actors]
        self._ray.wait(closing, num_returns=len(closing), timeout=60)
        for actor in self.actors:
            self._ray.kill(actor, no_restart=True)
        self.closed = True

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        """An attribute of each chosen sub-environment."""
        return self._ray.get([self.actors[i].get_attr.remote(attr_name) for i in self._get_indices(indices)])

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        """Set an attribute on each chosen sub-environment."""
        self._ray.get([self.actors[i].set_attr.remote(attr_name, value) for i in self._get_indices(indices)])

    def env_method(
        self,
        method_name: str,
        *method_args: Any,
        indices: VecEnvIndices = None,
        **method_kwargs: Any,
    ) -> list[Any]:
        """Call a method of each chosen sub-environment."""
        calls = [
            self.actors[i].call.remote(method_name, method_args, method_kwargs) for i in self._get_indices(indices)
        ]
        return self._ray.get(calls)

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        """Whether each chosen sub-environment is wrapped in `wrapper_class`."""
        return self._ray.get([self.actors[i].is_wrapped.remote(wrapper_class) for i in self._get_indices(indices)])

    def get_images(self) -> Sequence[np.ndarray | None]:
        """The compiler environments draw nothing."""
        return [None] * self.num_envs


def _stack(observations: list[Any], space: gym.Space) -> VecEnvObs:
    """One batch from the sub-environments' observations (dict spaces: one array per key)."""
    if isinstance(space, gym.spaces.Dict):
        return {key: np.stack([o[key] for o in observations]) for key in space.spaces}
    return np.stack(observations)
