"""`mlgo/RegallocEviction-v0` and `mlgo/RegallocPriority-v0`: the greedy allocator's choices.

Eviction choices and live-range priorities, asked by LLVM's ML register-allocation advisors.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from mlgo_env.envs.compiler_env import CompilerEnv
from mlgo_env.tasks import RegallocEvictionTask, RegallocPriorityTask

__all__ = ["RegallocEvictionEnv", "RegallocPriorityEnv"]


class RegallocEvictionEnv(CompilerEnv):
    """Which live range the greedy register allocator evicts.

    ## Description
    One episode compiles one module; each time the allocator could evict to make room for a
    live range, one step asks which.

    ## Action Space
    ``Discrete(n)`` with n the width LLVM declares (33 in LLVM 19): columns 0..31 are candidate
    physical registers (choosing one evicts the live ranges in it), the last column is the live
    range being allocated (evict nothing). Only columns of the ``mask`` feature are legal:
    ``info["action_mask"]`` and `action_masks()` give it (sb3-contrib's MaskablePPO uses it).
    A masked action raises `InvalidAction` and leaves the episode as it was.

    ## Observation Space
    ``Dict`` of the tensors LLVM declares (per-candidate features of shape ``(1, 33)`` and
    ``progress``). LLVM sends no default decision for eviction, so ``include_default`` has no
    effect here.

    ## Rewards
    0 at every step; at the end, the reward's relative improvement over the default allocator
    (e.g. ``reward="mca"`` or ``"perf_model"``; ``"size"`` by default).

    ## Episode End
    Terminated when the compiler exits (or fails: see `CompilerEnv`).

    ## Version History
    * v0: initial version.
    """

    task = RegallocEvictionTask()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        mask = next(s for s in self.feature_specs if s.name == "mask")
        self.action_space = spaces.Discrete(int(np.prod(mask.shape)))


class RegallocPriorityEnv(CompilerEnv):
    """The priority of each live range queued by the greedy register allocator.

    ## Action Space
    ``Box(0, 1e9, (1,), float32)``: the priority (higher is allocated first).

    ## Observation Space
    ``Dict`` of the tensors LLVM declares (``li_size``, ``stage``, ``weight`` in LLVM 19).

    ## Rewards, Episode End
    As `RegallocEvictionEnv`.

    ## Version History
    * v0: initial version.
    """

    task = RegallocPriorityTask()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.action_space = spaces.Box(low=0.0, high=1e9, shape=(1,), dtype=np.float32)
