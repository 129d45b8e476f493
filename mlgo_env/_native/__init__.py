"""Native code built by the install (setup.py): the rollout loop and the fast cost model's features.

`_rollout` is built from rollout.c, `_blocks` from blocks.c. Both are optional: `optional` gives
None where the install could not build one, and its users fall back to their Python versions.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["optional"]


def optional(name: str) -> ModuleType | None:
    """The extension `name` (``"_rollout"``, ``"_blocks"``), or None where it was not built."""
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ImportError:
        return None
