"""The one cache root: where mlgo-env keeps built corpora, llvm-mca figures, profiles and the harness.

``$MLGO_CACHE_DIR`` when set, else ``~/.cache/mlgo-env``; every cache is a folder under it.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["CACHE_ENV", "cache_dir"]

CACHE_ENV = "MLGO_CACHE_DIR"
"""The environment variable that moves the cache root."""


def cache_dir(*parts: str) -> Path:
    """The cache root, or the folder `parts` below it (not created: callers create what they write)."""
    root = os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "mlgo-env"
    return Path(root).joinpath(*parts)
