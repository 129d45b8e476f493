"""The three MLGO decision problems: which flags open their channel, and what a legal action is.

One class per problem, in the spirit of ml-compiler-opt's ``ProblemConfiguration``.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

import numpy as np

from mlgo_env.errors import InvalidAction

__all__ = ["Task", "InliningTask", "RegallocEvictionTask", "RegallocPriorityTask", "TASKS", "get_task"]

Observation = dict[str, np.ndarray]


class Task(ABC):
    """A decision problem: channel flags, action checking, and the default-decision feature."""

    name: ClassVar[str]
    env_id: ClassVar[str]
    default_feature: ClassVar[str | None] = None
    """Feature holding LLVM's own decision when `include_default` is on (None: LLVM sends none)."""

    @abstractmethod
    def channel_flags(self, base: Path, include_default: bool) -> list[str]:
        """Clang options that make the compiler ask this task's decisions on channel `base`."""

    @abstractmethod
    def check_action(self, action: object, observation: Observation) -> int | float:
        """The action as the compiler's advice value; raises `InvalidAction` when illegal."""

    def action_mask(self, observation: Observation) -> np.ndarray | None:
        """Which discrete actions are legal now (None: all of them)."""
        return None

    @staticmethod
    def default_hides_a_feature(llvm_version: int) -> bool:
        """Whether asking LLVM's decision (``include_default``) costs ``callee_basic_block_count``."""
        return llvm_version < 20

    def repair_observation(self, observation: Observation, llvm_version: int, include_default: bool) -> Observation:
        """Undo known bugs of an LLVM version in what it sends (default: nothing to undo)."""
        return observation

    def repairs(self, llvm_version: int, include_default: bool) -> bool:
        """Whether `repair_observation` may change what this LLVM version sends (else records pass through as sent)."""
        return False


def _as_index(action: object) -> int:
    value = np.asarray(action).reshape(-1)
    if value.size == 1:
        whole_float = np.issubdtype(value.dtype, np.floating) and float(value[0]).is_integer()
        if np.issubdtype(value.dtype, np.integer) or whole_float:
            return int(value[0])
    raise InvalidAction(f"expected one integer action, got {action!r}")


class InliningTask(Task):
    """Inline this call site (1) or not (0), asked by clang's ML inline advisor."""

    name = "inlining"
    env_id = "mlgo/Inlining-v0"
    default_feature = "inlining_default"

    def channel_flags(self, base: Path, include_default: bool) -> list[str]:
        """The inliner's interactive-mode options."""
        flags = [
            "-mllvm", "-enable-ml-inliner=release",
            "-mllvm", f"-inliner-interactive-channel-base={base}",
        ]  # fmt: skip
        if include_default:
            flags += ["-mllvm", "-inliner-interactive-include-default"]
        return flags

    @staticmethod
    def default_hides_a_feature(llvm_version: int) -> bool:
        """Whether asking LLVM's decision (``include_default``) costs ``callee_basic_block_count``."""
        return llvm_version < 20

    def repair_observation(self, observation: Observation, llvm_version: int, include_default: bool) -> Observation:
        """Put LLVM 19's default decision where it belongs.

        LLVM 19's MLInlineAdvisor writes the default decision into tensor number
        ``InlineCostFeatureIndex::NumberOfFeatures`` (25, which is ``callee_basic_block_count``)
        instead of ``inlining_default``, which stays 0; LLVM 22 writes it to the right tensor.
        Following the moved value reproduces the plain compile byte for byte (checked on the
        bundled corpus). The callee's block count itself is lost: it is reported as -1.
        """
        if self.repairs(llvm_version, include_default) and self.default_feature in observation:
            slot = observation["callee_basic_block_count"]
            observation[self.default_feature] = slot.copy()
            observation["callee_basic_block_count"] = np.full_like(slot, -1)
        return observation

    def repairs(self, llvm_version: int, include_default: bool) -> bool:
        """LLVM 19 with ``include_default``: the default decision is moved (`repair_observation`)."""
        return include_default and self.default_hides_a_feature(llvm_version)

    def check_action(self, action: object, observation: Observation) -> int:
        """0 or 1."""
        index = _as_index(action)
        if index not in (0, 1):
            raise InvalidAction(f"inlining action must be 0 (do not inline) or 1 (inline), got {index}")
        return index


class RegallocEvictionTask(Task):
    """Which live range to evict: columns 0..31 are candidate registers, 32 evicts nothing."""

    name = "regalloc_eviction"
    env_id = "mlgo/RegallocEviction-v0"

    def channel_flags(self, base: Path, include_default: bool) -> list[str]:
        """The eviction advisor's interactive-mode options (LLVM sends no default decision)."""
        return [
            "-mllvm", "-regalloc-enable-advisor=release",
            "-mllvm", f"-regalloc-evict-interactive-channel-base={base}",
        ]  # fmt: skip

    def action_mask(self, observation: Observation) -> np.ndarray:
        """The compiler's ``mask`` feature as booleans."""
        return observation["mask"].reshape(-1).astype(bool)

    def check_action(self, action: object, observation: Observation) -> int:
        """An index the mask allows."""
        index = _as_index(action)
        mask = self.action_mask(observation)
        if not 0 <= index < mask.size:
            raise InvalidAction(f"eviction action must be in [0, {mask.size}), got {index}")
        if not mask[index]:
            legal = np.flatnonzero(mask).tolist()
            raise InvalidAction(f"eviction action {index} is masked out for this decision; legal: {legal}")
        return index


class RegallocPriorityTask(Task):
    """The priority (a float) of the live range about to be queued for allocation."""

    name = "regalloc_priority"
    env_id = "mlgo/RegallocPriority-v0"

    def channel_flags(self, base: Path, include_default: bool) -> list[str]:
        """The priority advisor's interactive-mode options (LLVM sends no default decision)."""
        return [
            "-mllvm", "-regalloc-enable-priority-advisor=release",
            "-mllvm", f"-regalloc-priority-interactive-channel-base={base}",
        ]  # fmt: skip

    def check_action(self, action: object, observation: Observation) -> float:
        """A finite float."""
        value = np.asarray(action, dtype=np.float64).reshape(-1)
        if value.size != 1 or not math.isfinite(float(value[0])):
            raise InvalidAction(f"priority action must be one finite number, got {action!r}")
        return float(value[0])


TASKS: dict[str, Task] = {t.name: t for t in (InliningTask(), RegallocEvictionTask(), RegallocPriorityTask())}


def get_task(name: str) -> Task:
    """The task called `name` ("inlining", "regalloc_eviction", "regalloc_priority")."""
    try:
        return TASKS[name]
    except KeyError:
        raise ValueError(f"unknown task {name!r}; choose one of {', '.join(TASKS)}") from None
