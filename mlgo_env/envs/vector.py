"""`BatchedCompilerEnv`: several episodes of one MLGO task as one Gymnasium vector environment on one stream.

A round trip to the service costs more than a decision may (a bare gRPC stream's round trip is
over the per-decision target): one message each way per batch of `num_envs` decisions amortises
it, and the service lets the batch's compilers work in parallel meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.envs.registration import load_env_creator
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space, iterate

from mlgo_env.envs.compiler_env import CompilerEnv, Observation, StepResult
from mlgo_env.errors import EpisodeOver, InvalidAction
from mlgo_env.service.client import (
    BatchedEpisodeStream,
    EmbeddedService,
    ServiceConnection,
    SlotItem,
    connect,
)
from mlgo_env.service.proto import pb

__all__ = ["BatchedCompilerEnv"]

Started = tuple[Observation, dict[str, Any]]
"""A started episode: its first observation and info."""
VectorStep = tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]


class BatchedCompilerEnv(VectorEnv):
    """`num_envs` environments of one MLGO task, stepped together on one ``Episodes`` stream.

    ## Description
    Each sub-environment is the task's own environment (``env_id``'s class, with its spaces,
    rewards, action mask and errors) and makes the decisions it would make alone; only the
    transport differs: one message each way per `step` for all of them, where Gymnasium's
    "sync" vectorisation makes one round trip per sub-environment. The service sends every
    action before it waits for any compiler, so the compilers work in parallel. Made by
    ``gymnasium.make_vec(env_id, num_envs=N)`` (the default vectorisation of the MLGO ids).

    ## Spaces
    ``single_observation_space`` and ``single_action_space`` are the sub-environment's; the
    batched ones stack `num_envs` of them (`gymnasium.vector.utils.batch_space`).

    ## Autoreset
    ``metadata["autoreset_mode"]``. ``NEXT_STEP`` (default): the `step` after an episode ended
    ignores that sub-environment's action and starts its next episode (in the same message as the
    others' actions), returning its first observation with reward 0. ``SAME_STEP``: the next
    episode starts within the `step` that ended one (one more message), ``info["final_obs"]``
    and ``info["final_info"]`` holding the ended episode's. ``DISABLED``: `reset` with
    ``options={"reset_mask": mask}`` starts them; stepping an ended one raises `EpisodeOver`.

    ## Info
    Gymnasium's vector form of the sub-environments' ``info``: an array per key over the
    sub-environments, with a ``_key`` mask; the episode's result (``text_size``,
    ``object_size``, ``cost``, ...) at its end.

    ## Errors
    A compiler crash or a service error in one sub-environment ends its episode only
    (terminated, ``reward_on_error``, ``info["error_type"]``), as in the sub-environment. An
    action refused here raises `InvalidAction` before anything is sent (every episode goes on),
    unless ``on_invalid_action="terminate"``. A sub-environment that cannot start an episode
    (`reset` or autoreset) raises, once the others' replies were taken; so does a broken stream.

    ## Version History
    * v0: initial version.

    Args:
        env_id: a registered MLGO decision environment (``mlgo/Inlining-v0``, ...).
        num_envs: sub-environments; at most the service's session budget (else `ServiceBusy`).
        autoreset_mode: see Autoreset.
        service: the service, as `CompilerEnv`'s (unset: one embedded service for them all).
        token: the service's shared token.
        corpus: a corpus directory for the embedded service.
        **kwargs: the sub-environments' other arguments (`CompilerEnv`).
    """

    def __init__(
        self,
        env_id: str,
        num_envs: int = 1,
        *,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        service: str | None = None,
        token: str | None = None,
        corpus: str | Path | None = None,
        **kwargs: Any,
    ) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs must be at least 1, not {num_envs}")
        entry_point = gym.spec(env_id).entry_point
        env_class = load_env_creator(entry_point) if isinstance(entry_point, str) else entry_point
        if not (isinstance(env_class, type) and issubclass(env_class, CompilerEnv)):
            raise ValueError(f"{env_id} is not an MLGO decision environment (a CompilerEnv)")
        self.num_envs = num_envs
        self.autoreset_mode: AutoresetMode = AutoresetMode(autoreset_mode)
        self.metadata = {"render_modes": [], "autoreset_mode": self.autoreset_mode}
        self._connection: ServiceConnection
        self._embedded: EmbeddedService | None
        self._connection, self._embedded = connect(service, token, Path(corpus) if corpus else None)
        self.envs: list[CompilerEnv] = []
        self._stream: BatchedEpisodeStream | None = None
        try:
            self.envs = [env_class(connection=self._connection, **kwargs) for _ in range(num_envs)]
            self._stream = self._connection.episodes(num_envs)
        except BaseException:
            self.close()
            raise
        self.single_observation_space = self.envs[0].observation_space
        self.single_action_space = self.envs[0].action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._latest: list[Observation] = [{} for _ in range(num_envs)]  # each sub-environment's last observation
        self._decoded: dict[str, np.ndarray] | None = None  # all of `_latest`, decoded together by the last step
        self._ended: np.ndarray = np.zeros(num_envs, dtype=bool)  # whose episode ended in the last step

    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Start an episode in every sub-environment (or in those of ``options["reset_mask"]``), in one message.

        Args:
            seed: None; an int (sub-environment i gets ``seed + i``, as Gymnasium's vector
                environments); or one per sub-environment.
            options: the sub-environments' (``{"benchmark": id}`` for all of them), and
                ``reset_mask``: a bool array, which sub-environments to start.
        """
        seeds = self._seeds(seed)
        options = dict(options or {})
        mask = options.pop("reset_mask", None)
        which = range(self.num_envs) if mask is None else self._masked(mask)
        for i in which:
            gym.Env.reset(self.envs[i], seed=seeds[i])  # seeds its random picks, as its own reset would
        _, started = self._exchange({}, {i: self.envs[i]._start_requests(options) for i in which})
        infos: dict[str, Any] = {}
        for i in which:
            self._latest[i], info = started[i]
            self._ended[i] = False
            infos = self._add_info(infos, info, i)
        return self._batched(), infos

    def step(self, actions: Any) -> VectorStep:
        """Answer every sub-environment's pending decision in one message (see Autoreset for ended episodes)."""
        restart = self._ended if self.autoreset_mode == AutoresetMode.NEXT_STEP else np.zeros_like(self._ended)
        messages: dict[int, pb.Action] = {}
        refused: dict[int, InvalidAction] = {}
        for i, action in enumerate(iterate(self.action_space, actions)):
            if not restart[i]:
                try:
                    messages[i] = self.envs[i]._action_message(action)
                except InvalidAction as exc:
                    refused[i] = exc
        # Raises the first refusal, before anything is sent, unless on_invalid_action="terminate".
        results = {i: self.envs[i]._refused(exc) for i, exc in refused.items()}
        starts = {int(i): self.envs[i]._start_requests(None) for i in np.flatnonzero(restart)}
        stepped, started = self._exchange(messages, starts)
        results.update(stepped)
        results.update({i: (observation, 0.0, False, False, info) for i, (observation, info) in started.items()})
        infos: dict[str, Any] = {}
        ended = [i for i, (_, _, terminated, truncated, _) in results.items() if terminated or truncated]
        if self.autoreset_mode == AutoresetMode.SAME_STEP and ended:
            _, restarted = self._exchange({}, {i: self.envs[i]._start_requests(None) for i in ended})
            for i in ended:
                observation, reward, terminated, truncated, info = results[i]
                infos = self._add_info(infos, {"final_obs": observation, "final_info": info}, i)
                results[i] = (restarted[i][0], reward, terminated, truncated, restarted[i][1])
        rewards = np.zeros(self.num_envs, dtype=np.float64)
        terminations = np.zeros(self.num_envs, dtype=bool)
        truncations = np.zeros(self.num_envs, dtype=bool)
        for i in range(self.num_envs):
            self._latest[i], reward, terminations[i], truncations[i], info = results[i]
            rewards[i] = float(reward)
            infos = self._add_info(infos, info, i)
        self._ended = terminations | truncations
        return self._batched(), rewards, terminations, truncations, infos

    def _exchange(
        self, actions: dict[int, pb.Action], starts: dict[int, Iterator[pb.StartSessionRequest]]
    ) -> tuple[dict[int, StepResult], dict[int, Started]]:
        """Send the actions and the starts in one message; each step's result, each start's first decision.

        A start whose compiler asked nothing is retried with its next request (`_start_requests`),
        all such in one more message.

        Raises:
            MlgoEnvError: a start failed or ran out of tries (once every other reply was taken).
        """
        assert self._stream is not None
        items: list[SlotItem] = [actions.get(i) for i in range(self.num_envs)]
        stepped: dict[int, StepResult] = {}
        started: dict[int, Started] = {}
        failures: list[Exception] = []
        retry = list(starts)
        while True:
            for i in retry:
                try:
                    items[i] = next(starts[i])
                except EpisodeOver as exc:
                    failures.append(exc)
            if not any(item is not None for item in items):
                break
            replies = self._stream.batch(items)
            items, retry = [None] * self.num_envs, []
            decoded = self._decode_together(replies)
            for i, reply in enumerate(replies):
                if isinstance(reply, pb.StepReply):
                    stepped[i] = self.envs[i]._stepped(reply, decoded.get(i))
                elif isinstance(reply, pb.StartSessionReply):
                    first = self.envs[i]._started(reply)
                    if first is None:
                        retry.append(i)
                    else:
                        started[i] = first
                elif reply is not None and i in starts:
                    failures.append(reply)
                elif reply is not None:
                    stepped[i] = self.envs[i]._end_with_error(reply)
        if failures:
            raise failures[0]
        return stepped, started

    def _decode_together(self, replies: list[Any]) -> dict[int, Observation]:
        """The observations of the replies that carry one, decoded at once (`ChannelHeader.decode_many`).

        Each sub-environment's observation is its row of one fresh buffer. Where every
        sub-environment got one, `_batched` copies the buffer's features instead of stacking rows.
        """
        self._decoded = None
        carrying = [i for i, r in enumerate(replies) if isinstance(r, pb.StepReply) and not r.done]
        if not carrying:
            return {}
        header = self.envs[carrying[0]]._header
        assert header is not None
        raws = [replies[i].observation.raw for i in carrying]
        for i, raw in zip(carrying, raws, strict=True):
            other = self.envs[i]._header
            assert other is not None
            if len(raw) != header.observation_nbytes or (
                other is not header and other.record_dtype != header.record_dtype
            ):
                return {}  # a record of another layout, or of the wrong size: each decodes (and refuses) its own
        features = header.decode_many(raws)
        if len(carrying) == self.num_envs:
            self._decoded = features
        return {i: {name: rows[k] for name, rows in features.items()} for k, i in enumerate(carrying)}

    def _seeds(self, seed: int | list[int | None] | None) -> list[int | None]:
        """One seed per sub-environment, as Gymnasium's vector environments spread them."""
        if seed is None:
            return [None] * self.num_envs
        if isinstance(seed, int):
            return [seed + i for i in range(self.num_envs)]
        if len(seed) != self.num_envs:
            raise ValueError(f"seed lists one seed per sub-environment: {self.num_envs}, not {len(seed)}")
        return list(seed)

    def _masked(self, mask: Any) -> list[int]:
        """The sub-environments a ``reset_mask`` names."""
        mask = np.asarray(mask)
        if mask.dtype != np.bool_ or mask.shape != (self.num_envs,):
            raise ValueError(f"reset_mask must be a bool array of shape ({self.num_envs},), not {mask!r}")
        return [int(i) for i in np.flatnonzero(mask)]

    def _batched(self) -> dict[str, np.ndarray]:
        """The sub-environments' last observations, batched into fresh arrays.

        A copy of each feature where the last step decoded them all together, else one
        `np.stack` per feature (Gymnasium's `concatenate` into kept buffers and a deep copy of
        them cost twice as much).
        """
        names = self.single_observation_space.spaces  # type: ignore[attr-defined]  # a Dict space
        if self._decoded is not None:
            return {name: self._decoded[name].copy() for name in names}
        return {name: np.stack([latest[name] for latest in self._latest]) for name in names}

    def close_extras(self, **kwargs: Any) -> None:
        """End the stream (the service ends the sub-environments' sessions), the connection, any embedded service."""
        if self._stream is not None:
            self._stream.close()
        for env in self.envs:
            env.close()
        self._connection.close()
        if self._embedded is not None:
            self._embedded.close()
