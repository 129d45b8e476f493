"""`TransformScheduleEnv`: build a Transform-dialect schedule for a linalg payload, step by step."""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

import rewards
from mlgo_env.errors import EpisodeOver, InvalidAction, MlgoEnvError
from mlgo_env.transform.library import (
    Choice,
    NamedSchedule,
    ScheduleLibrary,
    matching_brace,
    payload_path,
)
from mlgo_env.transform.output import KernelTiming
from mlgo_env.transform.runner import PayloadRunner
from mlgo_env.transform.tools import MlirTools
from rewards.base import Reward

__all__ = ["TransformScheduleEnv", "PayloadFeatures"]

_OP_VOCABULARY = ("matmul", "conv", "generic", "fill", "reduce", "transpose", "other")
_LINALG_OP = re.compile(r"linalg\.(\w+)")
_NOT_OPS = ("yield", "index")  # region terminator and index query, not structured ops

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PayloadFeatures:
    """What the observation says about a payload: its linalg ops and the kind of its anchor.

    Attributes:
        op_counts: number of linalg ops of each `_OP_VOCABULARY` kind in the kernel functions.
        anchor: the kind of the op tagged ``mlgo.anchor``.
    """

    op_counts: tuple[int, ...]
    anchor: str

    @classmethod
    def of(cls, text: str) -> PayloadFeatures:
        """Features of a payload's MLIR text (kernel functions only, not ``@main``)."""
        kernels = " ".join(_kernel_bodies(text))
        counts = [0] * len(_OP_VOCABULARY)
        for name in _LINALG_OP.findall(kernels):
            if name in _NOT_OPS:
                continue
            counts[_OP_VOCABULARY.index(_op_kind(name))] += 1
        anchor_line = next((line for line in kernels.splitlines() if "mlgo.anchor" in line), "")
        anchor = _LINALG_OP.search(anchor_line)
        return cls(tuple(counts), _op_kind(anchor.group(1)) if anchor else "other")

    def vector(self) -> np.ndarray:
        """Op counts (each clipped to 4, over 4), then the one-hot anchor kind."""
        counts = np.minimum(np.array(self.op_counts, dtype=np.float32), 4.0) / 4.0
        anchor = np.zeros(len(_OP_VOCABULARY), dtype=np.float32)
        anchor[_OP_VOCABULARY.index(self.anchor)] = 1.0
        return np.concatenate([counts, anchor])


def _op_kind(name: str) -> str:
    for kind in _OP_VOCABULARY[:-1]:
        if name.startswith(kind):
            return kind
    return "other"


def _kernel_bodies(text: str) -> list[str]:
    """Bodies of the functions tagged ``mlgo.kernel`` (a body opens with ``{`` at a line end)."""
    bodies = []
    for match in re.finditer(r"func\.func\b", text):
        body = text.find("{\n", match.end())
        header = text[match.end() : body]
        if body == -1 or "func.func" in header or "mlgo.kernel" not in header:
            continue
        bodies.append(text[body : matching_brace(text, body) + 1])
    return bodies


@dataclass
class _PayloadState:
    """One payload of the environment with its runner and baseline, built on first use."""

    name: str
    path: Path
    runner: PayloadRunner
    features: PayloadFeatures
    baseline_cost: float | None = None
    baseline_timing: KernelTiming | None = None
    builds: list[Path] = field(default_factory=list)


class TransformScheduleEnv(gym.Env[np.ndarray, np.ndarray]):
    """Compose a Transform-dialect schedule for a linalg payload, one library step at a time.

    ## Description
    An episode builds one schedule for one payload (a bundled name such as ``"matmul"``, or a
    path to a ``.mlir`` file following the payload protocol in ``README.md``). Each action picks
    a step of the schedule library (``mlgo_env/transform/schedules``) with its parameters; the
    step is kept only if the schedule built so far still applies to the payload and lowers to
    the LLVM dialect. At the end the schedule (steps, ``@bufferize`` between tensor and buffer
    steps, ``@lower_to_llvm``) is applied, the result compiled with clang and run, its output
    compared with the reference from the untransformed payload, and its cost measured.

    ## Action Space
    ``MultiDiscrete([1 + S, C, C, C])``: ``a[0] = 0`` finishes the episode, ``a[0] = k`` picks the
    library step ``k - 1`` (see `step_names`); ``a[1 + i]`` picks the value of the step's i-th
    parameter as ``choices[a[1 + i] % len(choices)]`` (unused entries are ignored). S is the
    number of steps in the library, C the longest choice list.

    ## Observation Space
    ``Box(0, 1, (n,), float32)``: linalg op counts of the kernels and the one-hot anchor kind
    (`PayloadFeatures`), the fraction of steps used, whether the schedule is already bufferized,
    whether the last action was invalid, and how often each library step was picked (over the
    step budget).

    ## Rewards
    0 for a valid step; `invalid_penalty` for an invalid one (a transform that fails on this
    payload, or a tensor step after a buffer step), whose message goes to ``info["error"]``. At
    the end, ``reward.reward(cost, baseline_cost)``: the relative improvement over the payload
    lowered by MLIR's default pipeline (``runner.DEFAULT_PIPELINE``). If the final program does
    not build or its output differs from the reference, ``reward.reward_on_error``.

    ## Episode End
    Terminated when ``a[0] = 0``; truncated after `max_steps` actions. Either way the schedule
    is evaluated, and ``info["schedule_mlir"]`` holds it as a self-contained MLIR module that
    ``mlir-opt`` parses and verifies on its own. ``info["error_type"]`` names the exception
    class when the final build or check failed.

    ## Arguments
    * ``payload``: a bundled payload name, a ``.mlir`` path, or a sequence of them (one is
      drawn at each reset).
    * ``reward``: ``"kernel-time"`` (in-program min-of-k timing, the default), a registered
      reward name (``"size"``, ``"mca"`` when installed, ``"runtime"`` when it exists), a
      `Reward`, or ``{name: weight}``.
    * ``max_steps``: actions per episode; ``invalid_penalty``: reward of an invalid step.
    * ``compile_timeout`` / ``run_timeout``: seconds per tool call / program run.
    * ``library``: schedule files or folders (default: the bundled library).
    * ``workdir``: where builds go (default: a temporary folder removed by `close`).
    * ``llvm_version``: the MLIR to use (19 or 22; `ToolNotFound` naming the packages when it is
      missing); default: ``$MLGO_LLVM_VERSION`` or 19 when its MLIR is installed, else the
      installed one (Debian installs one MLIR at a time).
      ``mlir_root`` (default ``$MLGO_MLIR_ROOT``): an MLIR folder (``bin/``, ``lib/``) instead.
      `mlir` says which is used, as does ``info["mlir_version"]`` at reset.

    ## Version History
    * v0: initial version.
    """

    metadata = {"render_modes": ["ansi"]}

    def __init__(
        self,
        *,
        payload: str | Path | Sequence[str | Path] = "matmul",
        reward: str | Reward | dict[str, float] = "kernel-time",
        max_steps: int = 6,
        invalid_penalty: float = -0.1,
        compile_timeout: float = 60.0,
        run_timeout: float = 60.0,
        library: Sequence[str | Path] | None = None,
        workdir: str | Path | None = None,
        llvm_version: int | None = None,
        mlir_root: str | Path | None = None,
        render_mode: str | None = None,
    ) -> None:
        if max_steps < 1:
            raise ValueError(f"max_steps must be at least 1, got {max_steps}")
        if render_mode not in (None, "ansi"):
            raise ValueError(f"render_mode must be None or 'ansi', got {render_mode!r}")
        self.render_mode = render_mode
        self.max_steps = max_steps
        self.invalid_penalty = invalid_penalty
        self.reward_fn = rewards.resolve(reward)
        self.library = ScheduleLibrary.load([Path(p) for p in library] if library else None)
        self._steps: list[NamedSchedule] = self.library.steps()
        self._owns_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="mlgo-transform-"))
        self.mlir = MlirTools.find(llvm_version, mlir_root)
        logger.info("TransformScheduleEnv uses %s", self.mlir.describe())
        names = [payload] if isinstance(payload, str | Path) else list(payload)
        if not names:
            raise ValueError("payload must name at least one payload")
        self._payloads = [self._payload_state(name, self.mlir, compile_timeout, run_timeout) for name in names]

        max_params = max(len(s.params) for s in self._steps)
        max_choices = max(len(p.choices) for s in self._steps for p in s.params)
        self.action_space = spaces.MultiDiscrete([1 + len(self._steps)] + [max_choices] * max_params)
        size = 2 * len(_OP_VOCABULARY) + 3 + len(self._steps)
        self.observation_space = spaces.Box(0.0, 1.0, shape=(size,), dtype=np.float32)

        self._current = self._payloads[0]
        self._choices: list[Choice] = []
        self._actions = 0
        self._last_invalid = False
        self._done = True

    def _payload_state(
        self, name: str | Path, tools: MlirTools, compile_timeout: float, run_timeout: float
    ) -> _PayloadState:
        path = payload_path(name)
        runner = PayloadRunner(
            path,
            self.workdir / path.stem,
            tools=tools,
            compile_timeout=compile_timeout,
            run_timeout=run_timeout,
        )
        return _PayloadState(path.stem, path, runner, PayloadFeatures.of(path.read_text()))

    @property
    def step_names(self) -> list[str]:
        """Names of the library steps; ``action[0] = k`` picks ``step_names[k - 1]``."""
        return [s.name for s in self._steps]

    @property
    def choices(self) -> list[Choice]:
        """The steps kept so far in this episode."""
        return list(self._choices)

    def decode(self, action: np.ndarray | Sequence[int]) -> Choice | None:
        """The `Choice` an action stands for; None for "finish"."""
        index = int(action[0])
        if index == 0:
            return None
        schedule = self._steps[index - 1]
        values = tuple(
            param.choices[int(action[1 + i]) % len(param.choices)] for i, param in enumerate(schedule.params)
        )
        return Choice(schedule, values)

    def encode(self, choice: Choice | None) -> np.ndarray:
        """The action that picks `choice` (None: "finish")."""
        assert self.action_space.shape is not None
        action = np.zeros(self.action_space.shape, dtype=np.int64)
        if choice is not None:
            action[0] = 1 + self.step_names.index(choice.schedule.name)
            for i, (param, value) in enumerate(zip(choice.schedule.params, choice.values, strict=True)):
                action[1 + i] = param.choices.index(value)
        return action

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Starts a schedule for a payload drawn from the env's payloads.

        Options:
            payload: the name of one of the env's payloads to use instead of drawing one.
        """
        super().reset(seed=seed)
        wanted = (options or {}).get("payload")
        if wanted is not None:
            matching = [p for p in self._payloads if p.name == str(wanted)]
            if not matching:
                raise ValueError(f"payload {wanted!r} is not one of {[p.name for p in self._payloads]}")
            self._current = matching[0]
        else:
            self._current = self._payloads[int(self.np_random.integers(len(self._payloads)))]
        self._clear_builds(self._current)
        self._ensure_baseline(self._current)
        self._choices, self._actions, self._last_invalid, self._done = [], 0, False, False
        info: dict[str, Any] = {
            "payload": self._current.name,
            "baseline_cost": self._current.baseline_cost,
            "mlir_version": self.mlir.release,
        }
        if self._current.baseline_timing is not None:
            info["baseline_noise"] = self._current.baseline_timing.noise
        return self._observation(), info

    def _ensure_baseline(self, state: _PayloadState) -> None:
        if state.baseline_cost is not None:
            return
        module = state.runner.build(None, "baseline")
        state.runner.check(module)
        state.baseline_cost = self.reward_fn.cost(module)
        timing = module.extra.get("timing")
        state.baseline_timing = timing if isinstance(timing, KernelTiming) else None

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Adds the picked step to the schedule, or evaluates the schedule on "finish".

        Raises:
            EpisodeOver: the episode ended; call `reset`.
            InvalidAction: `action` is outside the action space.
        """
        if self._done:
            raise EpisodeOver("the episode is over (or was never started); call reset() first")
        if not self.action_space.contains(np.asarray(action, dtype=np.int64)):
            raise InvalidAction(f"action {action!r} is not in {self.action_space}")
        self._actions += 1
        choice = self.decode(action)
        if choice is None:
            return self._finish(terminated=True, truncated=False, info={"step": "finish"})
        reward, info = self._try(choice)
        if self._actions >= self.max_steps:
            obs, final_reward, terminated, truncated, final_info = self._finish(
                terminated=False, truncated=True, info=info
            )
            return obs, reward + final_reward, terminated, truncated, final_info
        return self._observation(), reward, False, False, info

    def _try(self, choice: Choice) -> tuple[float, dict[str, Any]]:
        candidate = [*self._choices, choice]
        try:
            schedule = self.library.compose(candidate)
            self._current.runner.check_schedule(schedule)
        except (ValueError, MlgoEnvError) as exc:
            self._last_invalid = True
            message = f"{choice} does not apply to {self._current.name}: {_first_lines(str(exc))}"
            info = {"step": str(choice), "valid": False, "error": message, "error_type": type(exc).__name__}
            return self.invalid_penalty, info
        self._choices = candidate
        self._last_invalid = False
        return 0.0, {"step": str(choice), "valid": True}

    def _finish(
        self, *, terminated: bool, truncated: bool, info: dict[str, Any]
    ) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        self._done = True
        state = self._current
        schedule = self.library.compose(self._choices)
        info = {
            **info,
            "payload": state.name,
            "schedule": [str(c) for c in self._choices],
            "schedule_mlir": schedule,
            "baseline_cost": state.baseline_cost,
        }
        try:
            module = state.runner.build(schedule, "episode")
            state.builds.append(module.workdir)
            state.runner.check(module)
            cost = self.reward_fn.cost(module)
        except (MlgoEnvError, OSError) as exc:
            info.update(error=_first_lines(str(exc)), error_type=type(exc).__name__)
            return self._observation(), self.reward_fn.reward_on_error, terminated, truncated, info
        assert state.baseline_cost is not None
        info["cost"] = cost
        info["speedup"] = state.baseline_cost / cost if cost > 0 else float("inf")
        timing = module.extra.get("timing")
        if isinstance(timing, KernelTiming):
            info["noise"] = timing.noise
        reward = self.reward_fn.reward(cost, state.baseline_cost)
        return self._observation(), float(reward), terminated, truncated, info

    def _observation(self) -> np.ndarray:
        counts = np.zeros(len(self._steps), dtype=np.float32)
        for choice in self._choices:
            counts[self.step_names.index(choice.schedule.name)] += 1.0
        bufferized = any(c.schedule.phase == "buffer" for c in self._choices)
        progress = np.array(
            [self._actions / self.max_steps, float(bufferized), float(self._last_invalid)],
            dtype=np.float32,
        )
        return np.concatenate(
            [self._current.features.vector(), progress, np.minimum(counts / self.max_steps, 1.0)]
        ).astype(np.float32)

    def render(self) -> str | None:
        """With ``render_mode="ansi"``: the payload and the steps kept so far."""
        if self.render_mode != "ansi":
            return None
        steps = " -> ".join(str(c) for c in self._choices) or "(no steps)"
        return f"{self._current.name}: {steps}"

    def _clear_builds(self, state: _PayloadState) -> None:
        for folder in state.builds:
            shutil.rmtree(folder, ignore_errors=True)
        state.builds.clear()

    def close(self) -> None:
        """Removes the working folder when the env created it."""
        if self._owns_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        super().close()


def _first_lines(text: str, count: int = 6) -> str:
    return "\n".join(text.strip().splitlines()[:count])
