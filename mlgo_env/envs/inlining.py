"""`mlgo/Inlining-v0`: decide, call site by call site, whether clang's inliner inlines."""

from __future__ import annotations

from typing import Any

from gymnasium import spaces

from mlgo_env.envs.compiler_env import CompilerEnv
from mlgo_env.tasks import InliningTask

__all__ = ["InliningEnv"]


class InliningEnv(CompilerEnv):
    """Inlining decisions of clang's ML inline advisor (LLVM's MLGO interactive mode).

    ## Description
    One episode compiles one module of the corpus with its recorded command line; every call
    site the inliner considers is one step.

    ## Action Space
    ``Discrete(2)``: 0 do not inline, 1 inline.

    ## Observation Space
    ``Dict`` of the feature tensors LLVM declares in its channel header (38 int64 features of
    shape ``(1,)`` in LLVM 19), plus ``inlining_default`` (LLVM's own decision) when
    ``include_default=True``. LLVM 19 sends that decision in the ``callee_basic_block_count``
    slot (an LLVM bug, fixed in 22): the environment moves it to ``inlining_default`` and
    reports ``callee_basic_block_count`` as -1 (unknown) in that mode.

    ## Rewards
    0 at every step; at the end, the reward's relative improvement over the same module compiled
    by LLVM's own inliner (``reward="size"``: fraction of ``.text`` bytes saved).

    ## Episode End
    Terminated when the compiler exits (or fails: see `CompilerEnv`).

    ## Arguments
    See `CompilerEnv`; ``include_default`` adds LLVM's decision to the observation.

    ## Version History
    * v0: initial version.
    """

    task = InliningTask()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.action_space = spaces.Discrete(2)
