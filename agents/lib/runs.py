"""A run: its CleanRL-style name and its TensorBoard writer with the hyper-parameter table."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

__all__ = ["make_writer", "run_name"]


def run_name(env_id: str, exp_name: str, seed: int) -> str:
    """CleanRL's run name: ``{env_id}__{exp_name}__{seed}__{unix time}`` (``/`` made safe)."""
    return f"{env_id.replace('/', '-')}__{exp_name}__{seed}__{int(time.time())}"


def make_writer(run_dir: Path, args: Any) -> Any:
    """A TensorBoard writer with the hyper-parameter table CleanRL writes first."""
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(run_dir))
    rows = "\n".join(f"|{key}|{value}|" for key, value in vars(args).items())
    writer.add_text("hyperparameters", f"|param|value|\n|-|-|\n{rows}")
    return writer
