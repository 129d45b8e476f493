"""The one seeding block: Python's, NumPy's and torch's random state from one seed.

Shared by the agents and the block-model trainer (`mlgo_env.blocks.train`), so seeding means the
same thing everywhere. torch is imported when called: only the trainers that need it install it.
"""

from __future__ import annotations

import random

import numpy as np

__all__ = ["seed_everything"]


def seed_everything(seed: int, deterministic_torch: bool = False) -> None:
    """Seed Python, NumPy and torch; with `deterministic_torch`, also make cuDNN deterministic."""
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if deterministic_torch:
        torch.backends.cudnn.deterministic = True
