"""The environment base: one episode compiles one benchmark, one step answers one decision.

The environment is a client of the compiler service (`mlgo_env.service`), which owns the
compiler processes and their pipes. With no ``service`` address an embedded service is started
and stopped with the environment.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces

import rewards
from mlgo_env.artifacts import Artifact, CompiledModule
from mlgo_env.errors import EpisodeOver, InvalidAction, MlgoEnvError
from mlgo_env.protocol import TensorSpec
from mlgo_env.service import convert
from mlgo_env.service.client import EmbeddedService, EpisodeStream, ServiceConnection, connect
from mlgo_env.service.proto import pb
from mlgo_env.tasks import Task
from mlgo_env.toolchain import get_toolchain
from rewards.base import REWARD_ON_ERROR, Reward

__all__ = ["CompilerEnv"]

Observation = dict[str, np.ndarray]
StepResult = tuple[Observation, SupportsFloat, bool, bool, dict[str, Any]]


def observation_space_for(specs: list[TensorSpec]) -> spaces.Dict:
    """The observation space of the features LLVM declares: a Box per tensor, in order."""
    return spaces.Dict({s.name: _box_for(s) for s in specs})


def _box_for(spec: TensorSpec) -> spaces.Box:
    """A Box with the dtype and shape LLVM declares, and the dtype's whole range."""
    if np.issubdtype(spec.dtype, np.integer):
        info = np.iinfo(spec.dtype)
        return spaces.Box(low=info.min, high=info.max, shape=spec.shape, dtype=spec.dtype.newbyteorder("="))
    return spaces.Box(low=-np.inf, high=np.inf, shape=spec.shape, dtype=spec.dtype.newbyteorder("="))


class CompilerEnv(gym.Env[Observation, Any]):
    """Base of the MLGO environments; subclasses set `task` and the action space.

    Episode end: the compiler exits (``terminated=True``). If the compiler crashes or hangs, or
    the service fails, the episode is also ``terminated`` with ``reward=reward_on_error`` and
    ``info["error_type"]``/``info["error_details"]``; `reset` then starts a fresh compile.

    Args:
        benchmark: a benchmark id (``benchmark://mlgo-v0/sha256`` or ``sha256``); None picks one
            of `split` at random on every reset (seeded by ``reset(seed=...)``).
        split: which part of the corpus random picks come from ("train", "test", or None: all).
        corpus: a corpus directory for the embedded service (default: the bundled programs).
        reward: a registered reward name, a `rewards.Reward`, a ``{name: weight}`` dict, or None.
        reward_options: keyword arguments of the named reward.
        llvm_version: 19 or 22 (default ``$MLGO_LLVM_VERSION`` or 19).
        opt_level: override the recorded optimisation level (``-O2``, ``-Oz``, ...).
        service: ``host:port`` or ``unix:PATH`` of a running service (default ``$MLGO_SERVICE``;
            unset: embedded).
        token: the service's shared token.
        decision_timeout: seconds the compiler may take to ask the next decision.
        compile_timeout: seconds a whole compile may take.
        reward_on_error: the reward of an episode that ends in a compiler or service error.
        on_invalid_action: "raise" (default): an illegal or masked action raises `InvalidAction`
            and the episode goes on; "terminate": it ends the episode with `reward_on_error`
            and ``info["error_type"] == "InvalidAction"`` (for checkers and agents that sample
            without the mask). An illegal action is never sent to the compiler.
        connection: an open connection to use instead of `service` (and `token`, `corpus`); its
            owner closes it, not `close()` (`BatchedCompilerEnv` shares one among its environments).
    """

    metadata = {"render_modes": []}  # noqa: RUF012 - Gymnasium's convention
    task: ClassVar[Task]

    def __init__(
        self,
        benchmark: str | None = None,
        split: str | None = "train",
        corpus: str | Path | None = None,
        reward: str | Reward | dict[str, float] | None = "size",
        reward_options: dict[str, Any] | None = None,
        llvm_version: int | None = None,
        opt_level: str | None = None,
        service: str | None = None,
        token: str | None = None,
        include_default: bool = False,
        decision_timeout: float = 60.0,
        compile_timeout: float = 600.0,
        reward_on_error: float = REWARD_ON_ERROR,
        on_invalid_action: str = "raise",
        connection: ServiceConnection | None = None,
    ) -> None:
        if on_invalid_action not in ("raise", "terminate"):
            raise ValueError(f"on_invalid_action must be 'raise' or 'terminate', not {on_invalid_action!r}")
        if connection is not None and (service or corpus):
            raise ValueError("pass connection= or service=/corpus=, not both")
        self.on_invalid_action = on_invalid_action
        self._connection: ServiceConnection | None = None
        self._embedded: EmbeddedService | None = None
        self._session_id: str | None = None
        self._stream: EpisodeStream | None = None  # the episode's Episode stream (None: Step calls)
        self._service, self._token, self._corpus = service, token, Path(corpus) if corpus else None
        self._owns_connection = connection is None
        self._connection, self._embedded = (connection, None) if connection else connect(service, token, self._corpus)
        self.benchmark = benchmark
        self.split = split
        self.include_default = include_default
        self.reward_on_error = reward_on_error
        self._local_reward: Reward | None = None
        self._local_baselines: dict[tuple, float] = {}
        self.config = pb.CompileConfig(
            task=self.task.name,
            llvm_version=int(llvm_version or 0),
            opt_level=opt_level or "",
            include_default=include_default,
            decision_timeout_s=decision_timeout,
            compile_timeout_s=compile_timeout,
        )
        self._set_reward(reward, reward_options or {})
        spaces_reply = self._connection.call(
            "GetSpaces",
            pb.GetSpacesRequest(
                task=self.task.name, llvm_version=self.config.llvm_version, include_default=include_default
            ),
        )
        self._header = convert.header_from_pb(list(spaces_reply.features), spaces_reply.advice)
        self.feature_specs = list(self._header.features)
        self.advice_spec = self._header.advice
        self.observation_space = observation_space_for(self.feature_specs)  # type: ignore[assignment]
        self._benchmarks: list[str] | None = None
        self._observation: Observation | None = None
        self._done = True
        self.decisions = 0

    # -- configuration -------------------------------------------------------------------
    def _set_reward(self, reward: str | Reward | dict[str, float] | None, options: dict[str, Any]) -> None:
        """Named rewards run in the service; a Reward object runs here on the fetched object."""
        del self.config.rewards[:]
        if reward is None:
            return
        # Built here first: a typo fails early with the list of names, and a CPU-dependent reward
        # fixes its target to this machine, so a remote service scores for the client's CPU.
        if isinstance(reward, str):
            pinned = rewards.pinned_options(reward, options)
            self.config.rewards.add(name=reward, options_json=json.dumps(pinned), weight=1.0)
        elif isinstance(reward, dict):
            for name, weight in reward.items():
                self.config.rewards.add(
                    name=name, options_json=json.dumps(rewards.pinned_options(name)), weight=float(weight)
                )
        elif isinstance(reward, Reward):
            if reward.requires != Artifact.OBJECT:
                raise ValueError(
                    f"a client-side reward gets the object file only, but {reward.name} needs {reward.requires}; "
                    "register it (rewards.register or the mlgo_env.rewards entry point) so the service runs it"
                )
            self._local_reward = reward
        else:
            raise TypeError(f"reward must be a name, a Reward, a {{name: weight}} dict or None, not {reward!r}")

    def benchmarks(self) -> list[str]:
        """The benchmark ids random resets pick from (the service's corpus, filtered by `split`)."""
        if self._benchmarks is None:
            assert self._connection is not None
            reply = self._connection.call("ListBenchmarks", pb.ListBenchmarksRequest(split=self.split or ""))
            self._benchmarks = [b.uri for b in reply.benchmarks]
            if not self._benchmarks:
                raise MlgoEnvError(f"the service's corpus has no benchmarks in split {self.split!r}")
        return self._benchmarks

    # -- Gym API -------------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Observation, dict[str, Any]]:
        """Start compiling a benchmark (``options={"benchmark": id}`` picks one) and return its first decision.

        Benchmarks picked at random that ask no decision of this task are skipped; a benchmark
        named explicitly that asks none raises `EpisodeOver`.
        """
        super().reset(seed=seed)
        self._end_session()
        self._restart_dead_embedded_service()
        requests = self._start_requests(options)  # raises EpisodeOver when out of tries
        while True:
            if self._connection is None:
                raise EpisodeOver("the environment is closed")
            self._stream = self._connection.episode(next(requests))
            first = self._started(self._stream.started)
            if first is not None:
                return first
            self._end_session()

    def step(self, action: Any) -> StepResult:
        """Answer the pending decision; the reward comes at the end of the episode (0 before)."""
        try:
            message = self._action_message(action)
        except InvalidAction as exc:
            return self._refused(exc)
        try:
            reply = self._step_call(message)
        except InvalidAction:
            raise
        except MlgoEnvError as exc:
            return self._end_with_error(exc)
        return self._stepped(reply)

    # -- reset and step in halves (`BatchedCompilerEnv` batches many envs' messages) -----
    def _start_requests(self, options: dict[str, Any] | None) -> Iterator[pb.StartSessionRequest]:
        """The requests that start an episode, to try in turn until one asks a decision.

        One for the benchmark named in `options` or by the environment; otherwise up to 20
        random picks (a pick that asks no decision of this task is skipped).

        Raises:
            EpisodeOver: every request was tried.
        """
        chosen = (options or {}).get("benchmark", self.benchmark)
        for _ in range(1 if chosen else min(20, len(self.benchmarks()))):
            benchmark = chosen or self.benchmarks()[int(self.np_random.integers(len(self.benchmarks())))]
            yield pb.StartSessionRequest(benchmark=benchmark, config=self.config)
        raise EpisodeOver(f"{chosen or 'the benchmarks tried'} asks no {self.task.name} decision: nothing to step")

    def _started(self, reply: pb.StartSessionReply) -> tuple[Observation, dict[str, Any]] | None:
        """Take a started session: its first decision and info, or None when the compiler asked nothing."""
        self._session_id = reply.session_id
        self.current_benchmark = reply.benchmark
        if reply.done:
            return None
        self._done = False
        self.decisions = 0
        self._header = convert.header_from_pb(list(reply.features), reply.advice)
        self._observation = convert.observation_from_pb(reply.observation, self._header)
        return self._observation, self._info()

    def _action_message(self, action: Any) -> pb.Action:
        """The message answering the pending decision with `action` (checked here; nothing changes).

        Raises:
            EpisodeOver: no decision is pending.
            InvalidAction: `action` is illegal for this decision.
        """
        if self._done or self._session_id is None:
            raise EpisodeOver("the episode is over: call reset()")
        assert self._observation is not None
        advice = self.task.check_action(action, self._observation)
        return pb.Action(number=advice) if isinstance(advice, float) else pb.Action(index=advice)

    def _refused(self, exc: InvalidAction) -> StepResult:
        """An action refused here: raised (the episode goes on), or ``on_invalid_action="terminate"`` ends it."""
        if self.on_invalid_action == "raise":
            raise exc
        return self._end_with_error(exc)

    def _stepped(self, reply: pb.StepReply, observation: Observation | None = None) -> StepResult:
        """Take the service's answer to a step: the next decision, or the result and the final reward.

        `observation`: the reply's observation where the caller decoded it already (with others).
        """
        self.decisions += 1
        if not reply.done:
            if observation is None:
                observation = convert.observation_from_pb(reply.observation, self._header)
            self._observation = observation
            return self._observation, 0.0, False, False, self._info()
        self._done = True
        info = self._info(reply.result)
        reward = self._final_reward(reply.result, info)
        return self._terminal_observation(), reward, True, False, info

    def _terminal_observation(self) -> Observation:
        """The last observation again (a fresh copy): the compiler sends none after its last decision."""
        assert self._observation is not None
        return {name: value.copy() for name, value in self._observation.items()}

    def _final_reward(self, result: pb.EpisodeResult, info: dict[str, Any]) -> float:
        if self._local_reward is None:
            return float(result.reward) if result.has_reward else 0.0
        cost = self._local_cost(baseline=False)
        key = (self.current_benchmark, self.config.opt_level, self.config.llvm_version)
        if key not in self._local_baselines:
            self._local_baselines[key] = self._local_cost(baseline=True)
        info.update(cost=cost, baseline_cost=self._local_baselines[key])
        return self._local_reward.reward(cost, self._local_baselines[key])

    def _local_cost(self, baseline: bool) -> float:
        """A client-side Reward's cost of this episode's object (or of the baseline's)."""
        assert self._connection is not None and self._local_reward is not None
        request = pb.GetObjectRequest(session_id=self._session_id, baseline=baseline)
        data = self._connection.call("GetObject", request).object
        with tempfile.TemporaryDirectory(prefix="mlgo-reward-") as tmp:
            path = Path(tmp) / "module.o"
            path.write_bytes(data)
            module = CompiledModule(
                benchmark=self.current_benchmark,
                object_path=path,
                toolchain=get_toolchain(self.config.llvm_version or None),
                workdir=Path(tmp),
            )
            return float(self._local_reward.cost(module))

    def _end_with_error(self, exc: Exception) -> StepResult:
        """End the episode on an error: terminated, `reward_on_error`, the error in ``info``."""
        self._end_session()
        self._done = True
        info = self._info()
        info.update(error_type=type(exc).__name__, error_details=str(exc))
        return self._terminal_observation(), self.reward_on_error, True, False, info

    def _info(self, result: pb.EpisodeResult | None = None) -> dict[str, Any]:
        info: dict[str, Any] = {"benchmark": getattr(self, "current_benchmark", None), "decisions": self.decisions}
        if self._observation is not None and not self._done:
            mask = self.task.action_mask(self._observation)
            if mask is not None:
                info["action_mask"] = mask
        if result is not None:
            info.update(
                decisions=int(result.decisions),
                text_size=int(result.text_size),
                object_size=int(result.object_size),
                object_path=result.object_path,
                compile_seconds=result.compile_seconds,
            )
            if result.has_reward:
                info.update(cost=result.cost, baseline_cost=result.baseline_cost)
        return info

    def action_masks(self) -> np.ndarray:
        """Legal actions for the pending decision (sb3-contrib's MaskablePPO calls this)."""
        n = int(getattr(self.action_space, "n", 0))
        if self._observation is None or self._done:
            return np.ones(n, dtype=bool)
        mask = self.task.action_mask(self._observation)
        return mask if mask is not None else np.ones(n, dtype=bool)

    # -- extras beyond Gym ---------------------------------------------------------------
    def validate(self) -> pb.ValidateReply:
        """Link and run the program just compiled and compare its output with the reference."""
        if not self._done or self._session_id is None:
            raise EpisodeOver("validate() needs a finished episode")
        return self._call("Validate", pb.ValidateRequest(session_id=self._session_id))

    def rollout(
        self,
        policy: str | bytes | np.ndarray,
        benchmark: str | None = None,
        seed: int = 0,
        return_observations: bool = True,
    ) -> dict[str, Any]:
        """Run a whole episode inside the service: a built-in policy name, an ONNX model's bytes, or actions to replay.

        The service checks an ONNX model (`mlgo_env.onnx_policy`) before the compile starts and
        raises `InvalidPolicy` saying why it refused it.

        Returns ``{"benchmark", "observations", "actions", "decisions", "reward", ...}``.
        """
        assert self._connection is not None
        policy_message = convert.policy_to_pb(policy, seed)
        if benchmark is None:
            benchmark = self.benchmark or self.benchmarks()[int(self.np_random.integers(len(self.benchmarks())))]
        reply = self._call(
            "Rollout",
            pb.RolloutRequest(
                benchmark=benchmark, config=self.config, policy=policy_message, return_observations=return_observations
            ),
        )
        return dict(vars(convert.Rollout.from_reply(reply)))

    def _restart_dead_embedded_service(self) -> None:
        """An embedded service that died (killed, crashed) is replaced, so reset() works again."""
        if self._embedded is None or self._embedded.process.poll() is None:
            return
        assert self._connection is not None
        self._connection.close()
        self._embedded.close()
        self._connection, self._embedded = connect(None, self._token, self._corpus)

    def _call(self, method: str, request: Any) -> Any:
        if self._connection is None:
            raise EpisodeOver("the environment is closed")
        return self._connection.call(method, request)

    def _step_call(self, message: pb.Action) -> pb.StepReply:
        """One decision over the episode's stream; after an error ended the stream, over ``Step`` calls."""
        if self._stream is None:
            return self._call("Step", pb.StepRequest(session_id=self._session_id, action=message))
        try:
            reply = self._stream.step(message)
        except MlgoEnvError:
            self._stream.close()
            self._stream = None
            raise
        if reply.done:  # the session stays (validate, objects); its stream is no longer needed
            self._stream.close()
            self._stream = None
        return reply

    def _end_session(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None
        if self._session_id is not None and self._connection is not None:
            try:
                self._connection.call("EndSession", pb.EndSessionRequest(session_id=self._session_id), retries=1)
            except MlgoEnvError:
                pass  # the service is gone or already forgot it: nothing left to clean here
        self._session_id = None

    def close(self) -> None:
        """End the session, close the connection, and stop the embedded service."""
        self._end_session()
        if self._connection is not None and self._owns_connection:
            self._connection.close()
        self._connection = None
        if self._embedded is not None:
            self._embedded.close()
            self._embedded = None
        super().close()
